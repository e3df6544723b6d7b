//! The Xero demo's records: what is seeded on both sides before the first sync, and what
//! changes between the syncs. Every Xero write goes through the emulator with Xero's
//! validation, as a person using Xero would make it.

use connec::record;
use emulators::{ConnecEmulator, RecordFault, XeroEmulator};
use serde_json::{Value, json};

use super::GROUP;

/// The Xero-born sales invoice voided in Xero between the syncs.
pub(super) const VOIDED: &str = "INV-X-001";
/// The Xero-born sales invoice Connec! records a payment of.
pub(super) const PAID_IN_CONNEC: &str = "INV-X-002";
/// The Connec!-born invoice paid in Xero.
pub(super) const PAID_IN_XERO: &str = "INV-C-001";
/// The Connec!-born invoice whose line's item is refused once by Xero (deferred, then done).
pub(super) const DEFERRED: &str = "INV-C-002";
/// The Connec!-born invoice Xero refuses (an unknown tax code), fixed in Connec! later.
pub(super) const INVALID: &str = "INV-C-003";
/// The tax code Xero does not know.
pub(super) const BAD_TAX: &str = "GST-BOGUS";
/// The item code Xero refuses once (an injected fault: the deferred line's item).
pub(super) const FLAKY_ITEM: &str = "GIZMO";

/// One change between the syncs.
type Change<'a, 's> = fn(&'s Sides<'a>) -> Result<(), String>;

/// Both emulators and the tenant the demo writes to.
pub(super) struct Sides<'a> {
    /// Connec!.
    pub connec: &'a ConnecEmulator,
    /// Xero.
    pub xero: &'a XeroEmulator,
    /// The Xero tenant.
    pub tenant: &'a str,
}

