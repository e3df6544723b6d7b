//! Which objects a search needs to look at ([`candidates`]), from the first filter of each
//! filter group: the ids of an `EQ`/`IN` on an indexed property, an `hs_object_id` range, or a
//! last-modified range; and when a search is a last-modified range in last-modified order,
//! its bounds ([`modified_bounds`]), so that the index answers the page by itself.
//!
//! Candidates are a superset of the objects that pass the group: the search still evaluates
//! its filters on each of them. Only a group's *first* filter drives it: an object outside
//! the candidates fails that filter, and HubSpot's evaluation (filters in order, stopping at
//! the first that fails) would not have reached any later, possibly invalid, filter either.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::index::indexable;
use super::routes::Ctx;
use super::state::State;
use crate::common::{parse_date_like, parse_instant, scalar_string};

/// A filter's parts, as `eval_filter` reads them.
struct Filter<'a> {
    name: &'a str,
    op: String,
    value: Option<String>,
    high: Option<String>,
    values: Option<Vec<String>>,
}

fn parts(f: &Value) -> Option<Filter<'_>> {
    Some(Filter {
        name: f.get("propertyName").and_then(Value::as_str)?,
        op: f
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or("EQ")
            .to_ascii_uppercase(),
        value: f.get("value").and_then(scalar_string),
        high: f.get("highValue").and_then(scalar_string),
        values: f
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(scalar_string).collect()),
    })
}

/// Whether `sorts` is last-modified ascending (then perhaps id ascending): the index's order,
/// whose ties are by id as the search's are.
pub(super) fn sorted_by_modified(sorts: &[(String, bool)], lastmod: &str) -> bool {
    match sorts {
        [(p, false)] => p == lastmod,
        [(p, false), (q, false)] => p == lastmod && q == "hs_object_id",
        _ => false,
    }
}

/// The inclusive last-modified bounds one filter sets, `None` when it is not a range on the
/// last-modified date whose values parse as instants (compared as such).
fn modified_range(f: &Filter<'_>, lastmod: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if f.name != lastmod {
        return None;
    }
    let v = parse_date_like(f.value.as_deref()?)?;
    let tick = Duration::nanoseconds(1);
    let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    Some(match f.op.as_str() {
        "GT" => (v + tick, max),
        "GTE" => (v, max),
        "LT" => (min, v - tick),
        "LTE" => (min, v),
        "EQ" => (v, v),
        "BETWEEN" => (v, parse_date_like(f.high.as_deref()?)?),
        _ => return None,
    })
}

/// The last-modified bounds of a group made only of last-modified ranges.
pub(super) fn modified_bounds(
    group: &[Value],
    lastmod: &str,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let mut bounds = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    for f in group {
        let (lo, hi) = modified_range(&parts(f)?, lastmod)?;
        bounds = (bounds.0.max(lo), bounds.1.min(hi));
    }
    Some(bounds)
}

/// A search by id over a last-modified range: its last-modified bounds and its (inclusive)
/// id bounds, when every filter of the group is a last-modified range or an integer
/// comparison on `hs_object_id`.
pub(super) struct ModifiedById {
    pub modified: (DateTime<Utc>, DateTime<Utc>),
    pub ids: (u64, u64),
}

/// [`ModifiedById`] of a group sorted by `hs_object_id` ascending, the way the HubSpot
/// connector pages its incremental search (`None`: not that shape).
pub(super) fn modified_by_id(
    group: &[Value],
    sorts: &[(String, bool)],
    lastmod: &str,
) -> Option<ModifiedById> {
    if !matches!(sorts, [(p, false)] if p == "hs_object_id") {
        return None;
    }
    let mut out = ModifiedById {
        modified: (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC),
        ids: (0, u64::MAX),
    };
    let mut on_modified = false;
    for f in group {
        let f = parts(f)?;
        if f.name == "hs_object_id" {
            let v: u64 = f.value.as_deref()?.trim().parse().ok()?;
            let (lo, hi) = match f.op.as_str() {
                "GT" => (v.checked_add(1)?, u64::MAX),
                "GTE" => (v, u64::MAX),
                "LT" => (0, v.checked_sub(1)?),
                "LTE" => (0, v),
                "EQ" => (v, v),
                _ => return None,
            };
            out.ids = (out.ids.0.max(lo), out.ids.1.min(hi));
        } else {
            let (lo, hi) = modified_range(&f, lastmod)?;
            out.modified = (out.modified.0.max(lo), out.modified.1.min(hi));
            on_modified = true;
        }
    }
    on_modified.then_some(out)
}

/// A value an `EQ` compares as a plain string (not as a number or an instant), so that
/// equality is that of the lower-cased strings, which the property indexes hold.
fn plain(v: &str) -> bool {
    v.trim().parse::<f64>().is_err() && parse_instant(&v.to_lowercase()).is_none()
}

/// The objects a search must evaluate; `None`: all of them.
pub(super) fn candidates(st: &mut State, c: &Ctx, groups: &[Vec<Value>]) -> Option<BTreeSet<u64>> {
    if groups.is_empty() {
        // No filter: every object.
        return None;
    }
    let key = (c.source.portal, c.t);
    let State {
        objects, indexes, ..
    } = st;
    let objs = objects.get(&key);
    let index = indexes.entry(key).or_default();
    let mut out = BTreeSet::new();
    for g in groups {
        let f = parts(g.first()?)?;
        match f.op.as_str() {
            "EQ" | "IN" if indexable(c.t, f.name) => {
                let values = match f.op.as_str() {
                    "EQ" => vec![f.value.clone()?],
                    _ => f.values.clone()?,
                };
                if !values.iter().all(|v| plain(v)) {
                    return None;
                }
                out.extend(index.lookup(objs, f.name, &values));
            }
            "GT" | "GTE" | "LT" | "LTE" | "EQ" if f.name == "hs_object_id" => {
                let v = f.value.as_deref()?.trim().parse::<f64>().ok()?;
                if !v.is_finite() {
                    return None;
                }
                // A superset of the ids the numeric comparison keeps.
                let (lo, hi) = match f.op.as_str() {
                    "GT" | "GTE" => (v.floor(), f64::MAX),
                    "LT" | "LTE" => (0.0, v.ceil()),
                    _ => (v.floor(), v.ceil()),
                };
                if hi < 0.0 {
                    continue;
                }
                let lo = lo.max(0.0) as u64;
                let hi = if hi >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    hi as u64
                };
                out.extend(
                    objs.into_iter()
                        .flat_map(|m| m.range(lo..=hi.max(lo)))
                        .map(|(id, _)| *id),
                );
            }
            _ => {
                let (lo, hi) = modified_range(&f, c.t.lastmod())?;
                out.extend(index.modified_between(lo, hi));
            }
        }
    }
    Some(out)
}
