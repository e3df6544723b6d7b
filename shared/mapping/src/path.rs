//! Field paths: parsing, fan-out reads, writes that create intermediate
//! containers, and in-place rewrites.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::PathError;

/// One dot-separated step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Segment {
    /// `key`: an object member.
    Key(String),
    /// `key[]`: every element of the array at `key`.
    Each(String),
    /// `key[N]`: element `N` of the array at `key`.
    Index(String, usize),
}

impl Segment {
    pub(crate) fn key(&self) -> &str {
        match self {
            Segment::Key(k) | Segment::Each(k) | Segment::Index(k, _) => k,
        }
    }
}

/// A parsed field path such as `email.address`, `lines[].item_id` or
/// `phones[0].number`.
///
/// Grammar: dot-separated segments; each segment is a non-empty key made of
/// any characters except `.`, `[` and `]`, optionally followed by exactly one
/// selector: `[]` (fan out over every element of the array) or `[N]` (element
/// `N`). A path can never start with a bare `[]`: records are always objects,
/// so the first segment must name a key. Keys containing `.` cannot be
/// expressed (no escaping).
///
/// ```
/// use mapping::FieldPath;
/// use serde_json::json;
///
/// let p = FieldPath::parse("lines[].item_id").unwrap();
/// let rec = json!({"lines": [{"item_id": "a"}, {"qty": 1}, {"item_id": "b"}]});
/// assert_eq!(p.get_all(&rec), vec![&json!("a"), &json!("b")]);
/// assert_eq!(p.to_string(), "lines[].item_id");
/// assert!(FieldPath::parse("a..b").is_err());
/// ```
#[derive(Clone, Debug)]
pub struct FieldPath {
    text: String,
    segments: Vec<Segment>,
}

impl PartialEq for FieldPath {
    fn eq(&self, other: &Self) -> bool {
        self.segments == other.segments
    }
}
impl Eq for FieldPath {}
impl std::hash::Hash for FieldPath {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.segments.hash(state);
    }
}

/// A value found while walking a path: the `[]` indices taken to reach it
/// and the value itself (`None` when the path ends in a missing key).
pub(crate) type Leaf<'a> = (Vec<usize>, Option<&'a Value>);

/// Why a write could not be performed.
#[derive(Debug)]
pub(crate) struct WriteConflict {
    pub(crate) at: String,
    pub(crate) found: &'static str,
}

