//! Listing a collection: `$filter` (`eq ne gt ge/gte lt le/lte` joined with `and`),
//! `$orderby` (ties in natural order), `$top`/`$skip` paging and the `pagination` block.

use serde_json::{Map, Value, json};

use super::ConnecConfig;
use super::eq_index;
use super::state::{Record, State, render_record, stored_path};
use super::views::{Listing, Meta, PageRows};
use chrono::{DateTime, TimeZone, Utc};

use crate::common::{ApiError, compare_scalars, iso, parse_instant, query_get, query_with};

/// `t` at millisecond precision, as rendered (and so as a filter on it compares).
fn at_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(t.timestamp_millis())
        .single()
        .unwrap_or(t)
}

impl State {
    /// `GET /api/v2/{group}/{collection}`.
    pub(super) fn list(
        &mut self,
        cfg: &ConnecConfig,
        group_id: &str,
        coll: &str,
        q: &[(String, String)],
        ext: bool,
        self_url: &str,
    ) -> Result<Value, ApiError> {
        let num = |key: &str, default: usize| -> Result<usize, ApiError> {
            match query_get(q, key) {
                None => Ok(default),
                Some(s) => s.trim().parse::<usize>().map_err(|_| {
                    ApiError::BadRequest(format!("{key} must be a non-negative integer, got '{s}'"))
                }),
            }
        };
        let top = num("$top", cfg.max_page_size.min(100))?;
        if top > cfg.max_page_size {
            return Err(ApiError::BadRequest(format!(
                "$top must be at most {}, got {top}",
                cfg.max_page_size
            )));
        }
        let skip = num("$skip", 0)?;
        let clauses = match query_get(q, "$filter") {
            Some(f) if !f.trim().is_empty() => parse_filter(f)
                .map_err(|e| ApiError::BadRequest(format!("Invalid $filter: {e}")))?,
            _ => Vec::new(),
        };
        let order = parse_orderby(query_get(q, "$orderby").unwrap_or(""))
            .map_err(|e| ApiError::BadRequest(format!("Invalid $orderby: {e}")))?;

        let filter_raw = query_get(q, "$filter").unwrap_or("");
        let order_raw = query_get(q, "$orderby").unwrap_or("");
        let Some(g) = self.groups.get_mut(group_id) else {
            return Ok(list_body(coll, Vec::new(), skip, top, 0, q, self_url));
        };
        let channel = g.channel.clone();
        let Some(c) = g.collections.get_mut(coll) else {
            return Ok(list_body(coll, Vec::new(), skip, top, 0, q, self_url));
        };
        let meta = Meta {
            group_id,
            channel_id: &channel,
            resource_type: coll,
        };
        let listing = Listing {
            filter: filter_raw,
            order: order_raw,
            clauses: &clauses,
            order_keys: &order,
            skip,
            top,
        };
        let found = c.views.page(&c.records, &meta, &listing);
        // Without a view, an `eq` clause on a stored field narrows the scan to its matches.
        let pool = match &found {
            Some(_) => None,
            None => clauses
                .iter()
                .find(|cl| cl.op == Op::Eq && eq_index::indexable(&cl.path) && !cl.value.is_null())
                .map(|cl| c.eq.lookup(&c.records, &cl.path, &cl.value)),
        };
        let g = &self.groups[group_id];
        let c = &g.collections[coll];
        let PageRows { total, rows } =
            found.unwrap_or_else(|| scan(&c.records, pool, &meta, &listing));
        // Render only the page.
        let page: Vec<Value> = rows
            .into_iter()
            .map(|i| render_record(g, group_id, coll, &c.records[i], ext))
            .collect();
        Ok(list_body(coll, page, skip, top, total, q, self_url))
    }
}

