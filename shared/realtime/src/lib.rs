//! Real time: receiving webhooks and handing their work to a queue.
//!
//! - `POST /webhooks/connec/{tenant}`: Connec! notifications, HTTP Basic with the tenant's own
//!   API id and key. One body may carry several collections and several groups: each record is
//!   routed to the organization of its own `group_id`; unknown collections, unlinked groups and
//!   directions switched off are ignored with a logged reason.
//! - `POST /webhooks/{provider}`: an app's signed webhooks (HubSpot v3 here; the [`Verifier`]
//!   seam also expresses body HMACs and Xero's intent-to-receive rule). Events carry ids only:
//!   they are deduplicated on their event id and the records are fetched by the worker.
//!
//! Requests are verified on their raw bytes before parsing and answered at once: the work goes to
//! the [`EventBus`] (locally an in-process queue, on AWS an event bus), so a slow app never delays
//! the acknowledgement. A bad request gets a 4xx with a JSON error and changes nothing.
//!
//! # Dedupe
//!
//! A delivery seen before queues nothing: app events by their event id, Connec! records by their
//! version (tenant, group, collection and a digest of the record as sent, so a byte-identical
//! redelivery or a copy repeated in one notification is dropped, while a record's other versions
//! still go to the engine). An event is claimed ([`Dedupe::first_time`]) only when it has work,
//! and a claim whose work could not be queued is released again ([`Dedupe::forget`]) before the
//! 503 answer: the sender's redelivery is then queued, not dropped as a duplicate. Claims of
//! work already queued stay, so a redelivery queues only what was missing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sync_core::domain::{AppId, EntityName, OrgId, Organization, Provider, Tenant, Timestamp};
use sync_core::error::StoreError;
use sync_core::ports::{Clock, SyncStore};
use webhooks::{RawRequest, Verifier};

/// Work handed from a webhook (or a schedule) to a worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkItem {
    /// Run one organization's sync.
    Sync {
        /// Organization.
        org: OrgId,
    },
    /// Connec! records to push to the app.
    HubRecords {
        /// Organization.
        org: OrgId,
        /// Entity pair.
        entity: EntityName,
        /// Records as Connec! sent them.
        records: Vec<Value>,
    },
    /// App records changed: fetch them and push them to Connec!.
    AppChanges {
        /// Organization.
        org: OrgId,
        /// Entity pair.
        entity: EntityName,
        /// App ids.
        ids: Vec<AppId>,
    },
}

/// Errors of the event bus.
#[derive(Debug, thiserror::Error)]
#[error("event bus: {0}")]
pub struct BusError(pub String);

/// Where work goes: an in-process queue locally, EventBridge on AWS.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Hands work over; returns once it is safely queued.
    async fn publish(&self, item: WorkItem) -> Result<(), BusError>;
    /// Hands over many items (EventBridge sends them 10 per call).
    async fn publish_all(&self, items: Vec<WorkItem>) -> Result<(), BusError> {
        for item in items {
            self.publish(item).await?;
        }
        Ok(())
    }
}

/// The in-process queue: an unbounded channel drained by one worker task.
#[derive(Clone)]
pub struct LocalQueue {
    sender: tokio::sync::mpsc::UnboundedSender<WorkItem>,
}

impl LocalQueue {
    /// A queue and its receiving end (give it to [`LocalQueue::spawn_worker`]).
    pub fn new() -> (Self, tokio::sync::mpsc::UnboundedReceiver<WorkItem>) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        (Self { sender }, receiver)
    }

    /// Drains the queue with `work`, one item at a time, in order.
    pub fn spawn_worker<F, Fut>(
        mut receiver: tokio::sync::mpsc::UnboundedReceiver<WorkItem>,
        work: F,
    ) -> tokio::task::JoinHandle<()>
    where
        F: Fn(WorkItem) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        tokio::spawn(async move {
            while let Some(item) = receiver.recv().await {
                work(item).await;
            }
        })
    }
}

#[async_trait]
impl EventBus for LocalQueue {
    async fn publish(&self, item: WorkItem) -> Result<(), BusError> {
        self.sender
            .send(item)
            .map_err(|_| BusError("the local worker has stopped".into()))
    }
}

