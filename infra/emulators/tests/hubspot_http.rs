//! HubSpot emulator exercised over real HTTP.

use emulators::{CallFault, HubSpotConfig, HubSpotEmulator, RateLimit, RecordFault, RunningServer};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
#[path = "support/clock.rs"]
mod clock;

async fn setup(config: HubSpotConfig) -> (HubSpotEmulator, RunningServer, Client) {
    let emu = HubSpotEmulator::new(config);
    let srv = emu.start().await.expect("start");
    (emu, srv, Client::new())
}

async fn call(
    c: &Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut rb = c.request(method, url).bearer_auth("demo-token");
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.unwrap();
    let s = r.status();
    let text = r.text().await.unwrap();
    (
        s,
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        },
    )
}

fn post(
    c: &Client,
    url: String,
    b: Value,
) -> impl std::future::Future<Output = (StatusCode, Value)> + '_ {
    call(c, reqwest::Method::POST, url, Some(b))
}

#[tokio::test]
async fn list_paging_with_after_cursor() {
    let (emu, srv, c) = setup(HubSpotConfig::default()).await;
    for i in 0..5 {
        emu.seed(
            "companies",
            json!({ "name": format!("C{i}"), "domain": format!("c{i}.io") }),
        );
    }
    let mut url = format!(
        "{}/crm/v3/objects/companies?limit=2&properties=name",
        srv.base_url
    );
    let mut names = Vec::new();
    loop {
        let (s, v) = call(&c, reqwest::Method::GET, url.clone(), None).await;
        assert_eq!(s, StatusCode::OK);
        for o in v["results"].as_array().unwrap() {
            assert!(o["properties"].get("hs_object_id").is_some());
            assert!(o["properties"].get("domain").is_none());
            names.push(o["properties"]["name"].as_str().unwrap().to_string());
        }
        match v["paging"]["next"]["link"].as_str() {
            Some(l) => url = l.to_string(),
            None => break,
        }
    }
    assert_eq!(names, ["C0", "C1", "C2", "C3", "C4"]);
    let (s, v) = call(
        &c,
        reqwest::Method::GET,
        format!("{}/crm/v3/objects/companies?limit=101", srv.base_url),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["category"], json!("VALIDATION_ERROR"));
    let (s, v) = call(
        &c,
        reqwest::Method::GET,
        format!("{}/account-info/v3/details", srv.base_url),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["portalId"], json!(62515));
    let (s, v) = call(
        &c,
        reqwest::Method::GET,
        format!("{}/crm/v3/objects/deals", srv.base_url),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["status"], json!("error"));
}

#[tokio::test]
async fn search_gt_lastmodified_sorted_and_capped() {
    let cfg = HubSpotConfig {
        search_cap: 30,
        ..HubSpotConfig::default()
    };
    let (emu, srv, c) = setup(cfg).await;
    let seeded: Vec<Value> = (0..40)
        .map(|i| {
            // One millisecond each, for the `GT` below.
            clock::next_ms();
            emu.seed(
                "contacts",
                json!({ "email": format!("p{i}@x.io"), "age": i }),
            )
        })
        .collect();
    let since = seeded[4]["properties"]["lastmodifieddate"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("{}/crm/v3/objects/contacts/search", srv.base_url);
    let query = |after: Option<&str>, limit: u32| {
        let mut b = json!({
            "filterGroups": [{ "filters": [{ "propertyName": "lastmodifieddate", "operator": "GT", "value": since }] }],
            "sorts": [{ "propertyName": "lastmodifieddate", "direction": "ASCENDING" }],
            "properties": ["email", "age"],
            "limit": limit,
        });
        if let Some(a) = after {
            b["after"] = json!(a);
        }
        b
    };
    let mut after: Option<String> = None;
    let mut emails = Vec::new();
    loop {
        let (s, v) = post(&c, url.clone(), query(after.as_deref(), 10)).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["total"], json!(35));
        emails.extend(
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["properties"]["email"].clone()),
        );
        match v["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_string()),
            None => break,
        }
    }
    // Cap of 30 reached even though 35 match.
    assert_eq!(emails.len(), 30);
    assert_eq!(emails[0], json!("p5@x.io"));
    assert_eq!(emails[29], json!("p34@x.io"));
    let (s, v) = post(&c, url.clone(), query(Some("25"), 10)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["category"], json!("VALIDATION_ERROR"));
    assert!(v["message"].as_str().unwrap().contains("exceeds 30"));

    // Epoch millis, numeric comparison, descending string sort, IN.
    let ms = chrono::DateTime::parse_from_rfc3339(&since)
        .unwrap()
        .timestamp_millis()
        .to_string();
    let b = json!({
        "filterGroups": [
            { "filters": [{ "propertyName": "lastmodifieddate", "operator": "LTE", "value": ms },
                          { "propertyName": "age", "operator": "GTE", "value": 3 }] },
            { "filters": [{ "propertyName": "email", "operator": "IN", "values": ["P39@X.IO"] }] }
        ],
        "sorts": ["-age"],
    });
    let (s, v) = post(&c, url, b).await;
    assert_eq!(s, StatusCode::OK);
    let ids: Vec<&str> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["properties"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p39@x.io", "p4@x.io", "p3@x.io"]);
}

