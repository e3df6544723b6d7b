//! The records of every organisation ([`Tenant`]) and the transaction writes go through
//! ([`Tx`]): it stamps `UpdatedDateUTC` on the emulator clock, records the changes webhooks
//! are made of, and can undo everything it did (a request refused as a whole saves nothing).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::TenantConfig;
use super::clock::{XeroClock, datetime_string, ms_date};
use crate::common::SortedList;

/// The collections of the Accounting API the emulator keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Kind {
    Contacts,
    Items,
    Invoices,
    Payments,
}

impl Kind {
    pub(super) const ALL: [Kind; 4] = [Kind::Contacts, Kind::Items, Kind::Invoices, Kind::Payments];

    /// The collection's name (`Contacts`): envelope key and path segment.
    pub(super) fn collection(self) -> &'static str {
        match self {
            Kind::Contacts => "Contacts",
            Kind::Items => "Items",
            Kind::Invoices => "Invoices",
            Kind::Payments => "Payments",
        }
    }

    /// The id field (`ContactID`).
    pub(super) fn id_field(self) -> &'static str {
        match self {
            Kind::Contacts => "ContactID",
            Kind::Items => "ItemID",
            Kind::Invoices => "InvoiceID",
            Kind::Payments => "PaymentID",
        }
    }

    /// The collection named `s` (case-insensitive, as Xero's paths are).
    pub(super) fn parse(s: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.collection().eq_ignore_ascii_case(s))
    }

    /// The webhook `eventCategory` of the collection; `None`: Xero sends no webhooks for it.
    pub(super) fn category(self) -> Option<&'static str> {
        match self {
            Kind::Contacts => Some("CONTACT"),
            Kind::Invoices => Some("INVOICE"),
            Kind::Items | Kind::Payments => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One stored record: its JSON body as rendered (without computed envelope fields), its
/// last-modified time and its creation rank (the default order of lists).
#[derive(Clone, Debug)]
pub(super) struct Rec {
    pub(super) body: Map<String, Value>,
    pub(super) updated_ms: i64,
    pub(super) seq: u64,
}

impl Rec {
    /// A string field of the body.
    pub(super) fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }
}

/// A committed change, for webhooks and change hooks.
#[derive(Clone, Debug)]
pub(super) struct Change {
    pub(super) tenant_id: String,
    pub(super) kind: Kind,
    pub(super) id: String,
    pub(super) created: bool,
    pub(super) at_ms: i64,
}

/// A replayable answer kept under an `Idempotency-Key`.
#[derive(Clone, Debug)]
pub(super) struct Stored {
    /// Method, path, query and body of the first request.
    pub(super) fingerprint: String,
    pub(super) status: u16,
    pub(super) body: Value,
    pub(super) expires_ms: i64,
}

/// One organisation and its records.
#[derive(Debug)]
pub(super) struct Tenant {
    pub(super) config: TenantConfig,
    records: [BTreeMap<String, Rec>; 4],
    /// Per kind, `(UpdatedDateUTC, creation rank)` of every record: lists in modification
    /// order, ranked for paging.
    modified: [SortedList<(i64, u64)>; 4],
    /// Per kind, creation rank -> id: creation order without sorting.
    by_seq: [BTreeMap<u64, String>; 4],
    /// Per [`LOOKUPS`] field: trimmed, ASCII-lower-cased value -> ids (the lookups writes
    /// make: contact names and numbers, invoice numbers, item codes, a payment's invoice).
    lookups: HashMap<(Kind, &'static str), HashMap<String, BTreeSet<String>>>,
    next_seq: u64,
    pub(super) next_invoice_number: u64,
    /// The chart of accounts payments may use (bank accounts).
    pub(super) accounts: Vec<Value>,
    pub(super) idempotency: HashMap<String, Stored>,
}

impl Tenant {
    pub(super) fn new(config: TenantConfig) -> Self {
        let account = |code: &str, name: &str, kind: &str, class: &str| {
            json!({
                "AccountID": uuid::Uuid::new_v4().to_string(),
                "Code": code,
                "Name": name,
                "Type": kind,
                "Class": class,
                "Status": "ACTIVE",
                "TaxType": if kind == "BANK" { "NONE" } else if class == "REVENUE" { "OUTPUT2" } else { "INPUT2" },
                "EnablePaymentsToAccount": kind == "BANK",
                "ShowInExpenseClaims": false,
                "HasAttachments": false,
            })
        };
        Self {
            config,
            records: Default::default(),
            modified: Default::default(),
            by_seq: Default::default(),
            lookups: HashMap::new(),
            next_seq: 0,
            next_invoice_number: 1,
            accounts: vec![
                account("090", "Business Bank Account", "BANK", "ASSET"),
                account("091", "Business Savings Account", "BANK", "ASSET"),
                account("200", "Sales", "REVENUE", "REVENUE"),
                account("310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE"),
                account("400", "Advertising", "EXPENSE", "EXPENSE"),
            ],
            idempotency: HashMap::new(),
        }
    }

