//! The checks of every step of the Xero demo, on the final state of both sides and on what the
//! first sync showed.

use connec::record;
use serde_json::Value;

use super::text;
use super::xero_seed::{
    BAD_TAX, DEFERRED, FLAKY_ITEM, INVALID, PAID_IN_CONNEC, PAID_IN_XERO, VOIDED,
};
use super::xero_view::{Snapshot, hub_ref, lines_of};

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
        .is_some_and(|p| acme.is_some_and(|a| p["ParentContactID"] == a["ContactID"]));
    check(
        "complex contact Connec! -> Xero: 'Acme Corp' and Ann Lee are 1 Xero contact with Ann as its contact person".into(),
        ann,
    );
    let count = |codes: &[String], code: &str| codes.iter().filter(|c| *c == code).count();
    let hub_codes: Vec<String> = s
        .hub("items")
        .iter()
        .map(|i| text(i, "/reference"))
        .collect();
    let app_codes: Vec<String> = s.app("items").iter().map(|i| text(i, "/Code")).collect();
    let all = ["WIDGET", "CONSULT", "GADGET", FLAKY_ITEM]
        .iter()
        .all(|c| count(&hub_codes, c) == 1 && count(&app_codes, c) == 1);
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
    // References intact: each invoice's lines name the same items on both sides.
    let broken: Vec<String> = s
        .hub("invoices")
        .iter()
        .filter_map(|i| {
            let number = i["transaction_number"].as_str()?;
            let hub: Vec<String> = lines_of(i, "lines")
                .iter()
                .map(|l| s.hub_name("items", hub_ref(l.get("item_id")), "/reference"))
                .collect();
            let app: Vec<String> = s
                .app_by("invoices", "/InvoiceNumber", number)
                .map(|x| {
                    lines_of(x, "LineItems")
                        .iter()
                        .map(|l| text(l, "/ItemCode"))
                        .collect()
                })
                .unwrap_or_default();
            (hub != app || hub.iter().any(|c| c == "-")).then(|| {
                format!(
                    "{number} (Connec! {}, Xero {})",
                    hub.join("+"),
                    app.join("+")
                )
            })
        })
        .collect();
    check(
        if broken.is_empty() {
            "invoice lines: every line names the same item in Connec! and in Xero".to_owned()
        } else {
            format!(
                "invoice lines: every line names the same item in Connec! and in Xero; not: {}",
                broken.join(", ")
            )
        },
        broken.is_empty() && !s.hub("invoices").is_empty(),
    );
    out
}
