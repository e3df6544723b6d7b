//! The emulator's records ([`State`]): groups (organizations) holding collections of
//! records, their external id triples and indexes, reference fields, and how a record is
//! rendered in the plain or `CONNEC-EXTERNAL-IDS` shape.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ConnecConfig;
use super::eq_index::EqIndex;
use super::views::Views;
use crate::common::{ChangeEvent, Clock, iso, lookup_path};

/// Reference fields per collection: `(path, referenced collection)`.
/// `[]` marks "each element of this array".
pub(super) fn ref_fields(collection: &str) -> &'static [(&'static str, &'static str)] {
    match collection {
        "people" => &[("organization_id", "organizations")],
        "invoices" | "quotes" | "sales_orders" => &[
            ("organization_id", "organizations"),
            ("person_id", "people"),
            ("lines[].item_id", "items"),
            ("lines[].tax_code_id", "tax_codes"),
            ("lines[].account_id", "accounts"),
        ],
        "payments" => &[
            ("organization_id", "organizations"),
            ("person_id", "people"),
            ("deposit_account_id", "accounts"),
            ("lines[].linked_transactions[].id", "invoices"),
            ("payment_lines[].linked_transactions[].id", "invoices"),
        ],
        _ => &[],
    }
}

/// An external id triple as Connec! shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(super) struct Triple {
    pub(super) id: String,
    pub(super) provider: String,
    #[serde(default)]
    pub(super) realm: String,
}

impl Triple {
    pub(super) fn connec(id: &str, channel: &str) -> Self {
        Self {
            id: id.into(),
            provider: "connec".into(),
            realm: channel.into(),
        }
    }
    pub(super) fn is_connec(&self) -> bool {
        self.provider.eq_ignore_ascii_case("connec")
    }

    /// `{id, provider, realm}` as JSON: what `serde_json::to_value` gives, built directly (a
    /// rendered record holds several, and the serializer goes through a generic path).
    pub(super) fn to_json(&self) -> Value {
        triple_json(&self.id, &self.provider, &self.realm)
    }
}

/// `{id, provider, realm}` as JSON (see [`Triple::to_json`]).
fn triple_json(id: &str, provider: &str, realm: &str) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m.insert("provider".into(), provider.into());
    m.insert("realm".into(), realm.into());
    Value::Object(m)
}

#[derive(Clone, Debug)]
pub(super) struct Record {
    pub(super) id: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) ext: Vec<Triple>,
    /// Body fields incl. `status`; references stored as uuid strings or, when
    /// unresolved, as the triples given.
    pub(super) fields: Map<String, Value>,
    /// Sequence number of the record's last write: the "natural order" in
    /// which a document store returns records whose sort keys tie.
    pub(super) seq: u64,
}

/// Records in creation order (Connec! deletes none), with their indexes. Records change only
/// through [`Collection::push`] and [`Collection::modify`], which keep the listing views in step.
#[derive(Debug, Default)]
pub(super) struct Collection {
    pub(super) records: Vec<Record>,
    pub(super) by_id: HashMap<String, usize>,
    pub(super) by_ext: HashMap<Triple, usize>,
    /// Listing indexes ([`Views`]).
    pub(super) views: Views,
    /// Equality indexes of `$filter ... eq` and `opts.matching_fields` ([`EqIndex`]).
    pub(super) eq: EqIndex,
}

impl Collection {
    /// Appends a new record; returns its position.
    pub(super) fn push(&mut self, r: Record) -> usize {
        let i = self.records.len();
        self.by_id.insert(r.id.clone(), i);
        self.views.changed(&r, i, None);
        self.eq.relink(&r, i, true);
        self.records.push(r);
        i
    }

    /// Changes the record at `i` (not its `id`).
    pub(super) fn modify(&mut self, i: usize, f: impl FnOnce(&mut Record)) {
        let before = self.views.keys_of(&self.records[i], i);
        self.eq.relink(&self.records[i], i, false);
        f(&mut self.records[i]);
        self.views.changed(&self.records[i], i, Some(&before));
        self.eq.relink(&self.records[i], i, true);
    }

    pub(super) fn get(&self, id: &str) -> Option<&Record> {
        self.by_id.get(id).map(|i| &self.records[*i])
    }
    fn find_ext(&self, t: &Triple) -> Option<&Record> {
        self.by_ext.get(t).map(|i| &self.records[*i])
    }
}

#[derive(Debug)]
pub(super) struct Group {
    pub(super) channel: String,
    pub(super) collections: HashMap<String, Collection>,
}

