//! The mapping files load, name the pairs in sync order, and carry a sample record each way:
//! hub -> app -> hub and app -> hub -> app give back the mapped fields.

use std::sync::Arc;

use serde_json::{Value, json};
use sync_core::domain::Realm;
use sync_core::entity::EntityPair;
use sync_core::ports::{AppConnector, StaticToken};
use xero::{XeroConfig, XeroConnector};

fn connector() -> XeroConnector {
    XeroConnector::new(
        XeroConfig::new("http://127.0.0.1:9/api.xro/2.0").unwrap(),
        Realm::new("tenant-1"),
        Arc::new(StaticToken::new("token")),
    )
    .unwrap()
}

fn pair<'a>(connector: &'a XeroConnector, hub: &str) -> &'a EntityPair {
    connector
        .entity_pairs()
        .iter()
        .find(|p| p.hub.as_str() == hub)
        .unwrap()
}

fn round_trips(hub_name: &str, hub: Value, app: Value) {
    let connector = connector();
    let mapping = &pair(&connector, hub_name).mapping;
    assert_eq!(mapping.to_app(&hub).unwrap(), app, "{hub_name}: hub -> app");
    assert_eq!(mapping.to_hub(&app).unwrap(), hub, "{hub_name}: app -> hub");
    assert_eq!(
        mapping.to_hub(&mapping.to_app(&hub).unwrap()).unwrap(),
        hub,
        "{hub_name}: hub -> app -> hub"
    );
    assert_eq!(
        mapping.to_app(&mapping.to_hub(&app).unwrap()).unwrap(),
        app,
        "{hub_name}: app -> hub -> app"
    );
}

#[test]
fn pairs_come_in_sync_order_with_the_contacts_group() {
    let connector = connector();
    let pairs: Vec<(&str, &str)> = connector
        .entity_pairs()
        .iter()
        .map(|p| (p.hub.as_str(), p.app.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("organizations", "companies"),
            ("people", "persons"),
            ("items", "items"),
            ("invoices", "invoices"),
            ("payments", "payments"),
        ]
    );
    let groups = connector.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].app.as_str(), "contacts");
    let members: Vec<&str> = groups[0].members.iter().map(|m| m.as_str()).collect();
    assert_eq!(members, ["organizations", "people"]);
    // Payments are never updated in Xero.
    assert!(!pair(&connector, "payments").capabilities.app_update);
    assert!(pair(&connector, "invoices").capabilities.app_update);
}

#[test]
fn organizations_round_trip() {
    round_trips(
        "organizations",
        json!({
            "name": "Acme Ltd",
            "email": { "address": "office@acme.test" },
            "phone": { "landline": "847-1294", "mobile": "555-1212" },
            "address": {
                "billing": { "line1": "1 Main St", "city": "Palo Alto", "country": "US" },
                "shipping": { "city": "Anchorage" },
            },
            "is_customer": true,
            "is_supplier": false,
            "status": "ACTIVE",
        }),
        json!({
            "Name": "Acme Ltd",
            "EmailAddress": "office@acme.test",
            "Phones": {
                "DEFAULT": { "PhoneNumber": "847-1294" },
                "MOBILE": { "PhoneNumber": "555-1212" },
            },
            "Addresses": {
                "POBOX": { "AddressLine1": "1 Main St", "City": "Palo Alto", "Country": "US" },
                "STREET": { "City": "Anchorage" },
            },
            "IsCustomer": true,
            "IsSupplier": false,
            "ContactStatus": "ACTIVE",
        }),
    );
    // Xero's own flags travel to Connec! (Xero ignores them on writes; absent in Connec! they
    // are false, so both sides hash alike), and an archived contact is INACTIVE.
    let connector = connector();
    let mapping = &pair(&connector, "organizations").mapping;
    let hub = mapping
        .to_hub(&json!({ "Name": "A", "IsCustomer": true, "IsSupplier": false, "ContactStatus": "ARCHIVED" }))
        .unwrap();
    assert_eq!(
        hub,
        json!({ "name": "A", "is_customer": true, "is_supplier": false, "status": "INACTIVE" })
    );
    let app = mapping
        .to_app(&json!({ "name": "A", "is_customer": true, "status": "INACTIVE" }))
        .unwrap();
    assert_eq!(
        app,
        json!({ "Name": "A", "IsCustomer": true, "IsSupplier": false, "ContactStatus": "ARCHIVED" })
    );
}

#[test]
fn people_round_trip() {
    round_trips(
        "people",
        json!({
            "first_name": "Bo",
            "last_name": "Ng",
            "email": { "address": "bo@acme.test" },
            "status": "ACTIVE",
            "organization_id": "c-1",
        }),
        json!({
            "FirstName": "Bo",
            "LastName": "Ng",
            "EmailAddress": "bo@acme.test",
            "ContactStatus": "ACTIVE",
            "ParentContactID": "c-1",
        }),
    );
}

