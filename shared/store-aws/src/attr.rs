//! Items: JSON values <-> DynamoDB attribute values, key escaping, small readers.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use sync_core::domain::Timestamp;
use sync_core::error::StoreError;

/// An item as the SDK sees it.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Attribute names.
pub(crate) const PK: &str = "PK";
pub(crate) const SK: &str = "SK";
pub(crate) const GSI1: &str = "GSI1";
pub(crate) const GSI1PK: &str = "GSI1PK";
pub(crate) const GSI1SK: &str = "GSI1SK";
pub(crate) const TTL: &str = "expires_at";
pub(crate) const EXPIRES_MS: &str = "expires_at_ms";

/// Escapes one key component: `%` -> `%25`, `#` -> `%23`.
pub(crate) fn esc(component: &str) -> String {
    if !component.contains(['%', '#']) {
        return component.to_owned();
    }
    component.replace('%', "%25").replace('#', "%23")
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// `{PK, SK}`.
pub(crate) fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

/// A JSON value as an attribute value (numbers as `N`, `null` as `NULL`).
pub(crate) fn to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(number) => AttributeValue::N(number.to_string()),
        Value::String(text) => AttributeValue::S(text.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(fields) => AttributeValue::M(
            fields
                .iter()
                .map(|(name, value)| (name.clone(), to_attr(value)))
                .collect(),
        ),
    }
}

/// An attribute value as JSON; sets and binaries are not used by this crate.
pub(crate) fn from_attr(value: &AttributeValue) -> Result<Value, String> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::N(text) => Value::Number(parse_number(text)?),
        AttributeValue::L(items) => {
            Value::Array(items.iter().map(from_attr).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(fields) => {
            let mut map = Map::new();
            for (name, value) in fields {
                map.insert(name.clone(), from_attr(value)?);
            }
            Value::Object(map)
        }
        _ => return Err("unsupported attribute type".to_owned()),
    })
}

fn parse_number(text: &str) -> Result<Number, String> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Number::from(i));
    }
    if let Ok(u) = text.parse::<u64>() {
        return Ok(Number::from(u));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| format!("`{text}` is not a number"))
}

/// The fields of a serializable struct as attributes (to be merged with key attributes).
pub(crate) fn fields_of<T: Serialize>(what: &str, value: &T) -> Result<Item, StoreError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(fields)) => Ok(fields
            .iter()
            .map(|(name, value)| (name.clone(), to_attr(value)))
            .collect()),
        Ok(_) => Err(StoreError::Backend(format!(
            "cannot encode {what}: not a JSON object"
        ))),
        Err(e) => Err(StoreError::Backend(format!("cannot encode {what}: {e}"))),
    }
}

/// Reads a struct back from an item's attributes (key and bookkeeping attributes are ignored).
pub(crate) fn read_fields<T: DeserializeOwned>(what: &str, item: &Item) -> Result<T, StoreError> {
    let mut map = Map::new();
    for (name, value) in item {
        let value = from_attr(value)
            .map_err(|e| StoreError::Corrupt(format!("{what}: attribute {name}: {e}")))?;
        map.insert(name.clone(), value);
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|e| StoreError::Corrupt(format!("{what}: undecodable item: {e}")))
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(text)) => Some(text),
        _ => None,
    }
}

pub(crate) fn get_n(item: &Item, name: &str) -> Option<i64> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse().ok(),
        _ => None,
    }
}

pub(crate) fn req_s<'a>(what: &str, item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    get_s(item, name)
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: missing string attribute {name}")))
}

pub(crate) fn req_n(what: &str, item: &Item, name: &str) -> Result<i64, StoreError> {
    get_n(item, name)
        .ok_or_else(|| StoreError::Corrupt(format!("{what}: missing number attribute {name}")))
}

/// Epoch seconds for the TTL attribute from epoch milliseconds (rounded up).
pub(crate) fn ttl_seconds(expires_ms: i64) -> i64 {
    expires_ms.div_euclid(1000) + i64::from(expires_ms.rem_euclid(1000) != 0)
}

pub(crate) fn duration_millis(ttl: std::time::Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A time read back from epoch milliseconds.
pub(crate) fn timestamp(what: &str, millis: i64) -> Result<Timestamp, StoreError> {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(Timestamp::from_datetime)
        .ok_or_else(|| {
            StoreError::Corrupt(format!("{what}: {millis} is not a valid epoch-ms time"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escapes_separators() {
        assert_eq!(esc("a#b%c"), "a%23b%25c");
        assert_eq!(esc("plain"), "plain");
        assert_ne!(esc("a#b"), esc("a%23b"));
    }

    #[test]
    fn json_round_trips_through_attributes() {
        let value = json!({"a": [1, -2, 3.5, "x", null, true], "b": {"c": u64::MAX}});
        assert_eq!(from_attr(&to_attr(&value)).unwrap(), value);
    }

    #[test]
    fn ttl_rounds_up_to_the_second() {
        assert_eq!(ttl_seconds(1_000), 1);
        assert_eq!(ttl_seconds(1_001), 2);
    }
}
