//! Canonical JSON text and content hashes used for change detection and echo
//! suppression.

use std::fmt;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::transform::canonical_number;

/// Deterministic JSON text for hashing.
///
/// * object keys sorted (byte order), recursively;
/// * object members that are blank dropped: `null`, `""`, and objects whose
///   members are all blank. "Absent", `null` and `""` are the same content
///   (apps disagree on how they report an unset field: HubSpot answers `""`
///   or `null` for a property Connec! simply omits);
/// * numbers in one form: `1`, `1.0` and `1e0` all print as `1`; other
///   floats use Rust's shortest round-trip form;
/// * arrays keep their order (and their `null` elements);
/// * no whitespace.
///
/// ```
/// use mapping::canonical_json;
/// use serde_json::json;
/// assert_eq!(canonical_json(&json!({"b": 1.0, "a": null, "c": [2, null]})), r#"{"b":1,"c":[2,null]}"#);
/// assert_eq!(canonical_json(&json!({"a": "", "p": {"x": null}})), canonical_json(&json!({})));
/// ```
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&canonical_number(n)),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sort explicitly: serde_json's `preserve_order` feature may be on
            // elsewhere in the dependency graph.
            let mut members: Vec<(&String, &Value)> =
                map.iter().filter(|(_, v)| !is_blank(v)).collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

/// Null, the empty string, or an object with only blank members.
fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Object(map) => map.values().all(is_blank),
        _ => false,
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's string escaping is deterministic; serialising a &str
    // cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// Hex-encoded SHA-256 of a record's [`canonical_json`].
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ContentHash(String);

impl ContentHash {
    /// The lowercase hex digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a stored hex digest (not validated).
    pub fn from_hex(s: impl Into<String>) -> Self {
        ContentHash(s.into())
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// SHA-256 of [`canonical_json`], hex encoded.
///
/// ```
/// use mapping::content_hash;
/// use serde_json::json;
/// let a = content_hash(&json!({"x": 1, "y": null, "z": {"b": 2, "a": 1}}));
/// let b = content_hash(&json!({"z": {"a": 1.0, "b": 2}, "x": 1e0}));
/// assert_eq!(a, b);
/// assert_eq!(a.as_str().len(), 64);
/// ```
pub fn content_hash(v: &Value) -> ContentHash {
    let digest = Sha256::digest(canonical_json(v).as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
        hex.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
    }
    ContentHash(hex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_digest() {
        // sha256("{}")
        assert_eq!(
            content_hash(&json!({})).as_str(),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn key_order_does_not_matter() {
        let a: Value = serde_json::from_str(r#"{"a":1,"b":{"y":[1,2],"x":"s"}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":{"x":"s","y":[1,2]},"a":1}"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(content_hash(&a), content_hash(&b));
    }

    #[test]
    fn number_forms_are_equal() {
        let a: Value = serde_json::from_str(r#"{"n":1,"m":[2.5]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"n":1.0,"m":[2.50]}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"n":1e0,"m":[25e-1]}"#).unwrap();
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_eq!(content_hash(&a), content_hash(&c));
        assert_ne!(
            content_hash(&json!({"n": 1})),
            content_hash(&json!({"n": 1.5}))
        );
        assert_ne!(
            content_hash(&json!({"n": 1})),
            content_hash(&json!({"n": "1"}))
        );
    }

    #[test]
    fn null_empty_string_and_empty_object_equal_absent_but_not_false_zero_or_empty_array() {
        let base = content_hash(&json!({"a": 1}));
        for blank in [
            json!(null),
            json!(""),
            json!({}),
            json!({"k": null, "s": ""}),
        ] {
            assert_eq!(base, content_hash(&json!({"a": 1, "b": blank})), "{blank}");
        }
        for v in [json!(false), json!(0), json!([]), json!(" ")] {
            assert_ne!(base, content_hash(&json!({"a": 1, "b": v})), "{v}");
        }
    }

    #[test]
    fn arrays_keep_order_and_nulls() {
        assert_ne!(content_hash(&json!([1, 2])), content_hash(&json!([2, 1])));
        assert_eq!(canonical_json(&json!([null, {"a": null}])), "[null,{}]");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(canonical_json(&json!({"k\"": "a\nb"})), r#"{"k\"":"a\nb"}"#);
    }

    #[test]
    fn content_hash_serde_is_transparent() {
        let h = ContentHash::from_hex("abc");
        assert_eq!(serde_json::to_string(&h).unwrap(), "\"abc\"");
        let back: ContentHash = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back, h);
        assert_eq!(h.to_string(), "abc");
    }
}
