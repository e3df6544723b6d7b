//! Accounting records: items, invoices (and quotes and sales orders, which share their
//! lines) and payments. How a write is merged into one of them and what Connec! completes.
//!
//! - **Items**: `sale_price` and `purchase_price` are unit prices, completed at 4 decimals
//!   (`connec::totals`). `reference` (the SKU) and `code` are plain fields: smart merging on
//!   either goes through `opts.matching_fields` like any field.
//! - **Invoices**: each line is completed (`unit_price`, `total_price`), and when any line has a
//!   price the invoice's `amount{net_amount, tax_amount, total_amount, currency}` is the sum
//!   over its lines (an `amount` the writer sent is then overwritten). An invoice without priced
//!   lines keeps the `amount` it was given, completed at 2 decimals.
//! - **`balance`** of an invoice with a total is `amount.total_amount` minus what payments apply
//!   to it, and is always computed (a `balance` sent is overwritten). A payment applies, per
//!   linked transaction of one of its lines, the transaction's `applied_amount`, else the
//!   line's `amount` when the line links that one transaction only. Payments with status
//!   `INACTIVE`, `VOIDED` or `ARCHIVED` apply nothing. Creating, changing or inactivating a
//!   payment recomputes the balance of every invoice it links (or linked): a changed balance
//!   moves the invoice's `updated_at` and is notified like any change.
//! - **Payments**: the lines may come as `lines` (as the brief of this emulator names them) or
//!   `payment_lines` (as Maestrano's own connectors send them); both are handled alike and
//!   stored under the key sent. `amount.total_amount` is the sum of the lines' `amount`s when
//!   the writer gave neither `amount.total_amount` nor `total_amount`; an update that sends
//!   lines without a total recomputes it.

use serde_json::{Map, Value};

use super::lines::{line_keys, merge_lines};
use super::state::{Group, State, Triple, parse_triples};
use super::totals::{
    Dec, TOTAL_DP, UNIT_DP, complete_line, complete_price_obj, reset_price, set_amount, sum_lines,
};
use super::upsert::deep_merge;
use crate::common::{ApiError, ChangeEvent, ChangeKind, iso};

/// Collections whose records carry priced lines like invoices.
fn is_document(coll: &str) -> bool {
    matches!(coll, "invoices" | "quotes" | "sales_orders")
}

/// Price objects of a record (top level), with their decimals.
fn price_fields(coll: &str) -> &'static [(&'static str, u32)] {
    match coll {
        "items" => &[("sale_price", UNIT_DP), ("purchase_price", UNIT_DP)],
        c if is_document(c) => &[("amount", TOTAL_DP)],
        _ => &[],
    }
}

/// Payment statuses that apply nothing to invoices.
const NOT_APPLIED: [&str; 3] = ["INACTIVE", "VOIDED", "ARCHIVED"];

/// The record `incoming` makes of `stored` (`None`: a new record): prices reset where the
/// writer gives a new basis, a deep merge, lines merged by line id, totals completed.
pub(super) fn merge_record(
    coll: &str,
    stored: Option<&Map<String, Value>>,
    incoming: Value,
    sparse: bool,
    channel: &str,
) -> Result<Value, ApiError> {
    let Value::Object(mut patch) = incoming else {
        return Err(ApiError::BadRequest(format!(
            "The {coll} record must be a JSON object"
        )));
    };
    let sent_lines: Vec<(&str, Value)> = line_keys(coll)
        .iter()
        .filter_map(|k| patch.remove(*k).map(|v| (*k, v)))
        .collect();
    let mut base = stored.cloned().unwrap_or_default();
    for (key, _) in price_fields(coll) {
        if let (Some(Value::Object(s)), Some(Value::Object(p))) =
            (base.get_mut(*key), patch.get(*key))
        {
            reset_price(s, p);
        }
    }
    if coll == "payments"
        && !sent_lines.is_empty()
        && !gives_total(&patch)
        && let Some(Value::Object(a)) = base.get_mut("amount")
    {
        a.remove("total_amount");
    }
    let mut v = Value::Object(base);
    deep_merge(&mut v, &Value::Object(patch));
    for (key, sent) in sent_lines {
        let before = stored
            .and_then(|s| s.get(key))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let merged = merge_lines(before, &sent, sparse, channel, &format!("{coll} {key}"))?;
        if let Value::Object(m) = &mut v {
            m.insert(key.into(), Value::Array(merged));
        }
    }
    if let Value::Object(m) = &mut v {
        complete(coll, m);
    }
    Ok(v)
}

/// Whether a payment body gives its total itself.
fn gives_total(m: &Map<String, Value>) -> bool {
    m.contains_key("total_amount")
        || m.get("amount")
            .and_then(|a| a.get("total_amount"))
            .is_some_and(|t| !t.is_null())
}