#[test]
fn items_round_trip() {
    round_trips(
        "items",
        json!({
            "reference": "WIDGET-1",
            "name": "Widget",
            "description": "A widget",
            "sale_price": { "net_amount": 10.5 },
            "purchase_price": { "net_amount": 4.25 },
        }),
        json!({
            "Code": "WIDGET-1",
            "Name": "Widget",
            "Description": "A widget",
            "SalesDetails": { "UnitPrice": 10.5 },
            "PurchaseDetails": { "UnitPrice": 4.25 },
        }),
    );
}

#[test]
fn invoices_round_trip() {
    round_trips(
        "invoices",
        json!({
            "type": "CUSTOMER",
            "transaction_number": "INV-0042",
            "transaction_date": "2024-05-01T00:00:00Z",
            "due_date": "2024-05-31T00:00:00Z",
            "amount": { "currency": "NZD" },
            "status": "AUTHORISED",
            "organization_id": "c-1",
            "lines": [{
                "description": "Widgets",
                "quantity": 3.0,
                "unit_price": { "net_amount": 10.5 },
                "tax_code": "OUTPUT2",
                "account_code": "200",
                "item_id": "item-1",
            }],
        }),
        json!({
            "Type": "ACCREC",
            "InvoiceNumber": "INV-0042",
            "Date": "/Date(1714521600000+0000)/",
            "DueDate": "/Date(1717113600000+0000)/",
            "CurrencyCode": "NZD",
            "Status": "AUTHORISED",
            "Contact": { "ContactID": "c-1" },
            "LineItems": [{
                "Description": "Widgets",
                "Quantity": 3.0,
                "UnitAmount": 10.5,
                "TaxType": "OUTPUT2",
                "AccountCode": "200",
                "Item": { "ItemID": "item-1" },
            }],
        }),
    );
}

#[test]
fn invoice_types_and_statuses_both_ways() {
    let connector = connector();
    let mapping = &pair(&connector, "invoices").mapping;
    let status_to_hub =
        |status: &str| mapping.to_hub(&json!({ "Status": status })).unwrap()["status"].clone();
    let status_to_app =
        |status: &str| mapping.to_app(&json!({ "status": status })).unwrap()["Status"].clone();
    for (xero, connec) in [
        ("DRAFT", "DRAFT"),
        ("SUBMITTED", "SUBMITTED"),
        ("AUTHORISED", "AUTHORISED"),
        ("PAID", "PAID"),
        ("DELETED", "INACTIVE"),
        ("VOIDED", "INACTIVE"),
    ] {
        assert_eq!(status_to_hub(xero), connec, "{xero}");
    }
    for status in ["DRAFT", "SUBMITTED", "AUTHORISED", "PAID"] {
        assert_eq!(status_to_app(status), status);
    }
    assert!(mapping.to_hub(&json!({ "Status": "ODD" })).is_err());
    for (xero, connec) in [("ACCREC", "CUSTOMER"), ("ACCPAY", "SUPPLIER")] {
        assert_eq!(
            mapping.to_hub(&json!({ "Type": xero })).unwrap()["type"],
            connec
        );
        assert_eq!(
            mapping.to_app(&json!({ "type": connec })).unwrap()["Type"],
            xero
        );
    }
    // The line's item reference and the invoice's contact are references the engine rewrites.
    let references: Vec<(String, String, String)> = mapping
        .references()
        .iter()
        .map(|r| (r.hub.to_string(), r.app.to_string(), r.entity.clone()))
        .collect();
    assert!(references.contains(&(
        "lines[].item_id".into(),
        "LineItems[].Item.ItemID".into(),
        "items".into()
    )));
    assert!(references.contains(&(
        "organization_id".into(),
        "Contact.ContactID".into(),
        "organizations".into()
    )));
}

#[test]
fn payments_round_trip() {
    round_trips(
        "payments",
        json!({
            "amount": { "total_amount": 25.5 },
            "transaction_date": "2024-05-02T00:00:00Z",
            "payment_reference": "Cheque 12",
            "status": "ACTIVE",
            "lines": [{ "amount": 25.5, "linked_transactions": [{ "id": "inv-1" }] }],
        }),
        json!({
            "Amount": 25.5,
            "Date": "/Date(1714608000000+0000)/",
            "Reference": "Cheque 12",
            "Status": "AUTHORISED",
            "Invoice": { "InvoiceID": "inv-1" },
        }),
    );
    let connector = connector();
    let mapping = &pair(&connector, "payments").mapping;
    assert_eq!(
        mapping.to_hub(&json!({ "Status": "DELETED" })).unwrap(),
        json!({ "status": "INACTIVE" })
    );
    // A payment born in Connec! without a status is an authorised one.
    assert_eq!(
        mapping
            .to_app(&json!({ "amount": { "total_amount": 5 } }))
            .unwrap(),
        json!({ "Amount": 5, "Status": "AUTHORISED" })
    );
}
