//! Connec! emulator over HTTP: how `matching_fields` and `$filter eq` compare values, what a PUT
//! carrying an id array does (the id write-back), and paging over records that tie on the sort
//! key.

use chrono::{DateTime, SubsecRound, Utc};
use emulators::{ConnecConfig, ConnecEmulator, RunningServer};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
#[path = "support/clock.rs"]
mod clock;

const G: &str = "grp1";

async fn setup() -> (ConnecEmulator, RunningServer, Client) {
    let emu = ConnecEmulator::new(ConnecConfig::default());
    let srv = emu.start().await.expect("start");
    (emu, srv, Client::new())
}

fn authed(r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    r.basic_auth("demo-id", Some("demo-key"))
        .header("CONNEC-EXTERNAL-IDS", "true")
}

async fn body(r: reqwest::Response) -> (StatusCode, Value) {
    let s = r.status();
    (s, r.json().await.expect("json body"))
}

async fn list(c: &Client, srv: &RunningServer, query: &[(&str, &str)]) -> Value {
    let (s, v) = body(
        authed(c.get(format!("{}/api/v2/{G}/people", srv.base_url)))
            .query(query)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

/// One `/batch` op; returns its status and body.
async fn op(
    c: &Client,
    srv: &RunningServer,
    method: &str,
    url: &str,
    record: Value,
) -> (u64, Value) {
    let (s, v) = body(
        authed(c.post(format!("{}/batch", srv.base_url)))
            .json(&json!({ "sequential": true, "ops": [
                { "method": method, "url": url, "params": { "people": record } }
            ]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let result = &v["results"][0];
    (result["status"].as_u64().unwrap(), result["body"].clone())
}

fn connec_id(record: &Value) -> String {
    record["id"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn matching_fields_and_filter_eq_compare_values_exactly() {
    let (emu, srv, c) = setup().await;
    let ann = emu.seed(
        G,
        "people",
        json!({ "first_name": "Ann", "email": { "address": "Ann@Example.com" } }),
    );
    // Every later record is created after Ann's millisecond (the `created_at` filters below).
    clock::next_ms();
    emu.seed(
        G,
        "people",
        json!({ "first_name": "Blank", "email": { "address": "" } }),
    );

    // `$filter ... eq` is case-sensitive...
    let found = list(
        &c,
        &srv,
        &[("$filter", "email.address eq 'ann@example.com'")],
    )
    .await;
    assert_eq!(found["people"].as_array().unwrap().len(), 0);
    let found = list(
        &c,
        &srv,
        &[("$filter", "email.address eq 'Ann@Example.com'")],
    )
    .await;
    assert_eq!(found["people"].as_array().unwrap().len(), 1);

    // ...and so is the smart merge: another case makes a new record...
    let url = format!("/api/v2/{G}/people");
    let (status, created) = op(
        &c,
        &srv,
        "post",
        &url,
        json!({ "first_name": "ann", "email": { "address": "ann@example.com" },
                "opts": { "matching_fields": ["email.address"] } }),
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(connec_id(&created["people"]), connec_id(&ann));
    // ...the same value merges...
    let (status, merged) = op(
        &c,
        &srv,
        "post",
        &url,
        json!({ "last_name": "Lee", "email": { "address": "Ann@Example.com" },
                "opts": { "matching_fields": ["email.address"] } }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(connec_id(&merged["people"]), connec_id(&ann));
    // ...and a blank value identifies nothing.
    let (status, _) = op(
        &c,
        &srv,
        "post",
        &url,
        json!({ "first_name": "Other blank", "email": { "address": "" },
                "opts": { "matching_fields": ["email.address"] } }),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(emu.records(G, "people").len(), 4);

    // The operators Connec!'s data browser sends.
    let ts = ann["created_at"].as_str().unwrap();
    let found = list(&c, &srv, &[("$filter", &format!("created_at lte '{ts}'"))]).await;
    assert_eq!(found["people"].as_array().unwrap().len(), 1);
    let found = list(&c, &srv, &[("$filter", &format!("created_at gte '{ts}'"))]).await;
    assert_eq!(found["people"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn a_put_with_an_id_array_adds_the_triple_and_keeps_the_others() {
    let (emu, srv, c) = setup().await;
    let xero = json!({ "id": "x-1", "provider": "xero", "realm": "t-9" });
    let person = emu.seed(G, "people", json!({ "first_name": "Ann", "id": [xero] }));
    let id = connec_id(&person);
    let url = format!("/api/v2/{G}/people/{id}");
    let hubspot = json!({ "id": "501", "provider": "hubspot", "realm": "62515" });

    // The write-back: only the id array.
    let (status, put) = op(&c, &srv, "put", &url, json!({ "id": [hubspot] })).await;
    assert_eq!(status, 200, "{put}");
    let stored = emu.get(G, "people", &id).unwrap();
    assert_eq!(put["people"], stored);
    assert_eq!(stored["id"].as_array().unwrap().len(), 3);
    assert_eq!(stored["id"][0]["provider"], json!("connec"));
    assert_eq!(stored["id"][1], xero, "the other app's id stays");
    assert_eq!(stored["id"][2], hubspot);
    assert_eq!(stored["first_name"], json!("Ann"), "no field changes");
    assert_ne!(
        stored["updated_at"], person["updated_at"],
        "a new id is a change of the record"
    );

    // Sent again: nothing changes, not even `updated_at`.
    let (status, _) = op(&c, &srv, "put", &url, json!({ "id": [hubspot] })).await;
    assert_eq!(status, 200);
    assert_eq!(emu.get(G, "people", &id).unwrap(), stored);

    // A PUT with fields and a source merges the ids as well.
    let other = json!({ "id": "c-7", "provider": "crm", "realm": "r" });
    let (status, _) = op(
        &c,
        &srv,
        "put",
        &url,
        json!({ "last_name": "Lee", "id": [other] }),
    )
    .await;
    assert_eq!(status, 200);
    let ids = emu.get(G, "people", &id).unwrap()["id"].clone();
    assert_eq!(ids.as_array().unwrap().len(), 4);
    assert_eq!(ids[1], xero);
    assert_eq!(ids[2], hubspot);
    assert_eq!(ids[3], other);

    // An external id names one record.
    let bob = emu.seed(G, "people", json!({ "first_name": "Bob" }));
    let (status, refused) = op(
        &c,
        &srv,
        "put",
        &format!("/api/v2/{G}/people/{}", connec_id(&bob)),
        json!({ "id": [hubspot] }),
    )
    .await;
    assert_eq!(status, 409);
    assert!(
        refused["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("already belongs to another people record")
    );
    assert_eq!(
        emu.get(G, "people", &connec_id(&bob)).unwrap()["id"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // An id array alone cannot create a record.
    let (status, _) = op(
        &c,
        &srv,
        "post",
        &format!("/api/v2/{G}/people"),
        json!({ "id": [{ "id": "new", "provider": "hubspot", "realm": "62515" }] }),
    )
    .await;
    assert_eq!(status, 400);
}

/// Pages through `people` `top` at a time in `order`, calling `between` after each page.
async fn page_all(
    c: &Client,
    srv: &RunningServer,
    order: &str,
    top: usize,
    mut between: impl FnMut(usize),
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut url = format!(
        "{}/api/v2/{G}/people?$top={top}&$orderby={}",
        srv.base_url,
        order.replace(' ', "%20")
    );
    let mut page = 0;
    loop {
        let (s, v) = body(authed(c.get(&url)).send().await.unwrap()).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        ids.extend(v["people"].as_array().unwrap().iter().map(connec_id));
        between(page);
        page += 1;
        match v["pagination"]["next"].as_str() {
            Some(next) => url = next.to_owned(),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn records_tying_on_the_sort_key_page_reliably_only_with_a_unique_key() {
    let (emu, srv, c) = setup().await;
    let second: DateTime<Utc> = Utc::now().trunc_subsecs(0) - chrono::Duration::seconds(5);
    emu.set_time(Some(second));
    let seeded: Vec<String> = (0..9)
        .map(|i| connec_id(&emu.seed(G, "people", json!({ "first_name": format!("P{i}") }))))
        .collect();
    emu.set_time(None);
    let created: Vec<Value> = emu
        .records(G, "people")
        .iter()
        .map(|r| r["created_at"].clone())
        .collect();
    assert!(
        created.iter().all(|t| *t == created[0]),
        "one shared second"
    );

    // Without a unique key the order is stable while nothing changes...
    let ordered = page_all(&c, &srv, "created_at asc", 3, |_| {}).await;
    assert_eq!(ordered.len(), 9);
    // ...but a record of the first page written before the second page is read moves to the
    // end of the tie: offset paging then skips one record and repeats another.
    let got = page_all(&c, &srv, "created_at asc", 3, |page| {
        if page == 0 {
            emu.update(G, "people", &ordered[0], json!({ "last_name": "moved" }));
        }
    })
    .await;
    assert!(!got.contains(&ordered[3]), "skipped");
    assert_eq!(
        got.iter().filter(|id| **id == ordered[0]).count(),
        2,
        "repeated"
    );

    // With `id` as the tiebreaker every record comes exactly once, also with writes between
    // pages.
    let by_id = page_all(&c, &srv, "created_at asc, id asc", 3, |_| {}).await;
    let mut touched = 0;
    let got = page_all(&c, &srv, "created_at asc, id asc", 3, |page| {
        if page < 2 {
            emu.update(
                G,
                "people",
                &by_id[page * 3],
                json!({ "last_name": format!("t{page}") }),
            );
            emu.update(
                G,
                "people",
                &by_id[8 - page],
                json!({ "last_name": format!("u{page}") }),
            );
            touched += 2;
        }
    })
    .await;
    assert_eq!(touched, 4);
    assert_eq!(got, by_id, "no skip, no repeat, same order");
    let mut all = got.clone();
    all.sort();
    let mut expected = seeded.clone();
    expected.sort();
    assert_eq!(all, expected);
}
