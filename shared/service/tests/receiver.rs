//! The webhook receiver (`service::WebhookReceiver`): verification before parsing, routing,
//! dedupe, and nothing queued for a bad request; outcomes typed, HTTP left to the edge.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use connector_sdk::ProviderFactory;
use hubspot::webhooks::hubspot_v3_signature;
use serde_json::json;
use service::{MemoryDedupe, ReceiveError, Received, Unavailable, WebhookReceiver};
use store_embedded::EmbeddedStore;
use sync_core::domain::*;
use sync_core::ports::{BusError, Clock, EventBus, SyncStore, SystemClock, WorkItem};
use webhooks::{Acknowledgement, BasicAuthVerifier, RawRequest, basic_auth_header};

/// Records what is queued; can refuse publishes (an unavailable bus).
#[derive(Default)]
struct Recorder {
    items: Mutex<Vec<WorkItem>>,
    /// Publishes still let through before failures start.
    ok_first: AtomicUsize,
    /// Publishes to refuse.
    fail: AtomicUsize,
}

impl Recorder {
    /// Lets `ok` publishes through, then refuses `fail` of them.
    fn fail_after(&self, ok: usize, fail: usize) {
        self.ok_first.store(ok, Ordering::SeqCst);
        self.fail.store(fail, Ordering::SeqCst);
    }
}

