//! `POST /crm/v3/objects/{objectType}/search`: filter groups, sorts, free-text query and
//! paging, evaluated as HubSpot evaluates them (dates as instants, numbers as numbers,
//! strings case-insensitively).

use std::borrow::Cow;
use std::collections::BinaryHeap;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::errors::Outcome;
use super::objects::{HsObject, selection};
use super::plan::{candidates, modified_bounds, modified_by_id, sorted_by_modified};
use super::routes::{Ctx, body_list};
use super::scheduled;
use super::state::State;
use crate::common::{ApiError, compare_scalars, parse_date_like, parse_instant, scalar_string};

/// Properties that are compared as instants in search.
pub(super) const DATE_PROPS: [&str; 5] = [
    "createdate",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    "closedate",
    "hs_createdate",
];

fn hs_cmp(prop: &str, a: &str, b: &str) -> std::cmp::Ordering {
    let dates = DATE_PROPS.contains(&prop);
    if dates && let (Some(x), Some(y)) = (parse_date_like(a), parse_date_like(b)) {
        return x.cmp(&y);
    }
    if let (Ok(x), Ok(y)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        return x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
    }
    compare_scalars(
        &Value::String(a.to_lowercase()),
        &Value::String(b.to_lowercase()),
        false,
    )
    .unwrap_or(std::cmp::Ordering::Equal)
}

/// A filter read once per search (not once per object it is evaluated on); what it lacks is
/// refused when it is evaluated, as before.
struct Filter<'a> {
    name: Option<&'a str>,
    op: String,
    value: Option<String>,
    high: Option<String>,
    values: Option<Vec<String>>,
    /// `EQ`/`NEQ`/`IN`/`NOT_IN` on a property not compared as a date: the lower-cased values.
    lower: Option<Vec<String>>,
}

impl<'a> Filter<'a> {
    fn new(f: &'a Value) -> Self {
        let name = f.get("propertyName").and_then(Value::as_str);
        let op = f
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or("EQ")
            .to_ascii_uppercase();
        let value = f.get("value").and_then(scalar_string);
        let values: Option<Vec<String>> = f
            .get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(scalar_string).collect());
        let equality = match op.as_str() {
            "EQ" | "NEQ" => value.as_ref().map(std::slice::from_ref),
            "IN" | "NOT_IN" => values.as_deref(),
            _ => None,
        };
        let lower = equality
            .filter(|_| name.is_some_and(|n| !DATE_PROPS.contains(&n)))
            .map(|vs| vs.iter().map(|v| v.to_lowercase()).collect());
        Self {
            name,
            op,
            value,
            high: f.get("highValue").and_then(scalar_string),
            values,
            lower,
        }
    }
}

/// Whether `a` (a stored value) equals one of `vs` as [`hs_cmp`] compares, given `lower`, the
/// lower-cased `vs`: when `a` is neither a number nor an instant, `hs_cmp` compares the
/// lower-cased strings, and equal lower-cased strings are equal in every branch of it.
fn equals_any(prop: &str, a: &str, vs: &[String], lower: Option<&[String]>) -> bool {
    if let Some(lower) = lower {
        let a_lower = a.to_lowercase();
        if a.trim().parse::<f64>().is_err() && parse_instant(&a_lower).is_none() {
            return lower.contains(&a_lower);
        }
    }
    vs.iter().any(|v| hs_cmp(prop, a, v).is_eq())
}

