//! Reading lists: `If-Modified-Since`, `IDs`, `Statuses`, `InvoiceNumbers`, `ContactIDs`,
//! `includeArchived`, `searchTerm` (Contacts: Name, FirstName, LastName, ContactNumber,
//! EmailAddress; Invoices: InvoiceNumber, Reference), a subset of `where` (`Field==value` and `!=`, `>`, `>=`, `<`, `<=`,
//! joined by `AND`/`&&`; values `"text"`, `Guid("...")`, `true`/`false`, numbers and
//! `DateTime(y,m,d[,h,m,s])`), `order=Field [ASC|DESC]`, and paging (`page`, `pageSize`).

use std::cmp::Ordering;

use serde_json::{Value, json};

use super::clock::parse_instant;
use super::state::{Kind, Rec, Tenant};
use crate::common::{ApiError, lookup_path, query_get, scalar_string};

/// One comparison of a `where` clause.
#[derive(Debug, PartialEq)]
struct Condition {
    path: String,
    op: Op,
    value: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A list request's answer: the records and, when paged, the `pagination` object.
pub(super) struct Page {
    pub(super) records: Vec<Value>,
    pub(super) pagination: Option<Value>,
}

/// The records of `kind` the query selects, in order, paged when `page` is given (never for
/// Items, which Xero does not page).
pub(super) fn list(
    t: &Tenant,
    kind: Kind,
    q: &[(String, String)],
    since_ms: Option<i64>,
    max_page_size: usize,
) -> Result<Page, ApiError> {
    let conditions = match query_get(q, "where")
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        Some(w) => parse_where(w)?,
        None => Vec::new(),
    };
    let ids = csv(q, "IDs");
    let statuses = csv(q, "Statuses");
    let numbers = csv(q, "InvoiceNumbers");
    let contact_ids = csv(q, "ContactIDs");
    let archived = query_get(q, "includeArchived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let order = query_get(q, "order")
        .map(str::trim)
        .filter(|o| !o.is_empty());
    let by_modified = order.map(|o| {
        let mut words = o.split_whitespace();
        let field = words.next().unwrap_or_default();
        let desc = words.next().is_some_and(|d| d.eq_ignore_ascii_case("DESC"));
        (field.eq_ignore_ascii_case("UpdatedDateUTC"), desc)
    });
    let term = query_get(q, "searchTerm")
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if conditions.is_empty()
        && [&ids, &statuses, &numbers, &contact_ids]
            .iter()
            .all(|l| l.is_empty())
        && term.is_none()
        && (kind != Kind::Contacts || archived)
        && by_modified == Some((true, false))
    {
        // Everything modified since, oldest first: a range of the modification index.
        let paging = paging(kind, q, max_page_size)?;
        let (skip, take) = paging.map_or((0, usize::MAX), |(page, size)| ((page - 1) * size, size));
        let (count, recs) = t.modified_since(kind, since_ms, skip);
        let records = recs.take(take).map(|r| t.render(kind, r)).collect();
        return Ok(Page {
            records,
            pagination: paging.map(|(page, size)| pagination(page, size, count)),
        });
    }
    let mut selected: Vec<&Rec> = t
        .in_order(kind)
        .into_iter()
        .filter(|r| since_ms.is_none_or(|s| r.updated_ms >= s))
        .filter(|r| {
            kind != Kind::Contacts || archived || r.str("ContactStatus") != Some("ARCHIVED")
        })
        .filter(|r| in_list(&ids, r.str(kind.id_field())))
        .filter(|r| in_list(&statuses, r.str("Status")))
        .filter(|r| in_list(&numbers, r.str("InvoiceNumber")))
        .filter(|r| {
            in_list(
                &contact_ids,
                r.body
                    .get("Contact")
                    .and_then(|c| c.get("ContactID"))
                    .and_then(Value::as_str),
            )
        })
        .collect();
    if let Some(term) = term {
        let term = term.to_lowercase();
        let fields: &[&str] = match kind {
            Kind::Contacts => &[
                "Name",
                "FirstName",
                "LastName",
                "ContactNumber",
                "EmailAddress",
            ],
            Kind::Invoices => &["InvoiceNumber", "Reference"],
            Kind::Items | Kind::Payments => &[],
        };
        selected.retain(|r| {
            fields
                .iter()
                .any(|f| r.str(f).is_some_and(|v| v.to_lowercase().contains(&term)))
        });
    }
    if conditions.is_empty() && by_modified.is_none_or(|(modified, _)| modified) {
        // Nothing needs the rendered records but the answer: order and page the stored ones
        // (a stable sort: ties stay in creation order), render the page.
        if let Some((_, desc)) = by_modified {
            selected.sort_by(|a, b| {
                let o = a.updated_ms.cmp(&b.updated_ms);
                if desc { o.reverse() } else { o }
            });
        }
        let count = selected.len();
        let paging = paging(kind, q, max_page_size)?;
        let (skip, take) = paging.map_or((0, count), |(page, size)| ((page - 1) * size, size));
        let records = selected
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|r| t.render(kind, r))
            .collect();
        return Ok(Page {
            records,
            pagination: paging.map(|(page, size)| pagination(page, size, count)),
        });
    }
    let rendered: Vec<(Value, &Rec)> = selected
        .drain(..)
        .map(|r| (t.render(kind, r), r))
        .filter(|(v, _)| conditions.iter().all(|c| c.holds(v)))
        .collect();
    let mut rendered = rendered;
    if let Some(order) = query_get(q, "order")
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        let mut words = order.split_whitespace();
        let field = words.next().unwrap_or_default().to_owned();
        let desc = words.next().is_some_and(|d| d.eq_ignore_ascii_case("DESC"));
        rendered.sort_by(|(a, ra), (b, rb)| {
            let o = if field.eq_ignore_ascii_case("UpdatedDateUTC") {
                ra.updated_ms.cmp(&rb.updated_ms)
            } else {
                compare(lookup_path(a, &field), lookup_path(b, &field))
            };
            if desc { o.reverse() } else { o }
        });
    }
    let all: Vec<Value> = rendered.into_iter().map(|(v, _)| v).collect();
    let Some((page, size)) = paging(kind, q, max_page_size)? else {
        return Ok(Page {
            records: all,
            pagination: None,
        });
    };
    let count = all.len();
    let records = all.into_iter().skip((page - 1) * size).take(size).collect();
    Ok(Page {
        records,
        pagination: Some(pagination(page, size, count)),
    })
}

