//! The write path ([`State::write`]): upserts keyed by external ids, the Connec! uuid or
//! `opts.matching_fields`, id write-backs, deep merges, record faults, and the change event
//! each commit produces.

use axum::http::StatusCode;
use serde_json::Value;

use super::state::{
    Collection, Record, State, for_each_ref, parse_triples, ref_fields, stored_path,
};
use super::{Inner, accounting, eq_index};
use crate::common::{ApiError, ChangeEvent, ChangeKind, compare_scalars, iso, lookup_path};

/// Fields the server owns; ignored when sent by clients.
const READ_ONLY: [&str; 5] = [
    "group_id",
    "channel_id",
    "resource_type",
    "created_at",
    "updated_at",
];

/// Where a write goes.
pub(super) enum Target {
    /// POST: find by external id / uuid / matching fields, else create.
    Upsert,
    /// PUT on a known uuid.
    Id(String),
}

pub(super) fn deep_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(tv) if tv.is_object() && v.is_object() => deep_merge(tv, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// How Connec! compares a `matching_fields` value, the same way as `$filter ... eq`: exact
/// (case-sensitive) equality of two scalars, numbers and instants compared as such. A missing,
/// `null` or blank value never matches: it identifies nothing.
fn match_eq(stored: Option<&Value>, incoming: Option<&Value>) -> bool {
    fn usable(v: Option<&Value>) -> Option<&Value> {
        v.filter(|v| match v {
            Value::String(s) => !s.trim().is_empty(),
            Value::Number(_) | Value::Bool(_) => true,
            _ => false,
        })
    }
    match (usable(stored), usable(incoming)) {
        (Some(a), Some(b)) => compare_scalars(a, b, false).is_some_and(|o| o.is_eq()),
        _ => false,
    }
}

/// The record a `POST` with `opts.matching_fields` merges into: the first ACTIVE record (in
/// creation order) equal to `incoming` on every field ([`match_eq`]), among `candidates` (in
/// creation order) when given.
fn smart_merge_target(
    c: &Collection,
    matching: &[String],
    incoming: &Value,
    candidates: Option<&[usize]>,
) -> Option<usize> {
    if matching.is_empty() {
        return None;
    }
    let hit = |i: &usize| {
        let r = &c.records[*i];
        r.fields
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("ACTIVE")
            == "ACTIVE"
            && matching
                .iter()
                .all(|p| match_eq(stored_path(r, p), lookup_path(incoming, p)))
    };
    match candidates {
        Some(ids) => ids.iter().find(|i| hit(i)).copied(),
        None => (0..c.records.len()).find(hit),
    }
}

impl State {
    /// The records a smart merge may merge into, from the equality index of the first
    /// matching field with a usable value (`None`: every record).
    fn merge_candidates(
        &mut self,
        group_id: &str,
        coll: &str,
        matching: &[String],
        incoming: &Value,
    ) -> Option<Vec<usize>> {
        let c = self.groups.get_mut(group_id)?.collections.get_mut(coll)?;
        let (path, value) = matching.iter().find_map(|p| {
            let v = lookup_path(incoming, p)?;
            let usable = match v {
                Value::String(s) => !s.trim().is_empty(),
                Value::Number(_) | Value::Bool(_) => true,
                _ => false,
            };
            (usable && eq_index::indexable(p)).then_some((p, v))
        })?;
        Some(c.eq.lookup(&c.records, path, value))
    }
}

impl State {
    /// Upsert / update. Returns the status (200/201) and the record uuid.
    /// `strict` applies API validation and record faults (off for seeding).
    pub(super) fn write(
        &mut self,
        inner: &Inner,
        group_id: &str,
        coll: &str,
        target: Target,
        body: &Value,
        strict: bool,
    ) -> Result<(StatusCode, String), ApiError> {
        let Some(obj) = body.as_object() else {
            return Err(ApiError::BadRequest(format!(
                "The {coll} record must be a JSON object"
            )));
        };
        let mut fields = obj.clone();
        let opts = fields.remove("opts");
        // `opts.sparse: false`: the lines sent are the whole list (`connec::lines`).
        let sparse = !opts
            .as_ref()
            .and_then(|o| o.get("sparse"))
            .is_some_and(|s| s == &Value::Bool(false));
        let matching: Vec<String> = opts
            .and_then(|o| o.get("matching_fields").cloned())
            .and_then(|m| m.as_array().cloned())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let id_val = fields.remove("id");
        for k in READ_ONLY {
            fields.remove(k);
        }
        let id_only = fields.is_empty();
        let (connec_id, externals) = match id_val {
            None | Some(Value::Null) => (None, Vec::new()),
            Some(Value::String(s)) => (Some(s), Vec::new()),
            Some(v) => {
                let ts = parse_triples(&v)
                    .map_err(|e| ApiError::BadRequest(format!("Invalid id: {e}")))?;
                let cid = ts.iter().find(|t| t.is_connec()).map(|t| t.id.clone());
                (
                    cid,
                    ts.into_iter()
                        .filter(|t| !t.is_connec())
                        .collect::<Vec<_>>(),
                )
            }
        };

        self.group_mut(&inner.config, group_id);
        let g = &self.groups[group_id];
        // Resolve reference fields to uuids where possible.
        let mut incoming = Value::Object(fields);
        for (path, tcoll) in ref_fields(coll) {
            for_each_ref(&mut incoming, path, &mut |v| {
                if let Value::Array(_) | Value::Object(_) = v
                    && let Ok(ts) = parse_triples(v)
                {
                    *v = match g.resolve(tcoll, &ts) {
                        Some(id) => Value::String(id),
                        None => serde_json::to_value(&ts).unwrap_or_default(),
                    };
                }
            });
        }

        let candidates = match target {
            Target::Upsert if !matching.is_empty() => {
                self.merge_candidates(group_id, coll, &matching, &incoming)
            }
            _ => None,
        };
        let g = &self.groups[group_id];
        let c = g.collections.get(coll);
        let existing: Option<usize> = match target {
            Target::Id(id) => Some(
                *c.and_then(|c| c.by_id.get(&id))
                    .ok_or_else(|| ApiError::NotFound(format!("No {coll} record with id {id}")))?,
            ),
            Target::Upsert => c.and_then(|c| {
                externals
                    .iter()
                    .find_map(|t| c.by_ext.get(t).copied())
                    .or_else(|| connec_id.as_ref().and_then(|id| c.by_id.get(id).copied()))
                    .or_else(|| smart_merge_target(c, &matching, &incoming, candidates.as_deref()))
            }),
        };
        // A body with only an id array is an id write-back: it needs a record to write to.
        if strict && id_only && (externals.is_empty() || existing.is_none()) {
            return Err(ApiError::BadRequest(format!(
                "The {coll} record has no fields"
            )));
        }
        // An external id names one record: refuse to attach it to a second one rather than
        // silently dropping (or moving) the link.
        if let Some(c) = c {
            for t in &externals {
                if let Some(&owner) = c.by_ext.get(t)
                    && Some(owner) != existing
                {
                    return Err(ApiError::Conflict(format!(
                        "The external id {}/{} {} already belongs to another {coll} record",
                        t.provider, t.realm, t.id
                    )));
                }
            }
        }

        let stored = existing.and_then(|i| c.map(|c| &c.records[i]));
        let mut candidate = accounting::merge_record(
            coll,
            stored.map(|r| &r.fields),
            incoming,
            sparse,
            &g.channel,
        )?;
        if let Value::Object(m) = &mut candidate {
            if stored.is_none() {
                m.entry("status").or_insert_with(|| "ACTIVE".into());
            }
            if coll == "invoices" {
                let mut ext: Vec<_> = stored.map(|r| r.ext.clone()).unwrap_or_default();
                ext.extend(externals.iter().cloned());
                if let Some(b) = accounting::balance(g, stored.map(|r| r.id.as_str()), &ext, m) {
                    m.insert("balance".into(), b);
                }
            }
        }
        // The invoices a payment linked before this write, whose balances it may change.
        let linked_before = match stored {
            Some(r) if coll == "payments" => accounting::linked_invoices(g, &r.fields),
            _ => Vec::new(),
        };
        if strict
            && let Some(hit) = inner
                .instruments
                .faults
                .record_hit(|p| lookup_path(&candidate, p).cloned())
        {
            return Err(ApiError::BadRequest(format!(
                "Record rejected: {} {} is invalid (injected fault)",
                hit.field, hit.value
            )));
        }
        let Value::Object(new_fields) = candidate else {
            unreachable!("records are objects")
        };

        let Self {
            clock,
            pinned_time,
            seq,
            groups,
            events,
        } = self;
        let coll_mut = groups
            .get_mut(group_id)
            .map(|g| g.collections.entry(coll.to_string()).or_default());
        let Some(coll_mut) = coll_mut else {
            unreachable!("group created above")
        };
        let (status, idx, kind) = match existing {
            Some(i) => {
                let changed_fields = coll_mut.records[i].fields != new_fields;
                let mut attached = false;
                for t in externals {
                    if !coll_mut.by_ext.contains_key(&t) {
                        coll_mut.records[i].ext.push(t.clone());
                        coll_mut.by_ext.insert(t, i);
                        attached = true;
                    }
                }
                if !(changed_fields || attached) {
                    // Idempotent re-send: nothing to do, timestamps untouched.
                    return Ok((StatusCode::OK, coll_mut.records[i].id.clone()));
                }
                // A new id in the id array is a change of the record like any other: it moves
                // `updated_at` and is notified (the write-back's echo reaches subscribers).
                let prev = coll_mut.records[i].updated_at;
                let at = pinned_time.unwrap_or_else(|| clock.after(prev));
                *seq += 1;
                let seq = *seq;
                coll_mut.modify(i, |r| {
                    r.fields = new_fields;
                    r.updated_at = at;
                    r.seq = seq;
                });
                (StatusCode::OK, i, ChangeKind::Updated)
            }
            None => {
                let at = pinned_time.unwrap_or_else(|| clock.now());
                *seq += 1;
                let id = uuid::Uuid::new_v4().to_string();
                let i = coll_mut.records.len();
                let mut ext = Vec::new();
                for t in externals {
                    if !coll_mut.by_ext.contains_key(&t) && !ext.contains(&t) {
                        coll_mut.by_ext.insert(t.clone(), i);
                        ext.push(t);
                    }
                }
                let i = coll_mut.push(Record {
                    id,
                    created_at: at,
                    updated_at: at,
                    ext,
                    fields: new_fields,
                    seq: *seq,
                });
                (StatusCode::CREATED, i, ChangeKind::Created)
            }
        };
        let r = &coll_mut.records[idx];
        let id = r.id.clone();
        events.push(ChangeEvent {
            kind,
            scope: group_id.to_string(),
            collection: coll.to_string(),
            id: id.clone(),
            at: iso(&r.updated_at),
        });
        if coll == "payments" {
            self.settle_payment(group_id, &id, linked_before);
        }
        Ok((status, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_is_deep() {
        let mut a = json!({"a": {"b": 1, "c": 2}, "l": [1]});
        deep_merge(&mut a, &json!({"a": {"b": 3}, "l": [2], "n": null}));
        assert_eq!(a, json!({"a": {"b": 3, "c": 2}, "l": [2], "n": null}));
    }
}
