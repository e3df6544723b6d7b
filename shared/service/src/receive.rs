//! Receiving webhooks and handing their work to the queue.
//!
//! - Connec! notifications (`POST /webhooks/connec/{tenant}` at the HTTP edge): HTTP Basic with
//!   the tenant's own API id and key. One body may carry several collections and several groups:
//!   each record is routed to the organization of its own `group_id`; unknown collections,
//!   unlinked groups and directions switched off are ignored with a logged reason
//!   ([`connec`](self::connec)).
//! - An app's signed webhooks (`POST /webhooks/{provider}`), verified and read by its provider
//!   ([`connector_sdk::AppWebhooks`]). Events carry ids only: they are deduplicated on their
//!   event's dedupe key and the records are fetched by the worker (submodule `app`).
//!
//! A group may link one account of each app: a Connec! record goes to every organization of
//! its group whose app syncs its collection.
//!
//! Requests are verified on their raw bytes before parsing and answered at once: the work goes to
//! the [`EventBus`] (locally an in-process queue, on AWS an event bus), so a slow app never delays
//! the acknowledgement. The outcome is typed ([`Received`] or [`ReceiveError`]); the HTTP edge
//! (`http-api`) turns it into a status and a body. A bad request is an error and queues nothing.
//!
//! # Dedupe
//!
//! A delivery seen before queues nothing: app events by their event id, Connec! records by their
//! version (tenant, group, collection and a digest of the record as sent, so a byte-identical
//! redelivery or a copy repeated in one notification is dropped, while a record's other versions
//! still go to the engine). An event is claimed ([`Dedupe::first_time`]) only when it has work,
//! and a claim whose work could not be queued is released again ([`Dedupe::forget`]) before the
//! [`ReceiveError::Unavailable`] answer: the sender's redelivery is then queued, not dropped as a
//! duplicate. Claims of work already queued stay, so a redelivery queues only what was missing.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use connector_sdk::Registry;
use sync_core::domain::{EntityName, OrgId, Tenant};
use sync_core::ports::{Clock, Dedupe, EventBus, SyncStore, WorkItem};
use webhooks::{Acknowledgement, ParseError, Verifier};

mod app;
mod connec;

/// An authentic delivery whose work is queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Records (Connec!) or record ids (apps) queued.
    pub accepted: usize,
    /// Deliveries recognised as seen before, so not queued again.
    pub duplicates: usize,
    /// Records or events with nothing to do (collection not synced, group or account not
    /// linked, sync or direction switched off).
    pub ignored: usize,
    /// How the sender's scheme wants an accepted request acknowledged (the verifier's
    /// [`Verifier::acknowledgement`]): some senders, Xero for one, require an empty body.
    pub acknowledgement: Acknowledgement,
}

/// Why a delivery was not accepted; nothing of it is queued. `Display` is safe to show the
/// sender: it names the problem, never a secret, a signature or a value from the body.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// No Connec! credentials are configured for this tenant.
    #[error("unknown tenant `{0}`")]
    UnknownTenant(String),
    /// The app is not served, or has no webhooks.
    #[error("no webhooks configured for `{0}`")]
    NoWebhooks(String),
    /// The verifier refused the request (not authentic, or unusable). `message` may be empty
    /// when the sender's scheme demands an empty body.
    #[error("{message}")]
    Rejected {
        /// The verifier's status: `401` (not authentic) or `400` (unusable).
        status: u16,
        /// The verifier's safe message.
        message: String,
    },
    /// Authentic, but the body is not what the sender's format says.
    #[error(transparent)]
    BadBody(#[from] ParseError),
    /// A port failed: the sender should deliver again later (the dedupe claims are released).
    #[error("temporarily unable to {0}; retry later")]
    Unavailable(Unavailable),
}

/// What could not be done when a port failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// Reading the organizations (the store).
    ReadOrganizations,
    /// Recording or queueing Connec! records (dedupe or bus).
    AcceptNotifications,
    /// Recording or queueing app events (dedupe or bus).
    AcceptWebhooks,
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ReadOrganizations => "read organizations",
            Self::AcceptNotifications => "accept notifications",
            Self::AcceptWebhooks => "accept webhooks",
        })
    }
}

impl From<webhooks::Rejection> for ReceiveError {
    fn from(rejection: webhooks::Rejection) -> Self {
        Self::Rejected {
            status: rejection.status,
            message: rejection.message,
        }
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

    /// Queues each (organization, entity) batch as one work item built by `item`. When the bus
    /// refuses one, the claims of every batch not queued are released (so the sender's
    /// redelivery is queued, not dropped as a duplicate) and the answer is `unavailable`.
    /// Returns how many items (records or ids) were queued.
    async fn queue_batches<T>(
        &self,
        batches: BTreeMap<(OrgId, EntityName), Claimed<T>>,
        item: impl Fn(OrgId, EntityName, Vec<T>) -> WorkItem,
        unavailable: Unavailable,
    ) -> Result<usize, ReceiveError> {
        let mut accepted = 0usize;
        let mut batches = batches.into_iter();
        while let Some(((org, entity), batch)) = batches.next() {
            let count = batch.items.len();
            if let Err(e) = self.bus.publish(item(org, entity, batch.items)).await {
                tracing::error!(error = %e, "cannot queue webhook work");
                let unqueued = std::iter::once(Claimed {
                    items: Vec::new(),
                    keys: batch.keys,
                })
                .chain(batches.map(|(_, rest)| rest));
                self.release(unqueued).await;
                return Err(ReceiveError::Unavailable(unavailable));
            }
            accepted += count;
        }
        Ok(accepted)
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
