//! Typed parsing of verified webhook bodies.
//!
//! Run these only after a [`Verifier`](crate::Verifier) accepted the raw request. Errors say what
//! is wrong and where (element index, field, collection) but never echo values from the body.

mod connec;
mod hubspot;
mod xero;

use serde_json::{Map, Value};

pub use connec::{ConnecNotification, normalize_collection, parse_connec_notification};
pub use hubspot::{HubSpotChange, HubSpotEvent, HubSpotObject, parse_hubspot_events};
pub use xero::{XeroEvent, XeroEvents, parse_xero_events};

/// Why a verified body could not be turned into typed events.
///
/// `Display` names the place (event index, collection and record index, field) and the
/// expectation; it never contains values from the body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The body is not JSON at all.
    #[error("body is not valid JSON ({problem} at line {line}, column {column})")]
    InvalidJson {
        /// `syntax error`, `unexpected end of input`, ...
        problem: &'static str,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// The body is JSON of the wrong shape.
    #[error("body must be a JSON {expected}, found {found}")]
    UnexpectedBody {
        /// The JSON type the format requires.
        expected: &'static str,
        /// The JSON type received.
        found: &'static str,
    },
    /// A top-level field of the body is absent.
    #[error("body: missing required field `{field}`")]
    MissingBodyField {
        /// The field name.
        field: &'static str,
    },
    /// A top-level field of the body has the wrong type.
    #[error("body: field `{field}` must be {expected}")]
    InvalidBodyField {
        /// The field name.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// An element of the event array is not an object.
    #[error("event {index}: must be a JSON object, found {found}")]
    EventNotObject {
        /// 0-based position in the event array.
        index: usize,
        /// The JSON type received.
        found: &'static str,
    },
    /// An event lacks a required field.
    #[error("event {index}: missing required field `{field}`")]
    MissingField {
        /// 0-based position in the event array.
        index: usize,
        /// The field name as it appears in the JSON.
        field: &'static str,
    },
    /// An event field has the wrong type or an out-of-range value.
    #[error("event {index}: field `{field}` must be {expected}")]
    InvalidField {
        /// 0-based position in the event array.
        index: usize,
        /// The field name as it appears in the JSON.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A Connec! collection is not an array of records.
    #[error("collection `{collection}`: must be an array of records, found {found}")]
    CollectionNotArray {
        /// The collection key as sent (truncated to 64 characters).
        collection: String,
        /// The JSON type received.
        found: &'static str,
    },
    /// A Connec! record is not an object.
    #[error("collection `{collection}` record {index}: must be a JSON object, found {found}")]
    RecordNotObject {
        /// The collection key as sent (truncated to 64 characters).
        collection: String,
        /// 0-based position in the collection array.
        index: usize,
        /// The JSON type received.
        found: &'static str,
    },
    /// A Connec! record has no non-empty string `group_id`.
    #[error(
        "collection `{collection}` record {index}: missing string `group_id` \
         (every Connec! record names its customer group)"
    )]
    MissingGroupId {
        /// The collection key as sent (truncated to 64 characters).
        collection: String,
        /// 0-based position in the collection array.
        index: usize,
    },
}

/// Parses JSON without letting serde's message (which may quote values) escape.
fn parse_json(body: &[u8]) -> Result<Value, ParseError> {
    serde_json::from_slice(body).map_err(|e| ParseError::InvalidJson {
        problem: match e.classify() {
            serde_json::error::Category::Eof => "unexpected end of input",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "invalid data",
            serde_json::error::Category::Io => "read error",
        },
        line: e.line(),
        column: e.column(),
    })
}

/// The JSON type name of a value, for error messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A collection key for error messages: bounded in length.
fn bounded(name: &str) -> String {
    name.chars().take(64).collect()
}

/// Field access on one event object, with the event's index for errors.
struct Fields<'a> {
    index: usize,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// The field unless absent or `null`.
    fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn missing(&self, field: &'static str) -> ParseError {
        ParseError::MissingField {
            index: self.index,
            field,
        }
    }

    fn invalid(&self, field: &'static str, expected: &'static str) -> ParseError {
        ParseError::InvalidField {
            index: self.index,
            field,
            expected,
        }
    }

    fn opt_u64(&self, field: &'static str) -> Result<Option<u64>, ParseError> {
        self.get(field)
            .map(|v| as_u64(v).ok_or_else(|| self.invalid(field, "a non-negative integer")))
            .transpose()
    }

    fn u64(&self, field: &'static str) -> Result<u64, ParseError> {
        self.opt_u64(field)?.ok_or_else(|| self.missing(field))
    }

    fn opt_i64(&self, field: &'static str) -> Result<Option<i64>, ParseError> {
        self.get(field)
            .map(|v| as_i64(v).ok_or_else(|| self.invalid(field, "an integer")))
            .transpose()
    }

    fn string(&self, field: &'static str) -> Result<&'a str, ParseError> {
        match self.get(field) {
            None => Err(self.missing(field)),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(self.invalid(field, "a string")),
        }
    }

    /// A string, or a number/boolean rendered as a string.
    fn opt_scalar_string(&self, field: &'static str) -> Result<Option<String>, ParseError> {
        match self.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => Err(self.invalid(field, "a string")),
        }
    }
}

/// A non-negative integer given as a JSON number or a numeric string.
fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An integer given as a JSON number or a numeric string.
fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-negative integer field of the body itself; `0` when absent.
fn body_u64_or_zero(map: &Map<String, Value>, field: &'static str) -> Result<u64, ParseError> {
    match map.get(field).filter(|v| !v.is_null()) {
        None => Ok(0),
        Some(v) => as_u64(v).ok_or(ParseError::InvalidBodyField {
            field,
            expected: "a non-negative integer",
        }),
    }
}
