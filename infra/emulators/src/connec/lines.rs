//! Sub-lines of a record (`lines` of invoices, quotes and sales orders; `lines` and
//! `payment_lines` of payments) and their own id arrays.
//!
//! # Line identity
//!
//! - A line sent without an id, or with only external ids no line of the record has, is a new
//!   line: it gets its own Connec! id, stored as `id: [{id, provider: "connec", realm}, ...]`
//!   followed by the external triples the writer sent (the same shape as a record's ids).
//! - A line whose id array holds a Connec! line id of the record (or a plain uuid string, as
//!   sent without `CONNEC-EXTERNAL-IDS`), or one of a line's external triples, updates that
//!   line: its fields are deep-merged, new external triples are *added* to its ids (the line
//!   id write-back), known ones change nothing. An unknown Connec! line id is refused (400); an
//!   external triple already on another line of the record is refused (409), like record ids.
//! - Lines absent from an update are **kept**: Connec! merges sub-collections by line id
//!   ("sparse" updates, research A.6). `opts: {"sparse": false}` makes the sent lines the whole
//!   list: absent lines are removed (each sent line still keeps the id it matched).
//! - Line ids are unique within one record; lines keep their order, new ones are appended.
//! - Without `CONNEC-EXTERNAL-IDS` a line's `id` renders as its Connec! uuid.

use serde_json::{Map, Value};

use super::state::{Triple, parse_triples};
use super::totals::reset_line;
use super::upsert::deep_merge;
use crate::common::ApiError;

/// The line arrays of a collection.
pub(super) fn line_keys(coll: &str) -> &'static [&'static str] {
    match coll {
        "invoices" | "quotes" | "sales_orders" => &["lines"],
        "payments" => &["lines", "payment_lines"],
        _ => &[],
    }
}

/// A stored line's ids (Connec! first).
fn stored_ids(line: &Value) -> Vec<Triple> {
    line.get("id")
        .and_then(|v| parse_triples(v).ok())
        .unwrap_or_default()
}

fn connec_id(ids: &[Triple]) -> Option<&str> {
    ids.iter().find(|t| t.is_connec()).map(|t| t.id.as_str())
}

/// The ids a writer sent for one line.
#[derive(Default)]
struct Sent {
    connec: Option<String>,
    ext: Vec<Triple>,
}

fn sent_ids(v: Option<Value>, what: &str) -> Result<Sent, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(Sent::default()),
        Some(Value::String(s)) => Ok(Sent {
            connec: Some(s),
            ext: Vec::new(),
        }),
        Some(v) => {
            let ts = parse_triples(&v)
                .map_err(|e| ApiError::BadRequest(format!("Invalid line id in {what}: {e}")))?;
            let connec = connec_id(&ts).map(String::from);
            Ok(Sent {
                connec,
                ext: ts.into_iter().filter(|t| !t.is_connec()).collect(),
            })
        }
    }
}

/// The stored line `sent` names, by Connec! id, else by any external triple.
fn find_line(stored: &[Value], sent: &Sent) -> Option<usize> {
    match &sent.connec {
        Some(cid) => stored
            .iter()
            .position(|l| connec_id(&stored_ids(l)) == Some(cid.as_str())),
        None => stored.iter().position(|l| {
            let ids = stored_ids(l);
            sent.ext.iter().any(|t| ids.contains(t))
        }),
    }
}

