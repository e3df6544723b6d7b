//! The webhook receiver: verification before parsing, routing, dedupe, and nothing queued for a
//! bad request.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use realtime::{AppWebhooks, BusError, EventBus, MemoryDedupe, WebhookReceiver, WorkItem};
use serde_json::json;
use store_embedded::EmbeddedStore;
use sync_core::domain::*;
use sync_core::ports::{Clock, SyncStore, SystemClock};
use webhooks::{
    BasicAuthVerifier, HubSpotV3Verifier, RawRequest, basic_auth_header, hubspot_v3_signature,
};

#[derive(Default)]
struct Recorder(Mutex<Vec<WorkItem>>);

#[async_trait]
impl EventBus for Recorder {
    async fn publish(&self, item: WorkItem) -> Result<(), BusError> {
        self.0.lock().unwrap().push(item);
        Ok(())
    }
}

fn org(group: &str, portal: &str) -> Organization {
    let now = SystemClock.now();
    Organization {
        id: OrgId::new(group),
        tenant: Tenant::new("acme"),
        group_id: GroupId::new(group),
        provider: Provider::new("hubspot"),
        realm: Realm::new(portal),
        name: group.into(),
        sync_enabled: true,
        entity_flags: Default::default(),
        history_from: None,
        linked_at: now,
    }
}

async fn receiver() -> (WebhookReceiver, Arc<Recorder>) {
    let store = Arc::new(EmbeddedStore::in_memory().unwrap());
    store.put_organization(&org("cld-1", "101")).await.unwrap();
    store.put_organization(&org("cld-2", "202")).await.unwrap();
    let bus = Arc::new(Recorder::default());
    let mut objects = std::collections::HashMap::new();
    objects.insert("contact".to_owned(), EntityName::new("people"));
    objects.insert("company".to_owned(), EntityName::new("organizations"));
    let receiver = WebhookReceiver::new(
        store,
        bus.clone(),
        Arc::new(MemoryDedupe::default()),
        Arc::new(SystemClock),
        vec![EntityName::new("organizations"), EntityName::new("people")],
    )
    .tenant(
        Tenant::new("acme"),
        Box::new(BasicAuthVerifier::new("id", "key")),
    )
    .app(
        Provider::new("hubspot"),
        AppWebhooks {
            verifier: Box::new(HubSpotV3Verifier::new("secret")),
            object_entities: objects,
        },
    );
    (receiver, bus)
}

fn queued(bus: &Recorder) -> Vec<WorkItem> {
    bus.0.lock().unwrap().clone()
}

const URI: &str = "https://connector.example/webhooks/hubspot";

fn hubspot_request(body: &[u8], timestamp_ms: i64, secret: &str) -> Vec<(String, String)> {
    vec![
        (
            "X-HubSpot-Signature-v3".into(),
            hubspot_v3_signature(secret, "POST", URI, body, timestamp_ms),
        ),
        (
            "X-HubSpot-Request-Timestamp".into(),
            timestamp_ms.to_string(),
        ),
    ]
}