fn eval_filter<'o>(
    f: &Filter<'_>,
    get: &dyn Fn(&str) -> Option<Cow<'o, str>>,
) -> Result<bool, ApiError> {
    let name = f.name.ok_or_else(|| {
        ApiError::BadRequest("Invalid input JSON: filter is missing propertyName".into())
    })?;
    let op = f.op.as_str();
    let actual = get(name);
    let actual = actual.as_deref().filter(|s| !s.is_empty());
    let value = || {
        f.value.clone().ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Filter on '{name}' with operator {op} requires a value"
            ))
        })
    };
    let values = || -> Result<&[String], ApiError> {
        f.values.as_deref().ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Filter on '{name}' with operator {op} requires values"
            ))
        })
    };
    let lower = f.lower.as_deref();
    Ok(match op {
        "HAS_PROPERTY" => actual.is_some(),
        "NOT_HAS_PROPERTY" => actual.is_none(),
        "EQ" => {
            let v = value()?;
            actual.is_some_and(|a| equals_any(name, a, std::slice::from_ref(&v), lower))
        }
        "NEQ" => {
            let v = value()?;
            !actual.is_some_and(|a| equals_any(name, a, std::slice::from_ref(&v), lower))
        }
        "LT" | "LTE" | "GT" | "GTE" => {
            let v = value()?;
            actual.is_some_and(|a| {
                let o = hs_cmp(name, a, &v);
                match op {
                    "LT" => o.is_lt(),
                    "LTE" => o.is_le(),
                    "GT" => o.is_gt(),
                    _ => o.is_ge(),
                }
            })
        }
        "BETWEEN" => {
            let lo = value()?;
            let hi = f.high.clone().ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Filter on '{name}' with operator BETWEEN requires highValue"
                ))
            })?;
            actual.is_some_and(|a| hs_cmp(name, a, &lo).is_ge() && hs_cmp(name, a, &hi).is_le())
        }
        "IN" => {
            let vs = values()?;
            actual.is_some_and(|a| equals_any(name, a, vs, lower))
        }
        "NOT_IN" => {
            let vs = values()?;
            !actual.is_some_and(|a| equals_any(name, a, vs, lower))
        }
        "CONTAINS_TOKEN" | "NOT_CONTAINS_TOKEN" => {
            let token = value()?.replace('*', "").to_lowercase();
            let hit = actual.is_some_and(|a| a.to_lowercase().contains(&token));
            if op == "CONTAINS_TOKEN" { hit } else { !hit }
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "Unsupported filter operator '{other}'"
            )));
        }
    })
}

