//! Match before create: the create marker, then natural keys.
//!
//! Every record the connector creates carries the id of its Connec! record in a custom property
//! (the create marker, `connec_id` by default). A create whose answer was lost (a timeout after
//! HubSpot committed, a failed later chunk, a killed process) is then found again by
//! [`find_matches`](sync_core::ports::AppConnector::find_matches) and never created twice, also
//! for contacts without e-mail and companies with neither domain nor name.
//!
//! The marker property is checked once per connector instance and object type
//! (`GET /crm/v3/properties/{objectType}/{name}`); a write that creates records creates it when
//! it is missing (`POST /crm/v3/properties/{objectType}`, "already exists" is fine). A search
//! never creates it: without the property no record can carry a marker.

use std::collections::{BTreeMap, HashSet};

use http_client::Idempotency;
use serde_json::{Value, json};
use sync_core::domain::{AppEntityName, AppId};
use sync_core::error::{AppError, HttpError};
use sync_core::ports::{AppMatches, MatchQuery};

use crate::API;
use crate::connector::{HubSpotConnector, NaturalKey, ObjectType};
use crate::http::{filter, malformed, property, record_id};

/// Values per `IN` filter (HubSpot documents no higher bound; 100 matches its batch size).
pub(crate) const MAX_IN_VALUES: usize = 100;

/// One record a match search found.
#[derive(Debug)]
struct Candidate {
    id: AppId,
    marker: Option<String>,
    email: Option<String>,
    domain: Option<String>,
    name: Option<String>,
}

impl HubSpotConnector {
    /// For each query: the record carrying its hub id in the marker, and natural matches.
    pub(crate) async fn match_records(
        &self,
        entity: &AppEntityName,
        queries: &[MatchQuery],
    ) -> Result<Vec<AppMatches>, AppError> {
        let object = self.object(entity)?;
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let markers = self.marker_exists(&object).await?;
        let mut out = Vec::with_capacity(queries.len());
        for chunk in queries.chunks(self.config.batch().min(MAX_IN_VALUES)) {
            let found = self.candidates(&object, chunk, markers).await?;
            out.extend(chunk.iter().map(|q| self.rank(&object, q, &found)));
        }
        Ok(out)
    }

    /// Every record whose marker or natural key equals one of the chunk's.
    async fn candidates(
        &self,
        object: &ObjectType,
        chunk: &[MatchQuery],
        markers: bool,
    ) -> Result<Vec<Candidate>, AppError> {
        let marker = self.config.marker_property.as_str();
        // `IN` compares lower-cased values (HubSpot's documentation: "inputted values must be in
        // lowercase"); results are compared case-insensitively again below.
        let mut groups: Vec<(&str, Vec<String>)> = Vec::new();
        if markers {
            groups.push((
                marker,
                distinct(chunk.iter().map(|q| Some(q.hub_id.as_str()))),
            ));
        }
        match object.natural {
            NaturalKey::Email => {
                groups.push(("email", distinct(chunk.iter().map(|q| key(q, "email")))));
            }
            NaturalKey::DomainThenName => {
                groups.push(("domain", distinct(chunk.iter().map(|q| key(q, "domain")))));
                groups.push(("name", distinct(chunk.iter().map(|q| key(q, "name")))));
            }
        }
        groups.retain(|(_, values)| !values.is_empty());
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut properties = vec![marker, "email", "domain", "name"];
        properties.retain(|p| *p == marker || object_has(object, p));
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        let limit = self.config.search_page();
        loop {
            // Keyset paging on the id: records created meanwhile cannot shift the pages.
            let filter_groups: Vec<Value> = groups
                .iter()
                .map(|(name, values)| {
                    let mut filters = vec![json!({
                        "propertyName": name, "operator": "IN", "values": values,
                    })];
                    if let Some(after) = &after {
                        filters.push(filter("hs_object_id", "GT", after.clone()));
                    }
                    json!({ "filters": filters })
                })
                .collect();
            let body = json!({
                "filterGroups": filter_groups,
                "sorts": [{ "propertyName": "hs_object_id", "direction": "ASCENDING" }],
                "properties": properties,
                "limit": limit,
            });
            let page = self.search(object, &body).await?;
            let full = page.len() >= limit;
            for record in &page {
                let Some(id) = record_id(record) else {
                    continue;
                };
                after = Some(id.clone());
                found.push(Candidate {
                    id: AppId::new(id),
                    marker: property(record, marker),
                    email: property(record, "email").map(|v| v.to_lowercase()),
                    domain: property(record, "domain").map(|v| v.to_lowercase()),
                    name: property(record, "name").map(|v| v.to_lowercase()),
                });
            }
            if !full || after.is_none() {
                break;
            }
        }
        Ok(found)
    }