/// A listing computed over every record (what the views must agree with): filter, sort, page.
/// `pool`: the positions that may match (in creation order), `None` for all.
fn scan(
    records: &[Record],
    pool: Option<Vec<usize>>,
    meta: &Meta<'_>,
    q: &Listing<'_>,
) -> PageRows {
    let meta = [
        ("group_id", meta.group_id),
        ("channel_id", meta.channel_id),
        ("resource_type", meta.resource_type),
    ];
    let mut rows: Vec<usize> = pool
        .unwrap_or_else(|| (0..records.len()).collect())
        .into_iter()
        .filter(|i| {
            q.clauses
                .iter()
                .all(|cl| cl.matches_record(&records[*i], &meta))
        })
        .collect();
    rows.sort_by(|a, b| {
        let (a, b) = (&records[*a], &records[*b]);
        for (path, desc) in q.order_keys {
            let o = compare_key(a, b, path);
            let o = if *desc { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        // Ties on every requested key come back in "natural order" (last written last),
        // as a document store returns them when the sort holds no unique field: a record
        // written between two page requests moves, and offset paging over the tie shifts.
        // A unique key in `$orderby` (`id`) makes the order total.
        a.seq.cmp(&b.seq)
    });
    let total = rows.len();
    rows = rows.into_iter().skip(q.skip).take(q.top).collect();
    PageRows { total, rows }
}

/// A listing's body with its `pagination`.
fn list_body(
    coll: &str,
    page: Vec<Value>,
    skip: usize,
    top: usize,
    total: usize,
    q: &[(String, String)],
    self_url: &str,
) -> Value {
    let mut pagination = json!({ "skip": skip, "top": top, "total": total });
    if top > 0 && skip + top < total {
        pagination["next"] = format!(
            "{self_url}?{}",
            query_with(q, "$skip", &(skip + top).to_string())
        )
        .into();
    }
    let mut out = Map::new();
    out.insert(coll.to_string(), Value::Array(page));
    out.insert("pagination".into(), pagination);
    Value::Object(out)
}

/// Orders two stored records on one `$orderby` key (records lacking it last).
fn compare_key(a: &Record, b: &Record, path: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match path {
        "created_at" => a.created_at.cmp(&b.created_at),
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        "id" => a.id.cmp(&b.id),
        path => match (
            stored_path(a, path).filter(|v| !v.is_null()),
            stored_path(b, path).filter(|v| !v.is_null()),
        ) {
            (Some(x), Some(y)) => compare_scalars(x, y, false).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone)]
pub(super) struct Clause {
    pub(super) path: String,
    pub(super) op: Op,
    pub(super) value: Value,
    /// The value as an instant when it is a string that parses as one: a clause on
    /// `created_at`/`updated_at` then compares instants without rendering and parsing each
    /// record's timestamp (the listing views evaluate it on every write).
    instant: Option<DateTime<Utc>>,
}

impl Clause {
    /// Whether a stored record passes the clause (no rendering); `meta` holds the rendered
    /// fields that are not stored (`group_id`, `channel_id`, `resource_type`).
    pub(super) fn matches_record(&self, r: &Record, meta: &[(&str, &str)]) -> bool {
        let owned;
        let actual = match self.path.as_str() {
            path if meta.iter().any(|(k, _)| *k == path) => {
                let value = meta.iter().find(|(k, _)| *k == path).map(|(_, v)| *v);
                owned = Value::String(value.unwrap_or_default().to_owned());
                Some(&owned)
            }
            "created_at" | "updated_at" if self.instant.is_some() => {
                let at = if self.path == "created_at" {
                    r.created_at
                } else {
                    r.updated_at
                };
                return self.holds(self.instant.map(|v| at_ms(at).cmp(&v)));
            }
            "created_at" => {
                owned = Value::String(iso(&r.created_at));
                Some(&owned)
            }
            "updated_at" => {
                owned = Value::String(iso(&r.updated_at));
                Some(&owned)
            }
            "id" => {
                owned = Value::String(r.id.clone());
                Some(&owned)
            }
            path => stored_path(r, path),
        };
        self.matches_value(actual)
    }

    fn matches_value(&self, actual: Option<&Value>) -> bool {
        let actual = actual.filter(|v| !v.is_null());
        let ord = match actual {
            None => {
                return match self.op {
                    Op::Eq => self.value.is_null(),
                    Op::Ne => !self.value.is_null(),
                    _ => false,
                };
            }
            Some(a) if self.value.is_null() => return self.op == Op::Ne && !a.is_null(),
            Some(a) => compare_scalars(a, &self.value, false),
        };
        self.holds(ord)
    }

    /// For `updated_at gt|ge` an instant: the milliseconds every record that passes has its
    /// `updated_at` at or after (a record's instant is compared truncated to milliseconds, so
    /// the mark's own millisecond is a safe floor for both operators).
    pub(super) fn updated_since(&self) -> Option<i64> {
        match (self.path.as_str(), self.op, self.instant) {
            ("updated_at", Op::Gt | Op::Ge, Some(at)) => Some(at.timestamp_millis()),
            _ => None,
        }
    }

    /// Whether the comparison `ord` of the actual value with the clause's passes (`None`: not
    /// comparable, which only `ne` passes).
    fn holds(&self, ord: Option<std::cmp::Ordering>) -> bool {
        let Some(ord) = ord else {
            return self.op == Op::Ne;
        };
        match self.op {
            Op::Eq => ord.is_eq(),
            Op::Ne => ord.is_ne(),
            Op::Gt => ord.is_gt(),
            Op::Ge => ord.is_ge(),
            Op::Lt => ord.is_lt(),
            Op::Le => ord.is_le(),
        }
    }
}

/// Parses `field op 'value' [and field op value ...]`.
fn parse_filter(s: &str) -> Result<Vec<Clause>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    let word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && !chars[*i].is_whitespace() {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    let mut out = Vec::new();
    loop {
        skip_ws(&mut i);
        let field = word(&mut i);
        if field.is_empty() {
            return Err("expected a field name".into());
        }
        skip_ws(&mut i);
        let op_s = word(&mut i);
        let op = match op_s.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            // `gte`/`lte` as Connec!'s own data browser sends them.
            "ge" | "gte" => Op::Ge,
            "lt" => Op::Lt,
            "le" | "lte" => Op::Le,
            "" => return Err(format!("missing operator after '{field}'")),
            other => {
                return Err(format!(
                    "unsupported operator '{other}' (expected eq, ne, gt, ge/gte, lt or le/lte)"
                ));
            }
        };
        skip_ws(&mut i);
        let value = if chars.get(i) == Some(&'\'') {
            i += 1;
            let mut v = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated quoted value for '{field}'")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        v.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        v.push(*c);
                        i += 1;
                    }
                }
            }
            Value::String(v)
        } else {
            let w = word(&mut i);
            match w.as_str() {
                "" => return Err(format!("missing value for '{field} {op_s}'")),
                "null" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => match w.parse::<f64>() {
                    Ok(_) => serde_json::from_str(&w).unwrap_or(Value::String(w)),
                    Err(_) => return Err(format!("value '{w}' must be quoted")),
                },
            }
        };
        let instant = match &value {
            Value::String(s) => parse_instant(s),
            _ => None,
        };
        out.push(Clause {
            path: field,
            op,
            value,
            instant,
        });
        skip_ws(&mut i);
        if i >= chars.len() {
            return Ok(out);
        }
        let conj = word(&mut i);
        if !conj.eq_ignore_ascii_case("and") {
            return Err(format!("expected 'and' between clauses, found '{conj}'"));
        }
    }
}

/// Parses `field [asc|desc][, ...]`; defaults to `created_at asc`.
fn parse_orderby(s: &str) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = part.split_whitespace();
        let field = it.next().unwrap_or_default().to_string();
        let desc = match it.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(o) => return Err(format!("unknown direction '{o}' (expected asc or desc)")),
        };
        if it.next().is_some() {
            return Err(format!("unexpected tokens in '{part}'"));
        }
        out.push((field, desc));
    }
    if out.is_empty() {
        out.push(("created_at".into(), false));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filter_parsing() {
        let c =
            parse_filter("updated_at gt '2024-01-01T00:00:00Z' and status eq 'ACTIVE'").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].op, Op::Gt);
        assert!(
            parse_filter("name like 'x'")
                .unwrap_err()
                .contains("unsupported operator")
        );
        assert!(
            parse_filter("name eq 'x")
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(parse_filter("name eq x").unwrap_err().contains("quoted"));
        assert!(
            parse_filter("a eq 1 or b eq 2")
                .unwrap_err()
                .contains("'and'")
        );
        assert_eq!(
            parse_filter("n eq 'it''s'").unwrap()[0].value,
            json!("it's")
        );
    }
}
