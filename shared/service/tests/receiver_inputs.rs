//! The receiver's input checks: tenants cannot be enumerated, group ids are checked, app
//! webhooks reach the enabled organization of their account, events per request are capped, and
//! dedupe keys claimed for work that could not be queued are released (on the database file too).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;
use connector_sdk::ProviderFactory;
use hubspot::webhooks::hubspot_v3_signature;
use serde_json::json;
use service::{
    MAX_EVENTS_PER_REQUEST, MemoryDedupe, ReceiveError, Received, Unavailable, WebhookReceiver,
};
use store_embedded::{EmbeddedStore, SqliteDedupe};
use sync_core::domain::*;
use sync_core::ports::{BusError, Clock, Dedupe, EventBus, SyncStore, SystemClock, WorkItem};
use webhooks::{BasicAuthVerifier, ParseError, RawRequest, basic_auth_header};

/// Records what is queued; refuses the next `fail` publishes.
#[derive(Default)]
struct Recorder {
    items: Mutex<Vec<WorkItem>>,
    fail: AtomicUsize,
}

#[async_trait]
impl EventBus for Recorder {
    async fn publish(&self, item: WorkItem) -> Result<(), BusError> {
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(BusError("unavailable".into()));
        }
        self.items.lock().unwrap().push(item);
        Ok(())
    }
}

impl Recorder {
    fn queued(&self) -> Vec<WorkItem> {
        self.items.lock().unwrap().clone()
    }
}

fn org(id: &str, portal: &str, enabled: bool) -> Organization {
    let now = SystemClock.now();
    Organization {
        id: OrgId::new(id),
        tenant: Tenant::new("acme"),
        group_id: GroupId::new(id),
        provider: Provider::new("hubspot"),
        realm: Realm::new(portal),
        name: id.into(),
        sync_enabled: enabled,
        entity_flags: Default::default(),
        history_from: None,
        linked_at: now,
    }
}

/// A receiver for tenant `acme` (Basic `id:key`) and HubSpot (webhook secret `secret`), over
/// `orgs` and `dedupe`.
async fn receiver_with(
    orgs: &[Organization],
    dedupe: Arc<dyn Dedupe>,
) -> (WebhookReceiver, Arc<Recorder>) {
    let store = Arc::new(EmbeddedStore::in_memory().unwrap());
    for org in orgs {
        store.put_organization(org).await.unwrap();
    }
    let bus = Arc::new(Recorder::default());
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
    let receiver = WebhookReceiver::new(store, bus.clone(), dedupe, Arc::new(SystemClock), apps)
        .tenant(
            Tenant::new("acme"),
            Box::new(BasicAuthVerifier::new("id", "key")),
        );
    (receiver, bus)
}

async fn receiver() -> (WebhookReceiver, Arc<Recorder>) {
    let orgs = [org("cld-1", "101", true), org("cld-2", "202", true)];
    receiver_with(&orgs, Arc::new(MemoryDedupe::default())).await
}

fn counts(received: &Received) -> (usize, usize, usize) {
    (received.accepted, received.duplicates, received.ignored)
}

async fn connec_as(
    receiver: &WebhookReceiver,
    tenant: &str,
    headers: &[(String, String)],
    body: &str,
) -> Result<Received, ReceiveError> {
    let uri = format!("/webhooks/connec/{tenant}");
    let request = RawRequest {
        method: "POST",
        uri: &uri,
        headers,
        body: body.as_bytes(),
    };
    receiver.connec(tenant, &request).await
}

async fn deliver_connec(receiver: &WebhookReceiver, body: &str) -> Result<Received, ReceiveError> {
    let headers = [("Authorization".to_owned(), basic_auth_header("id", "key"))];
    connec_as(receiver, "acme", &headers, body).await
}

const URI: &str = "https://connector.example/webhooks/hubspot";

