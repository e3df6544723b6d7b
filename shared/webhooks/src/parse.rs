//! What typed parsers of verified webhook bodies share: [`ParseError`] and JSON helpers.
//!
//! A parser runs only after a [`Verifier`](crate::Verifier) accepted the raw request. Its errors
//! say what is wrong and where (element index, field, collection) but never echo values from the
//! body: [`parse_json`] drops serde's messages (which may quote the input), and [`Fields`] names
//! the event index and the field of what is missing or invalid.

use serde_json::{Map, Value};

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
    /// In a body that maps collection names to arrays of records, a collection is not an
    /// array.
    #[error("collection `{collection}`: must be an array of records, found {found}")]
    CollectionNotArray {
        /// The collection key as sent (truncated to 64 characters).
        collection: String,
        /// The JSON type received.
        found: &'static str,
    },
    /// In a body that maps collection names to arrays of records, a record is not an object.
    #[error("collection `{collection}` record {index}: must be a JSON object, found {found}")]
    RecordNotObject {
        /// The collection key as sent (truncated to 64 characters).
        collection: String,
        /// 0-based position in the collection array.
        index: usize,
        /// The JSON type received.
        found: &'static str,
    },
    /// A record has no non-empty string `group_id`: the customer group it belongs to.
    #[error(
        "collection `{collection}` record {index}: missing string `group_id` \
         (every record must name its customer group)"
    )]
    MissingGroupId {
        /// The collection key as sent (truncated to 64 characters).
        collection: String,
        /// 0-based position in the collection array.
        index: usize,
    },
    /// A record's `group_id` is not in the hub's group id format (its value is not shown).
    #[error(
        "collection `{collection}` record {index}: `group_id` is not a group id \
         ({expected})"
    )]
    InvalidGroupId {
        /// The collection key as sent (truncated to 64 characters).
        collection: String,
        /// 0-based position in the collection array.
        index: usize,
        /// The accepted format.
        expected: &'static str,
    },
}

/// Parses a body as JSON without letting serde's message (which may quote values) escape.
///
/// The error keeps only the category of the problem and its position.
///
/// ```
/// use webhooks::{ParseError, parse::parse_json};
///
/// assert_eq!(parse_json(br#"{"a":1}"#).unwrap()["a"], 1);
/// let err = parse_json(br#"["secret" oops]"#).unwrap_err();
/// assert!(matches!(err, ParseError::InvalidJson { problem: "syntax error", .. }));
/// assert!(!err.to_string().contains("secret"));
/// ```
pub fn parse_json(body: &[u8]) -> Result<Value, ParseError> {
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

/// The JSON type name of a value (`null`, `a string`, `an array`, ...), for error messages.
///
/// ```
/// assert_eq!(webhooks::parse::kind(&serde_json::json!([1])), "an array");
/// ```
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A key taken from the body (a collection name) made fit for an error message: at most 64
/// characters.
pub fn bounded(name: &str) -> String {
    name.chars().take(64).collect()
}

/// Field access on one event object, with the event's index for errors.
///
/// Every accessor treats an absent field and a `null` one alike, and its errors name the event
/// index and the field, never the value.
///
/// ```
/// use serde_json::json;
/// use webhooks::{ParseError, parse::Fields};
///
/// let event = json!({"id": "7", "name": "n"});
/// let fields = Fields::new(3, event.as_object().unwrap());
/// assert_eq!(fields.u64("id"), Ok(7));
/// assert_eq!(fields.string("name"), Ok("n"));
/// assert_eq!(fields.u64("other"), Err(ParseError::MissingField { index: 3, field: "other" }));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    index: usize,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// The fields of the event at `index` (0-based) of its batch.
    pub fn new(index: usize, map: &'a Map<String, Value>) -> Self {
        Self { index, map }
    }

    /// The field unless absent or `null`.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    /// A [`ParseError::MissingField`] for `field` of this event.
    pub fn missing(&self, field: &'static str) -> ParseError {
        ParseError::MissingField {
            index: self.index,
            field,
        }
    }

    /// A [`ParseError::InvalidField`] for `field` of this event, which must be `expected`.
    pub fn invalid(&self, field: &'static str, expected: &'static str) -> ParseError {
        ParseError::InvalidField {
            index: self.index,
            field,
            expected,
        }
    }

    /// An optional non-negative integer, given as a JSON number or a numeric string.
    pub fn opt_u64(&self, field: &'static str) -> Result<Option<u64>, ParseError> {
        self.get(field)
            .map(|v| as_u64(v).ok_or_else(|| self.invalid(field, "a non-negative integer")))
            .transpose()
    }

    /// A required non-negative integer, given as a JSON number or a numeric string.
    pub fn u64(&self, field: &'static str) -> Result<u64, ParseError> {
        self.opt_u64(field)?.ok_or_else(|| self.missing(field))
    }

    /// An optional integer, given as a JSON number or a numeric string.
    pub fn opt_i64(&self, field: &'static str) -> Result<Option<i64>, ParseError> {
        self.get(field)
            .map(|v| as_i64(v).ok_or_else(|| self.invalid(field, "an integer")))
            .transpose()
    }

    /// A required string.
    pub fn string(&self, field: &'static str) -> Result<&'a str, ParseError> {
        match self.get(field) {
            None => Err(self.missing(field)),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(self.invalid(field, "a string")),
        }
    }

    /// An optional string, or a number/boolean rendered as a string.
    pub fn opt_scalar_string(&self, field: &'static str) -> Result<Option<String>, ParseError> {
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

/// A non-negative integer field of the body itself (a JSON number or a numeric string); `0`
/// when absent or `null`.
///
/// ```
/// use serde_json::json;
/// use webhooks::{ParseError, parse::body_u64_or_zero};
///
/// let body = json!({"first": 3, "bad": "x"});
/// let map = body.as_object().unwrap();
/// assert_eq!(body_u64_or_zero(map, "first"), Ok(3));
/// assert_eq!(body_u64_or_zero(map, "absent"), Ok(0));
/// assert!(matches!(body_u64_or_zero(map, "bad"), Err(ParseError::InvalidBodyField { .. })));
/// ```
pub fn body_u64_or_zero(map: &Map<String, Value>, field: &'static str) -> Result<u64, ParseError> {
    match map.get(field).filter(|v| !v.is_null()) {
        None => Ok(0),
        Some(v) => as_u64(v).ok_or(ParseError::InvalidBodyField {
            field,
            expected: "a non-negative integer",
        }),
    }
}