#[tokio::test]
async fn batch_create_multi_status_with_trace_ids() {
    let (emu, srv, c) = setup(HubSpotConfig::default()).await;
    emu.fail_record(RecordFault::new("lastname", "Broken"));
    emu.seed("contacts", json!({ "email": "taken@x.io" }));
    let co = emu.seed("companies", json!({ "name": "Acme" }));
    let co_id = co["id"].as_str().unwrap();
    let inputs = json!({ "inputs": [
        { "properties": { "email": "a@x.io", "lastname": "Ok" }, "objectWriteTraceId": "t0",
          "associations": [{ "to": { "id": co_id }, "types": [{ "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279 }] }] },
        { "properties": { "email": "b@x.io", "lastname": "Broken" }, "objectWriteTraceId": "t1" },
        { "properties": { "email": "TAKEN@x.io" } },
        { "properties": { "email": "d@x.io", "associatedcompanyid": "999999" }, "objectWriteTraceId": "t3" },
        { "properties": { "email": "e@x.io", "lastname": 7 }, "objectWriteTraceId": "t4" },
    ]});
    let (s, v) = post(
        &c,
        format!("{}/crm/v3/objects/contacts/batch/create", srv.base_url),
        inputs,
    )
    .await;
    assert_eq!(s, StatusCode::MULTI_STATUS, "{v}");
    assert_eq!(v["numErrors"], json!(3));
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["properties"]["email"], json!("a@x.io"));
    assert_eq!(results[1]["properties"]["lastname"], json!("7"));
    assert_eq!(v["errors"][0]["category"], json!("VALIDATION_ERROR"));
    assert_eq!(
        v["errors"][0]["context"]["objectWriteTraceId"],
        json!(["t1"])
    );
    assert_eq!(v["errors"][1]["category"], json!("CONFLICT"));
    assert_eq!(v["errors"][1]["context"]["index"], json!(["2"]));
    assert_eq!(
        v["errors"][2]["context"]["objectWriteTraceId"],
        json!(["t3"])
    );
    let a_id = results[0]["id"].as_str().unwrap();
    assert_eq!(emu.primary_company_of(a_id).as_deref(), Some(co_id));
    let (_, got) =
        call(&c, reqwest::Method::GET, format!("{}/crm/v3/objects/contacts/{a_id}?associations=companies&properties=associatedcompanyid", srv.base_url), None).await;
    assert_eq!(got["properties"]["associatedcompanyid"], json!(co_id));
    assert_eq!(
        got["associations"]["companies"]["results"][0]["id"],
        json!(co_id)
    );

    // Batch read: one missing id => 207.
    let (s, v) = post(
        &c,
        format!("{}/crm/v3/objects/contacts/batch/read", srv.base_url),
        json!({ "inputs": [{ "id": a_id }, { "id": "424242" }], "properties": ["email"] }),
    )
    .await;
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(v["errors"][0]["category"], json!("OBJECT_NOT_FOUND"));
    assert_eq!(v["errors"][0]["context"]["ids"], json!(["424242"]));

    // Too many inputs => 400 for the whole request.
    let many: Vec<Value> = (0..101)
        .map(|i| json!({ "properties": { "email": format!("m{i}@x.io") } }))
        .collect();
    let (s, _) = post(
        &c,
        format!("{}/crm/v3/objects/contacts/batch/create", srv.base_url),
        json!({ "inputs": many }),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn upsert_new_flags_conflicts_and_idempotence() {
    let (emu, srv, c) = setup(HubSpotConfig::default()).await;
    let existing = emu.seed(
        "contacts",
        json!({ "email": "old@x.io", "firstname": "Old" }),
    );
    let url = format!("{}/crm/v3/objects/contacts/batch/upsert", srv.base_url);
    let body = json!({ "inputs": [
        { "idProperty": "email", "id": "new@x.io", "properties": { "firstname": "New" } },
        { "idProperty": "email", "id": "OLD@x.io", "properties": { "firstname": "Older" } },
    ]});
    let (s, v) = post(&c, url.clone(), body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["new"], json!(true));
    assert_eq!(v["results"][0]["properties"]["email"], json!("new@x.io"));
    assert_eq!(v["results"][1]["new"], json!(false));
    assert_eq!(v["results"][1]["id"], existing["id"]);
    let (s, _) = post(
        &c,
        url,
        json!({ "inputs": [{ "idProperty": "firstname", "id": "x", "properties": {} }] }),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Single create with a taken email => 409.
    let (s, v) = post(
        &c,
        format!("{}/crm/v3/objects/contacts", srv.base_url),
        json!({ "properties": { "email": "Old@X.io" } }),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["category"], json!("CONFLICT"));
    assert_eq!(
        v["message"],
        json!(format!(
            "Contact already exists. Existing ID: {}",
            existing["id"].as_str().unwrap()
        ))
    );

    // Idempotent PATCH keeps updatedAt; a real change bumps it.
    let id = existing["id"].as_str().unwrap();
    let patch_url = format!("{}/crm/v3/objects/contacts/{id}", srv.base_url);
    let (_, a) = call(
        &c,
        reqwest::Method::PATCH,
        patch_url.clone(),
        Some(json!({ "properties": { "firstname": "Older" } })),
    )
    .await;
    let (s, b) = call(
        &c,
        reqwest::Method::PATCH,
        patch_url.clone(),
        Some(json!({ "properties": { "firstname": "Older" } })),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a["updatedAt"], b["updatedAt"]);
    let (_, d) = call(
        &c,
        reqwest::Method::PATCH,
        patch_url.clone(),
        Some(json!({ "properties": { "firstname": "" } })),
    )
    .await;
    assert_ne!(d["updatedAt"], b["updatedAt"]);
    assert_eq!(d["properties"]["firstname"], json!(""));
    assert_eq!(d["properties"]["lastmodifieddate"], d["updatedAt"]);

    // Archive then 404.
    let (s, _) = call(&c, reqwest::Method::DELETE, patch_url.clone(), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = call(&c, reqwest::Method::GET, patch_url, None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["category"], json!("OBJECT_NOT_FOUND"));
    assert_eq!(emu.objects("contacts").len(), 1);
}

#[tokio::test]
async fn rate_limit_returns_429_with_headers() {
    let cfg = HubSpotConfig {
        rate_limit: Some(RateLimit {
            max: 3,
            interval_ms: 10_000,
        }),
        ..HubSpotConfig::default()
    };
    let (emu, srv, c) = setup(cfg).await;
    let url = format!("{}/crm/v3/objects/contacts", srv.base_url);
    for expected in ["2", "1", "0"] {
        let r = c.get(&url).bearer_auth("demo-token").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["x-hubspot-ratelimit-max"], "3");
        assert_eq!(r.headers()["x-hubspot-ratelimit-remaining"], expected);
        assert_eq!(
            r.headers()["x-hubspot-ratelimit-interval-milliseconds"],
            "10000"
        );
    }
    let r = c.get(&url).bearer_auth("demo-token").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["category"], json!("RATE_LIMITS"));
    assert_eq!(v["policyName"], json!("TEN_SECONDLY_ROLLING"));
    assert_eq!(emu.stats().rejected, 1);

    let r = c
        .get(format!("{}/account-info/v3/details", srv.base_url))
        .bearer_auth("demo-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = c.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["category"], json!("INVALID_AUTHENTICATION"));
}

#[tokio::test]
async fn injected_call_faults() {
    let (emu, srv, c) = setup(HubSpotConfig::default()).await;
    let url = format!("{}/crm/v3/objects/contacts/search", srv.base_url);
    emu.fail_calls(CallFault::status("/search", 500, 2));
    for _ in 0..2 {
        let (s, v) = post(&c, url.clone(), json!({})).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(v["status"], json!("error"));
    }
    let (s, v) = post(&c, url.clone(), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["total"], json!(0));

    let r = c
        .post(format!("{}/_emulator/faults/call", srv.base_url))
        .json(&json!({ "method": "POST", "path_contains": "/search", "times": 1, "kind": { "type": "malformed" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(&url)
        .bearer_auth("demo-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.json::<Value>().await.is_err());

    let r = c
        .post(format!("{}/_emulator/faults/call", srv.base_url))
        .json(&json!({ "path_contains": "/contacts", "times": 1, "kind": { "type": "timeout", "delay_ms": 2000 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .get(format!("{}/crm/v3/objects/contacts", srv.base_url))
        .bearer_auth("demo-token")
        .timeout(std::time::Duration::from_millis(200))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());

    let r = c
        .delete(format!("{}/_emulator/faults", srv.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let stats = emu.stats();
    assert_eq!(stats.rejected, 4);
    assert_eq!(
        stats.by_route["POST /crm/v3/objects/{objectType}/search"],
        4
    );
    assert_eq!(stats.reads, 5);
    srv.shutdown().await;
}