    /// The matches of one query among the candidates: the marked record first (the oldest if
    /// several carry the hub id), natural matches best first; records marked for another hub
    /// record come last (they were created for it).
    fn rank(&self, object: &ObjectType, query: &MatchQuery, found: &[Candidate]) -> AppMatches {
        let hub_id = query.hub_id.as_str();
        let mut by_id: BTreeMap<u64, &Candidate> = BTreeMap::new();
        let mut odd: Vec<&Candidate> = Vec::new();
        for candidate in found {
            match candidate.id.as_str().parse::<u64>() {
                Ok(n) => {
                    by_id.insert(n, candidate);
                }
                Err(_) => odd.push(candidate),
            }
        }
        let ordered: Vec<&Candidate> = by_id.into_values().chain(odd).collect();
        let marked_for_me = |c: &Candidate| {
            c.marker
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(hub_id))
        };
        let mut marked: Vec<AppId> = ordered
            .iter()
            .filter(|c| marked_for_me(c))
            .map(|c| c.id.clone())
            .collect();
        let first = (!marked.is_empty()).then(|| marked.remove(0));
        let natural_key = |c: &&Candidate, rank: usize| -> bool {
            match (object.natural, rank) {
                (NaturalKey::Email, 0) => {
                    key(query, "email").is_some_and(|e| c.email.as_deref() == Some(e.as_str()))
                }
                (NaturalKey::DomainThenName, 0) => {
                    key(query, "domain").is_some_and(|d| c.domain.as_deref() == Some(d.as_str()))
                }
                (NaturalKey::DomainThenName, 1) => {
                    key(query, "name").is_some_and(|n| c.name.as_deref() == Some(n.as_str()))
                }
                _ => false,
            }
        };
        let mut natural = marked;
        let mut foreign = Vec::new();
        for rank in 0..2 {
            for candidate in ordered.iter().filter(|c| natural_key(c, rank)) {
                if marked_for_me(candidate) {
                    continue;
                }
                if candidate.marker.is_some() {
                    foreign.push(candidate.id.clone());
                } else {
                    natural.push(candidate.id.clone());
                }
            }
        }
        natural.extend(foreign);
        let mut seen = HashSet::new();
        natural.retain(|id| seen.insert(id.as_str().to_owned()));
        AppMatches {
            marked: first,
            natural,
        }
    }

    /// Whether the marker property exists; remembered once it does.
    pub(crate) async fn marker_exists(&self, object: &ObjectType) -> Result<bool, AppError> {
        let mut known = self.markers.lock().await;
        if known.contains(object.name) {
            return Ok(true);
        }
        let exists = self.read_marker_property(object).await?;
        if exists {
            known.insert(object.name);
        }
        Ok(exists)
    }

    /// Makes sure the marker property exists before records carrying it are created.
    pub(crate) async fn ensure_marker(&self, object: &ObjectType) -> Result<(), AppError> {
        let mut known = self.markers.lock().await;
        if known.contains(object.name) {
            return Ok(());
        }
        if !self.read_marker_property(object).await? {
            self.create_marker_property(object).await?;
        }
        known.insert(object.name);
        Ok(())
    }

    /// `GET /crm/v3/properties/{objectType}/{name}`: `false` on 404; an error if it exists with
    /// a type that cannot hold an id.
    async fn read_marker_property(&self, object: &ObjectType) -> Result<bool, AppError> {
        let name = &self.config.marker_property;
        let path = format!("crm/v3/properties/{}/{name}", object.name);
        match self.get(&path, &[]).await {
            Ok(definition) => {
                if definition.get("name").and_then(Value::as_str) != Some(name.as_str()) {
                    return Err(malformed(
                        "GET",
                        &path,
                        "the answer is not the definition of the property asked for",
                    ));
                }
                let kind = definition.get("type").and_then(Value::as_str);
                if kind != Some("string") {
                    return Err(AppError::Invalid {
                        app: API,
                        detail: format!(
                            "the {} property `{name}` exists with type `{}`; the connector keeps the Connec! id there and needs a single-line text (string) property: delete or rename it, or choose another `marker_property`",
                            object.name,
                            kind.unwrap_or_default()
                        ),
                    });
                }
                Ok(true)
            }
            Err(AppError::Http(HttpError::Status { status: 404, .. })) => Ok(false),
            Err(e) => Err(scope_hint(e, object)),
        }
    }

    /// Forgets that the marker property exists (HubSpot said it does not: deleted meanwhile).
    pub(crate) async fn forget_marker(&self, object: &ObjectType) {
        self.markers.lock().await.remove(object.name);
    }

    /// `POST /crm/v3/properties/{objectType}`; a 409 (created meanwhile) is fine.
    async fn create_marker_property(&self, object: &ObjectType) -> Result<(), AppError> {
        let name = &self.config.marker_property;
        let path = format!("crm/v3/properties/{}", object.name);
        let body = json!({
            "name": name,
            "label": "Connec! id",
            "description": "Id of the Connec! record this record was created from. Written by the Connec! connector when it creates the record, and used to find it again: do not edit.",
            "groupName": object.marker_group,
            "type": "string",
            "fieldType": "text",
            "formField": false,
        });
        match self.post(&path, &body, Idempotency::Idempotent).await {
            Ok(_) => {
                tracing::info!(object = object.name, property = %name, "created the create-marker property");
                Ok(())
            }
            Err(AppError::Http(HttpError::Status { status: 409, .. })) => Ok(()),
            Err(e) => Err(scope_hint(e, object)),
        }
    }
}