/// Remembers which webhook events were already accepted.
#[async_trait]
pub trait Dedupe: Send + Sync {
    /// True the first time `key` is seen within `ttl`.
    async fn first_time(
        &self,
        key: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Forgets `key`, so that its next delivery is first again: the work it claimed could not be
    /// queued: without it a redelivery after a failed publish would be dropped as a duplicate.
    async fn forget(&self, key: &str) -> Result<(), StoreError>;
}

/// An in-memory [`Dedupe`] with expiry (one process; the AWS adapter keeps keys in DynamoDB).
#[derive(Default)]
pub struct MemoryDedupe {
    seen: Mutex<HashMap<String, Timestamp>>,
}

#[async_trait]
impl Dedupe for MemoryDedupe {
    async fn first_time(
        &self,
        key: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, expires| *expires > now);
        if seen.contains_key(key) {
            return Ok(false);
        }
        seen.insert(key.to_owned(), now.plus(ttl));
        Ok(true)
    }

    async fn forget(&self, key: &str) -> Result<(), StoreError> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        Ok(())
    }
}

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// Status.
    pub status: u16,
    /// Content type, when there is a body.
    pub content_type: Option<&'static str>,
    /// Body.
    pub body: Vec<u8>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            content_type: Some("application/json"),
            body: body.to_string().into_bytes(),
        }
    }

    fn error(status: u16, message: &str) -> Self {
        Self::json(status, json!({ "error": message }))
    }
}

/// How one app's webhooks are checked and read.
pub struct AppWebhooks {
    /// Checks authenticity on the raw request.
    pub verifier: Box<dyn Verifier>,
    /// HubSpot object type (`contact`, `company`) -> entity pair (`people`, `organizations`).
    pub object_entities: HashMap<String, EntityName>,
}

/// Receives webhooks, verifies them, and queues their work.
pub struct WebhookReceiver {
    store: Arc<dyn SyncStore>,
    bus: Arc<dyn EventBus>,
    dedupe: Arc<dyn Dedupe>,
    clock: Arc<dyn Clock>,
    tenants: HashMap<Tenant, Box<dyn Verifier>>,
    apps: HashMap<Provider, AppWebhooks>,
    /// Collections each organization syncs (hub side), for routing.
    entities: Vec<EntityName>,
    dedupe_ttl: Duration,
}

impl WebhookReceiver {
    /// A receiver over the given ports.
    pub fn new(
        store: Arc<dyn SyncStore>,
        bus: Arc<dyn EventBus>,
        dedupe: Arc<dyn Dedupe>,
        clock: Arc<dyn Clock>,
        entities: Vec<EntityName>,
    ) -> Self {
        Self {
            store,
            bus,
            dedupe,
            clock,
            tenants: HashMap::new(),
            apps: HashMap::new(),
            entities,
            dedupe_ttl: Duration::from_secs(3 * 24 * 3600),
        }
    }

    /// Registers a tenant's Connec! notification credentials.
    pub fn tenant(mut self, tenant: Tenant, verifier: Box<dyn Verifier>) -> Self {
        self.tenants.insert(tenant, verifier);
        self
    }

    /// Registers an app's webhook verification and routing.
    pub fn app(mut self, provider: Provider, webhooks: AppWebhooks) -> Self {
        self.apps.insert(provider, webhooks);
        self
    }

