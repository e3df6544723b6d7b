//! Several apps at once: one Connec! group linked to an account of each of two apps. A Connec!
//! notification reaches both, an app's webhook only its own organization, the schedule both,
//! and each app gets the records of its own organization only.

use std::sync::Arc;

use connector_sdk::Registry;
use connector_sdk::testing::{FAKE_SIGNATURE_HEADER, FAKE_WEBHOOK_SECRET, FakeProvider};
use emulators::{ConnecConfig, ConnecEmulator};
use runtime_aws::testing::{in_memory, settings};
use serde_json::json;
use sync_core::domain::*;
use sync_core::ports::WorkItem;
use sync_core::testing::{FakeApp, ManualClock, sample_entities};
use webhooks::{RawRequest, basic_auth_header, body_hmac_signature};

const GROUP: &str = "cld-multi";

fn organization(id: &str, provider: &str, realm: &str) -> Organization {
    Organization {
        id: OrgId::new(id),
        tenant: Tenant::new("default"),
        group_id: GroupId::new(GROUP),
        provider: Provider::new(provider),
        realm: Realm::new(realm),
        name: GROUP.into(),
        sync_enabled: true,
        entity_flags: Default::default(),
        history_from: None,
        linked_at: Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
    }
}

#[tokio::test]
async fn one_group_syncs_with_two_apps_each_on_its_own_organization() {
    let connec = ConnecEmulator::new(ConnecConfig::default());
    let server = connec.start().await.unwrap();
    let clock = ManualClock::default();
    let alpha = Arc::new(FakeProvider::new(
        "alpha",
        "realm-a",
        FakeApp::new("alpha", sample_entities(), clock.clone()),
    ));
    let beta = Arc::new(FakeProvider::new(
        "beta",
        "realm-b",
        FakeApp::new("beta", sample_entities(), clock.clone()),
    ));
    let mut apps = Registry::new();
    apps.register(alpha.clone()).unwrap();
    apps.register(beta.clone()).unwrap();
    let (service, bus) = in_memory(settings(&server.base_url), apps);
    let store = service.ports().store.clone();
    store
        .put_organization(&organization(GROUP, "alpha", "realm-a"))
        .await
        .unwrap();
    let beta_org = format!("{GROUP}:beta");
    store
        .put_organization(&organization(&beta_org, "beta", "realm-b"))
        .await
        .unwrap();

    // A person created in Connec!, notified once.
    let person = connec.seed(
        GROUP,
        "people",
        json!({ "first_name": "Ann", "last_name": "Lee", "email": { "address": "ann@multi.example" } }),
    );
    let body = json!({ "people": [person] }).to_string();
    let headers = vec![(
        "authorization".to_owned(),
        basic_auth_header("demo-id", "demo-key"),
    )];
    let request = RawRequest {
        method: "POST",
        uri: "/webhooks/connec/default",
        headers: &headers,
        body: body.as_bytes(),
    };
    let received = service
        .connec_webhook("default", &request)
        .await
        .expect("accepted");
    assert_eq!(received.accepted, 2, "one per app of the group");
    let queued = bus.items();
    let mut orgs: Vec<String> = queued
        .iter()
        .map(|item| match item {
            WorkItem::HubRecords { org, .. } => org.to_string(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    orgs.sort();
    assert_eq!(orgs, vec![GROUP.to_owned(), beta_org.clone()]);

    // Each organization's work reaches its own app only.
    for item in queued {
        assert_eq!(
            service.process(item, None).await,
            service::WorkOutcome::Done
        );
    }
    let contacts_of = |p: &FakeProvider| p.app().all("contacts");
    assert_eq!(contacts_of(&alpha).len(), 1);
    assert_eq!(contacts_of(&beta).len(), 1);
    let alpha_contact = contacts_of(&alpha)[0]["id"].as_str().unwrap().to_owned();

    // Alpha's webhook queues work for alpha's organization; the same account id sent to beta's
    // webhook is nobody's there.
    let events =
        json!([{ "realm": "realm-a", "entity": "contacts", "id": alpha_contact, "event": "e-1" }])
            .to_string();
    let signed = vec![(
        FAKE_SIGNATURE_HEADER.to_owned(),
        body_hmac_signature(FAKE_WEBHOOK_SECRET, events.as_bytes()),
    )];
    let before = bus.items().len();
    for (app, queued_expected) in [("alpha", 1), ("beta", 0)] {
        let request = RawRequest {
            method: "POST",
            uri: "/webhooks/x",
            headers: &signed,
            body: events.as_bytes(),
        };
        let received = service.app_webhook(app, &request).await.expect("accepted");
        assert_eq!(received.accepted, queued_expected, "{app}");
    }
    let after = bus.items();
    assert_eq!(after.len(), before + 1);
    assert!(matches!(
        after.last(),
        Some(WorkItem::AppChanges { org, .. }) if org.as_str() == GROUP
    ));

    // The schedule covers every linked organization of every app.
    assert_eq!(service.fan_out().await.unwrap(), 2);
}
