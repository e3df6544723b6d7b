//! Match-before-create against a fixture server: contacts by exact name then e-mail, persons in
//! their company, items by code, invoices by number, payments never.

mod common;

use std::sync::Arc;

use common::{Answer, serve};
use http_client::HttpConfig;
use serde_json::json;
use sync_core::domain::{AppEntityName, AppId, HubId, Realm};
use sync_core::ports::{AppConnector, MatchQuery, StaticToken};
use xero::contacts::member_id;
use xero::{XeroConfig, XeroConnector};

fn connector(url: &str) -> XeroConnector {
    let mut config = XeroConfig::new(&format!("{url}/api.xro/2.0")).unwrap();
    config.http = HttpConfig::fast();
    XeroConnector::new(
        config,
        Realm::new("tenant-1"),
        Arc::new(StaticToken::new("tok")),
    )
    .unwrap()
}

fn query(record: serde_json::Value) -> MatchQuery {
    MatchQuery {
        hub_id: HubId::new("hub-1"),
        record,
    }
}

fn ids(values: &[&str]) -> Vec<AppId> {
    values.iter().map(|v| AppId::new(*v)).collect()
}

#[tokio::test]
async fn companies_match_on_exact_name_then_email() {
    let server = serve(|seen| {
        let term = seen.query("searchTerm").unwrap_or("").to_owned();
        let contacts = match term.as_str() {
            "Acme Ltd" => json!([
                { "ContactID": "c-acme", "Name": "ACME  ltd", "ContactStatus": "ACTIVE" },
                { "ContactID": "c-acme-nz", "Name": "Acme Ltd NZ", "ContactStatus": "ACTIVE" },
                { "ContactID": "c-old", "Name": "Acme Ltd", "ContactStatus": "ARCHIVED" },
            ]),
            "office@acme.test" => json!([
                { "ContactID": "c-mail", "Name": "Acme Holdings", "EmailAddress": "Office@Acme.test" },
                { "ContactID": "c-acme", "Name": "Acme Ltd", "EmailAddress": "office@acme.test" },
                // A person with that e-mail is no company.
                { "ContactID": "c-person", "Name": "Ann Lee", "FirstName": "Ann", "LastName": "Lee",
                  "EmailAddress": "office@acme.test" },
            ]),
            _ => json!([]),
        };
        Answer::ok(json!({ "Contacts": contacts }))
    })
    .await;
    let xero = connector(&server.url);
    let matches = xero
        .find_matches(
            &AppEntityName::new("companies"),
            &[
                query(json!({ "Name": "Acme Ltd", "EmailAddress": "office@acme.test" })),
                query(json!({ "Name": "Nobody" })),
            ],
        )
        .await
        .unwrap();
    assert_eq!(matches[0].marked, None);
    assert_eq!(matches[0].natural, ids(&["c-acme", "c-mail"]));
    assert!(matches[1].natural.is_empty());
    let seen = server.seen();
    assert_eq!(seen.len(), 3, "one search per distinct term");
    assert_eq!(seen[0].query("searchTerm"), Some("Acme Ltd"));
    assert_eq!(seen[0].header("xero-tenant-id"), Some("tenant-1"));
}

#[tokio::test]
async fn persons_match_in_their_company_or_as_person_contacts() {
    let server = serve(|seen| {
        if let Some(parents) = seen.query("IDs") {
            assert_eq!(parents, "c-1");
            return Answer::ok(json!({ "Contacts": [{
                "ContactID": "c-1", "Name": "Acme",
                "ContactPersons": [{ "FirstName": "Bo", "EmailAddress": "bo@acme.test" }],
            }]}));
        }
        Answer::ok(json!({ "Contacts": [
            { "ContactID": "c-ann", "Name": "Ann Lee", "FirstName": "Ann", "LastName": "Lee" },
            { "ContactID": "c-co", "Name": "Ann Lee", "ContactPersons": [{ "FirstName": "X" }] },
        ]}))
    })
    .await;
    let xero = connector(&server.url);
    let matches = xero
        .find_matches(
            &AppEntityName::new("persons"),
            &[
                query(json!({ "FirstName": "Bo", "EmailAddress": "BO@acme.test", "ParentContactID": "c-1" })),
                query(json!({ "FirstName": "Cy", "EmailAddress": "cy@acme.test", "ParentContactID": "c-1" })),
                query(json!({ "FirstName": "Ann", "LastName": "Lee" })),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        matches[0].natural,
        ids(&[&member_id("c-1", "bo@acme.test")])
    );
    assert!(matches[1].natural.is_empty());
    assert_eq!(matches[2].natural, ids(&["c-ann"]));
}

#[tokio::test]
async fn items_match_on_code_invoices_on_number_and_payments_never() {
    let server = serve(|seen| match seen.path.as_str() {
        "/api.xro/2.0/Items" => Answer::ok(json!({ "Items": [
            { "ItemID": "i-1", "Code": "w1" }, { "ItemID": "i-2", "Code": "W2" },
        ]})),
        _ => Answer::ok(json!({ "Invoices": [
            { "InvoiceID": "inv-1", "InvoiceNumber": "INV-1", "Type": "ACCREC", "Status": "AUTHORISED" },
            { "InvoiceID": "bill-1", "InvoiceNumber": "INV-1", "Type": "ACCPAY", "Status": "DRAFT" },
            { "InvoiceID": "inv-old", "InvoiceNumber": "INV-2", "Type": "ACCREC", "Status": "VOIDED" },
        ]})),
    })
    .await;
    let xero = connector(&server.url);
    let items = xero
        .find_matches(
            &AppEntityName::new("items"),
            &[
                query(json!({ "Code": "W1" })),
                query(json!({ "Name": "no code" })),
            ],
        )
        .await
        .unwrap();
    assert_eq!(items[0].natural, ids(&["i-1"]));
    assert!(items[1].natural.is_empty());
    let invoices = xero
        .find_matches(
            &AppEntityName::new("invoices"),
            &[
                query(json!({ "InvoiceNumber": "INV-1", "Type": "ACCREC" })),
                query(json!({ "InvoiceNumber": "INV-2", "Type": "ACCREC" })),
            ],
        )
        .await
        .unwrap();
    assert_eq!(invoices[0].natural, ids(&["inv-1"]));
    assert!(
        invoices[1].natural.is_empty(),
        "a voided invoice is no match"
    );
    let invoice_call = server
        .seen()
        .into_iter()
        .find(|s| s.path.ends_with("/Invoices"))
        .unwrap();
    assert_eq!(invoice_call.query("InvoiceNumbers"), Some("INV-1,INV-2"));
    let calls = server.seen().len();
    let payments = xero
        .find_matches(
            &AppEntityName::new("payments"),
            &[query(json!({ "Amount": 1 }))],
        )
        .await
        .unwrap();
    assert_eq!(payments, vec![Default::default()]);
    assert_eq!(server.seen().len(), calls, "no call for payments");
}