fn parse_sorts(body: &Value) -> Result<Vec<(String, bool)>, ApiError> {
    let mut out = Vec::new();
    for s in body
        .get("sorts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match s {
            Value::String(s) => match s.strip_prefix('-') {
                Some(p) => out.push((p.to_string(), true)),
                None => out.push((s.clone(), false)),
            },
            Value::Object(o) => {
                let p = o
                    .get("propertyName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ApiError::BadRequest(
                            "Invalid input JSON: sort is missing propertyName".into(),
                        )
                    })?;
                let desc = match o
                    .get("direction")
                    .and_then(Value::as_str)
                    .unwrap_or("ASCENDING")
                {
                    d if d.eq_ignore_ascii_case("ASCENDING") => false,
                    d if d.eq_ignore_ascii_case("DESCENDING") => true,
                    d => {
                        return Err(ApiError::BadRequest(format!(
                            "Invalid sort direction '{d}'"
                        )));
                    }
                };
                out.push((p.to_string(), desc));
            }
            _ => {
                return Err(ApiError::BadRequest(
                    "Invalid input JSON: invalid sort".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// `POST /crm/v3/objects/{objectType}/search`.
pub(super) fn search(c: &Ctx, body: &Value) -> Outcome {
    let cfg = &c.inner.config;
    let limit = match body.get("limit") {
        None | Some(Value::Null) => 10,
        Some(v) => scalar_string(v)
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| ApiError::BadRequest(format!("Invalid limit {v}")))?,
    };
    if limit > cfg.max_search_limit {
        return Err(ApiError::BadRequest(format!(
            "limit must be less than or equal to {}, got {limit}",
            cfg.max_search_limit
        )));
    }
    let after = match body.get("after") {
        None | Some(Value::Null) => 0,
        Some(v) => scalar_string(v)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<usize>()
                    .map_err(|_| ApiError::BadRequest(format!("Invalid paging cursor after={s}")))
            })
            .transpose()?
            .unwrap_or(0),
    };
    if after + limit > cfg.search_cap {
        return Err(ApiError::BadRequest(format!(
            "Paging beyond the search limit: after={after} plus limit={limit} exceeds {}",
            cfg.search_cap
        )));
    }
    let groups: Vec<Vec<Value>> = body
        .get("filterGroups")
        .and_then(Value::as_array)
        .map(|gs| {
            gs.iter()
                .map(|g| {
                    g.get("filters")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    // HubSpot's limits: 5 filter groups, 10 filters per group, 25 filters in all.
    let total_filters: usize = groups.iter().map(Vec::len).sum();
    if groups.len() > 5 || groups.iter().any(|g| g.len() > 10) || total_filters > 25 {
        return Err(ApiError::BadRequest(format!(
            "Too many filters: {} filter groups ({total_filters} filters); at most 5 groups of at most 10 filters, 25 in all",
            groups.len()
        )));
    }
    let sorts = parse_sorts(body)?;
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let names = selection(c.t, &body_list(body, "properties"));

    let mut st = c.inner.state_at(c.source.portal);
    // Ties on every sort key: by id, or in a random order when shuffling.
    let salt = c.inner.tie_key();
    let lastmod = c.t.lastmod();
    if salt.is_none()
        && query.is_none()
        && let [group] = groups.as_slice()
        && sorted_by_modified(&sorts, lastmod)
        && let Some((lo, hi)) = modified_bounds(group, lastmod)
    {
        // Every object modified in a range, by modification then id: the index's own order.
        let index = st.indexes.entry((c.source.portal, c.t)).or_default();
        let (start, end) = index.modified_ranks(lo, hi);
        let total = end - start;
        let ids: Vec<u64> = index
            .modified
            .iter_from(start + after)
            .take(limit.min(total.saturating_sub(after)))
            .map(|(_, id)| *id)
            .collect();
        let results = rendered(&st, c, &ids, &names);
        return Ok((
            StatusCode::OK,
            Some(answer(total, results, after, limit, cfg.search_cap)),
        ));
    }
    if query.is_none()
        && let [group] = groups.as_slice()
        && let Some(plan) = modified_by_id(group, &sorts, lastmod)
    {
        // Modified in a range, by id (no ties): the index's range, kept within the id bounds.
        let index = st.indexes.entry((c.source.portal, c.t)).or_default();
        let (start, end) = index.modified_ranks(plan.modified.0, plan.modified.1);
        let (lo, hi) = plan.ids;
        // One pass: the count, and the `after + limit` smallest ids (a bounded max-heap), so a
        // search over most of the objects (the first pass after a large sync) allocates a page,
        // not a copy of the range.
        let wanted = after.saturating_add(limit);
        let mut total = 0usize;
        let mut smallest = BinaryHeap::with_capacity(wanted.min(end - start) + 1);
        for &(_, id) in index.modified.iter_from(start).take(end - start) {
            if !(lo..=hi).contains(&id) {
                continue;
            }
            total += 1;
            if smallest.len() < wanted {
                smallest.push(id);
            } else if smallest.peek().is_some_and(|&top| id < top) {
                smallest.pop();
                smallest.push(id);
            }
        }
        let ids = smallest.into_sorted_vec();
        let results = rendered(&st, c, ids.get(after..).unwrap_or_default(), &names);
        return Ok((
            StatusCode::OK,
            Some(answer(total, results, after, limit, cfg.search_cap)),
        ));
    }
    let candidates = candidates(&mut st, c, &groups);
    let st = &*st;
    let objs = st.objs(c.t);
    let pool: Box<dyn Iterator<Item = &HsObject>> = match (&candidates, objs) {
        (_, None) => Box::new(std::iter::empty()),
        (None, Some(m)) => Box::new(m.values()),
        (Some(ids), Some(m)) => Box::new(ids.iter().filter_map(|id| m.get(id))),
    };
    let groups: Vec<Vec<Filter<'_>>> = groups
        .iter()
        .map(|g| g.iter().map(Filter::new).collect())
        .collect();
    // Each hit with its sort keys.
    type SortKeys<'o> = Vec<Option<Cow<'o, str>>>;
    let mut hits: Vec<(&HsObject, SortKeys<'_>)> = Vec::new();
    for o in pool.filter(|o| !o.archived()) {
        let get = |name: &str| o.prop(c.t, name);
        let mut ok = groups.is_empty();
        for g in &groups {
            let mut all = true;
            for f in g {
                if !eval_filter(f, &get)? {
                    all = false;
                    break;
                }
            }
            if all {
                ok = true;
                break;
            }
        }
        if ok && let Some(q) = &query {
            ok =
                c.t.defaults()
                    .iter()
                    .any(|p| get(p).is_some_and(|v| v.to_lowercase().contains(q.as_str())));
        }
        if ok {
            let keys = sorts.iter().map(|(p, _)| get(p)).collect();
            hits.push((o, keys));
        }
    }
    let tie = |o: &HsObject| {
        salt.map_or(o.id, |salt| {
            let mut r = scheduled::Rng::new(salt ^ o.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            r.next()
        })
    };
    hits.sort_by(|(a, ka), (b, kb)| {
        for ((p, desc), (x, y)) in sorts.iter().zip(ka.iter().zip(kb)) {
            let o = match (x, y) {
                (Some(x), Some(y)) => hs_cmp(p, x, y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            let o = if *desc { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        tie(a).cmp(&tie(b)).then(a.id.cmp(&b.id))
    });
    let total = hits.len();
    let results: Vec<Value> = hits
        .iter()
        .skip(after)
        .take(limit)
        .map(|(o, _)| o.render(c.t, Some(&names), false))
        .collect();
    Ok((
        StatusCode::OK,
        Some(answer(total, results, after, limit, cfg.search_cap)),
    ))
}

/// The objects of `ids` (those still there), rendered with the properties `names`.
fn rendered(st: &State, c: &Ctx, ids: &[u64], names: &[String]) -> Vec<Value> {
    ids.iter()
        .filter_map(|id| st.obj(c.t, *id))
        .map(|o| o.render(c.t, Some(names), false))
        .collect()
}

/// A search's answer: `total`, `results`, and `paging.next` while more can be read.
fn answer(total: usize, results: Vec<Value>, after: usize, limit: usize, cap: usize) -> Value {
    // Not `json!`: it would serialize `results` into a copy.
    let mut out = Value::Object(serde_json::Map::from_iter([
        ("total".to_owned(), Value::from(total)),
        ("results".to_owned(), Value::Array(results)),
    ]));
    let end = after + limit;
    if limit > 0 && end < total && end < cap {
        out["paging"] = json!({ "next": { "after": end.to_string() } });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equality_shortcut_agrees_with_the_comparison() {
        let values = [
            "a@x.io",
            "A@X.IO",
            "10",
            "10.0",
            " 10",
            "1e1",
            "abc",
            "ABC",
            "Straße",
            "STRASSE",
            "ΣΑΣ",
            "σας",
            "2024-01-01",
            "2024-01-01T00:00:00Z",
            "2024-01-01T00:00:00.000Z",
            "",
            "true",
            "TRUE",
        ]
        .map(String::from);
        let lower: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
        for a in &values {
            for (i, v) in values.iter().enumerate() {
                let want = hs_cmp("email", a, v).is_eq();
                let one = std::slice::from_ref(v);
                let got = equals_any("email", a, one, Some(std::slice::from_ref(&lower[i])));
                assert_eq!(got, want, "{a:?} vs {v:?}");
            }
            let want = values.iter().any(|v| hs_cmp("email", a, v).is_eq());
            assert_eq!(equals_any("email", a, &values, Some(&lower)), want, "{a:?}");
        }
    }

    #[test]
    fn date_comparison_accepts_epoch_millis() {
        assert!(hs_cmp("createdate", "2024-01-01T00:00:00.000Z", "1704067200001").is_lt());
        assert!(hs_cmp("amount", "9", "10").is_lt());
        assert!(hs_cmp("name", "abc", "ABC").is_eq());
    }
}
