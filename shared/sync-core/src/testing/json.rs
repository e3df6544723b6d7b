//! JSON helpers of the fakes: dotted paths, deep merge, value comparison.

use serde_json::Value;

/// The value at a dotted path (`email.address`) of objects; `None` when absent.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |v, segment| v.as_object()?.get(segment))
}

/// Calls `f` on every value at `path`: dotted, with `name[]` for each element of an array
/// (`lines[].item_id`). Absent values are skipped.
pub fn walk_mut(value: &mut Value, path: &str, f: &mut dyn FnMut(&mut Value)) {
    let segments: Vec<&str> = path.split('.').collect();
    walk(value, &segments, f);
}

fn walk(value: &mut Value, segments: &[&str], f: &mut dyn FnMut(&mut Value)) {
    let Some((first, rest)) = segments.split_first() else {
        f(value);
        return;
    };
    let Value::Object(map) = value else { return };
    if let Some(name) = first.strip_suffix("[]") {
        if let Some(Value::Array(items)) = map.get_mut(name) {
            for item in items {
                walk(item, rest, f);
            }
        }
    } else if let Some(child) = map.get_mut(*first) {
        walk(child, rest, f);
    }
}

/// Merges `patch` into `target`: objects key by key (recursively), anything else replaced.
pub fn deep_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (key, value) in p {
                match t.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        deep_merge(existing, value);
                    }
                    _ => {
                        t.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Both non-null and equal; strings trimmed and lower-cased first when `fold_case`.
pub fn values_match(a: &Value, b: &Value, fold_case: bool) -> bool {
    if a.is_null() || b.is_null() {
        return false;
    }
    match (a, b) {
        (Value::String(a), Value::String(b)) if fold_case => {
            a.trim().to_lowercase() == b.trim().to_lowercase()
        }
        _ => a == b,
    }
}
