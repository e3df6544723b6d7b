//! Connec! emulator: payments linked to invoices, the invoices' balance, `/batch` and
//! notifications of accounting records, over real HTTP.

mod support;

use emulators::{ConnecEmulator, NotificationSubscriber, RunningServer};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use support::Receiver;

const G: &str = "acct";

struct Api {
    emu: ConnecEmulator,
    srv: RunningServer,
    c: Client,
}

impl Api {
    async fn start() -> Self {
        let emu = ConnecEmulator::default();
        let srv = emu.start().await.expect("start");
        Self {
            emu,
            srv,
            c: Client::new(),
        }
    }

    async fn send(&self, m: Method, url: String, body: Value) -> (StatusCode, Value) {
        let resp = self
            .c
            .request(m, url)
            .basic_auth("demo-id", Some("demo-key"))
            .header("CONNEC-EXTERNAL-IDS", "true")
            .json(&body)
            .send()
            .await
            .expect("send");
        let status = resp.status();
        (status, resp.json().await.expect("json body"))
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let url = format!("{}/api/v2/{G}/{path}", self.srv.base_url);
        self.send(Method::POST, url, body).await
    }
    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let url = format!("{}/api/v2/{G}/{path}", self.srv.base_url);
        self.send(Method::PUT, url, body).await
    }
    /// The invoice as the API shows it now.
    fn invoice(&self, id: &str) -> Value {
        self.emu.get(G, "invoices", id).expect("the invoice")
    }
}

fn xero(id: &str) -> Value {
    json!({"id": id, "provider": "xero", "realm": "tenant-1"})
}

fn connec_id(ids: &Value) -> String {
    assert_eq!(
        ids[0]["provider"],
        json!("connec"),
        "connec id first in {ids}"
    );
    ids[0]["id"].as_str().expect("uuid").to_string()
}