impl FieldPath {
    /// Parses a path. See the type docs for the grammar.
    ///
    /// ```
    /// use mapping::FieldPath;
    /// assert!(FieldPath::parse("properties.email").is_ok());
    /// assert!(FieldPath::parse("phones[0].number").is_ok());
    /// assert!(FieldPath::parse("").is_err());
    /// assert!(FieldPath::parse("[].x").is_err());
    /// assert!(FieldPath::parse("a[x]").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, PathError> {
        if s.trim().is_empty() {
            return Err(PathError::Empty);
        }
        let mut segments = Vec::new();
        for (position, raw) in s.split('.').enumerate() {
            segments.push(parse_segment(s, position, raw)?);
        }
        Ok(FieldPath {
            text: s.to_string(),
            segments,
        })
    }

    /// The original text of the path.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Number of `[]` (fan-out) segments.
    pub(crate) fn fan_out_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Each(_)))
            .count()
    }

    pub(crate) fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// All values at the path. A `[]` segment fans out over the array's
    /// elements; a missing key, a non-array under `[]`/`[N]` or an index out
    /// of range contributes nothing. An explicit `null` is returned (it
    /// exists).
    ///
    /// ```
    /// use mapping::FieldPath;
    /// use serde_json::json;
    /// let rec = json!({"email": {"address": "a@x.io"}});
    /// assert_eq!(FieldPath::parse("email.address").unwrap().get_all(&rec), vec![&json!("a@x.io")]);
    /// assert!(FieldPath::parse("email.other").unwrap().get_all(&rec).is_empty());
    /// ```
    pub fn get_all<'a>(&self, v: &'a Value) -> Vec<&'a Value> {
        self.leaves(v).into_iter().filter_map(|(_, v)| v).collect()
    }

    /// Leaves with their fan-out indices, including missing ends (so that
    /// defaults can be applied element by element).
    pub(crate) fn leaves<'a>(&self, v: &'a Value) -> Vec<Leaf<'a>> {
        let mut out = Vec::new();
        let _ = self.try_for_each_leaf(v, |idx, found| -> Result<(), ()> {
            out.push((idx.to_vec(), found));
            Ok(())
        });
        out
    }

    /// Visits what [`leaves`](Self::leaves) lists, in the same order, without collecting
    /// them: mapping a record walks every rule's path, and this allocates nothing per leaf.
    pub(crate) fn try_for_each_leaf<'a, E>(
        &self,
        v: &'a Value,
        mut f: impl FnMut(&[usize], Option<&'a Value>) -> Result<(), E>,
    ) -> Result<(), E> {
        walk_each(v, &self.segments, &mut Vec::new(), &mut f)
    }

    /// Rewrites every existing value at the path in place. `f` returning
    /// `Ok(None)` removes the value: the object key, or the array element
    /// when the last segment is `[]`/`[N]`. Missing values are not visited.
    /// The first error aborts the rewrite (earlier rewrites stay applied).
    ///
    /// ```
    /// use mapping::FieldPath;
    /// use serde_json::{json, Value};
    /// let mut rec = json!({"lines": [{"item_id": "a"}, {"item_id": "zz"}]});
    /// let p = FieldPath::parse("lines[].item_id").unwrap();
    /// p.rewrite(&mut rec, |v| -> Result<Option<Value>, ()> {
    ///     Ok(match v.as_str() {
    ///         Some("a") => Some(json!("A-1")),
    ///         _ => None, // unknown id: drop it
    ///     })
    /// })
    /// .unwrap();
    /// assert_eq!(rec, json!({"lines": [{"item_id": "A-1"}, {}]}));
    /// ```
    pub fn rewrite<E>(
        &self,
        v: &mut Value,
        mut f: impl FnMut(&Value) -> Result<Option<Value>, E>,
    ) -> Result<(), E> {
        rewrite_rec(v, &self.segments, &mut f)
    }

    /// Writes `value` at the path, creating intermediate objects and arrays.
    /// `indices` supplies one array index per `[]` segment, in order.
    pub(crate) fn write(
        &self,
        target: &mut Value,
        indices: &[usize],
        value: Value,
    ) -> Result<(), WriteConflict> {
        write_rec(target, &self.segments, 0, indices, 0, value)
    }

    /// Joins `self` (which must name an array) with a path relative to its
    /// elements: `lines` + `item_id` -> `lines[].item_id`.
    pub(crate) fn join_elements(&self, inner: &FieldPath) -> FieldPath {
        let mut segments = self.segments.clone();
        if let Some(Segment::Key(k)) = segments.pop() {
            segments.push(Segment::Each(k));
        }
        segments.extend(inner.segments.iter().cloned());
        FieldPath {
            text: format!("{}[].{}", self.text, inner.text),
            segments,
        }
    }

    /// True when one path is a prefix of (or equal to) the other, i.e. writes
    /// to both could clobber each other. Distinct `[N]` indices are disjoint.
    pub(crate) fn overlaps(&self, other: &FieldPath) -> bool {
        self.segments
            .iter()
            .zip(other.segments.iter())
            .all(|(a, b)| match (a, b) {
                (Segment::Index(ka, na), Segment::Index(kb, nb)) => ka == kb && na == nb,
                _ => a.key() == b.key(),
            })
    }

    /// True when `self` lies strictly below `other`.
    pub(crate) fn is_strictly_under(&self, other: &FieldPath) -> bool {
        self.segments.len() > other.segments.len() && self.overlaps(other)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for FieldPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldPath::parse(s)
    }
}