async fn deliver_hubspot(receiver: &WebhookReceiver, body: &str) -> Result<Received, ReceiveError> {
    let now = Utc::now().timestamp_millis();
    let headers = vec![
        (
            "X-HubSpot-Signature-v3".to_owned(),
            hubspot_v3_signature("secret", "POST", URI, body.as_bytes(), now),
        ),
        ("X-HubSpot-Request-Timestamp".to_owned(), now.to_string()),
    ];
    let request = RawRequest {
        method: "POST",
        uri: URI,
        headers: &headers,
        body: body.as_bytes(),
    };
    receiver.app_webhook("hubspot", &request).await
}

/// HubSpot events `(eventId, portalId, objectId)` on contacts.
fn hubspot_events(events: impl IntoIterator<Item = (u64, u64, u64)>) -> String {
    let now = Utc::now().timestamp_millis();
    serde_json::Value::Array(
        events
            .into_iter()
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

/// The (status, message) of a rejection; panics on anything else.
fn rejection(outcome: Result<Received, ReceiveError>) -> (u16, String) {
    match outcome {
        Err(ReceiveError::Rejected { status, message }) => (status, message),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unknown_tenant_gets_the_same_answer_as_a_known_one_with_wrong_credentials() {
    let (receiver, bus) = receiver().await;
    let body = json!({ "people": [ { "id": "p1", "group_id": "cld-1" } ] }).to_string();
    let header = |value: String| vec![("Authorization".to_owned(), value)];
    for headers in [
        header(basic_auth_header("id", "wrong")),
        header(basic_auth_header("other-id", "other-key")),
        header("Bearer nope".into()),
        header("Basic !!!".into()),
        header("Basic".into()),
        header(String::new()),
        vec![],
    ] {
        let known = rejection(connec_as(&receiver, "acme", &headers, &body).await);
        for unknown in ["nobody", "acme2", "<b>x</b>"] {
            let answer = rejection(connec_as(&receiver, unknown, &headers, &body).await);
            assert_eq!(answer, known, "{unknown}: {headers:?}");
        }
        assert_eq!(known.0, 401);
    }
    // Even acme's own credentials, sent to another tenant, are just wrong credentials.
    let acme = header(basic_auth_header("id", "key"));
    let wrong = rejection(
        connec_as(
            &receiver,
            "acme",
            &header(basic_auth_header("id", "x")),
            &body,
        )
        .await,
    );
    assert_eq!(
        rejection(connec_as(&receiver, "nobody", &acme, &body).await),
        wrong
    );
    assert!(
        !wrong.1.contains("nobody") && !wrong.1.contains("tenant `"),
        "{}",
        wrong.1
    );
    assert!(bus.queued().is_empty());
}

#[tokio::test]
async fn a_record_whose_group_id_is_invalid_refuses_the_notification_and_queues_nothing() {
    let (receiver, bus) = receiver().await;
    let valid = json!({ "id": "p1", "group_id": "cld-1", "first_name": "A" });
    for bad in [
        "x/../cld-1",
        "cld-1/..",
        "%2e%2e",
        "cld-1?x=1",
        "cld-1#x",
        "cld 1",
    ] {
        let body = json!({ "people": [valid, { "id": "p2", "group_id": bad }] }).to_string();
        match deliver_connec(&receiver, &body).await {
            Err(ReceiveError::BadBody(ParseError::InvalidGroupId {
                collection, index, ..
            })) => assert_eq!((collection.as_str(), index), ("people", 1)),
            other => panic!("{bad:?}: expected an invalid group id, got {other:?}"),
        }
    }
    assert!(bus.queued().is_empty());
    // Nothing was claimed either: the valid record alone is queued.
    let body = json!({ "people": [valid] }).to_string();
    assert_eq!(
        counts(&deliver_connec(&receiver, &body).await.unwrap()),
        (1, 0, 0)
    );
}

#[tokio::test]
async fn an_app_webhook_goes_to_the_enabled_organization_of_its_account() {
    // An unlinked organization of portal 101 sorts before the one linked now.
    let orgs = [org("cld-0-old", "101", false), org("cld-1", "101", true)];
    let (receiver, bus) = receiver_with(&orgs, Arc::new(MemoryDedupe::default())).await;
    let received = deliver_hubspot(&receiver, &hubspot_events([(61, 101, 501)]))
        .await
        .unwrap();
    assert_eq!(counts(&received), (1, 0, 0));
    assert_eq!(
        bus.queued(),
        [WorkItem::AppChanges {
            org: OrgId::new("cld-1"),
            entity: EntityName::new("people"),
            ids: vec![AppId::new("501")],
        }]
    );

    // With no enabled organization, the event is ignored.
    let orgs = [org("cld-0-old", "101", false)];
    let (receiver, bus) = receiver_with(&orgs, Arc::new(MemoryDedupe::default())).await;
    let received = deliver_hubspot(&receiver, &hubspot_events([(62, 101, 501)]))
        .await
        .unwrap();
    assert_eq!(counts(&received), (0, 0, 1));
    assert!(bus.queued().is_empty());
}

#[tokio::test]
async fn more_events_than_the_limit_refuse_the_whole_request_and_claim_nothing() {
    let (receiver, bus) = receiver().await;
    let limit = MAX_EVENTS_PER_REQUEST as u64;
    let too_many = hubspot_events((1..=limit + 1).map(|i| (i, 101, i)));
    match deliver_hubspot(&receiver, &too_many).await {
        Err(error @ ReceiveError::TooManyEvents { .. }) => {
            assert!(
                matches!(error, ReceiveError::TooManyEvents { received, limit } if received == 1001 && limit == 1000)
            );
            assert!(error.to_string().contains("smaller requests"), "{error}");
        }
        other => panic!("expected too many events, got {other:?}"),
    }
    assert!(bus.queued().is_empty());
    // At the limit the request passes, and none of its events was claimed by the refusal.
    let at_limit = hubspot_events((1..=limit).map(|i| (i, 101, i)));
    let received = deliver_hubspot(&receiver, &at_limit).await.unwrap();
    assert_eq!(counts(&received), (1000, 0, 0));

    let records: Vec<_> = (0..=MAX_EVENTS_PER_REQUEST)
        .map(|i| json!({ "id": format!("p{i}"), "group_id": "cld-1" }))
        .collect();
    let body = json!({ "people": records }).to_string();
    assert!(matches!(
        deliver_connec(&receiver, &body).await,
        Err(ReceiveError::TooManyEvents {
            received: 1001,
            limit: 1000
        })
    ));
    assert_eq!(bus.queued().len(), 1);
}

/// A dedupe file that is removed when the test ends.
struct TempDb(std::path::PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

#[tokio::test]
async fn with_dedupe_in_the_database_file_a_bus_that_fails_once_loses_no_event() {
    let file = TempDb(std::env::temp_dir().join(format!(
        "receiver-inputs-{}-{}.db",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )));
    let dedupe = Arc::new(SqliteDedupe::open(&file.0).unwrap());
    let orgs = [org("cld-1", "101", true), org("cld-2", "202", true)];
    let (receiver, bus) = receiver_with(&orgs, dedupe).await;

    let body = hubspot_events([(71, 101, 501), (72, 202, 601), (73, 101, 502)]);
    bus.fail.store(1, Ordering::SeqCst);
    assert!(matches!(
        deliver_hubspot(&receiver, &body).await,
        Err(ReceiveError::Unavailable(Unavailable::AcceptWebhooks))
    ));
    assert!(bus.queued().is_empty());
    // HubSpot's retry is queued whole, then recognised.
    assert_eq!(
        counts(&deliver_hubspot(&receiver, &body).await.unwrap()),
        (3, 0, 0)
    );
    assert_eq!(
        counts(&deliver_hubspot(&receiver, &body).await.unwrap()),
        (0, 3, 0)
    );

    let notification = json!({ "people": [
        { "id": "p1", "group_id": "cld-1" }, { "id": "p2", "group_id": "cld-2" }
    ]})
    .to_string();
    bus.fail.store(1, Ordering::SeqCst);
    assert!(matches!(
        deliver_connec(&receiver, &notification).await,
        Err(ReceiveError::Unavailable(Unavailable::AcceptNotifications))
    ));
    assert_eq!(
        counts(&deliver_connec(&receiver, &notification).await.unwrap()),
        (2, 0, 0)
    );
    assert_eq!(bus.queued().len(), 4);
}
