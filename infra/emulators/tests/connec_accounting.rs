//! Connec! emulator: items, invoices and their lines over real HTTP (payments are in
//! `connec_accounting_payments.rs`).

use emulators::{ConnecEmulator, RunningServer};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
#[path = "support/clock.rs"]
mod clock;

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

    /// One call with `CONNEC-EXTERNAL-IDS: true` (or without, `ext: false`).
    async fn call(
        &self,
        m: Method,
        path: &str,
        body: Option<Value>,
        ext: bool,
    ) -> (StatusCode, Value) {
        let mut r = self
            .c
            .request(m, format!("{}/api/v2/{G}/{path}", self.srv.base_url))
            .basic_auth("demo-id", Some("demo-key"));
        if ext {
            r = r.header("CONNEC-EXTERNAL-IDS", "true");
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.expect("send");
        let status = resp.status();
        (status, resp.json().await.expect("json body"))
    }
    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body), true).await
    }
    async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body), true).await
    }
    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None, true).await
    }
}

fn xero(id: &str) -> Value {
    json!({"id": id, "provider": "xero", "realm": "tenant-1"})
}

/// The Connec! uuid of an id array.
fn connec_id(ids: &Value) -> String {
    let ids = ids.as_array().expect("an id array");
    assert_eq!(
        ids[0]["provider"],
        json!("connec"),
        "connec id first in {ids:?}"
    );
    ids[0]["id"].as_str().expect("uuid").to_string()
}