    pub(super) fn id(&self) -> &str {
        &self.config.tenant_id
    }

    /// Every record of `kind`, by id.
    pub(super) fn all(&self, kind: Kind) -> &BTreeMap<String, Rec> {
        &self.records[kind.index()]
    }

    /// The record of `kind` with `id` (ids compare case-insensitively, as GUIDs do).
    pub(super) fn get(&self, kind: Kind, id: &str) -> Option<&Rec> {
        let map = self.all(kind);
        map.get(id).or_else(|| map.get(&id.to_ascii_lowercase()))
    }

    /// Records of `kind` in creation order.
    pub(super) fn in_order(&self, kind: Kind) -> Vec<&Rec> {
        let map = self.all(kind);
        self.by_seq[kind.index()]
            .values()
            .filter_map(|id| map.get(id))
            .collect()
    }

    /// Records of `kind` modified at or after `since_ms`, by `UpdatedDateUTC` then creation
    /// (the order a stable sort on `UpdatedDateUTC` gives), from the `skip`-th on, and how
    /// many there are in all.
    pub(super) fn modified_since(
        &self,
        kind: Kind,
        since_ms: Option<i64>,
        skip: usize,
    ) -> (usize, impl Iterator<Item = &Rec> + '_) {
        let k = kind.index();
        let list = &self.modified[k];
        let start = since_ms.map_or(0, |s| list.rank(&(s, 0)));
        let total = list.len() - start;
        let recs = list
            .iter_from(start.saturating_add(skip))
            .filter_map(move |(_, seq)| {
                self.by_seq[k]
                    .get(seq)
                    .and_then(|id| self.records[k].get(id))
            });
        (total, recs)
    }

    /// Records of `kind` whose `field` (one of [`LOOKUPS`]) may be `value` (trimmed, ASCII
    /// case-insensitively: the caller compares as it needs), by id.
    pub(super) fn lookup(
        &self,
        kind: Kind,
        field: &'static str,
        value: &str,
    ) -> impl Iterator<Item = (&String, &Rec)> + '_ {
        debug_assert!(LOOKUPS.contains(&(kind, field)), "{field} is not indexed");
        let map = self.all(kind);
        self.lookups
            .get(&(kind, field))
            .and_then(|m| m.get(&lookup_key(value)))
            .into_iter()
            .flatten()
            .filter_map(move |id| map.get_key_value(id))
    }

    /// Adds or removes `rec` (record `id` of `kind`) in the lookups.
    fn relink(&mut self, kind: Kind, id: &str, rec: &Rec, add: bool) {
        for (k, field) in LOOKUPS.iter().filter(|(k, _)| *k == kind) {
            let Some(v) = lookup_value(rec, field) else {
                continue;
            };
            let ids = self
                .lookups
                .entry((*k, field))
                .or_default()
                .entry(lookup_key(v))
                .or_default();
            if add {
                ids.insert(id.to_owned());
            } else {
                ids.remove(id);
            }
        }
    }