/// An invoice of 115.00 (100 + 15 % tax), known to Xero as `INV-1`.
async fn invoice(api: &Api) -> String {
    let (s, v) = api
        .post(
            "invoices",
            json!({"invoices": {"id": [xero("INV-1")], "type": "CUSTOMER", "status": "AUTHORISED",
                "currency": "USD", "lines": [{"quantity": 1, "unit_price": {"net_amount": 100, "tax_rate": 15}}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["invoices"]["balance"], json!(115));
    connec_id(&v["invoices"]["id"])
}

fn payment(ext: &str, amount: f64, invoice_ref: Value) -> Value {
    json!({"payments": {"id": [xero(ext)], "type": "CUSTOMER", "status": "ACTIVE",
        "transaction_date": "2026-12-01T00:00:00Z", "currency": "USD",
        "lines": [{"amount": amount, "linked_transactions": [{"id": invoice_ref, "class": "Invoice"}]}]}})
}

#[tokio::test]
async fn a_payment_resolves_its_invoice_link_and_lowers_the_balance() {
    let api = Api::start().await;
    let inv_id = invoice(&api).await;
    let before = api.invoice(&inv_id)["updated_at"].clone();

    let (s, v) = api
        .post("payments", payment("PAY-1", 40.0, json!([xero("INV-1")])))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let p = &v["payments"];
    let line = &p["lines"][0];
    connec_id(&line["id"]);
    assert_eq!(
        line["linked_transactions"][0]["id"],
        json!([{"id": inv_id, "provider": "connec", "realm": format!("org-{G}")}, xero("INV-1")])
    );
    assert_eq!(line["linked_transactions"][0]["class"], json!("Invoice"));
    // The total is the sum of the lines when not given.
    assert_eq!(p["amount"], json!({"total_amount": 40, "currency": "USD"}));

    let inv = api.invoice(&inv_id);
    assert_eq!(inv["balance"], json!(75));
    assert_ne!(inv["updated_at"], before, "a balance change is a change");

    // A second payment on two lines, one with an applied amount.
    let (s, v) = api
        .post("payments", json!({"payments": {"id": [xero("PAY-2")], "status": "ACTIVE", "lines": [
            {"amount": 50, "linked_transactions": [{"id": [xero("INV-1")], "class": "Invoice", "applied_amount": 25}]},
            {"amount": 10}
        ]}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["payments"]["amount"]["total_amount"], json!(60));
    assert_eq!(api.invoice(&inv_id)["balance"], json!(50));

    // Changing the amount paid, then inactivating the payment, moves the balance back.
    let pay_id = connec_id(&v["payments"]["id"]);
    let (s, v) = api
        .put(
            &format!("payments/{pay_id}"),
            json!({"payments": {"opts": {"sparse": false}, "lines": [
                {"amount": 30, "linked_transactions": [{"id": [xero("INV-1")], "class": "Invoice"}]}
            ]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["payments"]["amount"]["total_amount"], json!(30));
    assert_eq!(api.invoice(&inv_id)["balance"], json!(45));
    let (s, _) = api
        .put(
            &format!("payments/{pay_id}"),
            json!({"payments": {"status": "INACTIVE"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(api.invoice(&inv_id)["balance"], json!(75));

    // A payment linked before its invoice exists counts once the invoice arrives.
    let (s, _) = api
        .post("payments", payment("PAY-3", 5.0, json!([xero("INV-2")])))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, v) = api
        .post("invoices", json!({"invoices": {"id": [xero("INV-2")], "lines": [{"unit_price": {"net_amount": 20}}]}}))
        .await;
    assert_eq!(v["invoices"]["balance"], json!(15));
}

#[tokio::test]
async fn a_payment_given_a_total_keeps_it_and_payment_lines_work_like_lines() {
    let api = Api::start().await;
    let inv_id = invoice(&api).await;
    let (s, v) = api
        .post("payments", json!({"payments": {"amount": {"total_amount": 99}, "payment_lines": [
            {"id": [xero("PL-1")], "amount": 15, "linked_transactions": [{"id": [xero("INV-1")], "class": "Invoice"}]}
        ]}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let p = &v["payments"];
    assert_eq!(p["amount"]["total_amount"], json!(99));
    assert_eq!(p["payment_lines"][0]["id"][1], xero("PL-1"));
    assert_eq!(
        p["payment_lines"][0]["linked_transactions"][0]["id"][0]["id"],
        json!(inv_id)
    );
    assert_eq!(api.invoice(&inv_id)["balance"], json!(100));
}

#[tokio::test]
async fn batch_ops_and_notifications_carry_the_rendered_shapes() {
    let api = Api::start().await;
    let (rx, url) = Receiver::start(&[]).await;
    api.emu.subscribe(NotificationSubscriber {
        url: format!("{url}/connec"),
        api_id: "app".into(),
        api_key: "secret".into(),
        groups: None,
    });
    api.emu.pause_notifications(true);
    let group_url = format!("/api/v2/{G}");
    let (s, v) = api
        .send(
            Method::POST,
            format!("{}/batch", api.srv.base_url),
            json!({"sequential": true, "ops": [
                {"method": "post", "url": format!("{group_url}/invoices"), "params": {"invoices": {
                    "id": [xero("INV-1")], "lines": [{"id": [xero("L1")], "quantity": 2, "unit_price": {"net_amount": 10, "tax_rate": 10}}]}}},
                {"method": "get", "url": format!("{group_url}/invoices?$filter=balance eq 22")}
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["results"][0]["status"], json!(201), "{v}");
    let inv = &v["results"][0]["body"]["invoices"];
    assert_eq!(inv["amount"]["total_amount"], json!(22));
    let inv_id = connec_id(&inv["id"]);
    // The balance is a stored field: `$filter` sees it.
    assert_eq!(v["results"][1]["body"]["invoices"][0]["id"], inv["id"]);

    // A payment (its own call: one batch's changes are rendered as the batch left them).
    let (s, _) = api
        .post("payments", json!({"payments": {
            "lines": [{"amount": 7, "linked_transactions": [{"id": [xero("INV-1")], "class": "Invoice"}]}]}}))
        .await;
    assert_eq!(s, StatusCode::CREATED);

    api.emu.pause_notifications(false);
    api.emu.flush_notifications().await;
    let mut invoices = Vec::new();
    let mut payments = Vec::new();
    for r in rx.received() {
        let body: Value = serde_json::from_slice(&r.body).expect("json notification");
        invoices.extend(body["invoices"].as_array().cloned().unwrap_or_default());
        payments.extend(body["payments"].as_array().cloned().unwrap_or_default());
    }
    // The invoice as created, then as the payment's balance change left it.
    assert_eq!(invoices.len(), 2, "{invoices:?}");
    assert_eq!(invoices[0]["balance"], json!(22));
    assert_eq!(invoices[1]["balance"], json!(15));
    assert_eq!(invoices[1], api.invoice(&inv_id));
    assert_eq!(invoices[0]["lines"][0]["id"][1], xero("L1"));
    assert_eq!(
        invoices[0]["lines"][0]["total_price"]["total_amount"],
        json!(22)
    );
    assert_eq!(payments.len(), 1);
    assert_eq!(
        payments[0]["lines"][0]["linked_transactions"][0]["id"][0]["id"],
        json!(inv_id)
    );
    assert_eq!(payments[0]["group_id"], json!(G));
}