/// A 403 on the properties API names the scopes the marker property needs.
fn scope_hint(error: AppError, object: &ObjectType) -> AppError {
    match error {
        AppError::Http(HttpError::Status {
            api,
            method,
            path,
            status: 403,
            detail,
        }) => AppError::Http(HttpError::Status {
            api,
            method,
            path,
            status: 403,
            detail: format!(
                "{detail}; the create-marker property needs the scopes crm.schemas.{0}.read and crm.schemas.{0}.write: add them to the HubSpot app and link the account again",
                object.name
            ),
        }),
        other => other,
    }
}

/// A query's natural key, lower-cased.
fn key(query: &MatchQuery, name: &str) -> Option<String> {
    property(&query.record, name).map(|v| v.to_lowercase())
}

/// Distinct lower-cased non-blank values, in order.
fn distinct<'a>(values: impl Iterator<Item = Option<impl AsRef<str> + 'a>>) -> Vec<String> {
    let mut seen = HashSet::new();
    values
        .flatten()
        .map(|v| v.as_ref().trim().to_lowercase())
        .filter(|v| !v.is_empty() && seen.insert(v.clone()))
        .collect()
}

/// Whether a natural-key property belongs to this object type.
fn object_has(object: &ObjectType, property: &str) -> bool {
    match object.natural {
        NaturalKey::Email => property == "email",
        NaturalKey::DomainThenName => matches!(property, "domain" | "name"),
    }
}
