//! The `enum` transform's lookup table, [`EnumTable`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::builtin::scalar_text;
use super::type_error;
use crate::error::TransformError;

/// A lookup table for the `enum` transform.
///
/// Keys are matched against the input's scalar text: strings as-is, numbers
/// in canonical form (`1`, `1.0` -> `"1"`), booleans as `true`/`false`. That
/// lets one table serve both typed hub values and string-typed app values.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumTable {
    entries: BTreeMap<String, Value>,
    fallback: Option<Value>,
}

impl EnumTable {
    /// Builds a table from `(from, to)` pairs.
    pub fn new<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Value)>) -> Self {
        EnumTable {
            entries: pairs.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            fallback: None,
        }
    }

    /// Value used for inputs absent from the table (instead of an error).
    pub fn with_fallback(mut self, fallback: Value) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// Looks up a scalar's text; absent keys give the fallback or an error.
    pub(super) fn lookup(&self, v: &Value) -> Result<Value, TransformError> {
        let key = scalar_text(v).ok_or_else(|| type_error("enum", v))?;
        match (self.entries.get(&key), &self.fallback) {
            (Some(out), _) | (None, Some(out)) => Ok(out.clone()),
            (None, None) => Err(TransformError::UnknownEnumValue {
                value: v.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Transform;
    use crate::transform::test_support::{err, ok};
    use serde_json::json;

    #[test]
    fn enum_table() {
        let t = Transform::Enum(EnumTable::new([
            ("ACTIVE", json!("OPEN")),
            ("1", json!("ONE")),
        ]));
        assert_eq!(ok(&t, json!("ACTIVE")), json!("OPEN"));
        assert_eq!(ok(&t, json!(1)), json!("ONE"));
        assert_eq!(ok(&t, json!(1.0)), json!("ONE"));
        assert_eq!(
            err(&t, json!("GONE")),
            "\"GONE\" is not in the enum table (and there is no fallback)"
        );
        assert!(t.apply(&json!([1])).is_err());
        let t = Transform::Enum(EnumTable::new([("A", json!("B"))]).with_fallback(json!("Z")));
        assert_eq!(ok(&t, json!("nope")), json!("Z"));
    }
}
