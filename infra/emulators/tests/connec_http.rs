//! Connec! emulator exercised over real HTTP.

use emulators::{CallFault, ConnecConfig, ConnecEmulator, FaultKind, RecordFault, RunningServer};
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

fn get(c: &Client, url: &str) -> reqwest::RequestBuilder {
    c.get(url).basic_auth("demo-id", Some("demo-key"))
}

fn post(c: &Client, url: &str, body: &Value) -> reqwest::RequestBuilder {
    c.post(url)
        .basic_auth("demo-id", Some("demo-key"))
        .header("CONNEC-EXTERNAL-IDS", "true")
        .json(body)
}

async fn body(r: reqwest::Response) -> (StatusCode, Value) {
    let s = r.status();
    (s, r.json().await.expect("json body"))
}

#[tokio::test]
async fn paging_follows_next_links() {
    let (emu, srv, c) = setup().await;
    for i in 0..5 {
        emu.seed(G, "people", json!({ "first_name": format!("P{i}") }));
    }
    let mut url = format!("{}/api/v2/{G}/people?$top=2", srv.base_url);
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let (s, v) = body(get(&c, &url).send().await.unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["pagination"]["total"], json!(5));
        for p in v["people"].as_array().unwrap() {
            assert!(p["id"].is_string(), "plain id without the header");
            names.push(p["first_name"].as_str().unwrap().to_string());
        }
        pages += 1;
        match v["pagination"]["next"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["P0", "P1", "P2", "P3", "P4"]);

    let (s, v) = body(
        get(&c, &format!("{}/api/v2/{G}/people?$top=101", srv.base_url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["errors"][0]["status"], json!("400"));
}

#[tokio::test]
async fn filter_gt_on_updated_at_and_malformed_filter() {
    let (emu, srv, c) = setup().await;
    // One millisecond each, for the `gt` below.
    let recs: Vec<Value> = (0..3)
        .map(|i| {
            clock::next_ms();
            emu.seed(G, "people", json!({ "first_name": format!("P{i}") }))
        })
        .collect();
    let ts = recs[1]["updated_at"].as_str().unwrap();
    let r = get(&c, &format!("{}/api/v2/{G}/people", srv.base_url))
        .query(&[("$filter", format!("updated_at gt '{ts}'"))])
        .send()
        .await
        .unwrap();
    let (s, v) = body(r).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["people"].as_array().unwrap().len(), 1);
    assert_eq!(v["people"][0]["first_name"], json!("P2"));

    let r = get(&c, &format!("{}/api/v2/{G}/people", srv.base_url))
        .query(&[
            ("$filter", "updated_at between 'x'"),
            ("$orderby", "updated_at desc"),
        ])
        .send()
        .await
        .unwrap();
    let (s, v) = body(r).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("unsupported operator")
    );

    let r = get(&c, &format!("{}/api/v2/{G}/people", srv.base_url))
        .query(&[("$orderby", "first_name desc")])
        .send()
        .await
        .unwrap();
    let (_, v) = body(r).await;
    assert_eq!(v["people"][0]["first_name"], json!("P2"));
}