#[tokio::test]
async fn a_connec_notification_with_two_groups_is_routed_to_both_organizations() {
    let (receiver, bus) = receiver().await;
    let body = json!({
        "people": [
            { "id": "p1", "group_id": "cld-1", "first_name": "A" },
            { "id": "p2", "group_id": "cld-2", "first_name": "B" },
            { "id": "p3", "group_id": "cld-unknown", "first_name": "C" }
        ],
        "Organization": [ { "id": "o1", "group_id": "cld-2", "name": "Org" } ],
        "invoices": [ { "id": "i1", "group_id": "cld-1" } ]
    })
    .to_string();
    let headers = vec![("Authorization".to_owned(), basic_auth_header("id", "key"))];
    let request = RawRequest {
        method: "POST",
        uri: "/webhooks/connec/acme",
        headers: &headers,
        body: body.as_bytes(),
    };
    let reply = receiver.connec("acme", &request).await;
    assert_eq!(reply.status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(answer, json!({ "accepted": 3, "ignored": 2 }));
    let items = queued(&bus);
    assert_eq!(items.len(), 3);
    let targets: Vec<(String, String, usize)> = items
        .iter()
        .map(|item| match item {
            WorkItem::HubRecords {
                org,
                entity,
                records,
            } => (org.to_string(), entity.to_string(), records.len()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(targets.contains(&("cld-1".into(), "people".into(), 1)));
    assert!(targets.contains(&("cld-2".into(), "people".into(), 1)));
    assert!(targets.contains(&("cld-2".into(), "organizations".into(), 1)));
}

#[tokio::test]
async fn wrong_basic_credentials_get_401_and_queue_nothing() {
    let (receiver, bus) = receiver().await;
    let body = json!({ "people": [ { "id": "p1", "group_id": "cld-1" } ] }).to_string();
    for headers in [
        vec![("Authorization".to_owned(), basic_auth_header("id", "wrong"))],
        vec![("Authorization".to_owned(), "Bearer nope".to_owned())],
        vec![],
    ] {
        let request = RawRequest {
            method: "POST",
            uri: "/webhooks/connec/acme",
            headers: &headers,
            body: body.as_bytes(),
        };
        let reply = receiver.connec("acme", &request).await;
        assert_eq!(reply.status, 401);
        let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    let headers = vec![("Authorization".to_owned(), basic_auth_header("id", "key"))];
    let request = RawRequest {
        method: "POST",
        uri: "/x",
        headers: &headers,
        body: b"{not json",
    };
    assert_eq!(receiver.connec("acme", &request).await.status, 400);
    assert_eq!(receiver.connec("other-tenant", &request).await.status, 404);
    assert!(queued(&bus).is_empty());
}

#[tokio::test]
async fn hubspot_webhooks_are_verified_deduplicated_and_routed_by_portal() {
    let (receiver, bus) = receiver().await;
    let now = Utc::now().timestamp_millis();
    let body = json!([
        { "eventId": 1, "subscriptionId": 9, "portalId": 101, "appId": 5, "occurredAt": now, "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 501, "propertyName": "email", "propertyValue": "x" },
        { "eventId": 2, "subscriptionId": 9, "portalId": 101, "appId": 5, "occurredAt": now, "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 501, "propertyName": "firstname", "propertyValue": "y" },
        { "eventId": 3, "subscriptionId": 9, "portalId": 202, "appId": 5, "occurredAt": now, "subscriptionType": "company.creation", "attemptNumber": 0, "objectId": 777 }
    ])
    .to_string();
    let headers = hubspot_request(body.as_bytes(), now, "secret");
    let request = RawRequest {
        method: "POST",
        uri: URI,
        headers: &headers,
        body: body.as_bytes(),
    };
    let reply = receiver.app_webhook("hubspot", &request).await;
    assert_eq!(reply.status, 200);
    let items = queued(&bus);
    assert_eq!(
        items,
        vec![
            WorkItem::AppChanges {
                org: OrgId::new("cld-1"),
                entity: EntityName::new("people"),
                ids: vec![AppId::new("501")]
            },
            WorkItem::AppChanges {
                org: OrgId::new("cld-2"),
                entity: EntityName::new("organizations"),
                ids: vec![AppId::new("777")]
            },
        ]
    );

    // The same delivery again (HubSpot retries): accepted, nothing new queued.
    let reply = receiver.app_webhook("hubspot", &request).await;
    assert_eq!(reply.status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert_eq!(answer["duplicates"], json!(3));
    assert_eq!(queued(&bus).len(), 2);
}

#[tokio::test]
async fn forged_tampered_and_expired_hubspot_webhooks_get_401_and_change_nothing() {
    let (receiver, bus) = receiver().await;
    let now = Utc::now().timestamp_millis();
    let body = json!([{ "eventId": 10, "portalId": 101, "occurredAt": now, "subscriptionType": "contact.creation", "objectId": 1 }]).to_string();

    let forged = hubspot_request(body.as_bytes(), now, "not-the-secret");
    let request = RawRequest {
        method: "POST",
        uri: URI,
        headers: &forged,
        body: body.as_bytes(),
    };
    assert_eq!(receiver.app_webhook("hubspot", &request).await.status, 401);

    let signed = hubspot_request(body.as_bytes(), now, "secret");
    let tampered = body.replace("\"objectId\":1", "\"objectId\":2");
    let request = RawRequest {
        method: "POST",
        uri: URI,
        headers: &signed,
        body: tampered.as_bytes(),
    };
    assert_eq!(receiver.app_webhook("hubspot", &request).await.status, 401);

    let old = now - 6 * 60 * 1000;
    let expired = hubspot_request(body.as_bytes(), old, "secret");
    let request = RawRequest {
        method: "POST",
        uri: URI,
        headers: &expired,
        body: body.as_bytes(),
    };
    assert_eq!(receiver.app_webhook("hubspot", &request).await.status, 401);

    let request = RawRequest {
        method: "POST",
        uri: URI,
        headers: &[],
        body: body.as_bytes(),
    };
    assert_eq!(receiver.app_webhook("hubspot", &request).await.status, 401);
    assert!(queued(&bus).is_empty());
    let _ = SystemClock.now();
}
