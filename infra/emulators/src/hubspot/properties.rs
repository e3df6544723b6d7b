//! The CRM properties API (`/crm/v3/properties/{objectType}[/{propertyName}]`): HubSpot's
//! default properties of contacts and companies plus custom ones created through the API.
//!
//! Writes through the objects API of a property that is not defined are refused as HubSpot
//! refuses them (`400`, category `VALIDATION_ERROR`, `PROPERTY_DOESNT_EXIST` per property);
//! the in-process helpers ([`HubSpotEmulator::seed`](super::HubSpotEmulator::seed), ...) accept
//! any property, as seeding convenience. Reads ignore unknown property names.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

use super::errors::{error_body, parse_json};
use super::routes::Ctx;
use super::{JSON, ObjType, State};
use crate::common::{ApiError, PathParams, iso, json_response, not_supported};

/// `(name, type)` of the default contact properties the emulator knows.
const CONTACT_DEFAULTS: &[(&str, &str)] = &[
    ("email", "string"),
    ("firstname", "string"),
    ("lastname", "string"),
    ("phone", "string"),
    ("mobilephone", "string"),
    ("fax", "string"),
    ("jobtitle", "string"),
    ("company", "string"),
    ("website", "string"),
    ("address", "string"),
    ("city", "string"),
    ("state", "string"),
    ("zip", "string"),
    ("country", "string"),
    ("industry", "string"),
    ("salutation", "string"),
    ("message", "string"),
    ("twitterhandle", "string"),
    ("date_of_birth", "string"),
    ("numemployees", "enumeration"),
    ("annualrevenue", "string"),
    ("lifecyclestage", "enumeration"),
    ("hs_lead_status", "enumeration"),
    ("hs_language", "enumeration"),
    ("hubspot_owner_id", "enumeration"),
    ("associatedcompanyid", "number"),
    ("createdate", "datetime"),
    ("lastmodifieddate", "datetime"),
    ("hs_object_id", "number"),
];

/// The default company properties the emulator knows.
const COMPANY_DEFAULTS: &[(&str, &str)] = &[
    ("name", "string"),
    ("domain", "string"),
    ("website", "string"),
    ("description", "string"),
    ("industry", "enumeration"),
    ("type", "enumeration"),
    ("numberofemployees", "number"),
    ("annualrevenue", "number"),
    ("phone", "string"),
    ("address", "string"),
    ("address2", "string"),
    ("city", "string"),
    ("state", "string"),
    ("zip", "string"),
    ("country", "string"),
    ("timezone", "string"),
    ("founded_year", "string"),
    ("is_public", "bool"),
    ("linkedin_company_page", "string"),
    ("twitterhandle", "string"),
    ("facebook_company_page", "string"),
    ("about_us", "string"),
    ("total_money_raised", "string"),
    ("lifecyclestage", "enumeration"),
    ("hubspot_owner_id", "enumeration"),
    ("createdate", "datetime"),
    ("hs_lastmodifieddate", "datetime"),
    ("hs_object_id", "number"),
];

/// Property data types HubSpot accepts on create.
const TYPES: [&str; 7] = [
    "string",
    "number",
    "date",
    "datetime",
    "enumeration",
    "bool",
    "phone_number",
];

/// Field types HubSpot accepts on create.
const FIELD_TYPES: [&str; 12] = [
    "text",
    "textarea",
    "number",
    "select",
    "radio",
    "checkbox",
    "booleancheckbox",
    "date",
    "file",
    "calculation_equation",
    "html",
    "phonenumber",
];

fn defaults(t: ObjType) -> &'static [(&'static str, &'static str)] {
    match t {
        ObjType::Contacts => CONTACT_DEFAULTS,
        ObjType::Companies => COMPANY_DEFAULTS,
    }
}

/// The built-in property groups (custom groups are not emulated).
fn groups(t: ObjType) -> &'static [&'static str] {
    match t {
        ObjType::Contacts => &["contactinformation", "emailinformation", "sales_properties"],
        ObjType::Companies => &["companyinformation", "social_media_information"],
    }
}

fn field_type(kind: &str) -> &'static str {
    match kind {
        "number" => "number",
        "datetime" | "date" => "date",
        "enumeration" => "select",
        "bool" => "booleancheckbox",
        _ => "text",
    }
}

/// A default property's definition, as HubSpot renders one.
fn default_definition(t: ObjType, name: &str, kind: &str) -> Value {
    json!({
        "name": name,
        "label": name,
        "type": kind,
        "fieldType": field_type(kind),
        "description": "",
        "groupName": groups(t)[0],
        "options": [],
        "displayOrder": -1,
        "calculated": false,
        "externalOptions": false,
        "hasUniqueValue": false,
        "hidden": false,
        "hubspotDefined": true,
        "formField": false,
        "archived": false,
        "modificationMetadata": { "archivable": false, "readOnlyDefinition": true, "readOnlyValue": false },
        "createdAt": "2019-08-06T02:41:08.029Z",
        "updatedAt": "2019-08-06T02:41:08.029Z",
    })
}

impl State {
    /// A property's definition in the current portal, default or custom.
    pub(super) fn property(&self, t: ObjType, name: &str) -> Option<Value> {
        if let Some((name, kind)) = defaults(t).iter().find(|(n, _)| *n == name) {
            return Some(default_definition(t, name, kind));
        }
        self.custom_properties
            .get(&(self.portal(), t))
            .and_then(|m| m.get(name))
            .cloned()
    }

