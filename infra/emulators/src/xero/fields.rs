//! Reading the fields of submitted elements as Xero reads them: numbers given as JSON
//! numbers or numeric strings, money rounded to cents, case-insensitive names, and the
//! read-only fields a write ignores.

use serde_json::{Map, Value};

/// A validation failure of one element: Xero's `ValidationErrors[].Message`s.
pub(super) type Invalid = Vec<String>;

/// A string field, trimmed; `None` when absent, null or blank.
pub(super) fn text<'a>(el: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    el.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A number given as a JSON number or a numeric string; `Err` when present but not numeric.
pub(super) fn number(el: &Map<String, Value>, key: &str) -> Result<Option<f64>, String> {
    match el.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| format!("{key} must be a number")),
        Some(_) => Err(format!("{key} must be a number")),
    }
}

/// Rounds to cents, as Xero stores amounts.
pub(super) fn money(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Rounds to four decimals (quantities).
pub(super) fn quantity(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Case-insensitive, trimmed equality of names and codes.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Fields a client may send but never sets (computed or read-only), on every collection.
const READ_ONLY: [&str; 14] = [
    "UpdatedDateUTC",
    "UpdatedDateUTCString",
    "ValidationErrors",
    "Warnings",
    "StatusAttributeString",
    "HasValidationErrors",
    "HasErrors",
    "HasAttachments",
    "IsCustomer",
    "IsSupplier",
    "Balances",
    "AmountDue",
    "AmountPaid",
    "AmountCredited",
];

/// `base` with the writable fields of `el` laid over it (`skip`: fields the caller handles).
pub(super) fn overlay(
    base: &Map<String, Value>,
    el: &Map<String, Value>,
    skip: &[&str],
) -> Map<String, Value> {
    let mut out = base.clone();
    for (k, v) in el {
        if READ_ONLY.contains(&k.as_str()) || skip.contains(&k.as_str()) {
            continue;
        }
        out.insert(k.clone(), v.clone());
    }
    out
}

/// A fresh lowercase GUID.
pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The all-zero GUID Xero puts in elements that failed before they got an id.
pub(super) const ZERO_ID: &str = "00000000-0000-0000-0000-000000000000";

/// The message of a `PUT` (create only) naming an existing record.
pub(super) fn put_existing(what: &str, id: &str) -> String {
    format!("A {what} with the id {id} already exists: PUT only creates, use POST to update it.")
}