impl Sides<'_> {
    fn hub(&self, collection: &str, record: Value) -> String {
        let stored = self.connec.seed(GROUP, collection, record);
        record::hub_id(&stored)
            .expect("a seeded record has an id")
            .to_string()
    }

    fn app(&self, collection: &str, record: Value) -> Value {
        self.xero.seed_in(self.tenant, collection, record)
    }

    /// The Connec! record of `collection` whose `pointer` is `value`.
    pub(super) fn hub_find(&self, collection: &str, pointer: &str, value: &str) -> Option<Value> {
        self.connec
            .records(GROUP, collection)
            .into_iter()
            .find(|r| r.pointer(pointer).and_then(Value::as_str) == Some(value))
    }

    /// The Xero record of `collection` whose `pointer` is `value`.
    pub(super) fn app_find(&self, collection: &str, pointer: &str, value: &str) -> Option<Value> {
        self.xero
            .records_in(self.tenant, collection)
            .into_iter()
            .find(|r| r.pointer(pointer).and_then(Value::as_str) == Some(value))
    }

    /// Seeds both sides (see the demo's output for what and why).
    pub(super) fn seed(&self) {
        // Xero: a company contact with two contact persons, a customer already.
        let initech = self.app(
            "Contacts",
            json!({
                "Name": "Initech Ltd",
                "EmailAddress": "accounts@initech.example",
                "Phones": [{ "PhoneType": "DEFAULT", "PhoneNumber": "+64 9 555 0101" }],
                "ContactPersons": [
                    { "FirstName": "Peter", "LastName": "Gibbons", "EmailAddress": "peter@initech.example" },
                    { "FirstName": "Samir", "LastName": "Nagheenanajar", "EmailAddress": "samir@initech.example" },
                ],
            }),
        );
        // Items: WIDGET on both sides (they merge on the code), one more on each side.
        self.app(
            "Items",
            json!({ "Code": "WIDGET", "Name": "Widget", "Description": "Steel widget",
                    "SalesDetails": { "UnitPrice": 25.0 } }),
        );
        self.app(
            "Items",
            json!({ "Code": "CONSULT", "Name": "Consulting hour", "Description": "One hour on site",
                    "SalesDetails": { "UnitPrice": 120.0 } }),
        );
        let contact = json!({ "ContactID": initech["ContactID"] });
        for (number, code, quantity) in [(VOIDED, "WIDGET", 4.0), (PAID_IN_CONNEC, "CONSULT", 3.0)]
        {
            self.app(
                "Invoices",
                json!({
                    "Type": "ACCREC", "InvoiceNumber": number, "Contact": contact,
                    "Date": "2026-11-20", "DueDate": "2026-12-20", "Status": "AUTHORISED",
                    "LineAmountTypes": "Exclusive", "CurrencyCode": "NZD",
                    "LineItems": [{ "ItemCode": code, "Quantity": quantity, "TaxType": "OUTPUT2",
                                    "AccountCode": "200" }],
                }),
            );
        }

        // Connec!: an organization with a person, and its invoices.
        let acme = self.hub(
            "organizations",
            json!({ "name": "Acme Corp", "email": { "address": "billing@acme.example" } }),
        );
        self.hub(
            "people",
            json!({ "first_name": "Ann", "last_name": "Lee", "email": { "address": "ann@acme.example" },
                    "organization_id": acme }),
        );
        let widget = self.hub(
            "items",
            json!({ "reference": "WIDGET", "name": "Widget", "description": "Steel widget",
                    "sale_price": { "net_amount": 25.0 } }),
        );
        self.hub(
            "items",
            json!({ "reference": "GADGET", "name": "Gadget", "description": "Pocket gadget",
                    "sale_price": { "net_amount": 40.0 } }),
        );
        let gizmo = self.hub(
            "items",
            json!({ "reference": FLAKY_ITEM, "name": "Gizmo", "description": "Spare gizmo",
                    "sale_price": { "net_amount": 15.0 } }),
        );
        // Xero refuses the Gizmo once: its invoice line cannot name it in the first sync.
        self.xero.fail_record(RecordFault {
            field: "Code".into(),
            value: json!(FLAKY_ITEM),
            times: Some(1),
        });
        for (number, item, quantity, price, tax) in [
            (PAID_IN_XERO, &widget, 2.0, 25.0, "OUTPUT2"),
            (DEFERRED, &gizmo, 5.0, 15.0, "OUTPUT2"),
            (INVALID, &widget, 1.0, 25.0, BAD_TAX),
        ] {
            self.hub(
                "invoices",
                json!({
                    "type": "CUSTOMER", "transaction_number": number, "status": "AUTHORISED",
                    "transaction_date": "2026-11-25T00:00:00Z", "due_date": "2026-12-25T00:00:00Z",
                    "amount": { "currency": "NZD" }, "organization_id": acme,
                    "lines": [{ "item_id": item, "description": format!("{number} line"),
                                "quantity": quantity, "unit_price": { "net_amount": price },
                                "tax_code": tax, "account_code": "200" }],
                }),
            );
        }
    }

    /// Between the syncs: the invalid invoice fixed in Connec!, an invoice voided in Xero, a
    /// payment on each side. One line per change: what was done, or why it could not be.
    pub(super) fn change(&self) -> Vec<String> {
        let changes: [(&str, Change<'_, '_>); 4] = [
            (
                "the tax code of INV-C-003 fixed in Connec! (OUTPUT2)",
                Self::fix_invalid,
            ),
            ("INV-X-001 voided in Xero", Self::void_in_xero),
            ("INV-C-001 paid 20.00 in Xero", Self::pay_in_xero),
            ("INV-X-002 paid 100.00 in Connec!", Self::pay_in_connec),
        ];
        changes
            .iter()
            .map(|(what, change)| match change(self) {
                Ok(()) => format!("  {what}"),
                Err(why) => format!("  NOT done: {what}: {why}"),
            })
            .collect()
    }

    fn try_app(&self, collection: &str, record: Value) -> Result<Value, String> {
        self.xero
            .try_seed_in(self.tenant, collection, vec![record])
            .map_err(|e| format!("Xero refused it: {e}"))?
            .pop()
            .ok_or_else(|| "Xero returned nothing".into())
    }

    fn fix_invalid(&self) -> Result<(), String> {
        let invalid = self
            .hub_find("invoices", "/transaction_number", INVALID)
            .ok_or_else(|| format!("{INVALID} is not in Connec!"))?;
        let mut lines = invalid["lines"].clone();
        if let Some(line) = lines.get_mut(0) {
            line["tax_code"] = json!("OUTPUT2");
        }
        let id = record::hub_id(&invalid).ok_or("the invoice has no id")?;
        self.connec
            .update(GROUP, "invoices", id.as_str(), json!({ "lines": lines }))
            .map(|_| ())
            .ok_or_else(|| "Connec! refused the update".into())
    }

    fn void_in_xero(&self) -> Result<(), String> {
        let voided = self
            .app_find("Invoices", "/InvoiceNumber", VOIDED)
            .ok_or_else(|| format!("{VOIDED} is not in Xero"))?;
        self.try_app(
            "Invoices",
            json!({ "InvoiceID": voided["InvoiceID"], "Status": "VOIDED" }),
        )
        .map(|_| ())
    }

    fn pay_in_xero(&self) -> Result<(), String> {
        let paid = self
            .app_find("Invoices", "/InvoiceNumber", PAID_IN_XERO)
            .ok_or_else(|| format!("{PAID_IN_XERO} did not reach Xero in the first sync"))?;
        self.try_app(
            "Payments",
            json!({ "Invoice": { "InvoiceID": paid["InvoiceID"] }, "Account": { "Code": "090" },
                    "Amount": 20.0, "Date": "2026-12-01", "Reference": "Card 4242" }),
        )
        .map(|_| ())
    }

    fn pay_in_connec(&self) -> Result<(), String> {
        let to_pay = self
            .hub_find("invoices", "/transaction_number", PAID_IN_CONNEC)
            .ok_or_else(|| format!("{PAID_IN_CONNEC} did not reach Connec! in the first sync"))?;
        let to_pay = record::hub_id(&to_pay).ok_or("the invoice has no id")?;
        self.hub(
            "payments",
            json!({ "transaction_date": "2026-12-02T00:00:00Z", "payment_reference": "Transfer 77",
                    "lines": [{ "amount": 100.0,
                                "linked_transactions": [{ "id": to_pay.as_str(), "class": "Invoice" }] }] }),
        );
        Ok(())
    }
}
