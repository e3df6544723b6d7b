//! The connection-reset and after-commit (lost answer) call faults, over real HTTP, on both
//! emulators.

use emulators::{
    CallFault, ConnecConfig, ConnecEmulator, FaultKind, HubSpotConfig, HubSpotEmulator,
};
use serde_json::json;

fn lost(status: u16) -> FaultKind {
    FaultKind::AfterCommit {
        then: Box::new(FaultKind::Status {
            status,
            retry_after_secs: None,
        }),
    }
}

/// A reset call yields a transport error (no status, or a body that cannot be read).
async fn is_reset(request: reqwest::RequestBuilder) -> bool {
    match request.send().await {
        Err(_) => true,
        Ok(answer) => answer.bytes().await.is_err(),
    }
}

#[tokio::test]
async fn hubspot_reset_answers_nothing_and_changes_nothing() {
    let hubspot = HubSpotEmulator::new(HubSpotConfig::default());
    let server = hubspot.start().await.unwrap();
    let http = reqwest::Client::new();
    hubspot.fail_calls(CallFault::new(
        "/crm/v3/objects/contacts",
        FaultKind::Reset,
        1,
    ));
    let create = || {
        http.post(format!("{}/crm/v3/objects/contacts", server.base_url))
            .bearer_auth("demo-token")
            .json(&json!({ "properties": { "email": "r@x.example" } }))
    };
    assert!(is_reset(create()).await, "the connection is reset");
    assert!(hubspot.objects("contacts").is_empty(), "nothing committed");
    // The rule is used up: the next call goes through.
    assert_eq!(create().send().await.unwrap().status(), 201);
    assert_eq!(hubspot.objects("contacts").len(), 1);
}

#[tokio::test]
async fn hubspot_after_commit_commits_then_fails() {
    let hubspot = HubSpotEmulator::new(HubSpotConfig::default());
    let server = hubspot.start().await.unwrap();
    hubspot.fail_calls(CallFault::new("/crm/v3/objects/contacts", lost(503), 1));
    let answer = reqwest::Client::new()
        .post(format!("{}/crm/v3/objects/contacts", server.base_url))
        .bearer_auth("demo-token")
        .json(&json!({ "properties": { "email": "lost@x.example" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    assert_eq!(hubspot.objects("contacts").len(), 1, "the change happened");
}

#[tokio::test]
async fn connec_reset_and_after_commit() {
    let connec = ConnecEmulator::new(ConnecConfig::default());
    let server = connec.start().await.unwrap();
    let http = reqwest::Client::new();
    let post = || {
        http.post(format!("{}/api/v2/cld-f/people", server.base_url))
            .basic_auth("demo-id", Some("demo-key"))
            .json(&json!({ "people": { "first_name": "Lost" } }))
    };
    connec.fail_calls(CallFault::new("/people", FaultKind::Reset, 1));
    assert!(is_reset(post()).await, "the connection is reset");
    assert!(connec.records("cld-f", "people").is_empty());

    connec.fail_calls(CallFault::new("/people", lost(500), 1));
    assert_eq!(post().send().await.unwrap().status(), 500);
    assert_eq!(connec.records("cld-f", "people").len(), 1, "committed");
    // Admin routes are never affected, and the rule is used up.
    assert!(post().send().await.unwrap().status().is_success());
    assert_eq!(connec.records("cld-f", "people").len(), 2);
}