/// Merges the lines sent (`incoming`) into the stored ones (module rules); `what` names the
/// array in errors (`"invoices lines"`).
pub(super) fn merge_lines(
    stored: &[Value],
    incoming: &Value,
    sparse: bool,
    channel: &str,
    what: &str,
) -> Result<Vec<Value>, ApiError> {
    let Value::Array(sent) = incoming else {
        return Err(ApiError::BadRequest(format!(
            "{what} must be an array of line objects"
        )));
    };
    let mut out: Vec<Value> = if sparse { stored.to_vec() } else { Vec::new() };
    let mut taken = vec![false; stored.len()];
    for line in sent {
        let Value::Object(patch) = line else {
            return Err(ApiError::BadRequest(format!(
                "{what} must be an array of line objects"
            )));
        };
        let mut patch = patch.clone();
        let ids = sent_ids(patch.remove("id"), what)?;
        let found = find_line(stored, &ids);
        let (mut merged, mut line_ids, pos) = match found {
            Some(j) if taken[j] => {
                return Err(ApiError::BadRequest(format!(
                    "{what}: two lines sent for the same line"
                )));
            }
            Some(j) => {
                taken[j] = true;
                let mut base = stored[j].as_object().cloned().unwrap_or_default();
                base.remove("id");
                reset_line(&mut base, &patch);
                (base, stored_ids(&stored[j]), sparse.then_some(j))
            }
            None => {
                if let Some(cid) = &ids.connec {
                    return Err(ApiError::BadRequest(format!(
                        "{what}: the record has no line with Connec! id {cid}"
                    )));
                }
                let id = uuid::Uuid::new_v4().to_string();
                (Map::new(), vec![Triple::connec(&id, channel)], None)
            }
        };
        for t in ids.ext {
            if line_ids.contains(&t) {
                continue;
            }
            let elsewhere = out
                .iter()
                .enumerate()
                .any(|(k, l)| Some(k) != pos && stored_ids(l).contains(&t));
            if elsewhere {
                return Err(ApiError::Conflict(format!(
                    "{what}: the external line id {}/{} {} already belongs to another line",
                    t.provider, t.realm, t.id
                )));
            }
            line_ids.push(t);
        }
        let mut v = Value::Object(std::mem::take(&mut merged));
        deep_merge(&mut v, &Value::Object(patch));
        if let Value::Object(m) = &mut v {
            m.insert(
                "id".into(),
                serde_json::to_value(&line_ids).unwrap_or_default(),
            );
        }
        match pos {
            Some(j) => out[j] = v,
            None => out.push(v),
        }
    }
    Ok(out)
}

/// Without `CONNEC-EXTERNAL-IDS`: each line's `id` becomes its Connec! uuid.
pub(super) fn plain_line_ids(rec: &mut Value, coll: &str) {
    for key in line_keys(coll) {
        let Some(Value::Array(lines)) = rec.get_mut(*key) else {
            continue;
        };
        for l in lines {
            let ids = stored_ids(l);
            if let (Some(cid), Value::Object(m)) = (connec_id(&ids), l) {
                m.insert("id".into(), cid.into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ext(id: &str) -> Value {
        json!({"id": id, "provider": "xero", "realm": "t1"})
    }

    #[test]
    fn sparse_updates_keep_absent_lines_and_full_ones_drop_them() {
        let created = merge_lines(
            &[],
            &json!([{"description": "a", "id": [ext("x1")]}, {"description": "b"}]),
            true,
            "org-g",
            "invoices lines",
        )
        .unwrap();
        assert_eq!(created.len(), 2);
        let a_id = created[0]["id"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(created[0]["id"][0]["provider"], json!("connec"));
        assert_eq!(created[0]["id"][1], ext("x1"));
        assert_eq!(created[1]["id"].as_array().unwrap().len(), 1);

        // Sparse: the sent line (matched by its external id) is updated, the other kept.
        let upd = merge_lines(
            &created,
            &json!([{"id": [ext("x1")], "description": "a2"}]),
            true,
            "org-g",
            "l",
        )
        .unwrap();
        assert_eq!(upd.len(), 2);
        assert_eq!(upd[0]["description"], json!("a2"));
        assert_eq!(upd[0]["id"][0]["id"], json!(a_id));
        assert_eq!(upd[1], created[1]);

        // Full (`sparse: false`): only the sent lines remain, matched by plain Connec! id.
        let full = merge_lines(
            &created,
            &json!([{"id": a_id, "quantity": 2}]),
            false,
            "org-g",
            "l",
        )
        .unwrap();
        assert_eq!(full.len(), 1);
        assert_eq!(full[0]["description"], json!("a"));
        assert_eq!(full[0]["id"][0]["id"], json!(a_id));
    }

    #[test]
    fn unknown_connec_line_ids_and_stolen_external_ids_are_refused() {
        let created = merge_lines(
            &[],
            &json!([{"id": [ext("x1")]}, {"id": [ext("x2")]}]),
            true,
            "org-g",
            "l",
        )
        .unwrap();
        let e = merge_lines(&created, &json!([{"id": "nope"}]), true, "org-g", "l").unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)), "{e:?}");
        let second = created[1]["id"][0].clone();
        let e = merge_lines(
            &created,
            &json!([{"id": [second, ext("x1")]}]),
            true,
            "org-g",
            "l",
        )
        .unwrap_err();
        assert!(matches!(e, ApiError::Conflict(_)), "{e:?}");
        assert!(merge_lines(&created, &json!({"a": 1}), true, "org-g", "l").is_err());
    }
}
