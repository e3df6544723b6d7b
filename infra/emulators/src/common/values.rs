//! Comparisons of JSON values as the vendors compare them: loose scalar equality, ordering
//! of scalars (instants, numbers, strings) and dotted-path lookups.

use serde_json::Value;

use super::clock::{parse_date_like, parse_instant};

/// Loose equality: JSON-equal, or equal string forms (case-insensitive).
pub(crate) fn scalar_eq(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (scalar_string(a), scalar_string(b)) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(&y),
        _ => false,
    }
}

/// String form of a JSON scalar (`None` for null/objects/arrays).
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Looks up a dotted path (`a.b.c`) in a JSON value.
pub(crate) fn lookup_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, seg| match cur {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Orders two JSON scalars: as instants when both parse as timestamps, as
/// numbers when both are numeric, else as strings. `None` if incomparable.
pub(crate) fn compare_scalars(a: &Value, b: &Value, dates: bool) -> Option<std::cmp::Ordering> {
    let (sa, sb) = (scalar_string(a)?, scalar_string(b)?);
    if dates {
        if let (Some(x), Some(y)) = (parse_date_like(&sa), parse_date_like(&sb)) {
            return Some(x.cmp(&y));
        }
    } else if a.is_string()
        && b.is_string()
        && let (Some(x), Some(y)) = (parse_instant(&sa), parse_instant(&sb))
    {
        return Some(x.cmp(&y));
    }
    if let (Ok(x), Ok(y)) = (sa.trim().parse::<f64>(), sb.trim().parse::<f64>()) {
        return x.partial_cmp(&y);
    }
    Some(sa.cmp(&sb))
}