    /// Whether `name` is a property of `t` (what [`State::property`] finds, without building
    /// its definition: a write checks every property it names).
    pub(super) fn property_exists(&self, t: ObjType, name: &str) -> bool {
        defaults(t).iter().any(|(n, _)| *n == name)
            || self
                .custom_properties
                .get(&(self.portal(), t))
                .is_some_and(|m| m.contains_key(name))
    }

    /// Refuses a write naming properties that do not exist, with HubSpot's message.
    pub(super) fn check_defined<'a>(
        &self,
        t: ObjType,
        names: impl Iterator<Item = &'a String>,
    ) -> Result<(), ApiError> {
        let missing: Vec<Value> = names
            .filter(|n| !self.property_exists(t, n))
            .map(|name| {
                let message = format!("Property \"{name}\" does not exist");
                json!({
                    "isValid": false,
                    "message": message,
                    "error": "PROPERTY_DOESNT_EXIST",
                    "name": name,
                    "localizedErrorMessage": message,
                    "portalId": self.portal(),
                })
            })
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(ApiError::BadRequest(format!(
            "Property values were not valid: {}",
            Value::Array(missing)
        )))
    }
}

/// What a properties route answers: status and body.
type Answer = (StatusCode, Value);

/// Runs `op` under the state lock on the JSON body, which every properties route parses
/// first, and answers in HubSpot's envelope.
fn call(
    c: &Ctx,
    body: &Bytes,
    op: impl FnOnce(&mut State, &Value) -> Result<Answer, ApiError>,
) -> Response {
    let answer =
        parse_json(body).and_then(|b| c.inner.with_state(c.source.clone(), |st| op(st, &b)));
    match answer {
        Ok((status, v)) => json_response(status, JSON, &v),
        Err(e) => error(&e),
    }
}

/// `GET /crm/v3/properties/{objectType}`: the defaults, then the custom ones.
pub(super) async fn list(c: Ctx, body: Bytes) -> Response {
    call(&c, &body, |st, _| {
        let mut all: Vec<Value> = defaults(c.t)
            .iter()
            .map(|(n, k)| default_definition(c.t, n, k))
            .collect();
        all.extend(
            st.custom_properties
                .get(&(st.portal(), c.t))
                .into_iter()
                .flat_map(BTreeMap::values)
                .cloned(),
        );
        Ok((StatusCode::OK, json!({ "results": all })))
    })
}

/// `GET /crm/v3/properties/{objectType}/{propertyName}`.
pub(super) async fn get(c: Ctx, params: PathParams, body: Bytes) -> Response {
    let name = params.get("propertyName");
    call(&c, &body, |st, _| {
        st.property(c.t, name)
            .map(|d| (StatusCode::OK, d))
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "Unable to find property {name} for object type {}",
                    c.t.name()
                ))
            })
    })
}

/// `POST /crm/v3/properties/{objectType}`: a custom property.
pub(super) async fn create(c: Ctx, body: Bytes) -> Response {
    call(&c, &body, |st, b| create_property(st, c.t, b))
}

/// Any other method on a properties route.
pub(super) async fn unlisted_method(c: Ctx, method: Method, body: Bytes) -> Response {
    call(&c, &body, |_, _| {
        Err(not_supported(
            method,
            &format!("/crm/v3/properties/{}", c.t.name()),
        ))
    })
}

fn create_property(st: &mut State, t: ObjType, body: &Value) -> Result<Answer, ApiError> {
    let text = |key: &str| -> Result<String, ApiError> {
        body.get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ApiError::BadRequest(format!("Invalid input JSON: `{key}` is required")))
    };
    let (name, label, kind, field, group) = (
        text("name")?,
        text("label")?,
        text("type")?,
        text("fieldType")?,
        text("groupName")?,
    );
    let valid_name = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid_name {
        return Err(ApiError::BadRequest(format!(
            "Property name '{name}' is invalid: use lower-case letters, digits and underscores"
        )));
    }
    if !TYPES.contains(&kind.as_str()) || !FIELD_TYPES.contains(&field.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "Invalid type/fieldType combination: {kind}/{field}"
        )));
    }
    if !groups(t).contains(&group.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "Property group {group} does not exist"
        )));
    }
    if st.property(t, &name).is_some() {
        return Err(ApiError::Conflict(format!(
            "Property named '{name}' already exists."
        )));
    }
    let now = iso(&Utc::now());
    let definition = json!({
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": field,
        "description": body.get("description").and_then(Value::as_str).unwrap_or(""),
        "groupName": group,
        "options": body.get("options").cloned().unwrap_or_else(|| json!([])),
        "displayOrder": body.get("displayOrder").cloned().unwrap_or_else(|| json!(-1)),
        "calculated": false,
        "externalOptions": false,
        "hasUniqueValue": body.get("hasUniqueValue").and_then(Value::as_bool).unwrap_or(false),
        "hidden": body.get("hidden").and_then(Value::as_bool).unwrap_or(false),
        "hubspotDefined": false,
        "formField": body.get("formField").and_then(Value::as_bool).unwrap_or(false),
        "archived": false,
        "modificationMetadata": { "archivable": true, "readOnlyDefinition": false, "readOnlyValue": false },
        "createdAt": now,
        "updatedAt": now,
    });
    let portal = st.portal();
    st.custom_properties
        .entry((portal, t))
        .or_default()
        .insert(name, definition.clone());
    Ok((StatusCode::CREATED, definition))
}

/// HubSpot's error body for a properties route (a duplicate is `OBJECT_ALREADY_EXISTS`).
fn error(e: &ApiError) -> Response {
    let mut body = error_body(e);
    if matches!(e, ApiError::Conflict(_)) {
        body["category"] = json!("OBJECT_ALREADY_EXISTS");
    }
    json_response(e.status(), JSON, &body)
}
