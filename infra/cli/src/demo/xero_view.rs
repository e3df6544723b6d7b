//! What the Xero demo reads back: both sides' records (Xero contacts split into their parts as
//! the connector splits them), the final state as printed, and the checks of every step.

use std::collections::HashMap;
use std::fmt::Write;

use connec::record;
use serde_json::Value;
use sync_core::domain::AppEntityName;
use sync_core::ports::AppConnector;

use super::xero_seed::{
    BAD_TAX, DEFERRED, FLAKY_ITEM, INVALID, PAID_IN_CONNEC, PAID_IN_XERO, Sides, VOIDED,
};
use super::{GROUP, text};

/// Connec! collections of the Xero pairs.
const HUB: [&str; 5] = ["organizations", "people", "items", "invoices", "payments"];

/// Every record of both sides: hub collections, and app entities (`companies` and `persons`
/// are the parts of Xero's contacts).
pub(super) struct Snapshot {
    pub hub: HashMap<String, Vec<Value>>,
    pub app: HashMap<String, Vec<Value>>,
}

impl Snapshot {
    pub(super) fn take(sides: &Sides<'_>, connector: &dyn AppConnector) -> Result<Self, String> {
        let hub = HUB
            .iter()
            .map(|c| ((*c).to_owned(), sides.connec.records(GROUP, c)))
            .collect();
        let mut app: HashMap<String, Vec<Value>> = HashMap::new();
        let contacts = AppEntityName::new("contacts");
        for contact in sides.xero.records_in(sides.tenant, "Contacts") {
            let parts = connector
                .split(&contacts, contact)
                .map_err(|e| format!("a Xero contact does not split: {e}"))?;
            for part in parts {
                app.entry(part.entity.to_string())
                    .or_default()
                    .push(part.record);
            }
        }
        for (entity, collection) in [
            ("items", "Items"),
            ("invoices", "Invoices"),
            ("payments", "Payments"),
        ] {
            app.insert(
                entity.to_owned(),
                sides.xero.records_in(sides.tenant, collection),
            );
        }
        Ok(Self { hub, app })
    }

    fn hub(&self, collection: &str) -> &[Value] {
        self.hub.get(collection).map(Vec::as_slice).unwrap_or(&[])
    }

    fn app(&self, entity: &str) -> &[Value] {
        self.app.get(entity).map(Vec::as_slice).unwrap_or(&[])
    }

    fn hub_by(&self, collection: &str, pointer: &str, value: &str) -> Option<&Value> {
        self.hub(collection)
            .iter()
            .find(|r| r.pointer(pointer).and_then(Value::as_str) == Some(value))
    }

    fn hub_name(&self, collection: &str, id: Option<String>, pointer: &str) -> String {
        id.and_then(|id| {
            self.hub(collection)
                .iter()
                .find(|r| record::hub_id(r).is_some_and(|h| h.as_str() == id))
        })
        .map_or_else(|| "-".into(), |r| text(r, pointer))
    }

    fn app_by(&self, entity: &str, pointer: &str, value: &str) -> Option<&Value> {
        self.app(entity)
            .iter()
            .find(|r| r.pointer(pointer).and_then(Value::as_str) == Some(value))
    }
}

/// The id a Connec! reference field holds.
fn hub_ref(value: Option<&Value>) -> Option<String> {
    value.and_then(record::connec_ref).map(|id| id.to_string())
}

