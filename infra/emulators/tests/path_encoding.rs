//! Percent-escapes in path segments are decoded, as the vendors decode them: HubSpot's own
//! clients send an email used as id (`idProperty=email`) with its `@` as `%40`.

use emulators::{ConnecConfig, ConnecEmulator, HubSpotConfig, HubSpotEmulator};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn hubspot_decodes_an_escaped_email_used_as_id() {
    let emu = HubSpotEmulator::new(HubSpotConfig::default());
    let srv = emu.start().await.unwrap();
    let http = reqwest::Client::new();
    let id = emu.seed("contacts", json!({ "email": "a@x.io" }))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!(
        "{}/crm/v3/objects/contacts/a%40x.io?idProperty=email",
        srv.base_url
    );

    let got = http
        .get(&url)
        .bearer_auth("demo-token")
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    let got: Value = got.json().await.unwrap();
    assert_eq!(got["id"], json!(id));

    let patched = http
        .patch(&url)
        .bearer_auth("demo-token")
        .json(&json!({ "properties": { "firstname": "Ann" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    assert_eq!(
        emu.get("contacts", &id).unwrap()["properties"]["firstname"],
        json!("Ann")
    );

    let archived = http
        .delete(&url)
        .bearer_auth("demo-token")
        .send()
        .await
        .unwrap();
    assert_eq!(archived.status(), StatusCode::NO_CONTENT);
    assert!(emu.objects("contacts").is_empty());
}

#[tokio::test]
async fn an_escape_that_is_not_utf8_stays_as_sent() {
    let emu = HubSpotEmulator::new(HubSpotConfig::default());
    let srv = emu.start().await.unwrap();
    let answer = reqwest::Client::new()
        .get(format!("{}/crm/v3/objects/contacts/%FF", srv.base_url))
        .bearer_auth("demo-token")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(
        body["message"],
        json!("Object not found.  objectId are usually numeric. (%FF)")
    );
}

#[tokio::test]
async fn connec_decodes_escaped_segments() {
    let emu = ConnecEmulator::new(ConnecConfig::default());
    let srv = emu.start().await.unwrap();
    let person = emu.seed("org-1", "people", json!({ "first_name": "A" }));
    let id = person["id"][0]["id"].as_str().unwrap();
    let answer = reqwest::Client::new()
        .get(format!("{}/api/v2/org%2D1/people/{id}", srv.base_url))
        .basic_auth("demo-id", Some("demo-key"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["people"]["first_name"], json!("A"));
    assert_eq!(body["people"]["group_id"], json!("org-1"));
}
