//! What the Xero demo reads back: both sides' records (Xero contacts split into their parts as
//! the connector splits them), and the final state as printed.

use std::collections::HashMap;
use std::fmt::Write;

use connec::record;
use serde_json::Value;
use sync_core::domain::AppEntityName;
use sync_core::ports::AppConnector;

use super::xero_seed::Sides;
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

    pub(super) fn hub(&self, collection: &str) -> &[Value] {
        self.hub.get(collection).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(super) fn app(&self, entity: &str) -> &[Value] {
        self.app.get(entity).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(super) fn hub_by(&self, collection: &str, pointer: &str, value: &str) -> Option<&Value> {
        self.hub(collection)
            .iter()
            .find(|r| r.pointer(pointer).and_then(Value::as_str) == Some(value))
    }

    pub(super) fn hub_name(&self, collection: &str, id: Option<String>, pointer: &str) -> String {
        id.and_then(|id| {
            self.hub(collection)
                .iter()
                .find(|r| record::hub_id(r).is_some_and(|h| h.as_str() == id))
        })
        .map_or_else(|| "-".into(), |r| text(r, pointer))
    }

    pub(super) fn app_by(&self, entity: &str, pointer: &str, value: &str) -> Option<&Value> {
        self.app(entity)
            .iter()
            .find(|r| r.pointer(pointer).and_then(Value::as_str) == Some(value))
    }
}

/// The id a Connec! reference field holds.
pub(super) fn hub_ref(value: Option<&Value>) -> Option<String> {
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

pub(super) fn lines_of<'a>(record: &'a Value, key: &str) -> &'a [Value] {
    record[key].as_array().map(Vec::as_slice).unwrap_or(&[])
}
