//! A `/batch` answer to writes, read for what the engine keeps of it.
//!
//! Connec! answers every op of a write with the whole record it saved. The engine keeps only
//! its meta (id array, `updated_at`, `created_at`, `status`), so the records of successful ops
//! are read field by field, every other field skipped unparsed, instead of being built as JSON
//! values only to be dropped: at 100k records the write-backs' answers were a sixth of the sync
//! process's CPU. An op that failed keeps its whole body (its error message is read from it).

use std::collections::HashMap;

use http_client::parse_json;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sync_core::domain::EntityName;
use sync_core::error::HttpError;

use crate::API;

#[derive(Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    results: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct OpResult<'a> {
    status: Option<Value>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

/// The fields of a saved record that its meta is made of.
#[derive(Deserialize)]
struct Meta {
    id: Option<Value>,
    updated_at: Option<Value>,
    created_at: Option<Value>,
    status: Option<Value>,
}

/// Each op's result as `{"status", "body"}`, a successful op's body reduced to
/// `{collection: {id, updated_at, created_at, status}}` (the fields it has of them). A result
/// that is not an object becomes `null`, a body that is not `{collection: object}` `null`;
/// `None` for an answer without a `results` array.
///
/// # Errors
///
/// An answer that is not JSON, or not an object with an array of `results` if any.
pub(crate) fn write_results(
    body: &[u8],
    collection: &EntityName,
) -> Result<Option<Vec<Value>>, HttpError> {
    let answer: Answer<'_> = parse_json(API, "POST", "/batch", body)?;
    let Some(results) = answer.results else {
        return Ok(None);
    };
    Ok(Some(
        results
            .into_iter()
            .map(|raw| op_result(raw, collection))
            .collect(),
    ))
}

/// One op's result as `{"status", "body"}` (see [`write_results`]).
fn op_result(raw: &RawValue, collection: &EntityName) -> Value {
    let Ok(op) = serde_json::from_str::<OpResult<'_>>(raw.get()) else {
        return Value::Null;
    };
    let saved = op
        .status
        .as_ref()
        .and_then(Value::as_u64)
        .is_some_and(|s| s == 200 || s == 201);
    let body = match op.body {
        None => Value::Null,
        Some(body) if saved => reduced(body, collection),
        Some(body) => serde_json::from_str(body.get()).unwrap_or(Value::Null),
    };
    let mut result = Map::new();
    if let Some(status) = op.status {
        result.insert("status".into(), status);
    }
    result.insert("body".into(), body);
    Value::Object(result)
}

/// `{collection: meta fields}` of a successful op's body, `null` when it holds no such record.
fn reduced(body: &RawValue, collection: &EntityName) -> Value {
    let Ok(records) = serde_json::from_str::<HashMap<String, &RawValue>>(body.get()) else {
        return Value::Null;
    };
    let Some(record) = records.get(collection.as_str()) else {
        return Value::Null;
    };
    let Ok(meta) = serde_json::from_str::<Meta>(record.get()) else {
        return Value::Null;
    };
    let mut record = Map::new();
    for (key, value) in [
        ("id", meta.id),
        ("updated_at", meta.updated_at),
        ("created_at", meta.created_at),
        ("status", meta.status),
    ] {
        if let Some(value) = value {
            record.insert(key.into(), value);
        }
    }
    Value::Object(Map::from_iter([(
        collection.as_str().to_owned(),
        Value::Object(record),
    )]))
}
