//! Reading Connec! records (id arrays, timestamps, status).

use serde_json::{Value, json};

use sync_core::domain::{AppId, EntityName, GroupId, HubId, Provider, Realm, Timestamp};
use sync_core::error::{HttpError, HubError};
use sync_core::ports::{ExternalId, HubRecordMeta};

/// [`describe`], or an error naming the collection: the [`Hub::describe`] of every adapter that
/// speaks Connec!'s shape.
///
/// [`Hub::describe`]: sync_core::ports::Hub::describe
pub fn describe_in(collection: &EntityName, record: &Value) -> Result<HubRecordMeta, HubError> {
    describe(record).ok_or_else(|| HttpError::Malformed {
        api: "connec",
        method: "GET".into(),
        path: format!("/{collection}"),
        detail: "record without a Connec! id or a valid `updated_at`".into(),
    })
}

/// The channel (realm of connec ids) of a group: `org-{group}`.
pub fn channel(group: &GroupId) -> String {
    format!("org-{group}")
}

/// A reference to hub record `id` of `group`, as Connec! writes one.
pub fn reference_to(group: &GroupId, id: &HubId) -> Value {
    connec_triple(id, &channel(group))
}

/// The Connec! id of a record: the `connec` entry of its id array, or a plain id.
pub fn hub_id(record: &Value) -> Option<HubId> {
    match record.get("id")? {
        Value::String(id) => Some(HubId::new(id.clone())),
        Value::Array(entries) => entries
            .iter()
            .find(|e| e.get("provider").and_then(Value::as_str) == Some("connec"))
            .and_then(|e| e.get("id"))
            .and_then(Value::as_str)
            .map(HubId::new),
        _ => None,
    }
}

/// What the engine needs of a record; `None` without an id or a valid `updated_at`.
pub fn describe(record: &Value) -> Option<HubRecordMeta> {
    let external_ids = record
        .get("id")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let provider = e.get("provider").and_then(Value::as_str)?;
            if provider == "connec" {
                return None;
            }
            Some(ExternalId {
                provider: Provider::new(provider),
                realm: Realm::new(e.get("realm").and_then(Value::as_str).unwrap_or("")),
                id: AppId::new(e.get("id").and_then(id_text)?),
            })
        })
        .collect();
    Some(HubRecordMeta {
        id: hub_id(record)?,
        updated_at: updated_at(record)?,
        created_at: created_at(record),
        inactive: is_inactive(record),
        external_ids,
    })
}

/// Our app's id in an id array (`provider` and `realm` match), if Connec! knows it.
pub fn external_id(ids: &Value, provider: &Provider, realm: &Realm) -> Option<AppId> {
    ids.as_array()?
        .iter()
        .find(|e| {
            e.get("provider").and_then(Value::as_str) == Some(provider.as_str())
                && e.get("realm").and_then(Value::as_str) == Some(realm.as_str())
        })
        .and_then(|e| e.get("id"))
        .and_then(id_text)
        .map(AppId::new)
}

/// The connec id inside a reference value (array of triples, or a plain string).
pub fn connec_ref(value: &Value) -> Option<HubId> {
    match value {
        Value::String(id) if !id.is_empty() => Some(HubId::new(id.clone())),
        Value::Array(entries) => entries
            .iter()
            .find(|e| e.get("provider").and_then(Value::as_str) == Some("connec"))
            .and_then(|e| e.get("id"))
            .and_then(Value::as_str)
            .map(HubId::new),
        _ => None,
    }
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `updated_at`, parsed to UTC.
pub fn updated_at(record: &Value) -> Option<Timestamp> {
    record
        .get("updated_at")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse)
}

/// `created_at`, parsed to UTC.
pub fn created_at(record: &Value) -> Option<Timestamp> {
    record
        .get("created_at")
        .and_then(Value::as_str)
        .and_then(Timestamp::parse)
}

/// INACTIVE or ARCHIVED: deleted, Connec!'s way.
pub fn is_inactive(record: &Value) -> bool {
    matches!(
        record.get("status").and_then(Value::as_str),
        Some("INACTIVE" | "ARCHIVED")
    )
}

/// The `channel_id` (realm of connec ids).
pub fn channel_id(record: &Value) -> Option<&str> {
    record.get("channel_id").and_then(Value::as_str)
}

/// A `[{id, provider, realm}]` reference to a hub record.
pub fn connec_triple(id: &HubId, channel: &str) -> Value {
    json!([{ "id": id.as_str(), "provider": "connec", "realm": channel }])
}