/// The final state of both sides, as printed.
pub(super) fn final_state(s: &Snapshot) -> String {
    let mut out = String::from("Final state\n  Connec! organizations and people:\n");
    for o in s.hub("organizations") {
        let id = record::hub_id(o).map(|i| i.to_string());
        let people: Vec<String> = s
            .hub("people")
            .iter()
            .filter(|p| hub_ref(p.get("organization_id")) == id)
            .map(|p| format!("{} {}", text(p, "/first_name"), text(p, "/last_name")))
            .collect();
        let _ = writeln!(
            out,
            "    {:<14} people: {}",
            text(o, "/name"),
            people.join(", ")
        );
    }
    let items: Vec<String> = s
        .hub("items")
        .iter()
        .map(|i| text(i, "/reference"))
        .collect();
    let _ = writeln!(out, "  Connec! items: {}", items.join(", "));
    out.push_str("  Connec! invoices:\n");
    for i in s.hub("invoices") {
        let lines: Vec<String> = lines_of(i, "lines")
            .iter()
            .map(|l| s.hub_name("items", hub_ref(l.get("item_id")), "/reference"))
            .collect();
        let _ = writeln!(
            out,
            "    {:<10} {:<14} {:<10} net {:>7}  items: {}",
            text(i, "/transaction_number"),
            s.hub_name("organizations", hub_ref(i.get("organization_id")), "/name"),
            text(i, "/status"),
            money(i.pointer("/amount/net_amount")),
            lines.join(", ")
        );
    }
    for p in s.hub("payments") {
        let invoice = hub_ref(p.pointer("/lines/0/linked_transactions/0/id"));
        let _ = writeln!(
            out,
            "  Connec! payment {:>7} of {}",
            money(
                p.pointer("/amount/total_amount")
                    .or_else(|| p.get("amount"))
            ),
            s.hub_name("invoices", invoice, "/transaction_number")
        );
    }
    out.push_str("  Xero contacts:\n");
    for c in s.app("companies") {
        let id = c["ContactID"].as_str();
        let persons: Vec<String> = s
            .app("persons")
            .iter()
            .filter(|p| p["ParentContactID"].as_str() == id)
            .map(|p| format!("{} {}", text(p, "/FirstName"), text(p, "/LastName")))
            .collect();
        let _ = writeln!(
            out,
            "    {:<14} contact persons: {}",
            text(c, "/Name"),
            persons.join(", ")
        );
    }
    let items: Vec<String> = s.app("items").iter().map(|i| text(i, "/Code")).collect();
    let _ = writeln!(out, "  Xero items: {}", items.join(", "));
    out.push_str("  Xero invoices:\n");
    for i in s.app("invoices") {
        let lines: Vec<String> = lines_of(i, "LineItems")
            .iter()
            .map(|l| text(l, "/ItemCode"))
            .collect();
        let _ = writeln!(
            out,
            "    {:<10} {:<14} {:<10} net {:>7}  items: {}",
            text(i, "/InvoiceNumber"),
            text(i, "/Contact/Name"),
            text(i, "/Status"),
            money(i.get("SubTotal")),
            lines.join(", ")
        );
    }
    for p in s.app("payments") {
        let _ = writeln!(
            out,
            "  Xero payment {:>7} of {}",
            money(p.get("Amount")),
            text(p, "/Invoice/InvoiceNumber")
        );
    }
    out
}

/// An amount with 2 decimals, or `-`.
fn money(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_f64)
        .map_or_else(|| "-".into(), |v| format!("{v:.2}"))
}

fn lines_of<'a>(record: &'a Value, key: &str) -> &'a [Value] {
    record[key].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// One expected step and whether it happened.
pub struct Check {
    /// What should have happened.
    pub step: String,
    /// Whether it did.
    pub ok: bool,
}

/// What the first sync showed.
pub(super) struct FirstSync {
    /// It deferred the invoice whose line's item Xero refused.
    pub deferred: bool,
    /// The last error of the invalid invoice's id-map.
    pub invalid_error: Option<String>,
    /// The valid Connec! invoice reached Xero in the same run.
    pub others_travelled: bool,
}