#[async_trait]
impl EventBus for Recorder {
    async fn publish(&self, item: WorkItem) -> Result<(), BusError> {
        let take = |counter: &AtomicUsize| {
            counter
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        };
        if self.fail.load(Ordering::SeqCst) > 0 && !take(&self.ok_first) && take(&self.fail) {
            return Err(BusError("unavailable".into()));
        }
        self.items.lock().unwrap().push(item);
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
    // The app is HubSpot through its provider, with the webhook secret `secret`.
    let app = hubspot::HubSpotFactory
        .build(
            json!({
                "base_url": "http://127.0.0.1:9",
                "oauth": { "client_id": "c", "client_secret": "secret", "app_id": 1 },
            }),
            &connector_sdk::BuildContext {
                public_url: "https://connector.example".into(),
                http: Default::default(),
                conflict_policy: Default::default(),
            },
        )
        .unwrap();
    let mut apps = connector_sdk::Registry::new();
    apps.register(app).unwrap();
    let receiver = WebhookReceiver::new(
        store,
        bus.clone(),
        Arc::new(MemoryDedupe::default()),
        Arc::new(SystemClock),
        apps,
    )
    .tenant(
        Tenant::new("acme"),
        Box::new(BasicAuthVerifier::new("id", "key")),
    );
    (receiver, bus)
}

/// (accepted, duplicates, ignored) of an accepted delivery.
fn counts(received: &Received) -> (usize, usize, usize) {
    (received.accepted, received.duplicates, received.ignored)
}

/// The verifier's status and message of a rejected delivery.
fn rejected(outcome: Result<Received, ReceiveError>) -> (u16, String) {
    match outcome {
        Err(ReceiveError::Rejected { status, message }) => (status, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn queued(bus: &Recorder) -> Vec<WorkItem> {
    bus.items.lock().unwrap().clone()
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
    let received = receiver.connec("acme", &request).await.unwrap();
    assert_eq!(counts(&received), (3, 0, 2));
    // Basic auth keeps the default acknowledgement: the counts are answered.
    assert_eq!(received.acknowledgement, Acknowledgement::json_ok());
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
        let (status, message) = rejected(receiver.connec("acme", &request).await);
        assert_eq!(status, 401);
        assert!(!message.is_empty());
    }
    let headers = vec![("Authorization".to_owned(), basic_auth_header("id", "key"))];
    let request = RawRequest {
        method: "POST",
        uri: "/x",
        headers: &headers,
        body: b"{not json",
    };
    assert!(matches!(
        receiver.connec("acme", &request).await,
        Err(ReceiveError::BadBody(_))
    ));
    // An unknown tenant is answered as wrong credentials (tenants cannot be enumerated).
    assert_eq!(
        rejected(receiver.connec("other-tenant", &request).await).0,
        401
    );
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
    let received = receiver.app_webhook("hubspot", &request).await.unwrap();
    assert_eq!(counts(&received), (2, 0, 0));
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
    let received = receiver.app_webhook("hubspot", &request).await.unwrap();
    assert_eq!(received.duplicates, 3);
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
    assert_eq!(
        rejected(receiver.app_webhook("hubspot", &request).await).0,
        401
    );

    let signed = hubspot_request(body.as_bytes(), now, "secret");
    let tampered = body.replace("\"objectId\":1", "\"objectId\":2");
    let request = RawRequest {
        method: "POST",
        uri: URI,
        headers: &signed,
        body: tampered.as_bytes(),
    };
    assert_eq!(
        rejected(receiver.app_webhook("hubspot", &request).await).0,
        401
    );

    let old = now - 6 * 60 * 1000;
    let expired = hubspot_request(body.as_bytes(), old, "secret");
    let request = RawRequest {
        method: "POST",
        uri: URI,
        headers: &expired,
        body: body.as_bytes(),
    };
    assert_eq!(
        rejected(receiver.app_webhook("hubspot", &request).await).0,
        401
    );

    let request = RawRequest {
        method: "POST",
        uri: URI,
        headers: &[],
        body: body.as_bytes(),
    };
    assert_eq!(
        rejected(receiver.app_webhook("hubspot", &request).await).0,
        401
    );
    assert!(queued(&bus).is_empty());
    let _ = SystemClock.now();
}

fn connec_request(body: &str) -> (Vec<(String, String)>, Vec<u8>) {
    (
        vec![("Authorization".to_owned(), basic_auth_header("id", "key"))],
        body.as_bytes().to_vec(),
    )
}

async fn deliver_connec(receiver: &WebhookReceiver, body: &str) -> Result<Received, ReceiveError> {
    let (headers, bytes) = connec_request(body);
    let request = RawRequest {
        method: "POST",
        uri: "/webhooks/connec/acme",
        headers: &headers,
        body: &bytes,
    };
    receiver.connec("acme", &request).await
}

async fn deliver_hubspot(receiver: &WebhookReceiver, body: &str) -> Result<Received, ReceiveError> {
    let now = Utc::now().timestamp_millis();
    let headers = hubspot_request(body.as_bytes(), now, "secret");
    let request = RawRequest {
        method: "POST",
        uri: URI,
        headers: &headers,
        body: body.as_bytes(),
    };
    receiver.app_webhook("hubspot", &request).await
}

fn hubspot_events(events: &[(u64, u64, u64)]) -> String {
    let now = Utc::now().timestamp_millis();
    serde_json::Value::Array(
        events
            .iter()
            .map(|(event, portal, object)| {
                json!({ "eventId": event, "subscriptionId": 9, "portalId": portal, "appId": 5,
                        "occurredAt": now, "subscriptionType": "contact.propertyChange",
                        "attemptNumber": 0, "objectId": object, "propertyName": "email",
                        "propertyValue": "x" })
            })
            .collect(),
    )
    .to_string()
}

#[tokio::test]
async fn a_webhook_whose_work_could_not_be_queued_is_queued_on_redelivery() {
    let (receiver, bus) = receiver().await;
    let body = hubspot_events(&[(41, 101, 501), (42, 202, 601)]);

    // The bus is down: unavailable (a 503), and nothing is marked as seen.
    bus.fail_after(0, 1);
    assert!(matches!(
        deliver_hubspot(&receiver, &body).await,
        Err(ReceiveError::Unavailable(Unavailable::AcceptWebhooks))
    ));
    assert!(queued(&bus).is_empty());

    // HubSpot redelivers: the work is queued, not dropped as a duplicate.
    let received = deliver_hubspot(&receiver, &body).await.unwrap();
    assert_eq!(received.duplicates, 0, "{received:?}");
    assert_eq!(queued(&bus).len(), 2);

    // Now it is seen.
    let received = deliver_hubspot(&receiver, &body).await.unwrap();
    assert_eq!(received.duplicates, 2);
    assert_eq!(queued(&bus).len(), 2);
}

#[tokio::test]
async fn a_partly_queued_webhook_queues_only_the_rest_on_redelivery() {
    let (receiver, bus) = receiver().await;
    // Two organizations, two publishes: the first goes through, the second fails.
    let body = hubspot_events(&[(51, 101, 501), (52, 202, 601)]);
    bus.fail_after(1, 1);
    assert!(matches!(
        deliver_hubspot(&receiver, &body).await,
        Err(ReceiveError::Unavailable(Unavailable::AcceptWebhooks))
    ));
    assert_eq!(
        queued(&bus).len(),
        1,
        "the first organization's work was queued"
    );

    let received = deliver_hubspot(&receiver, &body).await.unwrap();
    assert_eq!(received.duplicates, 1, "{received:?}");
    assert_eq!(received.accepted, 1);
    let items = queued(&bus);
    assert_eq!(items.len(), 2, "each organization's work queued once");
    assert_ne!(items[0], items[1]);
}

#[tokio::test]
async fn a_duplicate_connec_delivery_is_queued_once_and_other_versions_pass() {
    let (receiver, bus) = receiver().await;
    let v1 = json!({ "id": "p1", "group_id": "cld-1", "first_name": "A", "updated_at": "2026-01-01T10:00:00Z" });
    let v2 = json!({ "id": "p1", "group_id": "cld-1", "first_name": "B", "updated_at": "2026-01-01T10:00:05Z" });
    let once = json!({ "people": [v1] }).to_string();

    let received = deliver_connec(&receiver, &once).await.unwrap();
    assert_eq!(received.accepted, 1);
    // Connec! (or the network) delivers the same body again: nothing new is queued.
    let received = deliver_connec(&receiver, &once).await.unwrap();
    assert_eq!(counts(&received), (0, 1, 0));
    assert_eq!(queued(&bus).len(), 1);

    // One notification carrying a known copy, a new version and that version again: the new
    // version goes to the engine once, with its record as sent.
    let mixed = json!({ "people": [v1, v2, v2] }).to_string();
    let received = deliver_connec(&receiver, &mixed).await.unwrap();
    assert_eq!(counts(&received), (1, 2, 0));
    let items = queued(&bus);
    assert_eq!(
        items[1],
        WorkItem::HubRecords {
            org: OrgId::new("cld-1"),
            entity: EntityName::new("people"),
            records: vec![v2.clone()],
        }
    );

    // The same record in another group is another record.
    let elsewhere = json!({ "people": [{ "id": "p1", "group_id": "cld-2", "first_name": "A", "updated_at": "2026-01-01T10:00:00Z" }] }).to_string();
    let received = deliver_connec(&receiver, &elsewhere).await.unwrap();
    assert_eq!(received.accepted, 1);
}

#[tokio::test]
async fn a_connec_notification_whose_work_could_not_be_queued_is_queued_on_redelivery() {
    let (receiver, bus) = receiver().await;
    let body = json!({ "people": [
        { "id": "p1", "group_id": "cld-1", "first_name": "A" },
        { "id": "p2", "group_id": "cld-2", "first_name": "B" }
    ]})
    .to_string();
    bus.fail_after(1, 1);
    let outcome = deliver_connec(&receiver, &body).await;
    assert!(
        matches!(
            outcome,
            Err(ReceiveError::Unavailable(Unavailable::AcceptNotifications))
        ),
        "{outcome:?}"
    );
    assert_eq!(queued(&bus).len(), 1);
    let received = deliver_connec(&receiver, &body).await.unwrap();
    assert_eq!(counts(&received), (1, 1, 0));
    assert_eq!(queued(&bus).len(), 2);
}

#[tokio::test]
async fn an_app_that_is_not_served_has_no_webhooks_and_queues_nothing() {
    let (receiver, bus) = receiver().await;
    let request = RawRequest {
        method: "POST",
        uri: "https://connector.example/webhooks/xero",
        headers: &[],
        body: b"{}",
    };
    assert!(matches!(
        receiver.app_webhook("xero", &request).await,
        Err(ReceiveError::NoWebhooks(app)) if app == "xero"
    ));
    assert!(queued(&bus).is_empty());
}
