//! Xero emulator: the Accounting API over real HTTP — envelopes, paging, If-Modified-Since,
//! inverted verbs, uniqueness, invoices and payments, summarizeErrors, Idempotency-Key.

use std::time::Duration;

use emulators::{RunningServer, XeroConfig, XeroEmulator, XeroLimits};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Api {
    emu: XeroEmulator,
    srv: RunningServer,
    c: Client,
    token: String,
    tenant: String,
}

impl Api {
    async fn new() -> Self {
        let emu = XeroEmulator::new(XeroConfig {
            limits: XeroLimits {
                per_minute: 10_000,
                ..XeroLimits::default()
            },
            ..XeroConfig::default()
        });
        let tenant = emu.tenants()[0].clone();
        let token = emu.grant(&[&tenant]).access_token;
        let srv = emu.start().await.unwrap();
        Self {
            emu,
            srv,
            c: Client::new(),
            token,
            tenant,
        }
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.c
            .request(method, format!("{}/api.xro/2.0/{path}", self.srv.base_url))
            .bearer_auth(&self.token)
            .header("xero-tenant-id", &self.tenant)
            .header("accept", "application/json")
    }

    async fn send(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let r = rb.send().await.unwrap();
        let s = r.status();
        let text = r.text().await.unwrap();
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        Self::send(self.req(reqwest::Method::GET, path)).await
    }

