//! HubSpot emulator over HTTP: duplicate ids, shuffled answers, archived records in batch
//! reads, the properties API, undefined properties, search limits and scheduled faults.

use emulators::hubspot::ScheduledFault;
use emulators::{CallFault, FaultKind, HubSpotConfig, HubSpotEmulator, RunningServer};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

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
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (s, v)
}

async fn post(c: &Client, url: String, b: Value) -> (StatusCode, Value) {
    call(c, reqwest::Method::POST, url, Some(b)).await
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_batch_naming_one_id_twice_is_refused_whole_with_hubspots_body() {
    let (emu, srv, c) = setup(HubSpotConfig::default()).await;
    let a = id_of(&emu.seed("contacts", json!({ "firstname": "A" })));
    let b = id_of(&emu.seed("contacts", json!({ "firstname": "B" })));
    let url = |op: &str| format!("{}/crm/v3/objects/contacts/batch/{op}", srv.base_url);

    let (s, v) = post(
        &c,
        url("update"),
        json!({ "inputs": [
            { "id": a, "properties": { "firstname": "A1" } },
            { "id": b, "properties": { "firstname": "B1" } },
            { "id": a, "properties": { "firstname": "A2" } },
        ]}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["status"], "error");
    assert_eq!(v["category"], "VALIDATION_ERROR");
    assert_eq!(
        v["message"],
        json!(format!(
            "Duplicate IDs found in batch input: [{a}]. IDs must be unique"
        ))
    );
    assert_eq!(v["context"]["ids"], json!([a]));
    assert!(v["correlationId"].is_string());
    // Nothing of the batch was applied.
    assert_eq!(
        emu.get("contacts", &b).unwrap()["properties"]["firstname"],
        "B"
    );

    for op in ["read", "archive"] {
        let (s, v) = post(&c, url(op), json!({ "inputs": [{ "id": a }, { "id": a }] })).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{op}");
        assert_eq!(v["context"]["ids"], json!([a]), "{op}");
    }
    assert_eq!(emu.objects("contacts").len(), 2, "archive refused whole");

    let (s, v) = post(
        &c,
        url("upsert"),
        json!({ "inputs": [
            { "idProperty": "email", "id": "x@y.io", "properties": {} },
            { "idProperty": "email", "id": "X@Y.io", "properties": {} },
        ]}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["context"]["ids"], json!(["x@y.io"]));
}

#[tokio::test]
async fn a_seeded_shuffle_answers_batches_out_of_input_order() {
    let (_emu, srv, c) = setup(HubSpotConfig {
        shuffle_seed: Some(3),
        ..HubSpotConfig::default()
    })
    .await;
    let names: Vec<String> = (0..5).map(|i| format!("N{i}")).collect();
    let (s, v) = post(
        &c,
        format!("{}/crm/v3/objects/contacts/batch/create", srv.base_url),
        json!({ "inputs": names.iter().map(|n| json!({ "properties": { "firstname": n } })).collect::<Vec<_>>() }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let got: Vec<String> = v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["properties"]["firstname"].as_str().unwrap().to_owned())
        .collect();
    assert_ne!(got, names);
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, names);
}

#[tokio::test]
async fn batch_read_leaves_archived_records_out() {
    let (emu, srv, c) = setup(HubSpotConfig::default()).await;
    let live = id_of(&emu.seed("companies", json!({ "name": "Live" })));
    let gone = id_of(&emu.seed("companies", json!({ "name": "Gone" })));
    assert!(emu.archive("companies", &gone));
    let (s, v) = post(
        &c,
        format!("{}/crm/v3/objects/companies/batch/read", srv.base_url),
        json!({ "inputs": [{ "id": live }, { "id": gone }], "properties": ["name"] }),
    )
    .await;
    assert_eq!(s, StatusCode::MULTI_STATUS);
    let ids: Vec<String> = v["results"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(ids, [live]);
    assert_eq!(v["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(v["errors"][0]["context"]["ids"], json!([gone]));
}

#[tokio::test]
async fn custom_properties_are_created_once_written_and_searched() {
    let (emu, srv, c) = setup(HubSpotConfig::default()).await;
    let props = format!("{}/crm/v3/properties/contacts", srv.base_url);
    let objects = format!("{}/crm/v3/objects/contacts", srv.base_url);

    // Undefined: reads say 404, writes are refused as HubSpot refuses them.
    let (s, v) = call(&c, reqwest::Method::GET, format!("{props}/connec_id"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["category"], "OBJECT_NOT_FOUND");
    let (s, v) = post(
        &c,
        objects.clone(),
        json!({ "properties": { "connec_id": "h1" } }),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["category"], "VALIDATION_ERROR");
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with("Property values were not valid: "),
        "{message}"
    );
    assert!(message.contains("PROPERTY_DOESNT_EXIST"), "{message}");
    assert!(
        message.contains("Property \\\"connec_id\\\" does not exist"),
        "{message}"
    );
    let (s, v) = post(
        &c,
        format!("{objects}/batch/create"),
        json!({ "inputs": [
            { "properties": { "firstname": "ok" }, "objectWriteTraceId": "t0" },
            { "properties": { "connec_id": "h1" }, "objectWriteTraceId": "t1" },
        ]}),
    )
    .await;
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["errors"][0]["context"]["objectWriteTraceId"],
        json!(["t1"])
    );
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("PROPERTY_DOESNT_EXIST")
    );
    // Default properties are defined.
    let (s, v) = call(&c, reqwest::Method::GET, format!("{props}/email"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["hubspotDefined"], true);

    // Created once; a second create is a conflict.
    let definition = json!({
        "name": "connec_id", "label": "Connec! id", "type": "string", "fieldType": "text",
        "groupName": "contactinformation", "description": "the hub id",
    });
    let (s, v) = post(&c, props.clone(), definition.clone()).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["name"], "connec_id");
    assert_eq!(v["hubspotDefined"], false);
    let (s, v) = post(&c, props.clone(), definition).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(v["category"], "OBJECT_ALREADY_EXISTS");
    let (s, v) = call(&c, reqwest::Method::GET, format!("{props}/connec_id"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["type"], "string");
    assert!(emu.property("contacts", "connec_id").is_some());
    assert!(
        emu.property("companies", "connec_id").is_none(),
        "per object type"
    );
    let (s, _) = post(
        &c,
        props.clone(),
        json!({ "name": "x", "label": "X", "type": "string", "fieldType": "text", "groupName": "nope" }),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Now writable and searchable.
    let (s, _) = post(
        &c,
        objects.clone(),
        json!({ "properties": { "connec_id": "h1" } }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = post(
        &c,
        objects.clone(),
        json!({ "properties": { "connec_id": "h2" } }),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let search = |filter: Value| {
        post(
            &c,
            format!("{objects}/search"),
            json!({ "filterGroups": [{ "filters": [filter] }], "properties": ["connec_id"] }),
        )
    };
    let (_, v) =
        search(json!({ "propertyName": "connec_id", "operator": "IN", "values": ["h2", "h9"] }))
            .await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["results"][0]["properties"]["connec_id"], "h2");
    let (_, v) =
        search(json!({ "propertyName": "connec_id", "operator": "EQ", "value": "h1" })).await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["results"][0]["properties"]["connec_id"], "h1");
}

#[tokio::test]
async fn search_refuses_more_filter_groups_than_hubspot_allows() {
    let (_emu, srv, c) = setup(HubSpotConfig::default()).await;
    let group = json!({ "filters": [{ "propertyName": "email", "operator": "HAS_PROPERTY" }] });
    let url = format!("{}/crm/v3/objects/contacts/search", srv.base_url);
    let (s, _) = post(
        &c,
        url.clone(),
        json!({ "filterGroups": vec![group.clone(); 5] }),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = post(&c, url, json!({ "filterGroups": vec![group; 6] })).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["category"], "VALIDATION_ERROR");
}

#[tokio::test]
async fn scheduled_faults_skip_calls_and_lose_answers_after_commit() {
    let (emu, srv, c) = setup(HubSpotConfig::default()).await;
    let create = format!("{}/crm/v3/objects/contacts/batch/create", srv.base_url);
    let one = |name: &str| json!({ "inputs": [{ "properties": { "firstname": name } }] });

    // The second matching call fails, before it is processed.
    emu.schedule_fault(ScheduledFault::after(
        1,
        CallFault::status("/batch/create", 503, 1),
    ));
    assert_eq!(
        post(&c, create.clone(), one("first")).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        post(&c, create.clone(), one("second")).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        post(&c, create.clone(), one("third")).await.0,
        StatusCode::CREATED
    );
    assert_eq!(emu.objects("contacts").len(), 2);

    // Processed, then answered with a failure: the record exists.
    emu.schedule_fault(ScheduledFault::after_commit(CallFault::new(
        "/batch/create",
        FaultKind::Status {
            status: 502,
            retry_after_secs: None,
        },
        1,
    )));
    let (s, _) = post(&c, create.clone(), one("lost")).await;
    assert_eq!(s, StatusCode::BAD_GATEWAY);
    let names: Vec<Value> = emu
        .objects("contacts")
        .iter()
        .map(|o| o["properties"]["firstname"].clone())
        .collect();
    assert!(names.contains(&json!("lost")), "{names:?}");

    // Over HTTP too, and cleared with the other faults.
    let admin = format!("{}/_emulator/faults", srv.base_url);
    let r = c
        .post(format!("{admin}/scheduled"))
        .json(&json!({ "rule": { "path_contains": "/batch/create", "times": 0, "kind": { "type": "status", "status": 500 } }, "skip": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        post(&c, create.clone(), one("x")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    c.delete(admin).send().await.unwrap();
    assert_eq!(post(&c, create, one("y")).await.0, StatusCode::CREATED);
}