    /// Stores `rec` as record `id` of `kind`, keeping the indexes; returns the record replaced.
    fn store(&mut self, kind: Kind, id: String, rec: Rec) -> Option<Rec> {
        let k = kind.index();
        if let Some(o) = self.records[k].get(&id).cloned() {
            self.relink(kind, &id, &o, false);
            self.modified[k].remove(&(o.updated_ms, o.seq));
        }
        self.modified[k].insert((rec.updated_ms, rec.seq));
        self.by_seq[k].insert(rec.seq, id.clone());
        self.relink(kind, &id, &rec, true);
        self.records[k].insert(id, rec)
    }

    /// Removes record `id` of `kind`, keeping the indexes.
    fn unstore(&mut self, kind: Kind, id: &str) -> Option<Rec> {
        let k = kind.index();
        let old = self.records[k].remove(id)?;
        self.modified[k].remove(&(old.updated_ms, old.seq));
        self.by_seq[k].remove(&old.seq);
        self.relink(kind, id, &old, false);
        Some(old)
    }

    /// The record as the API renders it: stored fields plus `UpdatedDateUTC`.
    pub(super) fn render(&self, kind: Kind, rec: &Rec) -> Value {
        let mut body = rec.body.clone();
        body.insert("UpdatedDateUTC".into(), ms_date(rec.updated_ms).into());
        if matches!(kind, Kind::Invoices | Kind::Payments) {
            body.insert(
                "UpdatedDateUTCString".into(),
                datetime_string(rec.updated_ms).into(),
            );
        }
        if kind == Kind::Invoices {
            // The invoice's contact as it is now.
            let contact = body
                .get("Contact")
                .and_then(|c| c.get("ContactID"))
                .and_then(Value::as_str)
                .and_then(|id| self.get(Kind::Contacts, id))
                .map(|c| self.render(Kind::Contacts, c));
            if let Some(c) = contact {
                body.insert("Contact".into(), c);
            }
        }
        Value::Object(body)
    }

    /// The account a payment may use named by its `Account` (`Code` or `AccountID`): a bank
    /// account, or one with payments enabled.
    pub(super) fn account(&self, account: &Value) -> Option<&Value> {
        let code = account.get("Code").and_then(Value::as_str);
        let id = account.get("AccountID").and_then(Value::as_str);
        self.accounts.iter().find(|a| {
            a["EnablePaymentsToAccount"] == true
                && (code.is_some_and(|c| a["Code"].as_str() == Some(c))
                    || id.is_some_and(|i| {
                        a["AccountID"]
                            .as_str()
                            .is_some_and(|x| x.eq_ignore_ascii_case(i))
                    }))
        })
    }
}

/// The fields writes look records up by (see [`Tenant::lookup`]); `Invoice` is a payment's
/// `Invoice.InvoiceID`.
const LOOKUPS: [(Kind, &str); 5] = [
    (Kind::Contacts, "Name"),
    (Kind::Contacts, "ContactNumber"),
    (Kind::Invoices, "InvoiceNumber"),
    (Kind::Items, "Code"),
    (Kind::Payments, "Invoice"),
];

fn lookup_key(v: &str) -> String {
    v.trim().to_ascii_lowercase()
}

fn lookup_value<'r>(rec: &'r Rec, field: &str) -> Option<&'r str> {
    match field {
        "Invoice" => rec
            .body
            .get("Invoice")
            .and_then(|i| i.get("InvoiceID"))
            .and_then(Value::as_str),
        _ => rec.str(field),
    }
}

/// What one undo step restores.
type Undo = (Kind, String, Option<Rec>);

/// Writes to one tenant, undoable until dropped.
pub(super) struct Tx<'a> {
    pub(super) t: &'a mut Tenant,
    clock: &'a XeroClock,
    undo: Vec<Undo>,
    invoice_numbers: Vec<u64>,
    pub(super) changes: Vec<Change>,
}