/// The checks of every step of the demo, on the final state and what the first sync showed.
pub(super) fn checks(s: &Snapshot, first: &FirstSync) -> Vec<Check> {
    let mut out = Vec::new();
    let mut check = |step: String, ok: bool| out.push(Check { step, ok });

    let initech = s.hub_by("organizations", "/name", "Initech Ltd");
    let initech_id = initech.and_then(record::hub_id).map(|i| i.to_string());
    let members = ["peter@initech.example", "samir@initech.example"]
        .iter()
        .filter(|e| {
            s.hub_by("people", "/email/address", e).is_some_and(|p| {
                initech_id.is_some() && hub_ref(p.get("organization_id")) == initech_id
            })
        })
        .count();
    check(
        "complex contact Xero -> Connec!: 'Initech Ltd' and its 2 contact persons are 1 organization and 2 people referencing it".into(),
        members == 2,
    );
    let acme = s.app_by("companies", "/Name", "Acme Corp");
    let ann = s
        .app_by("persons", "/EmailAddress", "ann@acme.example")
        .is_some_and(|p| acme.is_some() && p["ParentContactID"] == acme.unwrap()["ContactID"]);
    check(
        "complex contact Connec! -> Xero: 'Acme Corp' and Ann Lee are 1 Xero contact with Ann as its contact person".into(),
        ann,
    );
    let count = |codes: Vec<String>, code: &str| codes.iter().filter(|c| *c == code).count();
    let hub_codes: Vec<String> = s
        .hub("items")
        .iter()
        .map(|i| text(i, "/reference"))
        .collect();
    let app_codes: Vec<String> = s.app("items").iter().map(|i| text(i, "/Code")).collect();
    let all = ["WIDGET", "CONSULT", "GADGET", FLAKY_ITEM]
        .iter()
        .all(|c| count(hub_codes.clone(), c) == 1 && count(app_codes.clone(), c) == 1);
    check(
        "items both ways: WIDGET merged on its code, CONSULT to Connec!, GADGET and GIZMO to Xero, once each".into(),
        all,
    );
    let deferred_done = s
        .app_by("invoices", "/InvoiceNumber", DEFERRED)
        .is_some_and(|i| {
            lines_of(i, "LineItems")
                .iter()
                .any(|l| l["ItemCode"].as_str() == Some(FLAKY_ITEM))
        });
    check(
        format!(
            "deferred line: {DEFERRED} waited for its item {FLAKY_ITEM} in the first sync, then reached Xero naming it"
        ),
        first.deferred && deferred_done,
    );
    let named = first
        .invalid_error
        .as_deref()
        .is_some_and(|e| e.contains(BAD_TAX));
    let fixed = s.app_by("invoices", "/InvoiceNumber", INVALID).is_some();
    check(
        format!(
            "validation error: {INVALID} failed alone with Xero's message naming {BAD_TAX}, then travelled once fixed"
        ),
        named && first.others_travelled && fixed,
    );
    let voided = s
        .hub_by("invoices", "/transaction_number", VOIDED)
        .is_some_and(|i| i["status"] == "INACTIVE");
    check(
        format!("voided invoice: {VOIDED} voided in Xero is INACTIVE in Connec!"),
        voided,
    );
    let invoice_id = |number: &str| {
        s.hub_by("invoices", "/transaction_number", number)
            .and_then(record::hub_id)
            .map(|i| i.to_string())
    };
    let paid_in_xero = invoice_id(PAID_IN_XERO);
    let linked = s.hub("payments").iter().any(|p| {
        paid_in_xero.is_some()
            && hub_ref(p.pointer("/lines/0/linked_transactions/0/id")) == paid_in_xero
    });
    check(
        format!(
            "payment Xero -> Connec!: the payment of {PAID_IN_XERO} made in Xero is a Connec! payment linked to it"
        ),
        linked,
    );
    let paid_in_connec = s
        .app_by("invoices", "/InvoiceNumber", PAID_IN_CONNEC)
        .and_then(|i| i["InvoiceID"].as_str());
    let linked = s.app("payments").iter().any(|p| {
        paid_in_connec.is_some()
            && p.pointer("/Invoice/InvoiceID").and_then(Value::as_str) == paid_in_connec
    });
    check(
        format!(
            "payment Connec! -> Xero: the payment of {PAID_IN_CONNEC} recorded in Connec! is a Xero payment of it"
        ),
        linked,
    );
    out
}
