//! Xero emulator: items, invoices and payments over real HTTP — unpaged items and unique
//! codes, invoice totals, numbers and status transitions, payments marking invoices PAID
//! and their deletion reverting it, and Idempotency-Key replays.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

#[path = "support/xero_api.rs"]
mod xero_api;
use xero_api::Api;

#[tokio::test]
async fn items_are_unpaged_codes_unique_and_deleted_for_good() {
    let api = Api::new().await;
    for i in 0..120 {
        api.emu.seed(
            "Items",
            json!({ "Code": format!("C{i:03}"), "Name": format!("Item {i}") }),
        );
    }
    let (s, all) = api.get("Items?page=1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["Items"].as_array().unwrap().len(), 120);
    assert!(all.get("pagination").is_none());

    api.emu.advance(Duration::from_secs(60));
    let since = api.emu.now_ms();
    let (s, err) = api
        .put(
            "Items",
            json!({ "Items": [{ "Code": "c005", "Name": "Dup" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        err["Elements"][0]["ValidationErrors"][0]["Message"],
        "Price List Item with Code 'c005' already exists"
    );
    let (s, created) = api
        .put(
            "Items",
            json!({ "Items": [{ "Code": "NEW-1", "Name": "Widget",
            "SalesDetails": { "UnitPrice": 12.5, "AccountCode": "200" } }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let item_id = created["Items"][0]["ItemID"].as_str().unwrap().to_owned();
    // POST by code updates that item.
    let (s, upd) = api
        .post(
            "Items",
            json!({ "Items": [{ "Code": "NEW-1", "Name": "Widget 2" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(upd["Items"][0]["ItemID"], item_id.as_str());
    // Changing a code onto another's is refused.
    let (s, _) = api
        .post(
            &format!("Items/{item_id}"),
            json!({ "Items": [{ "Code": "C001" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let since_s = chrono::DateTime::from_timestamp_millis(since)
        .unwrap()
        .to_rfc2822();
    let (_, changed) = api.get_since("Items", &since_s).await;
    let codes: Vec<&str> = changed["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["Code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["NEW-1"]);

    let r = api
        .req(reqwest::Method::DELETE, &format!("Items/{item_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (s, _) = api.get(&format!("Items/{item_id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let r = api
        .req(reqwest::Method::DELETE, &format!("Items/{item_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.emu.records("Items").len(), 120);
}

async fn invoice(api: &Api, body: Value) -> (StatusCode, Value) {
    api.put("Invoices", json!({ "Invoices": [body] })).await
}

#[tokio::test]
async fn invoices_compute_totals_number_themselves_and_mark_the_contact() {
    let api = Api::new().await;
    let contact = api.emu.seed("Contacts", json!({ "Name": "Customer A" }));
    let cid = contact["ContactID"].as_str().unwrap();
    let supplier = api.emu.seed("Contacts", json!({ "Name": "Supplier B" }));
    api.emu.seed(
        "Items",
        json!({ "Code": "GUITAR", "Description": "Fender Strat",
            "SalesDetails": { "UnitPrice": 100.0, "AccountCode": "200", "TaxType": "OUTPUT2" } }),
    );
    let (s, v) = invoice(
        &api,
        json!({
            "Type": "ACCREC", "Contact": { "ContactID": cid },
            "Date": "2026-01-31", "DueDate": "/Date(1772236800000+0000)/",
            "LineAmountTypes": "Exclusive",
            "LineItems": [
                { "ItemCode": "GUITAR", "Quantity": 2 },
                { "Description": "Strings", "Quantity": 3, "UnitAmount": 10.0, "TaxType": "NONE", "AccountCode": "200" }
            ]
        }),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let inv = &v["Invoices"][0];
    assert_eq!(inv["InvoiceNumber"], "INV-0001");
    assert_eq!(inv["Status"], "DRAFT");
    assert_eq!(inv["SubTotal"], 230.0);
    assert_eq!(inv["TotalTax"], 30.0);
    assert_eq!(inv["Total"], 260.0);
    assert_eq!(inv["AmountDue"], 260.0);
    assert_eq!(inv["AmountPaid"], 0.0);
    assert_eq!(inv["CurrencyCode"], "NZD");
    assert_eq!(inv["Date"], "/Date(1769817600000+0000)/");
    assert_eq!(inv["DateString"], "2026-01-31T00:00:00");
    assert_eq!(inv["DueDate"], "/Date(1772236800000+0000)/");
    let l0 = &inv["LineItems"][0];
    assert!(l0["LineItemID"].is_string());
    assert_eq!(l0["Description"], "Fender Strat");
    assert_eq!(
        (
            l0["UnitAmount"].as_f64(),
            l0["LineAmount"].as_f64(),
            l0["TaxAmount"].as_f64()
        ),
        (Some(100.0), Some(200.0), Some(30.0))
    );
    assert_eq!(inv["Contact"]["Name"], "Customer A");
    assert_eq!(inv["Contact"]["IsCustomer"], true);

    // Inclusive amounts.
    let (_, v) = invoice(
        &api,
        json!({ "Type": "ACCPAY", "Contact": { "ContactID": supplier["ContactID"] },
            "LineAmountTypes": "Inclusive",
            "LineItems": [{ "Description": "Rent", "Quantity": 1, "UnitAmount": 115.0, "TaxType": "INPUT2" }] }),
    )
    .await;
    let bill = &v["Invoices"][0];
    assert_eq!(
        (
            bill["SubTotal"].as_f64(),
            bill["TotalTax"].as_f64(),
            bill["Total"].as_f64()
        ),
        (Some(100.0), Some(15.0), Some(115.0))
    );
    assert!(bill.get("InvoiceNumber").is_none_or(Value::is_null));
    let (_, sup) = api
        .get(&format!(
            "Contacts/{}",
            supplier["ContactID"].as_str().unwrap()
        ))
        .await;
    assert_eq!(sup["Contacts"][0]["IsSupplier"], true);
    assert_eq!(sup["Contacts"][0]["IsCustomer"], false);

    // A contact given by an unknown name is created.
    let (s, v) = invoice(
        &api,
        json!({ "Type": "ACCREC", "Contact": { "Name": "Walk-in Customer" },
            "LineItems": [{ "Description": "x", "Quantity": 1, "UnitAmount": 5 }] }),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["Invoices"][0]["InvoiceNumber"], "INV-0002");
    assert!(
        api.emu
            .records("Contacts")
            .iter()
            .any(|c| c["Name"] == "Walk-in Customer")
    );

    // Validation: unknown contact, unknown item, missing Type, duplicate number.
    let cases = [
        (
            json!({ "Type": "ACCREC", "Contact": { "ContactID": "00000000-0000-0000-0000-00000000abcd" } }),
            "The contact with ContactID 00000000-0000-0000-0000-00000000abcd could not be found.",
        ),
        (
            json!({ "Type": "ACCREC", "Contact": { "ContactID": cid }, "LineItems": [{ "ItemCode": "NOPE" }] }),
            "Item code 'NOPE' is not valid.",
        ),
        (
            json!({ "Contact": { "ContactID": cid } }),
            "Invoice Type must be specified.",
        ),
        (
            json!({ "Type": "ACCREC", "Contact": { "ContactID": cid }, "InvoiceNumber": "INV-0001" }),
            "Invoice # must be unique.",
        ),
        (
            json!({ "Type": "ACCREC" }),
            "The Contact must contain at least 1 of the following elements to identify the contact: Name, ContactID, ContactNumber",
        ),
    ];
    for (body, message) in cases {
        let (s, err) = invoice(&api, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{message}");
        let msgs: Vec<&str> = err["Elements"][0]["ValidationErrors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Message"].as_str().unwrap())
            .collect();
        assert!(msgs.contains(&message), "{msgs:?} lacks {message}");
    }
    assert_eq!(api.emu.records("Invoices").len(), 3);

    // Statuses filter.
    let (_, drafts) = api.get("Invoices?Statuses=DRAFT&page=1").await;
    assert_eq!(drafts["pagination"]["itemCount"], 3);
    let (_, none) = api.get("Invoices?Statuses=PAID,VOIDED").await;
    assert!(none["Invoices"].as_array().unwrap().is_empty());
}

async fn set_status(api: &Api, id: &str, status: &str) -> (StatusCode, Value) {
    api.post(
        &format!("Invoices/{id}"),
        json!({ "Invoices": [{ "Status": status }] }),
    )
    .await
}

fn first_message(err: &Value) -> String {
    err["Elements"][0]["ValidationErrors"][0]["Message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn invoice_status_transitions_and_payments() {
    let api = Api::new().await;
    let contact = api.emu.seed("Contacts", json!({ "Name": "Payer" }));
    let new_invoice = || {
        json!({ "Type": "ACCREC", "Contact": { "ContactID": contact["ContactID"] },
            "LineItems": [{ "Description": "Work", "Quantity": 1, "UnitAmount": 100.0 }] })
    };
    // DRAFT -> DELETED; DELETED is final.
    let (_, v) = invoice(&api, new_invoice()).await;
    let d = v["Invoices"][0]["InvoiceID"].as_str().unwrap().to_owned();
    assert_eq!(
        set_status(&api, &d, "DELETED").await.1["Invoices"][0]["Status"],
        "DELETED"
    );
    let (s, err) = set_status(&api, &d, "DRAFT").await;
    assert_eq!(
        (s, first_message(&err).as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Invoice not of valid status for modification"
        )
    );

    // SUBMITTED -> AUTHORISED -> VOIDED; AUTHORISED cannot be DELETED.
    let (_, v) = invoice(&api, new_invoice()).await;
    let a = v["Invoices"][0]["InvoiceID"].as_str().unwrap().to_owned();
    assert_eq!(set_status(&api, &a, "SUBMITTED").await.0, StatusCode::OK);
    assert_eq!(set_status(&api, &a, "AUTHORISED").await.0, StatusCode::OK);
    assert_eq!(
        set_status(&api, &a, "DELETED").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        set_status(&api, &a, "DRAFT").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        set_status(&api, &a, "VOIDED").await.1["Invoices"][0]["Status"],
        "VOIDED"
    );
    assert_eq!(
        set_status(&api, &a, "AUTHORISED").await.0,
        StatusCode::BAD_REQUEST
    );
    let (s, err) = api
        .post(
            &format!("Invoices/{a}"),
            json!({ "Invoices": [{ "Reference": "late edit" }] }),
        )
        .await;
    assert_eq!(
        (s, first_message(&err).as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Invoice not of valid status for modification"
        )
    );
    // Creating as PAID is refused.
    let mut paid = new_invoice();
    paid["Status"] = "PAID".into();
    assert_eq!(invoice(&api, paid).await.0, StatusCode::BAD_REQUEST);

    // Payments: not on a draft; partial then full makes it PAID.
    let (_, v) = invoice(&api, new_invoice()).await;
    let p = v["Invoices"][0]["InvoiceID"].as_str().unwrap().to_owned();
    let pay = |amount: f64| {
        json!({ "Payments": [{ "Invoice": { "InvoiceID": p }, "Account": { "Code": "090" },
            "Amount": amount, "Date": "2026-02-01" }] })
    };
    let (s, err) = api.put("Payments", pay(40.0)).await;
    assert_eq!(
        (s, first_message(&err).as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Payments can only be made against Authorised documents."
        )
    );
    assert_eq!(set_status(&api, &p, "AUTHORISED").await.0, StatusCode::OK);
    let (s, v) = api.put("Payments", pay(40.0)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let p1 = v["Payments"][0]["PaymentID"].as_str().unwrap().to_owned();
    assert_eq!(v["Payments"][0]["Status"], "AUTHORISED");
    assert_eq!(v["Payments"][0]["PaymentType"], "ACCRECPAYMENT");
    let (_, inv) = api.get(&format!("Invoices/{p}")).await;
    let i = &inv["Invoices"][0];
    assert_eq!(
        (
            i["AmountPaid"].as_f64(),
            i["AmountDue"].as_f64(),
            i["Status"].as_str()
        ),
        (Some(40.0), Some(60.0), Some("AUTHORISED"))
    );
    let (s, err) = api.put("Payments", pay(70.0)).await;
    assert_eq!(
        (s, first_message(&err).as_str()),
        (
            StatusCode::BAD_REQUEST,
            "Payment amount exceeds the amount outstanding on this document"
        )
    );
    let (s, _) = api.put("Payments", pay(60.0)).await;
    assert_eq!(s, StatusCode::OK);
    let (_, inv) = api.get(&format!("Invoices/{p}")).await;
    let i = &inv["Invoices"][0];
    assert_eq!(
        (i["AmountDue"].as_f64(), i["Status"].as_str()),
        (Some(0.0), Some("PAID"))
    );
    assert_eq!(i["Payments"].as_array().unwrap().len(), 2);
    assert!(i["FullyPaidOnDate"].is_string());
    // A paid invoice cannot be voided.
    let (s, err) = set_status(&api, &p, "VOIDED").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(first_message(&err).contains("payment"));

    // Deleting a payment reverts the invoice.
    let (s, v) = api
        .post(
            &format!("Payments/{p1}"),
            json!({ "Payments": [{ "Status": "DELETED" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["Payments"][0]["Status"], "DELETED");
    let (_, inv) = api.get(&format!("Invoices/{p}")).await;
    let i = &inv["Invoices"][0];
    assert_eq!(
        (
            i["AmountPaid"].as_f64(),
            i["AmountDue"].as_f64(),
            i["Status"].as_str()
        ),
        (Some(60.0), Some(40.0), Some("AUTHORISED"))
    );
    assert!(i.get("FullyPaidOnDate").is_none());
    let (s, _) = api
        .post(&format!("Payments/{p1}"), json!({ "Status": "DELETED" }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, list) = api.get("Payments?page=1").await;
    assert_eq!(list["pagination"]["itemCount"], 2);

    // A sales account takes no payments.
    let (s, err) = api
        .put(
            "Payments",
            json!({ "Payments": [{ "Invoice": { "InvoiceID": p }, "Account": { "Code": "200" }, "Amount": 1 }] }),
        )
        .await;
    assert_eq!(
        (s, first_message(&err).as_str()),
        (StatusCode::BAD_REQUEST, "Account could not be found")
    );
    // An unknown bank account.
    let (s, err) = api
        .put("Payments", json!({ "Payments": [{ "Invoice": { "InvoiceID": p }, "Account": { "Code": "999" }, "Amount": 1 }] }))
        .await;
    assert_eq!(
        (s, first_message(&err).as_str()),
        (StatusCode::BAD_REQUEST, "Account could not be found")
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let api = Api::new().await;
    let contact = api.emu.seed("Contacts", json!({ "Name": "Once" }));
    let body = json!({ "Invoices": [{ "Type": "ACCREC", "Contact": { "ContactID": contact["ContactID"] },
        "LineItems": [{ "Description": "x", "Quantity": 1, "UnitAmount": 9.5 }] }] });
    let send = |key: &str, body: &Value| {
        Api::send(
            api.req(reqwest::Method::PUT, "Invoices")
                .header("Idempotency-Key", key)
                .json(body),
        )
    };
    let (s1, a) = send("key-1", &body).await;
    let (s2, b) = send("key-1", &body).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    assert_eq!(a, b, "the replay is the first answer, byte for byte");
    assert_eq!(api.emu.records("Invoices").len(), 1);
    // Another key creates another invoice.
    let (s, c) = send("key-2", &body).await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(c["Invoices"][0]["InvoiceID"], a["Invoices"][0]["InvoiceID"]);
    assert_eq!(api.emu.records("Invoices").len(), 2);
    // The same key with another body is refused and changes nothing.
    let mut other = body.clone();
    other["Invoices"][0]["Reference"] = "changed".into();
    let (s, _) = send("key-1", &other).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(api.emu.records("Invoices").len(), 2);
    // Keys over 128 characters are refused.
    let (s, _) = send(&"k".repeat(129), &body).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = send(&"k".repeat(128), &body).await;
    assert_eq!(s, StatusCode::OK);
}