impl serde::Serialize for FieldPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for FieldPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FieldPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

fn parse_segment(path: &str, position: usize, raw: &str) -> Result<Segment, PathError> {
    let bad = |reason: &'static str| PathError::BadSegment {
        path: path.to_string(),
        position,
        segment: raw.to_string(),
        reason,
    };
    if raw.is_empty() {
        return Err(PathError::EmptySegment {
            path: path.to_string(),
            position,
        });
    }
    let (key, selector) = match raw.find('[') {
        Some(i) => (&raw[..i], Some(&raw[i..])),
        None => (raw, None),
    };
    if key.is_empty() {
        return Err(bad(
            "a segment must start with a key; records are objects, not arrays",
        ));
    }
    if key.contains(']') {
        return Err(bad("unbalanced `]`"));
    }
    if key.trim() != key {
        return Err(bad("keys cannot start or end with whitespace"));
    }
    let Some(selector) = selector else {
        return Ok(Segment::Key(key.to_string()));
    };
    let Some(inner) = selector.strip_prefix('[').and_then(|s| s.strip_suffix(']')) else {
        return Err(bad(
            "a selector must be `[]` or `[N]` at the end of the segment",
        ));
    };
    if inner.contains('[') || inner.contains(']') {
        return Err(bad("only one selector (`[]` or `[N]`) per segment"));
    }
    if inner.is_empty() {
        return Ok(Segment::Each(key.to_string()));
    }
    match inner.parse::<usize>() {
        Ok(n) if inner.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Segment::Index(key.to_string(), n))
        }
        _ => Err(bad("an index must be a non-negative integer")),
    }
}

/// Walks `segs` under `v`, handing each leaf (with the `[]` indices taken) to `f`; a missing
/// key, a non-array under `[]`/`[N]` or an index out of range is a `None` leaf, except under
/// `[]` (no array means no elements: nothing to default element-wise).
fn walk_each<'a, E>(
    v: &'a Value,
    segs: &[Segment],
    idx: &mut Vec<usize>,
    f: &mut impl FnMut(&[usize], Option<&'a Value>) -> Result<(), E>,
) -> Result<(), E> {
    let Some((seg, rest)) = segs.split_first() else {
        return f(idx, Some(v));
    };
    let child = v.as_object().and_then(|o| o.get(seg.key()));
    match seg {
        Segment::Key(_) => match child {
            Some(c) => walk_each(c, rest, idx, f),
            None => f(idx, None),
        },
        Segment::Each(_) => {
            if let Some(Value::Array(items)) = child {
                for (i, item) in items.iter().enumerate() {
                    idx.push(i);
                    walk_each(item, rest, idx, f)?;
                    idx.pop();
                }
            }
            Ok(())
        }
        Segment::Index(_, n) => match child.and_then(|c| c.as_array()).and_then(|a| a.get(*n)) {
            Some(c) => walk_each(c, rest, idx, f),
            None => f(idx, None),
        },
    }
}