/// An item known by its Xero id, and an invoice with two lines: one for that item (referenced
/// by its Xero triple) with its own Xero line id, one tax-inclusive line without ids.
async fn invoice_with_two_lines(api: &Api) -> (String, Value) {
    let item = api.emu.seed(
        G,
        "items",
        json!({"id": [xero("ITEM-1")], "code": "IT1", "name": "Widget"}),
    );
    let item_id = connec_id(&item["id"]);
    let (s, v) = api
        .post(
            "invoices",
            json!({"invoices": {
                "id": [xero("INV-1")],
                "type": "CUSTOMER",
                "status": "AUTHORISED",
                "transaction_number": "INV-0001",
                "transaction_date": "2026-11-30T00:00:00Z",
                "due_date": "2026-12-30T00:00:00Z",
                "currency": "NZD",
                "lines": [
                    {"id": [xero("LINE-A")], "item_id": [xero("ITEM-1")], "description": "Widgets",
                     "quantity": 2, "unit_price": {"net_amount": 100, "tax_rate": 15}},
                    {"description": "Support, tax included", "quantity": 1,
                     "unit_price": {"total_amount": 11.5, "tax_rate": 15}}
                ]
            }}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    (item_id, v["invoices"].clone())
}

#[tokio::test]
async fn an_invoice_gets_line_ids_resolved_items_and_completed_totals() {
    let api = Api::start().await;
    let (item_id, inv) = invoice_with_two_lines(&api).await;
    let lines = inv["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2);
    // Each line has its own Connec! id; the first keeps the Xero line id sent.
    let (a, b) = (connec_id(&lines[0]["id"]), connec_id(&lines[1]["id"]));
    assert_ne!(a, b);
    assert_eq!(lines[0]["id"][1], xero("LINE-A"));
    assert_eq!(lines[1]["id"].as_array().unwrap().len(), 1);
    // The item reference resolved: Connec! id first, then the item's external ids.
    assert_eq!(
        lines[0]["item_id"],
        json!([
            {"id": item_id, "provider": "connec", "realm": format!("org-{G}")},
            xero("ITEM-1")
        ])
    );
    // Totals: 2 × 100 at 15 %, and 11.50 tax included at 15 %.
    assert_eq!(
        lines[0]["unit_price"],
        json!({"net_amount": 100, "tax_rate": 15, "tax_amount": 15, "total_amount": 115})
    );
    assert_eq!(
        lines[0]["total_price"],
        json!({"net_amount": 200, "tax_amount": 30, "total_amount": 230})
    );
    assert_eq!(
        lines[1]["unit_price"],
        json!({"net_amount": 10, "tax_rate": 15, "tax_amount": 1.5, "total_amount": 11.5})
    );
    assert_eq!(
        inv["amount"],
        json!({"net_amount": 210, "tax_amount": 31.5, "total_amount": 241.5, "currency": "NZD"})
    );
    assert_eq!(inv["balance"], json!(241.5));
    assert_eq!(inv["type"], json!("CUSTOMER"));
    assert_eq!(inv["transaction_number"], json!("INV-0001"));

    // Without the header, ids are plain uuids, in the lines too.
    let inv_id = connec_id(&inv["id"]);
    let (s, plain) = api
        .call(Method::GET, &format!("invoices/{inv_id}"), None, false)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(plain["invoices"]["id"], json!(inv_id));
    assert_eq!(plain["invoices"]["lines"][0]["id"], json!(a));
    assert_eq!(plain["invoices"]["lines"][0]["item_id"], json!(item_id));
}

#[tokio::test]
async fn updating_one_line_keeps_the_other_and_its_id() {
    let api = Api::start().await;
    let (_, inv) = invoice_with_two_lines(&api).await;
    let inv_id = connec_id(&inv["id"]);
    let second = inv["lines"][1].clone();

    // An upsert by the invoice's external id that sends only line A (by its Xero id).
    let (s, v) = api
        .post("invoices", json!({"invoices": {"id": [xero("INV-1")], "lines": [{"id": [xero("LINE-A")], "quantity": 3}]}}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let lines = v["invoices"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "absent lines are kept (sparse update)");
    assert_eq!(lines[0]["id"], inv["lines"][0]["id"]);
    assert_eq!(lines[0]["description"], json!("Widgets"));
    assert_eq!(
        lines[0]["total_price"],
        json!({"net_amount": 300, "tax_amount": 45, "total_amount": 345})
    );
    assert_eq!(lines[1], second);
    assert_eq!(v["invoices"]["amount"]["total_amount"], json!(356.5));

    // A new net price on line B (by its Connec! line id) recomputes its tax and total.
    let b_id = lines[1]["id"].clone();
    let (s, v) = api
        .put(
            &format!("invoices/{inv_id}"),
            json!({"invoices": {"lines": [{"id": b_id, "unit_price": {"net_amount": 20}}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        v["invoices"]["lines"][1]["unit_price"],
        json!({"net_amount": 20, "tax_rate": 15, "tax_amount": 3, "total_amount": 23})
    );
    assert_eq!(v["invoices"]["lines"][1]["id"], b_id);

    // A line sent without id is a new line.
    let (_, v) = api
        .put(&format!("invoices/{inv_id}"), json!({"invoices": {"lines": [{"description": "Extra", "unit_price": {"net_amount": 1}}]}}))
        .await;
    assert_eq!(v["invoices"]["lines"].as_array().unwrap().len(), 3);

    // `opts.sparse: false`: the lines sent are the whole list.
    let (s, v) = api
        .put(
            &format!("invoices/{inv_id}"),
            json!({"invoices": {"opts": {"sparse": false}, "lines": [{"id": [xero("LINE-A")]}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let lines = v["invoices"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], inv["lines"][0]["id"]);
    assert_eq!(v["invoices"]["amount"]["total_amount"], json!(345));
    assert!(v["invoices"].get("opts").is_none());

    // An unknown Connec! line id is refused in the error envelope.
    let (s, e) = api
        .put(
            &format!("invoices/{inv_id}"),
            json!({"invoices": {"lines": [{"id": "no-such-line", "quantity": 1}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(e["errors"][0]["status"], json!("400"));
}

#[tokio::test]
async fn an_id_write_back_onto_a_line_keeps_its_other_ids() {
    let api = Api::start().await;
    let (_, inv) = invoice_with_two_lines(&api).await;
    let inv_id = connec_id(&inv["id"]);
    let (a_ids, b_ids) = (inv["lines"][0]["id"].clone(), inv["lines"][1]["id"].clone());
    let before = inv["updated_at"].clone();

    // The sync engine's write-back: ids only, on the record and on its lines.
    let hs = json!({"id": "deal-9", "provider": "hubspot", "realm": "portal"});
    let body = json!({"invoices": {
        "id": [hs],
        "lines": [{"id": [b_ids[0], {"id": "li-2", "provider": "hubspot", "realm": "portal"}]},
                  {"id": [a_ids[0], {"id": "li-1", "provider": "hubspot", "realm": "portal"}]}]
    }});
    let (s, v) = api.put(&format!("invoices/{inv_id}"), body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let v = &v["invoices"];
    assert_eq!(v["id"], json!([inv["id"][0], xero("INV-1"), hs]));
    assert_eq!(
        v["lines"][0]["id"],
        json!([a_ids[0], xero("LINE-A"), {"id": "li-1", "provider": "hubspot", "realm": "portal"}])
    );
    assert_eq!(
        v["lines"][1]["id"],
        json!([b_ids[0], {"id": "li-2", "provider": "hubspot", "realm": "portal"}])
    );
    // Fields and order untouched; the new ids are a change.
    assert_eq!(v["lines"][0]["total_price"], inv["lines"][0]["total_price"]);
    assert_eq!(v["amount"], inv["amount"]);
    assert_ne!(v["updated_at"], before);

    // Re-sending the same write-back changes nothing, not even `updated_at`.
    let (s, again) = api.put(&format!("invoices/{inv_id}"), body).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(&again["invoices"], v);

    // A line's external id names one line: putting it on the other line is a conflict.
    let (s, e) = api
        .put(
            &format!("invoices/{inv_id}"),
            json!({"invoices": {"lines": [{"id": [b_ids[0], xero("LINE-A")]}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
}

#[tokio::test]
async fn filter_on_updated_at_returns_the_changed_invoice_and_inactive_round_trips() {
    let api = Api::start().await;
    let (_, first) = invoice_with_two_lines(&api).await;
    let (s, second) = api
        .post(
            "invoices",
            json!({"invoices": {"id": [xero("INV-2")], "type": "SUPPLIER", "status": "DRAFT",
            "lines": [{"unit_price": {"net_amount": 5}}]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let mark = second["invoices"]["updated_at"]
        .as_str()
        .unwrap()
        .to_string();

    // A line change of the first invoice moves its `updated_at` (past the second's).
    clock::next_ms();
    let first_id = connec_id(&first["id"]);
    let (_, changed) = api
        .put(
            &format!("invoices/{first_id}"),
            json!({"invoices": {"lines": [{"id": [xero("LINE-A")], "quantity": 5}]}}),
        )
        .await;
    assert!(changed["invoices"]["updated_at"].as_str().unwrap() > mark.as_str());
    let (s, v) = api
        .get(&format!("invoices?$filter=updated_at gt '{mark}'"))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let found = v["invoices"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], first["id"]);
    assert_eq!(v["pagination"]["total"], json!(1));

    // Deletion is a status: INACTIVE comes back as sent, on GET and through `$filter`.
    let second_id = connec_id(&second["invoices"]["id"]);
    let (s, v) = api
        .put(
            &format!("invoices/{second_id}"),
            json!({"invoices": {"status": "INACTIVE"}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["invoices"]["status"], json!("INACTIVE"));
    let (_, v) = api.get(&format!("invoices/{second_id}")).await;
    assert_eq!(v["invoices"]["status"], json!("INACTIVE"));
    assert_eq!(v["invoices"]["lines"].as_array().unwrap().len(), 1);
    let (_, v) = api.get("invoices?$filter=status eq 'INACTIVE'").await;
    assert_eq!(v["invoices"].as_array().unwrap().len(), 1);
    assert_eq!(v["invoices"][0]["id"], second["invoices"]["id"]);
}

#[tokio::test]
async fn matching_on_an_item_code_merges_and_keeps_its_price_consistent() {
    let api = Api::start().await;
    let (s, first) = api
        .post("items", json!({"items": {"code": "IT7", "reference": "SKU-7", "name": "Bolt", "status": "ACTIVE",
            "sale_price": {"net_amount": 10, "tax_rate": 10, "currency": "USD"},
            "purchase_price": {"net_amount": 4}}}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(
        first["items"]["sale_price"],
        json!({"net_amount": 10, "tax_rate": 10, "tax_amount": 1, "total_amount": 11, "currency": "USD"})
    );

    let (s, merged) = api
        .post(
            "items",
            json!({"items": {"id": [xero("ITEM-7")], "code": "IT7", "name": "Bolt M8",
            "sale_price": {"net_amount": 12}, "opts": {"matching_fields": ["code"]}}}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "a match answers 200: {merged}");
    let m = &merged["items"];
    assert_eq!(m["id"], json!([first["items"]["id"][0], xero("ITEM-7")]));
    assert_eq!(m["name"], json!("Bolt M8"));
    assert_eq!(m["reference"], json!("SKU-7"));
    // The new net replaces the derived tax and total; the rate and currency stay.
    assert_eq!(
        m["sale_price"],
        json!({"net_amount": 12, "tax_rate": 10, "tax_amount": 1.2, "total_amount": 13.2, "currency": "USD"})
    );
    assert_eq!(api.emu.records(G, "items").len(), 1);

    // On `reference` too; a different value creates another item.
    let (s, _) = api
        .post("items", json!({"items": {"reference": "SKU-7", "name": "Same", "opts": {"matching_fields": ["reference"]}}}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = api
        .post("items", json!({"items": {"reference": "SKU-8", "name": "Other", "opts": {"matching_fields": ["reference"]}}}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(api.emu.records(G, "items").len(), 2);
}