/// A point [`Tx::rollback_to`] returns to.
#[derive(Clone, Copy, Debug)]
pub(super) struct Savepoint {
    undo: usize,
    numbers: usize,
    changes: usize,
}

impl<'a> Tx<'a> {
    pub(super) fn new(t: &'a mut Tenant, clock: &'a XeroClock) -> Self {
        Self {
            t,
            clock,
            undo: Vec::new(),
            invoice_numbers: Vec::new(),
            changes: Vec::new(),
        }
    }

    pub(super) fn get(&self, kind: Kind, id: &str) -> Option<&Rec> {
        self.t.get(kind, id)
    }

    /// Stores `body` as the record `id` of `kind`, stamped now; a change event unless `quiet`
    /// (derived fields such as `IsCustomer` change without one, and keep their timestamp).
    pub(super) fn put(&mut self, kind: Kind, id: &str, body: Map<String, Value>, quiet: bool) {
        let old = self.t.records[kind.index()].get(id).cloned();
        let created = old.is_none();
        let (updated_ms, seq) = match (&old, quiet) {
            (Some(o), true) => (o.updated_ms, o.seq),
            // A change is later than the record's previous stamp (see `XeroClock::after_ms`).
            (Some(o), false) => (self.clock.after_ms(o.updated_ms), o.seq),
            (None, _) => {
                self.t.next_seq += 1;
                (self.clock.now_ms(), self.t.next_seq)
            }
        };
        self.undo.push((kind, id.to_owned(), old));
        self.t.store(
            kind,
            id.to_owned(),
            Rec {
                body,
                updated_ms,
                seq,
            },
        );
        if !quiet || created {
            self.changes.push(Change {
                tenant_id: self.t.id().to_owned(),
                kind,
                id: id.to_owned(),
                created,
                at_ms: updated_ms,
            });
        }
    }

    /// Removes a record (Items are deleted for good).
    pub(super) fn remove(&mut self, kind: Kind, id: &str) -> bool {
        match self.t.unstore(kind, id) {
            Some(old) => {
                self.undo.push((kind, id.to_owned(), Some(old)));
                true
            }
            None => false,
        }
    }

    /// The next `INV-0001`-style number (undone with the rest).
    pub(super) fn next_invoice_number(&mut self) -> String {
        let n = self.t.next_invoice_number;
        self.invoice_numbers.push(n);
        self.t.next_invoice_number += 1;
        format!("INV-{n:04}")
    }

    pub(super) fn savepoint(&self) -> Savepoint {
        Savepoint {
            undo: self.undo.len(),
            numbers: self.invoice_numbers.len(),
            changes: self.changes.len(),
        }
    }

    /// Undoes everything done since `sp`.
    pub(super) fn rollback_to(&mut self, sp: Savepoint) {
        while self.undo.len() > sp.undo {
            let Some((kind, id, old)) = self.undo.pop() else {
                break;
            };
            match old {
                Some(rec) => {
                    self.t.store(kind, id, rec);
                }
                None => {
                    self.t.unstore(kind, &id);
                }
            }
        }
        if let Some(first) = self.invoice_numbers.get(sp.numbers) {
            self.t.next_invoice_number = *first;
        }
        self.invoice_numbers.truncate(sp.numbers);
        self.changes.truncate(sp.changes);
    }

    /// Now on the emulator clock (for dates the records carry).
    pub(super) fn now_ms(&self) -> i64 {
        self.clock.peek_ms()
    }
}

/// The emulator's whole mutable state.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) tenants: BTreeMap<String, Tenant>,
}

impl State {
    /// The tenant with this id (case-insensitive).
    pub(super) fn tenant_mut(&mut self, id: &str) -> Option<&mut Tenant> {
        let key = self
            .tenants
            .keys()
            .find(|k| k.eq_ignore_ascii_case(id))?
            .clone();
        self.tenants.get_mut(&key)
    }

    pub(super) fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(id))
            .map(|(_, t)| t)
    }
}
