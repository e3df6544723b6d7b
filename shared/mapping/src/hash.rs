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
    // Writing into a String cannot fail.
    let _ = write_canonical(v, &mut out);
    out
}

/// Writes [`canonical_json`] of `v` into `out` (a String, or a hasher fed directly).
fn write_canonical<W: fmt::Write>(v: &Value, out: &mut W) -> fmt::Result {
    match v {
        Value::Null => out.write_str("null"),
        Value::Bool(b) => out.write_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.write_char('[')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_char(',')?;
                }
                write_canonical(item, out)?;
            }
            out.write_char(']')
        }
        Value::Object(map) => {
            out.write_char('{')?;
            let mut first = true;
            let mut member = |k: &str, v: &Value, out: &mut W| -> fmt::Result {
                if !first {
                    out.write_char(',')?;
                }
                first = false;
                write_string(k, out)?;
                out.write_char(':')?;
                write_canonical(v, out)
            };
            // serde_json's map is sorted unless its `preserve_order` feature is on somewhere in
            // the dependency graph: sort only then.
            if map.keys().is_sorted() {
                for (k, v) in map.iter().filter(|(_, v)| !is_blank(v)) {
                    member(k, v, out)?;
                }
            } else {
                let mut members: Vec<(&String, &Value)> =
                    map.iter().filter(|(_, v)| !is_blank(v)).collect();
                members.sort_unstable_by(|a, b| a.0.cmp(b.0));
                for (k, v) in members {
                    member(k, v, out)?;
                }
            }
            out.write_char('}')
        }
    }
}

/// A number in the one form [`canonical_number`] gives, without an intermediate String.
fn write_number<W: fmt::Write>(n: &serde_json::Number, out: &mut W) -> fmt::Result {
    if let Some(i) = n.as_i64() {
        return write!(out, "{i}");
    }
    if let Some(u) = n.as_u64() {
        return write!(out, "{u}");
    }
    out.write_str(&canonical_number(n))
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

/// A JSON string exactly as serde_json escapes it: `"` and `\`, and control characters
/// (`\b \t \n \f \r`, others as `\u00xx`); nothing else.
fn write_string<W: fmt::Write>(s: &str, out: &mut W) -> fmt::Result {
    out.write_char('"')?;
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x09 => "\\t",
            0x0a => "\\n",
            0x0c => "\\f",
            0x0d => "\\r",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        if escape.is_empty() {
            write!(out, "\\u{byte:04x}")?;
        } else {
            out.write_str(escape)?;
        }
        start = i + 1;
    }
    out.write_str(&s[start..])?;
    out.write_char('"')
}

/// Feeds what is written straight into SHA-256.
struct Hashing(Sha256);

impl fmt::Write for Hashing {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.update(s.as_bytes());
        Ok(())
    }
}

/// Hex-encoded SHA-256 of a record's [`canonical_json`].
///
/// Compared, ordered, hashed, shown and serialized as its text, exactly as the `String` it
/// wraps.
#[derive(Clone, PartialEq, Eq)]
pub struct ContentHash(Text);

/// A hash's text. Every hash this crate computes is 64 characters, kept inline: a hash is
/// copied into each id-map, write-ahead and write of its record, and an inline copy
/// allocates nothing. Any other text (a stored value that is no digest) stays a `String`.
/// Which form a text takes depends only on its length, so equal texts have equal forms.
#[derive(Clone, PartialEq, Eq)]
enum Text {
    /// Exactly [`DIGEST_LEN`] bytes of UTF-8.
    Inline([u8; DIGEST_LEN]),
    Heap(String),
}

/// The length of a hex SHA-256.
const DIGEST_LEN: usize = 64;

impl ContentHash {
    /// The lowercase hex digest.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Only ever filled from a `str` (or hex digits).
            Text::Inline(bytes) => std::str::from_utf8(bytes).unwrap_or_default(),
            Text::Heap(text) => text,
        }
    }

    /// Wraps a stored hex digest (not validated).
    pub fn from_hex(s: impl Into<String>) -> Self {
        let text: String = s.into();
        match <[u8; DIGEST_LEN]>::try_from(text.as_bytes()) {
            Ok(bytes) => ContentHash(Text::Inline(bytes)),
            Err(_) => ContentHash(Text::Heap(text)),
        }
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ContentHash").field(&self.as_str()).finish()
    }
}

impl std::hash::Hash for ContentHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for ContentHash {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ContentHash {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl serde::Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ContentHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(ContentHash::from_hex)
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
    let mut hashing = Hashing(Sha256::new());
    // Hashing cannot fail.
    let _ = write_canonical(v, &mut hashing);
    let digest = hashing.0.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = [0u8; DIGEST_LEN];
    for (pair, byte) in hex.chunks_exact_mut(2).zip(digest.iter()) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
    ContentHash(Text::Inline(hex))
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
    fn strings_are_escaped_as_serde_json_does() {
        let every: String = (0u8..0x80).map(char::from).chain("é€😀".chars()).collect();
        for s in [every.as_str(), "", "plain", "a\"b\\c", "\u{7f}\u{1f}x"] {
            let mut ours = String::new();
            write_string(s, &mut ours).unwrap();
            assert_eq!(ours, serde_json::to_string(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn hashing_streams_the_canonical_text() {
        let v = json!({"b": [1, 2.5, "x\n"], "a": {"z": null, "y": true}, "c": u64::MAX});
        let text = canonical_json(&v);
        let digest = Sha256::digest(text.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(content_hash(&v).as_str(), hex);
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(canonical_json(&json!({"k\"": "a\nb"})), r#"{"k\"":"a\nb"}"#);
    }

    /// The inline form of 64-character texts behaves as the `String` it replaced.
    #[test]
    fn inline_and_heap_hashes_behave_as_their_text() {
        use std::hash::BuildHasher;
        let digest = content_hash(&json!({"a": 1}));
        let texts = [
            digest.as_str().to_owned(),
            "f".repeat(64),
            "é".repeat(32),
            "a".repeat(63),
            "a".repeat(65),
            String::new(),
            "abc".to_owned(),
        ];
        let state = std::collections::hash_map::RandomState::new();
        for a in &texts {
            let h = ContentHash::from_hex(a.clone());
            assert_eq!(h.as_str(), a);
            assert_eq!(h.to_string(), *a);
            assert_eq!(format!("{h:?}"), format!("ContentHash({a:?})"));
            assert_eq!(state.hash_one(&h), state.hash_one(a.as_str()));
            assert_eq!(
                serde_json::to_string(&h).unwrap(),
                serde_json::to_string(a).unwrap()
            );
            let back: ContentHash =
                serde_json::from_str(&serde_json::to_string(a).unwrap()).unwrap();
            assert_eq!(back, h);
            for b in &texts {
                let g = ContentHash::from_hex(b.clone());
                assert_eq!(h == g, a == b, "{a} {b}");
                assert_eq!(h.cmp(&g), a.cmp(b), "{a} {b}");
            }
        }
        assert_eq!(ContentHash::from_hex(digest.as_str()), digest);
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