impl Group {
    pub(super) fn record(&self, coll: &str, id: &str) -> Option<&Record> {
        self.collections.get(coll)?.get(id)
    }
    fn find_ext(&self, coll: &str, t: &Triple) -> Option<&Record> {
        self.collections.get(coll)?.find_ext(t)
    }
    /// Resolves reference triples to a Connec! uuid.
    pub(super) fn resolve(&self, coll: &str, triples: &[Triple]) -> Option<String> {
        triples
            .iter()
            .find(|t| t.is_connec())
            .map(|t| t.id.clone())
            .or_else(|| {
                triples
                    .iter()
                    .find_map(|t| self.find_ext(coll, t).map(|r| r.id.clone()))
            })
    }
}

#[derive(Default)]
pub(super) struct State {
    pub(super) clock: Clock,
    /// Timestamp every write gets while set ([`ConnecEmulator::set_time`](super::ConnecEmulator::set_time)).
    pub(super) pinned_time: Option<DateTime<Utc>>,
    /// Last write sequence number handed out.
    pub(super) seq: u64,
    pub(super) groups: BTreeMap<String, Group>,
    /// Changes not yet delivered to hooks.
    pub(super) events: Vec<ChangeEvent>,
}

/// Splits a dotted ref path and applies `f` to every value it reaches.
pub(super) fn for_each_ref(v: &mut Value, path: &str, f: &mut dyn FnMut(&mut Value)) {
    let segs: Vec<&str> = path.split('.').collect();
    walk(v, &segs, f);
}

fn walk(v: &mut Value, segs: &[&str], f: &mut dyn FnMut(&mut Value)) {
    let Some((first, rest)) = segs.split_first() else {
        f(v);
        return;
    };
    let Value::Object(m) = v else { return };
    if let Some(name) = first.strip_suffix("[]") {
        if let Some(Value::Array(items)) = m.get_mut(name) {
            for it in items {
                walk(it, rest, f);
            }
        }
    } else if let Some(child) = m.get_mut(*first) {
        walk(child, rest, f);
    }
}

/// Parses one triple or an array of triples.
pub(super) fn parse_triples(v: &Value) -> Result<Vec<Triple>, String> {
    let items = match v {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![v.clone()],
        _ => return Err("expected an id triple or an array of triples".into()),
    };
    items
        .into_iter()
        .map(|t| serde_json::from_value::<Triple>(t).map_err(|e| format!("invalid id triple: {e}")))
        .collect()
}

/// A dotted path in a stored record's fields (no rendering).
pub(super) fn stored_path<'a>(r: &'a Record, path: &str) -> Option<&'a Value> {
    let (first, rest) = path.split_once('.').unwrap_or((path, ""));
    r.fields.get(first).and_then(|v| {
        if rest.is_empty() {
            Some(v)
        } else {
            lookup_path(v, rest)
        }
    })
}

fn render_ref(g: &Group, target: &str, v: &Value, ext: bool) -> Value {
    match v {
        Value::String(id) if ext => {
            let mut arr = vec![triple_json(id, "connec", &g.channel)];
            if let Some(r) = g.record(target, id) {
                arr.extend(r.ext.iter().map(Triple::to_json));
            }
            Value::Array(arr)
        }
        // Pending external reference: resolve lazily once the target exists.
        Value::Array(_) | Value::Object(_) => {
            match parse_triples(v).ok().and_then(|ts| g.resolve(target, &ts)) {
                Some(id) => render_ref(g, target, &Value::String(id), ext),
                None => v.clone(),
            }
        }
        _ => v.clone(),
    }
}

impl State {
    pub(super) fn group_mut(&mut self, cfg: &ConnecConfig, group_id: &str) -> &mut Group {
        self.groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group {
                channel: (cfg.channel_for_group)(group_id),
                collections: HashMap::new(),
            })
    }

    /// Renders one record in the plain or external-ids shape.
    pub(super) fn render(&self, group_id: &str, coll: &str, id: &str, ext: bool) -> Option<Value> {
        let g = self.groups.get(group_id)?;
        let r = g.record(coll, id)?;
        Some(render_record(g, group_id, coll, r, ext))
    }
}

pub(super) fn render_record(g: &Group, group_id: &str, coll: &str, r: &Record, ext: bool) -> Value {
    let mut m = r.fields.clone();
    let id = if ext {
        let mut ids = Vec::with_capacity(1 + r.ext.len());
        ids.push(triple_json(&r.id, "connec", &g.channel));
        ids.extend(r.ext.iter().map(Triple::to_json));
        Value::Array(ids)
    } else {
        Value::String(r.id.clone())
    };
    m.insert("id".into(), id);
    m.insert("group_id".into(), group_id.into());
    m.insert("channel_id".into(), g.channel.clone().into());
    m.insert("resource_type".into(), coll.into());
    m.insert("created_at".into(), iso(&r.created_at).into());
    m.insert("updated_at".into(), iso(&r.updated_at).into());
    let mut v = Value::Object(m);
    if !ext {
        super::lines::plain_line_ids(&mut v, coll);
    }
    for (path, target) in ref_fields(coll) {
        for_each_ref(&mut v, path, &mut |x| *x = render_ref(g, target, x, ext));
    }
    v
}
