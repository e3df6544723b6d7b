//! Real time: receiving webhooks and handing their work to a queue.
//!
//! - `POST /webhooks/connec/{tenant}`: Connec! notifications, HTTP Basic with the tenant's own
//!   API id and key. One body may carry several collections and several groups: each record is
//!   routed to the organization of its own `group_id`; unknown collections, unlinked groups and
//!   directions switched off are ignored with a logged reason.
//! - `POST /webhooks/{provider}`: an app's signed webhooks, verified and read by its provider
//!   ([`connector_sdk::AppWebhooks`]). Events carry ids only: they are deduplicated on their
//!   event's dedupe key and the records are fetched by the worker.
//!
//! A group may link one account of each app: a Connec! record goes to every organization of
//! its group whose app syncs its collection.
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
use connector_sdk::Registry;
use serde_json::{Value, json};
use sync_core::domain::{AppId, EntityName, OrgId, Organization, Tenant, Timestamp};
use sync_core::error::StoreError;
use sync_core::ports::{Clock, SyncStore};
use webhooks::{RawRequest, Verifier};

pub use sync_core::ports::{BusError, Dedupe, EventBus, WorkItem};

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

/// Receives webhooks, verifies them, and queues their work.
pub struct WebhookReceiver {
    store: Arc<dyn SyncStore>,
    bus: Arc<dyn EventBus>,
    dedupe: Arc<dyn Dedupe>,
    clock: Arc<dyn Clock>,
    tenants: HashMap<Tenant, Box<dyn Verifier>>,
    /// Every app served; their entity pairs route both kinds of webhooks.
    apps: Registry,
    dedupe_ttl: Duration,
}

impl WebhookReceiver {
    /// A receiver over the given ports, for the apps of `apps`.
    pub fn new(
        store: Arc<dyn SyncStore>,
        bus: Arc<dyn EventBus>,
        dedupe: Arc<dyn Dedupe>,
        clock: Arc<dyn Clock>,
        apps: Registry,
    ) -> Self {
        Self {
            store,
            bus,
            dedupe,
            clock,
            tenants: HashMap::new(),
            apps,
            dedupe_ttl: Duration::from_secs(3 * 24 * 3600),
        }
    }

    /// Registers a tenant's Connec! notification credentials.
    pub fn tenant(mut self, tenant: Tenant, verifier: Box<dyn Verifier>) -> Self {
        self.tenants.insert(tenant, verifier);
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
        let mut by_group: HashMap<&str, Vec<&Organization>> = HashMap::new();
        for org in organizations.iter().filter(|o| o.tenant.as_str() == tenant) {
            by_group.entry(org.group_id.as_str()).or_default().push(org);
        }
        let now = self.clock.now();
        let mut batches: BTreeMap<(OrgId, EntityName), Claimed<Value>> = BTreeMap::new();
        let (mut ignored, mut duplicates) = (0usize, 0usize);
        for notification in notifications {
            let entity = EntityName::new(notification.collection.clone());
            if !self
                .apps
                .iter()
                .any(|app| app.entities().iter().any(|p| p.hub == entity))
            {
                tracing::info!(tenant, collection = %notification.collection, "notification ignored: collection not synced");
                ignored += 1;
                continue;
            }
            let Some(orgs) = by_group.get(notification.group_id.as_str()) else {
                tracing::info!(tenant, group = %notification.group_id, "notification ignored: group not linked");
                ignored += 1;
                continue;
            };
            // Every app linked to the group that syncs the collection gets the record.
            let targets: Vec<&Organization> = orgs
                .iter()
                .copied()
                .filter(|org| self.apps.pair(&org.provider, &entity).is_some())
                .filter(|org| org.sync_enabled && org.flags(&entity).to_app)
                .collect();
            if targets.is_empty() {
                tracing::info!(tenant, group = %notification.group_id, entity = %entity, "notification ignored: sync or direction off");
                ignored += 1;
                continue;
            }
            for org in targets {
                let key = connec_record_key(tenant, org, &notification);
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
                let batch = batches.entry((org.id.clone(), entity.clone())).or_default();
                batch.items.push(notification.record.clone());
                batch.keys.push(key);
            }
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
        let Some((app, webhooks)) = self
            .apps
            .get(provider)
            .and_then(|app| app.webhooks().map(|w| (app, w)))
        else {
            return Reply::error(404, &format!("no webhooks configured for `{provider}`"));
        };
        let now = self.clock.now();
        if let Err(rejection) = webhooks.verifier().verify(request, now.as_datetime()) {
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
        let events = match webhooks.parse(request.body) {
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
            let Some(entity) = app
                .entities()
                .iter()
                .find(|pair| pair.app == event.entity)
                .map(|pair| &pair.hub)
            else {
                ignored += 1;
                continue;
            };
            let Some(org) = organizations
                .iter()
                .find(|o| o.provider == *app.id() && o.realm == event.realm)
            else {
                tracing::info!(provider, realm = %event.realm, "webhook ignored: account not linked");
                ignored += 1;
                continue;
            };
            if !org.sync_enabled || !org.flags(entity).to_hub {
                ignored += 1;
                continue;
            }
            // Claimed only now that it has work; released below if that work is not queued.
            let key = event.dedupe_key;
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
            if !batch.items.contains(&event.id) {
                batch.items.push(event.id);
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
        let ack = webhooks.verifier().acknowledgement();
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

/// The dedupe key of one Connec! record version for one organization: tenant, group,
/// collection, the app it goes to, and a SHA-256 digest (keyed, from the webhooks crate) of the
/// record as sent, in serde_json's canonical key order. (A redelivery straddling the upgrade from
/// the one-app key is applied twice, which the engine's content hashes make a no-op.)
fn connec_record_key(
    tenant: &str,
    org: &Organization,
    notification: &connec::notify::ConnecNotification,
) -> String {
    let bytes = serde_json::to_vec(&notification.record).unwrap_or_default();
    let digest = webhooks::body_hmac_signature("connec-record-version", &bytes);
    format!(
        "connec:{tenant}:{}:{}:{digest}:{}",
        notification.group_id, notification.collection, org.provider
    )
}