fn rewrite_rec<E>(
    v: &mut Value,
    segs: &[Segment],
    f: &mut impl FnMut(&Value) -> Result<Option<Value>, E>,
) -> Result<(), E> {
    let Some((seg, rest)) = segs.split_first() else {
        return Ok(());
    };
    let Some(obj) = v.as_object_mut() else {
        return Ok(());
    };
    let last = rest.is_empty();
    match seg {
        Segment::Key(k) => {
            if last {
                if let Some(cur) = obj.get(k) {
                    match f(cur)? {
                        Some(nv) => {
                            obj.insert(k.clone(), nv);
                        }
                        None => {
                            obj.remove(k);
                        }
                    }
                }
            } else if let Some(child) = obj.get_mut(k) {
                rewrite_rec(child, rest, f)?;
            }
        }
        Segment::Each(k) => {
            if let Some(Value::Array(items)) = obj.get_mut(k) {
                if last {
                    let mut kept = Vec::with_capacity(items.len());
                    for item in items.iter() {
                        if let Some(nv) = f(item)? {
                            kept.push(nv);
                        }
                    }
                    *items = kept;
                } else {
                    for item in items.iter_mut() {
                        rewrite_rec(item, rest, f)?;
                    }
                }
            }
        }
        Segment::Index(k, n) => {
            if let Some(Value::Array(items)) = obj.get_mut(k)
                && *n < items.len()
            {
                if last {
                    match f(&items[*n])? {
                        Some(nv) => items[*n] = nv,
                        None => {
                            items.remove(*n);
                        }
                    }
                } else {
                    rewrite_rec(&mut items[*n], rest, f)?;
                }
            }
        }
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    crate::transform::type_name(v)
}

/// Writes `value` at `segs[depth..]` under `target`; `used` is how many of `indices` the
/// segments before `depth` consumed. The trail of a conflict (`a.b[2].c`) is spelled out only
/// when there is one, so a write allocates nothing for it.
fn write_rec(
    target: &mut Value,
    segs: &[Segment],
    depth: usize,
    indices: &[usize],
    used: usize,
    value: Value,
) -> Result<(), WriteConflict> {
    let Some(seg) = segs.get(depth) else {
        *target = value;
        return Ok(());
    };
    if target.is_null() {
        *target = Value::Object(Map::new());
    }
    let found = type_name(target);
    let Some(obj) = target.as_object_mut() else {
        return Err(conflict(segs, depth, indices, false, found));
    };
    // The key is allocated only when it is new.
    if !obj.contains_key(seg.key()) {
        obj.insert(seg.key().to_string(), Value::Null);
    }
    let Some(slot) = obj.get_mut(seg.key()) else {
        unreachable!("inserted just above")
    };
    let (index, used) = match seg {
        Segment::Key(_) => return write_rec(slot, segs, depth + 1, indices, used, value),
        Segment::Each(_) => match indices.get(used) {
            Some(i) => (*i, used + 1),
            // Validation guarantees one index per `[]`; be defensive anyway.
            None => {
                return Err(conflict(
                    segs,
                    depth,
                    indices,
                    true,
                    "a `[]` without an element index",
                ));
            }
        },
        Segment::Index(_, n) => (*n, used),
    };
    if slot.is_null() {
        *slot = Value::Array(Vec::new());
    }
    let found = type_name(slot);
    let Some(items) = slot.as_array_mut() else {
        return Err(conflict(segs, depth, indices, true, found));
    };
    if items.len() <= index {
        items.resize(index + 1, Value::Null);
    }
    write_rec(&mut items[index], segs, depth + 1, indices, used, value)
}

/// A write conflict at segment `depth`: its trail names the segments before it with their
/// element indices, and the segment itself (key only) when `with_key`.
fn conflict(
    segs: &[Segment],
    depth: usize,
    indices: &[usize],
    with_key: bool,
    found: &'static str,
) -> WriteConflict {
    let mut trail = String::new();
    let mut next = indices.iter();
    for seg in &segs[..depth] {
        if !trail.is_empty() {
            trail.push('.');
        }
        trail.push_str(seg.key());
        let index = match seg {
            Segment::Key(_) => None,
            Segment::Each(_) => next.next().copied(),
            Segment::Index(_, n) => Some(*n),
        };
        if let Some(index) = index {
            trail.push_str(&format!("[{index}]"));
        }
    }
    if with_key {
        if !trail.is_empty() {
            trail.push('.');
        }
        trail.push_str(segs[depth].key());
    }
    WriteConflict {
        at: if trail.is_empty() {
            "<record>".to_string()
        } else {
            trail
        },
        found,
    }
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