#[tokio::test]
async fn upsert_by_external_id_and_matching_fields() {
    let (emu, srv, c) = setup().await;
    let url = format!("{}/api/v2/{G}/people", srv.base_url);
    let ext = json!({ "id": "h-1", "provider": "hubspot", "realm": "62515" });
    let (s, v) = body(
        post(
            &c,
            &url,
            &json!({ "people": { "id": [ext], "first_name": "Ann" } }),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["people"]["id"][0]["provider"], json!("connec"));
    assert_eq!(v["people"]["id"][0]["realm"], json!(format!("org-{G}")));
    assert_eq!(v["people"]["id"][1], ext);
    assert_eq!(v["people"]["status"], json!("ACTIVE"));
    let (s, v) = body(
        post(
            &c,
            &url,
            &json!({ "people": { "id": [ext], "first_name": "Anna" } }),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["people"]["first_name"], json!("Anna"));
    assert_eq!(emu.records(G, "people").len(), 1);

    // Smart merge on matching fields.
    emu.seed(
        G,
        "people",
        json!({ "first_name": "Bob", "email": { "address": "bob@x.io" }, "phone": "1" }),
    );
    let ext2 = json!({ "id": "h-2", "provider": "hubspot", "realm": "62515" });
    let rec = json!({ "people": {
        "id": [ext2], "last_name": "Builder", "email": { "address": "bob@x.io" },
        "opts": { "matching_fields": ["email.address"] } } });
    let (s, v) = body(post(&c, &url, &rec).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["people"]["first_name"], json!("Bob"));
    assert_eq!(v["people"]["last_name"], json!("Builder"));
    assert_eq!(v["people"]["phone"], json!("1"));
    assert_eq!(v["people"]["id"][1], ext2);
    assert!(v["people"].get("opts").is_none());
    assert_eq!(emu.records(G, "people").len(), 2);

    // References: external triple resolves to the organization.
    let org = emu.seed(G, "organizations", json!({ "name": "Acme", "id": [{ "id": "co-1", "provider": "hubspot", "realm": "62515" }] }));
    let person = json!({ "people": { "first_name": "Cy", "organization_id": [{ "id": "co-1", "provider": "hubspot", "realm": "62515" }] } });
    let (s, v) = body(post(&c, &url, &person).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["people"]["organization_id"][0]["id"], org["id"][0]["id"]);
    let plain_id = v["people"]["id"][0]["id"].as_str().unwrap();
    let (_, plain) = body(get(&c, &format!("{url}/{plain_id}")).send().await.unwrap()).await;
    assert_eq!(plain["people"]["organization_id"], org["id"][0]["id"]);
    assert_eq!(plain["people"]["id"], json!(plain_id));
}

#[tokio::test]
async fn idempotent_resend_keeps_updated_at() {
    let (emu, srv, c) = setup().await;
    let url = format!("{}/api/v2/{G}/organizations", srv.base_url);
    let rec = json!({ "organizations": { "id": [{ "id": "c9", "provider": "hubspot", "realm": "r" }], "name": "Acme", "address": { "city": "Paris" } } });
    let (_, a) = body(post(&c, &url, &rec).send().await.unwrap()).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (s, b) = body(post(&c, &url, &rec).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        a["organizations"]["updated_at"],
        b["organizations"]["updated_at"]
    );
    // Third-party edit bumps it; PUT of a real change too.
    let id = a["organizations"]["id"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let edited = emu
        .update(
            G,
            "organizations",
            &id,
            json!({ "address": { "zip": "75001" } }),
        )
        .unwrap();
    assert_eq!(
        edited["address"],
        json!({ "city": "Paris", "zip": "75001" })
    );
    assert_ne!(edited["updated_at"], a["organizations"]["updated_at"]);
    let r = c
        .put(format!("{url}/{id}"))
        .basic_auth("demo-id", Some("demo-key"))
        .json(&json!({ "organizations": { "name": "Acme 2" } }))
        .send()
        .await
        .unwrap();
    let (s, v) = body(r).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["organizations"]["name"], json!("Acme 2"));
    let r = c
        .delete(format!("{url}/{id}"))
        .basic_auth("demo-id", Some("demo-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = get(&c, &format!("{url}/nope")).send().await.unwrap();
    let (s, v) = body(r).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["errors"][0]["title"], json!("Not Found"));
}

#[tokio::test]
async fn batch_reports_per_op_results() {
    let (emu, srv, c) = setup().await;
    emu.fail_record(RecordFault::new("email.address", "bad@x.io"));
    let op = |email: &str| {
        json!({ "method": "post", "url": format!("/api/v2/{G}/people"),
                "params": { "people": { "first_name": "X", "email": { "address": email } } } })
    };
    let req = json!({ "sequential": true, "ops": [op("a@x.io"), op("bad@x.io"), op("c@x.io"),
        { "method": "post", "url": format!("/api/v2/{G}/people"), "params": { "people": {} } }] });
    let (s, v) = body(
        post(&c, &format!("{}/batch", srv.base_url), &req)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let st: Vec<u64> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(st, [201, 400, 201, 400]);
    assert_eq!(v["results"][1]["body"]["errors"][0]["status"], json!("400"));
    assert_eq!(
        v["results"][0]["body"]["people"]["id"][0]["provider"],
        json!("connec")
    );
    assert_eq!(emu.records(G, "people").len(), 2);
    let stats = emu.stats();
    assert_eq!(stats.writes, 1);
    assert_eq!(stats.by_route["batch-ops"], 4);

    let too_many = json!({ "ops": vec![op("z@x.io"); 101] });
    let r = post(&c, &format!("{}/batch", srv.base_url), &too_many)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn basic_auth_is_required() {
    let (_emu, srv, c) = setup().await;
    let url = format!("{}/api/v2/{G}/people", srv.base_url);
    let r = c
        .get(&url)
        .basic_auth("demo-id", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["content-type"], "application/vnd.api+json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["status"], json!("401"));
    assert_eq!(v["errors"][0]["title"], json!("Unauthorized"));
    assert_eq!(
        c.get(&url).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn call_faults_and_admin_routes() {
    let (emu, srv, c) = setup().await;
    let url = format!("{}/api/v2/{G}/people", srv.base_url);
    emu.fail_calls(CallFault::status("/people", 500, 2));
    assert_eq!(
        get(&c, &url).send().await.unwrap().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        get(&c, &url).send().await.unwrap().status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(get(&c, &url).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(emu.stats().rejected, 2);

    // Same over HTTP: malformed body once.
    let r = c
        .post(format!("{}/_emulator/faults/call", srv.base_url))
        .json(&json!({ "path_contains": "/people", "times": 1, "kind": { "type": "malformed" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = get(&c, &url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.is_err());

    emu.fail_calls(CallFault::new(
        "",
        FaultKind::Status {
            status: 429,
            retry_after_secs: Some(3),
        },
        1,
    ));
    let r = get(&c, &url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "3");

    let r = c
        .post(format!("{}/_emulator/seed/{G}/items", srv.base_url))
        .json(&json!([{ "name": "Widget" }, { "name": "Gadget" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(emu.records(G, "items").len(), 2);
    let stats: Value = c
        .get(format!("{}/_emulator/stats", srv.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["reads"], json!(emu.stats().reads));
    let state: Value = c
        .get(format!("{}/_emulator/state", srv.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["groups"][G]["items"].as_array().unwrap().len(), 2);
    srv.shutdown().await;
}