    /// `POST /webhooks/connec/{tenant}`.
    pub async fn connec(&self, tenant: &str, request: &RawRequest<'_>) -> Reply {
        let Some(verifier) = self.tenants.get(&Tenant::new(tenant)) else {
            return Reply::error(404, &format!("unknown tenant `{tenant}`"));
        };
        if let Err(rejection) = verifier.verify(request, self.clock.now().as_datetime()) {
            tracing::warn!(
                tenant,
                status = rejection.status,
                "Connec! notification rejected"
            );
            return Reply::error(rejection.status, &rejection.message);
        }
        let notifications = match connec::notify::parse_connec_notification(request.body) {
            Ok(n) => n,
            Err(e) => return Reply::error(400, &e.to_string()),
        };
        let organizations = match self.store.list_organizations().await {
            Ok(orgs) => orgs,
            Err(e) => {
                tracing::error!(tenant, error = %e, "cannot read organizations");
                return Reply::error(503, "temporarily unable to read organizations; retry later");
            }
        };
        let by_group: HashMap<&str, &Organization> = organizations
            .iter()
            .filter(|o| o.tenant.as_str() == tenant)
            .map(|o| (o.group_id.as_str(), o))
            .collect();
        let now = self.clock.now();
        let mut batches: BTreeMap<(OrgId, EntityName), Claimed<Value>> = BTreeMap::new();
        let (mut ignored, mut duplicates) = (0usize, 0usize);
        for notification in notifications {
            let entity = EntityName::new(notification.collection.clone());
            if !self.entities.contains(&entity) {
                tracing::info!(tenant, collection = %notification.collection, "notification ignored: collection not synced");
                ignored += 1;
                continue;
            }
            let Some(org) = by_group.get(notification.group_id.as_str()) else {
                tracing::info!(tenant, group = %notification.group_id, "notification ignored: group not linked");
                ignored += 1;
                continue;
            };
            if !org.sync_enabled || !org.flags(&entity).to_app {
                tracing::info!(org = %org.id, entity = %entity, "notification ignored: sync or direction off");
                ignored += 1;
                continue;
            }
            let key = connec_record_key(tenant, &notification);
            match self.dedupe.first_time(&key, now, self.dedupe_ttl).await {
                Ok(true) => {}
                Ok(false) => {
                    duplicates += 1;
                    continue;
                }
                Err(e) => {
                    tracing::error!(tenant, error = %e, "cannot record the notification");
                    self.release(batches.into_values()).await;
                    return Reply::error(
                        503,
                        "temporarily unable to accept notifications; retry later",
                    );
                }
            }
            let batch = batches.entry((org.id.clone(), entity)).or_default();
            batch.items.push(notification.record);
            batch.keys.push(key);
        }
        let mut accepted = 0usize;
        let mut batches = batches.into_iter();
        while let Some(((org, entity), batch)) = batches.next() {
            let count = batch.items.len();
            let item = WorkItem::HubRecords {
                org,
                entity,
                records: batch.items,
            };
            if let Err(e) = self.bus.publish(item).await {
                tracing::error!(tenant, error = %e, "cannot queue notification work");
                let unqueued = std::iter::once(Claimed {
                    items: Vec::new(),
                    keys: batch.keys,
                })
                .chain(batches.map(|(_, rest)| rest));
                self.release(unqueued).await;
                return Reply::error(
                    503,
                    "temporarily unable to accept notifications; retry later",
                );
            }
            accepted += count;
        }
        Reply::json(
            200,
            json!({ "accepted": accepted, "duplicates": duplicates, "ignored": ignored }),
        )
    }

    /// Releases the dedupe claims of work that was not queued, so that the redelivery is.
    async fn release<T>(&self, unqueued: impl IntoIterator<Item = Claimed<T>>) {
        let mut kept = 0usize;
        for key in unqueued.into_iter().flat_map(|claimed| claimed.keys) {
            if let Err(e) = self.dedupe.forget(&key).await {
                kept += 1;
                if kept == 1 {
                    tracing::warn!(error = %e, "cannot release a dedupe key; its redelivery will be dropped as a duplicate until the next scheduled sync");
                }
            }
        }
        if kept > 1 {
            tracing::warn!(kept, "dedupe keys not released");
        }
    }