    async fn get_since(&self, path: &str, since: &str) -> (StatusCode, Value) {
        Self::send(
            self.req(reqwest::Method::GET, path)
                .header("If-Modified-Since", since),
        )
        .await
    }

    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::send(self.req(reqwest::Method::PUT, path).json(&body)).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::send(self.req(reqwest::Method::POST, path).json(&body)).await
    }
}

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn ms_of(date: &Value) -> i64 {
    let s = date.as_str().unwrap();
    let inner = s
        .strip_prefix("/Date(")
        .unwrap()
        .strip_suffix(")/")
        .unwrap();
    inner.split(['+', '-']).next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn envelope_paging_if_modified_since_and_order() {
    let mut api = Api::new().await;
    for i in 0..5 {
        api.emu
            .seed("Contacts", json!({ "Name": format!("Old {i}") }));
    }
    api.emu.advance(Duration::from_secs(3600));
    // The first token expired meanwhile.
    api.token = api.emu.grant(&[&api.tenant]).access_token;
    let since_ms = api.emu.now_ms();
    for i in 0..7 {
        api.emu
            .seed("Contacts", json!({ "Name": format!("New {i}") }));
    }
    // Touch an old one after the cut-off: it is listed, last by UpdatedDateUTC.
    let old0 = api.emu.records("Contacts")[0]["ContactID"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = api
        .post(
            &format!("Contacts/{old0}"),
            json!({ "Contacts": [{ "EmailAddress": "old0@example.com" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let (s, all) = api.get("Contacts").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["Status"], "OK");
    assert_eq!(all["ProviderName"], "Xero API Partner");
    assert!(all["DateTimeUTC"].as_str().unwrap().starts_with("/Date("));
    assert!(all["Id"].is_string());
    assert_eq!(all["Contacts"].as_array().unwrap().len(), 12);
    let c0 = &all["Contacts"][0];
    assert!(c0["UpdatedDateUTC"].as_str().unwrap().ends_with("+0000)/"));
    assert_eq!(c0["ContactStatus"], "ACTIVE");
    assert_eq!(c0["HasValidationErrors"], false);

    let since = chrono::DateTime::from_timestamp_millis(since_ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let path = "Contacts?page=1&pageSize=3&order=UpdatedDateUTC%20ASC";
    let (s, p1) = api.get_since(path, &since).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        p1["pagination"],
        json!({ "page": 1, "pageSize": 3, "pageCount": 3, "itemCount": 8 })
    );
    assert_eq!(names(&p1, "Contacts"), ["New 0", "New 1", "New 2"]);
    let (_, p3) = api
        .get_since(
            "Contacts?page=3&pageSize=3&order=UpdatedDateUTC%20ASC",
            &since,
        )
        .await;
    assert_eq!(names(&p3, "Contacts"), ["New 6", "Old 0"]);
    let (_, p4) = api
        .get_since(
            "Contacts?page=4&pageSize=3&order=UpdatedDateUTC%20ASC",
            &since,
        )
        .await;
    assert!(p4["Contacts"].as_array().unwrap().is_empty());
    // Dates ascending across the whole window.
    let (_, every) = api
        .get_since("Contacts?order=UpdatedDateUTC%20DESC", &since)
        .await;
    let stamps: Vec<i64> = every["Contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| ms_of(&c["UpdatedDateUTC"]))
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] > w[1]));
    assert!(stamps.iter().all(|s| *s >= since_ms));
    // Default page size 100.
    let (_, d) = api.get("Contacts?page=1").await;
    assert_eq!(d["pagination"]["pageSize"], 100);

    // IDs and where.
    let (_, by_ids) = api.get(&format!("Contacts?IDs={old0}")).await;
    assert_eq!(names(&by_ids, "Contacts"), ["Old 0"]);
    let (_, by_where) = api
        .get("Contacts?where=EmailAddress%3D%3D%22old0%40example.com%22")
        .await;
    assert_eq!(names(&by_where, "Contacts"), ["Old 0"]);
    let (_, by_name) = api.get("Contacts?where=Name%3D%3D%22New%203%22").await;
    assert_eq!(names(&by_name, "Contacts"), ["New 3"]);
    let (s, one) = api.get(&format!("Contacts/{old0}")).await;
    assert_eq!(
        (s, names(&one, "Contacts")),
        (StatusCode::OK, vec!["Old 0".to_owned()])
    );
    let (s, _) = api
        .get("Contacts/00000000-0000-0000-0000-000000000001")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn archived_contacts_are_listed_only_when_asked() {
    let api = Api::new().await;
    let c = api.emu.seed("Contacts", json!({ "Name": "Gone Ltd" }));
    let id = c["ContactID"].as_str().unwrap();
    let (s, v) = api
        .post(
            "Contacts",
            json!({ "Contacts": [{ "ContactID": id, "ContactStatus": "ARCHIVED" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["Contacts"][0]["ContactStatus"], "ARCHIVED");
    let (_, listed) = api.get("Contacts").await;
    assert!(listed["Contacts"].as_array().unwrap().is_empty());
    let (_, listed) = api.get("Contacts?includeArchived=true").await;
    assert_eq!(names(&listed, "Contacts"), ["Gone Ltd"]);
    // The name is free again among active contacts.
    let (s, _) = api
        .put("Contacts", json!({ "Contacts": [{ "Name": "Gone Ltd" }] }))
        .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn put_creates_only_post_creates_or_updates_and_names_are_unique() {
    let api = Api::new().await;
    let (s, created) = api
        .put(
            "Contacts",
            json!({ "Contacts": [{
                "Name": "Acme Ltd", "FirstName": "Ann", "LastName": "Smith",
                "EmailAddress": "ann@acme.test",
                "ContactPersons": [{ "FirstName": "Bob", "LastName": "Jones",
                    "EmailAddress": "bob@acme.test", "IncludeInEmails": true }],
                "Phones": [{ "PhoneType": "MOBILE", "PhoneNumber": "555-1212" }],
                "IsCustomer": true
            }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{created}");
    let c = &created["Contacts"][0];
    let id = c["ContactID"].as_str().unwrap().to_owned();
    assert_eq!(c["ContactPersons"][0]["EmailAddress"], "bob@acme.test");
    assert_eq!(c["IsCustomer"], false, "derived, never written");
    assert_eq!(c["IsSupplier"], false);

    // PUT with an existing id refuses; POST with it updates.
    let (s, err) = api
        .put(
            "Contacts",
            json!({ "Contacts": [{ "ContactID": id, "Name": "Acme Two" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(err["Type"], "ValidationException");
    let (s, upd) = api
        .post(
            "Contacts",
            json!({ "Contacts": [{ "ContactID": id, "EmailAddress": "new@acme.test" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let u = &upd["Contacts"][0];
    assert_eq!(
        (u["Name"].as_str(), u["EmailAddress"].as_str()),
        (Some("Acme Ltd"), Some("new@acme.test"))
    );
    assert!(ms_of(&u["UpdatedDateUTC"]) > ms_of(&c["UpdatedDateUTC"]));
    // POST without an id creates.
    let (s, _) = api
        .post("Contacts", json!({ "Contacts": [{ "Name": "Beta Ltd" }] }))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(api.emu.records("Contacts").len(), 2);

    // A second contact with the same name is a validation error, whatever the case.
    let (s, err) = api
        .post("Contacts", json!({ "Contacts": [{ "Name": "ACME LTD" }] }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(err["ErrorNumber"], 10);
    assert_eq!(err["Message"], "A validation exception occurred");
    let el = &err["Elements"][0];
    assert_eq!(el["Name"], "ACME LTD");
    assert_eq!(el["HasValidationErrors"], true);
    assert_eq!(
        el["ValidationErrors"][0]["Message"],
        "The contact name ACME LTD is already assigned to another contact. The contact name must be unique across all active contacts."
    );
    // Renaming onto another's name too.
    let (s, _) = api
        .post(
            &format!("Contacts/{id}"),
            json!({ "Contacts": [{ "Name": "Beta Ltd" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(api.emu.records("Contacts").len(), 2);
}

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
async fn summarize_errors_both_ways() {
    let api = Api::new().await;
    let batch: Vec<Value> = (0..50)
        .map(|i| {
            if i == 17 {
                json!({ "Name": "Bad", "EmailAddress": "not-an-email" })
            } else {
                json!({ "Name": format!("Batch {i}") })
            }
        })
        .collect();
    // Default (summarizeErrors=true): 400, nothing saved, only the bad element listed.
    let (s, err) = api
        .post("Contacts", json!({ "Contacts": batch.clone() }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let els = err["Elements"].as_array().unwrap();
    assert_eq!(els.len(), 1);
    assert_eq!(els[0]["Name"], "Bad");
    assert_eq!(els[0]["ContactID"], "00000000-0000-0000-0000-000000000000");
    assert_eq!(
        els[0]["ValidationErrors"][0]["Message"],
        "Email address must be valid."
    );
    assert!(api.emu.records("Contacts").is_empty());

    // summarizeErrors=false: 200, 49 saved, each element with its status.
    let (s, v) = api
        .post(
            "Contacts?summarizeErrors=false",
            json!({ "Contacts": batch }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let els = v["Contacts"].as_array().unwrap();
    assert_eq!(els.len(), 50);
    for (i, el) in els.iter().enumerate() {
        if i == 17 {
            assert_eq!(el["StatusAttributeString"], "ERROR");
            assert_eq!(el["HasValidationErrors"], true);
            assert_eq!(
                el["ValidationErrors"][0]["Message"],
                "Email address must be valid."
            );
        } else {
            assert_eq!(el["StatusAttributeString"], "OK", "{i}");
            assert_eq!(el["HasValidationErrors"], false);
            assert!(
                el["ContactID"]
                    .as_str()
                    .is_some_and(|id| !id.starts_with("00000000"))
            );
        }
    }
    assert_eq!(api.emu.records("Contacts").len(), 49);
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

#[tokio::test]
async fn faults_and_stats() {
    let api = Api::new().await;
    api.emu
        .fail_record(emulators::RecordFault::new("Name", "Refuse Me"));
    let (s, v) = api
        .post(
            "Contacts?summarizeErrors=false",
            json!({ "Contacts": [{ "Name": "Refuse Me" }, { "Name": "Fine" }] }),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["Contacts"][0]["StatusAttributeString"], "ERROR");
    assert_eq!(v["Contacts"][1]["StatusAttributeString"], "OK");
    api.emu
        .fail_calls(emulators::CallFault::status("/Invoices", 503, 1));
    let (s, _) = api.get("Invoices").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _) = api.get("Invoices").await;
    assert_eq!(s, StatusCode::OK);
    let stats = api.emu.stats();
    assert_eq!(stats.by_route["GET /api.xro/2.0/{collection}"], 2);
    assert_eq!(stats.by_route["POST /api.xro/2.0/{collection}"], 1);
    assert_eq!(stats.rejected, 1);
    // Admin seed and state over HTTP.
    let tenant = api.tenant.clone();
    let r = api
        .c
        .post(format!(
            "{}/_emulator/seed/{tenant}/Items",
            api.srv.base_url
        ))
        .json(&json!([{ "Code": "A1" }, { "Code": "A2" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let state: Value = api
        .c
        .get(format!("{}/_emulator/state", api.srv.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["tenants"][0]["Items"].as_array().unwrap().len(), 2);
    assert_eq!(state["tenants"][0]["Contacts"].as_array().unwrap().len(), 1);
}