/// The `page` and `pageSize` asked, `None` when unpaged (always for Items, which Xero does
/// not page).
fn paging(
    kind: Kind,
    q: &[(String, String)],
    max_page_size: usize,
) -> Result<Option<(usize, usize)>, ApiError> {
    let page = match (kind, query_get(q, "page")) {
        (Kind::Items, _) | (_, None) => return Ok(None),
        (_, Some(p)) => p
            .trim()
            .parse::<usize>()
            .map_err(|_| ApiError::BadRequest(format!("page '{p}' is not a number")))?
            .max(1),
    };
    let size = match query_get(q, "pageSize") {
        Some(s) => s
            .trim()
            .parse::<usize>()
            .map_err(|_| ApiError::BadRequest(format!("pageSize '{s}' is not a number")))?
            .clamp(1, max_page_size.max(1)),
        None => 100,
    };
    Ok(Some((page, size)))
}

/// The `pagination` object of a paged answer selecting `count` records.
fn pagination(page: usize, size: usize, count: usize) -> Value {
    json!({
        "page": page,
        "pageSize": size,
        "pageCount": count.div_ceil(size),
        "itemCount": count,
    })
}

fn csv(q: &[(String, String)], key: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(key))
        .flat_map(|(_, v)| v.split(','))
        .map(|s| s.trim().trim_matches('"').to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn in_list(list: &[String], value: Option<&str>) -> bool {
    list.is_empty() || value.is_some_and(|v| list.contains(&v.to_ascii_lowercase()))
}

/// Orders two field values: instants, then numbers, then strings (case-insensitive).
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let s = |v: Option<&Value>| v.and_then(scalar_string);
    match (s(a), s(b)) {
        (Some(x), Some(y)) => {
            if let (Some(p), Some(q)) = (date_of(&x), date_of(&y)) {
                return p.cmp(&q);
            }
            if let (Ok(p), Ok(q)) = (x.parse::<f64>(), y.parse::<f64>()) {
                return p.partial_cmp(&q).unwrap_or(Ordering::Equal);
            }
            x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase())
        }
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn date_of(s: &str) -> Option<i64> {
    s.starts_with("/Date(").then(|| parse_instant(s)).flatten()
}

impl Condition {
    fn holds(&self, record: &Value) -> bool {
        let field = lookup_path(record, &self.path);
        let o = match (&self.value, field) {
            (Value::Null, None | Some(Value::Null)) => Ordering::Equal,
            (Value::Null, Some(_)) => Ordering::Greater,
            (_, None) => return self.op == Op::Ne,
            (Value::String(want), Some(have)) => match scalar_string(have) {
                Some(h) => match (date_of(&h), parse_instant(want)) {
                    (Some(p), Some(q)) if want.contains('-') => p.cmp(&q),
                    _ => h.to_ascii_lowercase().cmp(&want.to_ascii_lowercase()),
                },
                None => return self.op == Op::Ne,
            },
            (want, Some(have)) => compare(Some(have), Some(want)),
        };
        match self.op {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
        }
    }
}

/// Parses the supported subset of `where` (see the [module docs](self)).
fn parse_where(w: &str) -> Result<Vec<Condition>, ApiError> {
    let bad = || ApiError::BadRequest(format!("The where clause is not supported: {w}"));
    split_and(w)
        .into_iter()
        .map(|part| {
            let part = part.trim();
            let ops = [
                ("==", Op::Eq),
                ("!=", Op::Ne),
                (">=", Op::Ge),
                ("<=", Op::Le),
                (">", Op::Gt),
                ("<", Op::Lt),
            ];
            let (pos, len, op) = ops
                .iter()
                .filter_map(|(s, op)| part.find(s).map(|p| (p, s.len(), *op)))
                .min_by_key(|(p, len, _)| (*p, usize::MAX - len))
                .ok_or_else(bad)?;
            let path = part[..pos].trim();
            if path.is_empty() || !path.chars().all(|c| c.is_alphanumeric() || c == '.') {
                return Err(bad());
            }
            let value = literal(part[pos + len..].trim()).ok_or_else(bad)?;
            Ok(Condition {
                path: path.to_owned(),
                op,
                value,
            })
        })
        .collect()
}

/// Splits on `AND` / `&&` outside string literals.
fn split_and(w: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let chars: Vec<char> = w.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted {
            let rest: String = chars[i..].iter().take(5).collect();
            if rest.starts_with("&&") {
                parts.push(std::mem::take(&mut cur));
                i += 2;
                continue;
            }
            if rest.to_ascii_uppercase().starts_with(" AND ") {
                parts.push(std::mem::take(&mut cur));
                i += 5;
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    parts.push(cur);
    parts
}

/// A `where` literal as a JSON value (instants as `YYYY-MM-DDTHH:MM:SS` strings).
fn literal(s: &str) -> Option<Value> {
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        return Some(inner.into());
    }
    let lower = s.to_ascii_lowercase();
    if let Some(inner) = lower
        .strip_prefix("guid(")
        .and_then(|r| r.strip_suffix(')'))
    {
        return Some(inner.trim().trim_matches('"').into());
    }
    if let Some(inner) = lower
        .strip_prefix("datetime(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let n: Vec<u32> = inner
            .split(',')
            .map(|p| p.trim().parse().ok())
            .collect::<Option<_>>()?;
        let at = |i: usize| n.get(i).copied().unwrap_or(0);
        if n.len() < 3 {
            return None;
        }
        return Some(
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                at(0),
                at(1),
                at(2),
                at(3),
                at(4),
                at(5)
            )
            .into(),
        );
    }
    match lower.as_str() {
        "true" => return Some(true.into()),
        "false" => return Some(false.into()),
        "null" => return Some(Value::Null),
        _ => {}
    }
    s.parse::<f64>().ok().map(Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn where_subset() {
        let c = parse_where(r#"Name=="A && B" AND EmailAddress!="x@y.z""#).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].value, Value::from("A && B"));
        assert_eq!(c[1].op, Op::Ne);
        let rec = json!({"Name": "a && b", "UpdatedDateUTC": "/Date(1704067200000+0000)/"});
        assert!(c[0].holds(&rec));
        let d = parse_where("UpdatedDateUTC>=DateTime(2024,01,01)").unwrap();
        assert!(d[0].holds(&rec));
        let d = parse_where("UpdatedDateUTC>DateTime(2024,01,01)").unwrap();
        assert!(!d[0].holds(&rec));
        assert!(parse_where("Name.Contains(\"x\")").is_err());
    }
}
