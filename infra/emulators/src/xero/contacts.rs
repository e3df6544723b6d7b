//! Writing contacts: create (`PUT`, or `POST` without a known `ContactID`), update (`POST`
//! with `ContactID`, `POST /Contacts/{id}`), archive (`ContactStatus: ARCHIVED`), and the
//! rules Xero checks: a name on create, unique among active contacts; a known status; a
//! plausible email address. `IsCustomer`/`IsSupplier` are never written by clients: the
//! invoices set them ([`mark_party`]).

use serde_json::{Map, Value, json};

use super::fields::{Invalid, new_id, overlay, same, text};
use super::state::{Kind, Tx};
use super::write::Verb;

const STATUSES: [&str; 3] = ["ACTIVE", "ARCHIVED", "GDPRREQUEST"];

/// Creates or updates one contact; its id, or why not.
pub(super) fn write(
    tx: &mut Tx<'_>,
    verb: Verb,
    el: &Map<String, Value>,
    path_id: Option<&str>,
) -> Result<String, Invalid> {
    let given = path_id.or_else(|| text(el, "ContactID"));
    let existing = match given {
        Some(id) => match tx.get(Kind::Contacts, id) {
            Some(_) if verb == Verb::Put => {
                return Err(vec![super::fields::put_existing("contact", id)]);
            }
            Some(rec) => Some((id.to_ascii_lowercase(), rec.body.clone())),
            None => {
                return Err(vec![format!(
                    "The contact with ContactID {id} could not be found."
                )]);
            }
        },
        None => None,
    };
    let (id, base) = match existing {
        Some((id, body)) => (id, body),
        None => (new_id(), defaults()),
    };
    let mut body = overlay(&base, el, &["ContactID"]);
    body.insert("ContactID".into(), id.clone().into());
    let errors = check(tx, &id, &body);
    if !errors.is_empty() {
        return Err(errors);
    }
    tx.put(Kind::Contacts, &id, body, false);
    Ok(id)
}

/// A new contact's fields before the client's are laid over them.
fn defaults() -> Map<String, Value> {
    let v = json!({
        "ContactStatus": "ACTIVE",
        "ContactPersons": [],
        "Addresses": [],
        "Phones": [],
        "ContactGroups": [],
        "IsSupplier": false,
        "IsCustomer": false,
        "HasAttachments": false,
        "HasValidationErrors": false,
    });
    v.as_object().cloned().unwrap_or_default()
}

fn check(tx: &Tx<'_>, id: &str, body: &Map<String, Value>) -> Invalid {
    let mut errors = Vec::new();
    let status = body
        .get("ContactStatus")
        .and_then(Value::as_str)
        .unwrap_or("ACTIVE");
    if !STATUSES.contains(&status) {
        errors.push(format!(
            "ContactStatus must be one of ACTIVE, ARCHIVED, GDPRREQUEST (not '{status}')."
        ));
    }
    match text(body, "Name") {
        None => errors.push("The contact name must be specified.".into()),
        Some(name) if name.chars().count() > 255 => {
            errors.push("The contact name must not exceed 255 characters.".into());
        }
        Some(name) if status == "ACTIVE" && name_taken(tx, id, name) => errors.push(format!(
            "The contact name {name} is already assigned to another contact. The contact name must be unique across all active contacts."
        )),
        Some(_) => {}
    }
    if let Some(email) = text(body, "EmailAddress")
        && !plausible_email(email)
    {
        errors.push("Email address must be valid.".into());
    }
    if let Some(persons) = body.get("ContactPersons").and_then(Value::as_array) {
        if persons.len() > 5 {
            errors.push("A contact can have a maximum of 5 contact persons.".into());
        }
        for p in persons.iter().filter_map(Value::as_object) {
            if let Some(email) = text(p, "EmailAddress")
                && !plausible_email(email)
            {
                errors.push("Email address must be valid.".into());
            }
        }
    }
    errors
}

fn plausible_email(s: &str) -> bool {
    s.split_once('@')
        .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !s.contains(' '))
}

/// Whether another active contact has `name`.
pub(super) fn name_taken(tx: &Tx<'_>, id: &str, name: &str) -> bool {
    tx.t.lookup(Kind::Contacts, "Name", name)
        .any(|(other, rec)| {
            other != id
                && rec.str("ContactStatus").unwrap_or("ACTIVE") == "ACTIVE"
                && rec.str("Name").is_some_and(|n| same(n, name))
        })
}

/// The active contact named `name`, if any.
pub(super) fn by_name(tx: &Tx<'_>, name: &str) -> Option<String> {
    tx.t.lookup(Kind::Contacts, "Name", name)
        .find(|(_, rec)| {
            rec.str("ContactStatus").unwrap_or("ACTIVE") == "ACTIVE"
                && rec.str("Name").is_some_and(|n| same(n, name))
        })
        .map(|(id, _)| id.clone())
}

/// The contact with this `ContactNumber`, if any.
pub(super) fn by_number(tx: &Tx<'_>, number: &str) -> Option<String> {
    tx.t.lookup(Kind::Contacts, "ContactNumber", number)
        .find(|(_, rec)| rec.str("ContactNumber").is_some_and(|n| n == number))
        .map(|(id, _)| id.clone())
}

/// Marks a contact a customer (`ACCREC`) or supplier (`ACCPAY`) once it has such an
/// invoice: the contact is modified (new `UpdatedDateUTC`, a change event).
pub(super) fn mark_party(tx: &mut Tx<'_>, contact_id: &str, invoice_type: &str) {
    let flag = match invoice_type {
        "ACCREC" => "IsCustomer",
        "ACCPAY" => "IsSupplier",
        _ => return,
    };
    let Some(rec) = tx.get(Kind::Contacts, contact_id) else {
        return;
    };
    if rec.body.get(flag) == Some(&Value::Bool(true)) {
        return;
    }
    let mut body = rec.body.clone();
    body.insert(flag.into(), true.into());
    tx.put(Kind::Contacts, contact_id, body, false);
}
