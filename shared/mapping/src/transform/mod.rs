//! Value transforms applied by field rules: the [`Transform`] enum and its
//! dispatch. The transforms themselves live in
//!
//! * [`builtin`]: the parameterless ones, and the canonical text of scalars;
//! * [`enum_map`]: [`EnumTable`] for `{ enum: ... }`;
//! * [`datetime`]: [`DateFormat`] for `{ datetime: { from, to } }`;
//! * [`registry`]: [`CustomFn`] and the [`FunctionRegistry`] for `{ custom: name }`.

use serde_json::Value;

use crate::error::TransformError;

mod builtin;
mod datetime;
mod enum_map;
mod registry;

pub(crate) use builtin::{canonical_number, scalar_text};
pub use datetime::DateFormat;
pub use enum_map::EnumTable;
pub use registry::{CustomFn, CustomFnPtr, FunctionRegistry};

/// A value transform. In files, simple transforms are written by name
/// (`trim`), parameterised ones as a map (`{ enum: {A: B}, fallback: C }`,
/// `{ datetime: { from: rfc3339, to: date } }`, `{ custom: name }`).
///
/// Transforms never see `null` (null handling is the rule's `on_null`). A
/// transform that produces `null` (the `parse_*` family on a blank string)
/// makes the rule treat the source as null.
///
/// ```
/// use mapping::Transform;
/// use serde_json::json;
/// assert_eq!(Transform::ToString.apply(&json!(42)).unwrap(), json!("42"));
/// assert_eq!(Transform::ParseBool.apply(&json!("Yes")).unwrap(), json!(true));
/// assert!(Transform::ParseBool.apply(&json!("maybe")).is_err());
/// ```
#[derive(Debug, Clone)]
pub enum Transform {
    /// Numbers and booleans to their text (numbers in canonical form, so
    /// `3.0` -> `"3"`); strings unchanged.
    ToString,
    /// Numeric string -> number (integer when it fits `i64`, else `f64`);
    /// numbers unchanged; blank string -> null.
    ParseNumber,
    /// String or number -> `i64` (integral floats like `"4.0"` accepted);
    /// blank string -> null.
    ParseInteger,
    /// `true/false/1/0/yes/no` (case-insensitive, trimmed) or 0/1 -> bool;
    /// bools unchanged; blank string -> null.
    ParseBool,
    /// Bool -> `"true"`/`"false"`; strings unchanged.
    BoolToString,
    /// Lower-cases strings; other scalars unchanged.
    Lowercase,
    /// Upper-cases strings; other scalars unchanged.
    Uppercase,
    /// Trims whitespace around strings; other scalars unchanged.
    Trim,
    /// Table lookup, see [`EnumTable`].
    Enum(EnumTable),
    /// Date/time conversion between two [`DateFormat`]s.
    Datetime {
        /// How the input is read.
        from: DateFormat,
        /// How the output is written.
        to: DateFormat,
    },
    /// A registered Rust function.
    Custom(CustomFn),
}

/// Names accepted in files for the parameterless transforms.
pub(crate) const SIMPLE_NAMES: &[&str] = &[
    "to_string",
    "parse_number",
    "parse_integer",
    "parse_bool",
    "bool_to_string",
    "lowercase",
    "uppercase",
    "trim",
];

impl Transform {
    /// The parameterless transform with this file name (`trim`, `to_string`...).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "to_string" => Transform::ToString,
            "parse_number" => Transform::ParseNumber,
            "parse_integer" => Transform::ParseInteger,
            "parse_bool" => Transform::ParseBool,
            "bool_to_string" => Transform::BoolToString,
            "lowercase" => Transform::Lowercase,
            "uppercase" => Transform::Uppercase,
            "trim" => Transform::Trim,
            _ => return None,
        })
    }

    /// The file name of this transform (`enum`, `datetime`, `custom` for the
    /// parameterised ones).
    pub fn name(&self) -> &'static str {
        match self {
            Transform::ToString => "to_string",
            Transform::ParseNumber => "parse_number",
            Transform::ParseInteger => "parse_integer",
            Transform::ParseBool => "parse_bool",
            Transform::BoolToString => "bool_to_string",
            Transform::Lowercase => "lowercase",
            Transform::Uppercase => "uppercase",
            Transform::Trim => "trim",
            Transform::Enum(_) => "enum",
            Transform::Datetime { .. } => "datetime",
            Transform::Custom(_) => "custom",
        }
    }

    /// Applies the transform to one (non-null) value.
    pub fn apply(&self, v: &Value) -> Result<Value, TransformError> {
        match self {
            Transform::ToString => builtin::to_string(v),
            Transform::ParseNumber => builtin::parse_number(v),
            Transform::ParseInteger => builtin::parse_integer(v),
            Transform::ParseBool => builtin::parse_bool(v),
            Transform::BoolToString => builtin::bool_to_string(v),
            Transform::Lowercase => builtin::edit_text(self.name(), v, str::to_lowercase),
            Transform::Uppercase => builtin::edit_text(self.name(), v, str::to_uppercase),
            Transform::Trim => builtin::edit_text(self.name(), v, |s| s.trim().to_string()),
            Transform::Enum(table) => table.lookup(v),
            Transform::Datetime { from, to } => datetime::convert(from, to, v),
            Transform::Custom(f) => f.apply(v),
        }
    }
}

/// The error for a value of a JSON type `transform` does not accept.
fn type_error(transform: &'static str, v: &Value) -> TransformError {
    TransformError::Type {
        transform,
        found: type_name(v),
        value: v.to_string(),
    }
}

/// Human-readable JSON type, with article, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Helpers for the transform unit tests of every submodule.
#[cfg(test)]
mod test_support {
    use super::Transform;
    use serde_json::Value;

    pub(super) fn ok(t: &Transform, v: Value) -> Value {
        t.apply(&v)
            .unwrap_or_else(|e| panic!("{} on {v}: {e}", t.name()))
    }

    pub(super) fn err(t: &Transform, v: Value) -> String {
        t.apply(&v).unwrap_err().to_string()
    }
}
