//! Equality indexes of one collection ([`EqIndex`]): for a stored field path, the records
//! per value, as `$filter ... eq` and `opts.matching_fields` compare values (instants as
//! instants, numbers as numbers, other scalars as their exact text). Built by the first
//! lookup of a path, kept up to date by every write; a lookup gives candidates in creation
//! order, which the caller checks with its own comparison.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::state::{Record, stored_path};
use crate::common::{parse_instant, scalar_string};

/// A scalar as the equality of `compare_scalars` sees it: two values it calls equal have the
/// same key (the converse is the caller's check).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum EqKey {
    Instant(i64, u32),
    Num(u64),
    Text(String),
}

/// The key of a value; `None` for what never equals anything by value (`null`, objects,
/// arrays, `NaN`).
pub(super) fn eq_key(v: &Value) -> Option<EqKey> {
    let s = scalar_string(v)?;
    if v.is_string()
        && let Some(t) = parse_instant(&s)
    {
        return Some(EqKey::Instant(t.timestamp(), t.timestamp_subsec_nanos()));
    }
    if let Ok(n) = s.trim().parse::<f64>() {
        if n.is_nan() {
            return None;
        }
        // `0.0 == -0.0`.
        let n = if n == 0.0 { 0.0 } else { n };
        return Some(EqKey::Num(n.to_bits()));
    }
    Some(EqKey::Text(s))
}

/// Whether `path` is a stored field (not one the listing renders: ids, timestamps, meta).
pub(super) fn indexable(path: &str) -> bool {
    !matches!(
        path,
        "id" | "created_at" | "updated_at" | "group_id" | "channel_id" | "resource_type"
    )
}

/// The equality indexes of one collection (see the [module docs](self)).
#[derive(Debug, Default)]
pub(super) struct EqIndex {
    paths: HashMap<String, HashMap<EqKey, BTreeSet<usize>>>,
}

impl EqIndex {
    /// Adds (`add`) or removes the record at `idx` in every built index.
    pub(super) fn relink(&mut self, r: &Record, idx: usize, add: bool) {
        for (path, map) in &mut self.paths {
            let Some(k) = stored_path(r, path).and_then(eq_key) else {
                continue;
            };
            if add {
                map.entry(k).or_default().insert(idx);
            } else if let Some(set) = map.get_mut(&k) {
                set.remove(&idx);
                if set.is_empty() {
                    map.remove(&k);
                }
            }
        }
    }

    /// Positions of the records whose `path` may equal `value`, in creation order; builds
    /// the path's index from `records` on first use.
    pub(super) fn lookup(&mut self, records: &[Record], path: &str, value: &Value) -> Vec<usize> {
        let Some(k) = eq_key(value) else {
            return Vec::new();
        };
        let map = self.paths.entry(path.to_owned()).or_insert_with(|| {
            let mut m: HashMap<EqKey, BTreeSet<usize>> = HashMap::new();
            for (i, r) in records.iter().enumerate() {
                if let Some(k) = stored_path(r, path).and_then(eq_key) {
                    m.entry(k).or_default().insert(i);
                }
            }
            m
        });
        map.get(&k)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::compare_scalars;
    use serde_json::json;

    /// Values `compare_scalars` calls equal share a key.
    #[test]
    fn equal_values_share_a_key() {
        let values = [
            json!("2024-01-01T00:00:00Z"),
            json!("2024-01-01T00:00:00.000Z"),
            json!("2024-01-01"),
            json!("2024-01-01T01:00:00+01:00"),
            json!(5),
            json!(5.0),
            json!("5"),
            json!(" 5.0"),
            json!(-0.0),
            json!(0),
            json!("true"),
            json!(true),
            json!("Ann"),
            json!("ann"),
            json!(""),
            json!("1e3"),
            json!(1000),
        ];
        for a in &values {
            for b in &values {
                if compare_scalars(a, b, false).is_some_and(|o| o.is_eq()) {
                    assert_eq!(eq_key(a), eq_key(b), "{a} == {b}");
                }
            }
        }
        assert_eq!(eq_key(&json!(null)), None);
        assert_ne!(eq_key(&json!("Ann")), eq_key(&json!("ann")));
    }
}