    /// `POST /webhooks/{provider}`.
    pub async fn app_webhook(&self, provider: &str, request: &RawRequest<'_>) -> Reply {
        let Some(app) = self.apps.get(&Provider::new(provider)) else {
            return Reply::error(404, &format!("no webhooks configured for `{provider}`"));
        };
        let now = self.clock.now();
        if let Err(rejection) = app.verifier.verify(request, now.as_datetime()) {
            tracing::warn!(provider, status = rejection.status, "app webhook rejected");
            return Reply {
                status: rejection.status,
                content_type: (!rejection.message.is_empty()).then_some("application/json"),
                body: if rejection.message.is_empty() {
                    Vec::new()
                } else {
                    json!({ "error": rejection.message })
                        .to_string()
                        .into_bytes()
                },
            };
        }
        let events = match hubspot::webhooks::parse_hubspot_events(request.body) {
            Ok(events) => events,
            Err(e) => return Reply::error(400, &e.to_string()),
        };
        let organizations = match self.store.list_organizations().await {
            Ok(orgs) => orgs,
            Err(e) => {
                tracing::error!(provider, error = %e, "cannot read organizations");
                return Reply::error(503, "temporarily unable to read organizations; retry later");
            }
        };
        let mut batches: BTreeMap<(OrgId, EntityName), Claimed<AppId>> = BTreeMap::new();
        let (mut duplicates, mut ignored) = (0usize, 0usize);
        for event in events {
            let object = object_name(&event.object_type);
            let Some(entity) = app.object_entities.get(&object) else {
                ignored += 1;
                continue;
            };
            let portal = event.portal_id.to_string();
            let Some(org) = organizations
                .iter()
                .find(|o| o.provider.as_str() == provider && o.realm.as_str() == portal)
            else {
                tracing::info!(provider, portal = %portal, "webhook ignored: account not linked");
                ignored += 1;
                continue;
            };
            if !org.sync_enabled || !org.flags(entity).to_hub {
                ignored += 1;
                continue;
            }
            // Claimed only now that it has work; released below if that work is not queued.
            let key = event.dedupe_key();
            match self.dedupe.first_time(&key, now, self.dedupe_ttl).await {
                Ok(true) => {}
                Ok(false) => {
                    duplicates += 1;
                    continue;
                }
                Err(e) => {
                    tracing::error!(provider, error = %e, "cannot record the event id");
                    self.release(batches.into_values()).await;
                    return Reply::error(503, "temporarily unable to accept webhooks; retry later");
                }
            }
            let batch = batches.entry((org.id.clone(), entity.clone())).or_default();
            let id = AppId::new(event.object_id.to_string());
            if !batch.items.contains(&id) {
                batch.items.push(id);
            }
            batch.keys.push(key);
        }
        let mut accepted = 0usize;
        let mut batches = batches.into_iter();
        while let Some(((org, entity), batch)) = batches.next() {
            let count = batch.items.len();
            let item = WorkItem::AppChanges {
                org,
                entity,
                ids: batch.items,
            };
            if let Err(e) = self.bus.publish(item).await {
                tracing::error!(provider, error = %e, "cannot queue webhook work");
                let unqueued = std::iter::once(Claimed {
                    items: Vec::new(),
                    keys: batch.keys,
                })
                .chain(batches.map(|(_, rest)| rest));
                self.release(unqueued).await;
                return Reply::error(503, "temporarily unable to accept webhooks; retry later");
            }
            accepted += count;
        }
        let ack = app.verifier.acknowledgement();
        if ack.body.is_empty() && ack.status == 200 && ack.content_type.is_none() {
            return Reply {
                status: 200,
                content_type: None,
                body: Vec::new(),
            };
        }
        Reply::json(
            200,
            json!({ "accepted": accepted, "duplicates": duplicates, "ignored": ignored }),
        )
    }
}

/// Work of one (organization, entity) and the dedupe keys it claimed.
struct Claimed<T> {
    items: Vec<T>,
    keys: Vec<String>,
}

impl<T> Default for Claimed<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            keys: Vec::new(),
        }
    }
}

/// The dedupe key of one Connec! record version: tenant, group, collection and a SHA-256 digest
/// (keyed, from the webhooks crate) of the record as sent, in serde_json's canonical key order.
fn connec_record_key(tenant: &str, notification: &connec::notify::ConnecNotification) -> String {
    let bytes = serde_json::to_vec(&notification.record).unwrap_or_default();
    let digest = webhooks::body_hmac_signature("connec-record-version", &bytes);
    format!(
        "connec:{tenant}:{}:{}:{digest}",
        notification.group_id, notification.collection
    )
}

fn object_name(object: &hubspot::webhooks::HubSpotObject) -> String {
    match object {
        hubspot::webhooks::HubSpotObject::Contact => "contact".into(),
        hubspot::webhooks::HubSpotObject::Company => "company".into(),
        hubspot::webhooks::HubSpotObject::Deal => "deal".into(),
        hubspot::webhooks::HubSpotObject::Other(other) => other.to_lowercase(),
    }
}
