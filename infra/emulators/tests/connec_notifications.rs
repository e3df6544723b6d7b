//! Connec! emulator: notifications to subscribers over real HTTP.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use emulators::{ConnecConfig, ConnecEmulator, NotificationRecord, NotificationSubscriber};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Receiver, eventually};

fn basic(id: &str, key: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{key}")))
}

fn ids_of(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["group_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn batch_with_two_groups_and_two_collections() {
    let emu = ConnecEmulator::new(ConnecConfig {
        notification_backoff: Duration::from_millis(20),
        ..ConnecConfig::default()
    });
    let srv = emu.start().await.unwrap();
    let (all, all_url) = Receiver::start(&[]).await;
    let (only_g2, g2_url) = Receiver::start(&[]).await;
    emu.subscribe(NotificationSubscriber {
        url: format!("{all_url}/connec"),
        api_id: "app-id".into(),
        api_key: "app-key".into(),
        groups: None,
    });
    // Same thing over the admin API.
    let r = reqwest::Client::new()
        .post(format!("{}/_emulator/subscribers", srv.base_url))
        .json(&json!({ "url": format!("{g2_url}/n"), "api_id": "x", "api_key": "y", "groups": ["g2"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/_emulator/subscribers", srv.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert!(!listed.to_string().contains("app-key"));

    emu.pause_notifications(true);
    emu.seed("g1", "people", json!({ "first_name": "Ann" }));
    emu.seed("g2", "organizations", json!({ "name": "Acme" }));
    // A client's own API write notifies too (echo suppression is the receiver's job).
    let r = reqwest::Client::new()
        .post(format!("{}/api/v2/g2/people", srv.base_url))
        .basic_auth("demo-id", Some("demo-key"))
        .json(&json!({ "people": {
            "first_name": "Bob",
            "id": [{ "id": "h-1", "provider": "hubspot", "realm": "62515" }]
        }}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(emu.pending_notifications(), 3);
    emu.pause_notifications(false);
    emu.flush_notifications().await;

    let got = all.received();
    assert_eq!(got.len(), 1, "one POST per subscriber per flush");
    assert_eq!(got[0].uri.path(), "/connec");
    assert_eq!(
        got[0].headers["authorization"],
        basic("app-id", "app-key").as_str()
    );
    assert_eq!(got[0].headers["content-type"], "application/json");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(ids_of(&body["people"]), ["g1", "g2"]);
    assert_eq!(ids_of(&body["organizations"]), ["g2"]);
    // External-ids shape.
    let bob = &body["people"][1];
    assert_eq!(bob["first_name"], "Bob");
    assert_eq!(bob["id"][0]["provider"], "connec");
    assert_eq!(bob["id"][0]["realm"], "org-g2");
    assert_eq!(bob["id"][1]["id"], "h-1");

    let got = only_g2.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["authorization"], basic("x", "y").as_str());
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(ids_of(&body["people"]), ["g2"]);
    assert_eq!(ids_of(&body["organizations"]), ["g2"]);

    let sent = emu.notifications_sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0],
        NotificationRecord {
            url: format!("{all_url}/connec"),
            status: Some(200),
            records: 3,
            attempt: 0
        }
    );
    assert_eq!(sent[1].records, 2);
}

#[tokio::test]
async fn background_delivery_and_retries() {
    let emu = ConnecEmulator::new(ConnecConfig {
        notification_backoff: Duration::from_millis(20),
        ..ConnecConfig::default()
    });
    let (rx, url) = Receiver::start(&[500, 502]).await;
    emu.subscribe(NotificationSubscriber {
        url: url.clone(),
        api_id: "a".into(),
        api_key: "b".into(),
        groups: None,
    });
    let p = emu.seed("g", "people", json!({ "first_name": "Ann" }));
    let id = p["id"][0]["id"].as_str().unwrap();
    emu.update("g", "people", id, json!({ "last_name": "Lee" }))
        .unwrap();
    // No flush: the background task delivers, retrying twice.
    assert!(eventually(|| rx.received().len() >= 3).await);
    emu.flush_notifications().await;
    let statuses: Vec<(Option<u16>, u32)> = emu
        .notifications_sent()
        .iter()
        .map(|n| (n.status, n.attempt))
        .collect();
    let total: usize = rx
        .received()
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["people"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(
        statuses[..3],
        [(Some(500), 0), (Some(502), 1), (Some(200), 2)]
    );
    assert!(total >= 2);
    // The last body shows the update.
    let last: Value = serde_json::from_slice(&rx.received().last().unwrap().body).unwrap();
    assert_eq!(
        last["people"].as_array().unwrap().last().unwrap()["last_name"],
        "Lee"
    );
}

#[tokio::test]
async fn one_record_several_times_in_one_notification_in_any_order() {
    use emulators::connec::NotificationOrder;
    let emu = ConnecEmulator::default();
    let (rx, url) = Receiver::start(&[]).await;
    emu.subscribe(NotificationSubscriber {
        url,
        api_id: "a".into(),
        api_key: "b".into(),
        groups: None,
    });
    emu.pause_notifications(true);
    let created = emu.seed(
        "g",
        "people",
        json!({ "first_name": "Ann", "last_name": "v1" }),
    );
    let id = created["id"][0]["id"].as_str().unwrap().to_owned();
    emu.update("g", "people", &id, json!({ "last_name": "v2" }));
    emu.update("g", "people", &id, json!({ "last_name": "v3" }));
    // A stale copy, queued after the real entries.
    emu.buffer_notification("g", "people", created.clone());
    assert_eq!(emu.pending_notifications(), 4);
    emu.set_notification_order(NotificationOrder::NewestFirst);
    emu.pause_notifications(false);
    emu.flush_notifications().await;

    let got = rx.received();
    assert_eq!(got.len(), 1, "all versions in one POST");
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    let versions: Vec<&str> = body["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["id"][0]["id"], json!(id), "the same record each time");
            p["last_name"].as_str().unwrap()
        })
        .collect();
    assert_eq!(versions, ["v1", "v3", "v2", "v1"]);
    let stamps: Vec<&str> = body["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["updated_at"].as_str().unwrap())
        .collect();
    assert!(
        stamps[1] > stamps[2] && stamps[2] > stamps[3],
        "newest first: {stamps:?}"
    );

    // Back to commit order: the oldest version first.
    emu.set_notification_order(NotificationOrder::CommitOrder);
    emu.pause_notifications(true);
    emu.update("g", "people", &id, json!({ "last_name": "v4" }));
    emu.update("g", "people", &id, json!({ "last_name": "v5" }));
    emu.pause_notifications(false);
    emu.flush_notifications().await;
    let got = rx.received();
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    let versions: Vec<&str> = body["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["last_name"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["v4", "v5"]);
}