/// Completes the totals of a merged record in place (module rules; balance aside).
fn complete(coll: &str, rec: &mut Map<String, Value>) {
    match coll {
        "items" => {
            for (key, dp) in price_fields(coll) {
                if let Some(Value::Object(p)) = rec.get_mut(*key) {
                    complete_price_obj(p, *dp);
                }
            }
        }
        c if is_document(c) => {
            if let Some(Value::Array(lines)) = rec.get_mut("lines") {
                for l in lines.iter_mut().filter_map(Value::as_object_mut) {
                    complete_line(l);
                }
            }
            let sum = rec
                .get("lines")
                .and_then(Value::as_array)
                .and_then(|ls| sum_lines(ls.iter()));
            match sum {
                Some(sum) => set_amount(rec, sum),
                None => {
                    if let Some(Value::Object(a)) = rec.get_mut("amount") {
                        complete_price_obj(a, TOTAL_DP);
                    }
                }
            }
        }
        "payments" => {
            if gives_total(rec) {
                return;
            }
            let mut sum: Option<Dec> = None;
            for key in line_keys(coll) {
                for l in rec
                    .get(*key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(a) = l.get("amount").and_then(Dec::from_value) {
                        sum = sum.unwrap_or(Dec::ZERO).add(a);
                    }
                }
            }
            let Some(sum) = sum else { return };
            let currency = rec.get("currency").cloned().filter(|c| !c.is_null());
            let slot = rec
                .entry("amount")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(a) = slot {
                a.insert("total_amount".into(), sum.round(TOTAL_DP).to_value());
                if let Some(c) = currency {
                    a.entry("currency").or_insert(c);
                }
            }
        }
        _ => {}
    }
}

/// One invoice link of a payment line: the invoice (a uuid, or pending triples) and the
/// amount it applies.
struct Link<'a> {
    target: &'a Value,
    applied: Dec,
}

/// The invoice links of a stored payment.
fn links(payment: &Map<String, Value>) -> Vec<Link<'_>> {
    let mut out = Vec::new();
    for key in line_keys("payments") {
        for l in payment
            .get(*key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let lts: Vec<&Value> = l
                .get("linked_transactions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|lt| {
                    lt.get("class")
                        .and_then(Value::as_str)
                        .is_none_or(|c| c.eq_ignore_ascii_case("invoice"))
                })
                .collect();
            let line_amount = l.get("amount").and_then(Dec::from_value);
            let single = lts.len() == 1;
            for lt in &lts {
                let Some(target) = lt.get("id") else { continue };
                let applied = lt
                    .get("applied_amount")
                    .and_then(Dec::from_value)
                    .or(line_amount.filter(|_| single))
                    .unwrap_or(Dec::ZERO);
                out.push(Link { target, applied });
            }
        }
    }
    out
}

/// The invoice uuid a link names, if it resolves.
fn resolve_link(g: &Group, target: &Value) -> Option<String> {
    match target {
        Value::String(id) => Some(id.clone()),
        v => parse_triples(v)
            .ok()
            .and_then(|ts| g.resolve("invoices", &ts)),
    }
}

/// The invoices a stored payment links (resolved uuids, deduplicated).
pub(super) fn linked_invoices(g: &Group, payment: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in links(payment) {
        if let Some(id) = resolve_link(g, l.target)
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

/// The `balance` of invoice `fields` (uuid `id` when stored, external ids `ext`, which also
/// match payments' still unresolved links): `None` when the invoice has no total.
pub(super) fn balance(
    g: &Group,
    id: Option<&str>,
    ext: &[Triple],
    fields: &Map<String, Value>,
) -> Option<Value> {
    let total = fields
        .get("amount")
        .and_then(|a| a.get("total_amount"))
        .and_then(Dec::from_value)?;
    let mut paid = Dec::ZERO;
    let payments = g.collections.get("payments");
    for p in payments.into_iter().flat_map(|c| c.records.iter()) {
        let status = p.fields.get("status").and_then(Value::as_str).unwrap_or("");
        if NOT_APPLIED.iter().any(|s| s.eq_ignore_ascii_case(status)) {
            continue;
        }
        for l in links(&p.fields) {
            let hit = match resolve_link(g, l.target) {
                Some(uuid) => Some(uuid.as_str()) == id,
                None => parse_triples(l.target).is_ok_and(|ts| ts.iter().any(|t| ext.contains(t))),
            };
            if hit {
                paid = paid.add(l.applied)?;
            }
        }
    }
    Some(total.sub(paid)?.round(TOTAL_DP).to_value())
}

impl State {
    /// After a payment `payment_id` of `group_id` was committed: recomputes the balance of each
    /// invoice it linked before (`before`) or links now; each changed invoice moves its
    /// `updated_at` and records a change.
    pub(super) fn settle_payment(&mut self, group_id: &str, payment_id: &str, before: Vec<String>) {
        let Some(g) = self.groups.get(group_id) else {
            return;
        };
        let mut targets = before;
        if let Some(p) = g.record("payments", payment_id) {
            for id in linked_invoices(g, &p.fields) {
                if !targets.contains(&id) {
                    targets.push(id);
                }
            }
        }
        let changes: Vec<(String, Value)> = targets
            .into_iter()
            .filter_map(|id| {
                let inv = g.record("invoices", &id)?;
                let b = balance(g, Some(&id), &inv.ext, &inv.fields)?;
                (inv.fields.get("balance") != Some(&b)).then_some((id, b))
            })
            .collect();
        for (id, b) in changes {
            let Some(c) = self
                .groups
                .get_mut(group_id)
                .and_then(|g| g.collections.get_mut("invoices"))
            else {
                continue;
            };
            let Some(&i) = c.by_id.get(&id) else { continue };
            let prev = c.records[i].updated_at;
            let at = self.pinned_time.unwrap_or_else(|| self.clock.after(prev));
            self.seq += 1;
            let seq = self.seq;
            c.modify(i, |r| {
                r.fields.insert("balance".into(), b);
                r.updated_at = at;
                r.seq = seq;
            });
            self.events.push(ChangeEvent {
                kind: ChangeKind::Updated,
                scope: group_id.to_string(),
                collection: "invoices".into(),
                id,
                at: iso(&at),
            });
        }
    }
}
