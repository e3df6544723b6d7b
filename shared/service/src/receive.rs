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
//! still go to the engine). An event is claimed only when it has work, all of a request's claims
//! in one batch ([`Dedupe::first_times`]: one transaction locally, parallel conditional puts on
//! DynamoDB), and a claim whose work could not be queued is released again
//! ([`Dedupe::forget_all`]) before the [`ReceiveError::Unavailable`] answer: the sender's
//! redelivery is then queued, not dropped as a duplicate. Claims of work already queued stay, so a
//! redelivery queues only what was missing.
//!
//! # Limits
//!
//! A request carries at most [`MAX_EVENTS_PER_REQUEST`] events or records (HubSpot sends at most
//! 100); a bigger one is refused whole ([`ReceiveError::TooManyEvents`]) and queues nothing.
//!
//! A Connec! notification for a tenant that does not exist gets the answer of a known tenant with
//! wrong credentials, so that tenants cannot be enumerated.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use connector_sdk::Registry;
use sync_core::domain::{EntityName, OrgId, Tenant, Timestamp};
use sync_core::ports::{Clock, Dedupe, EventBus, SyncStore, WorkItem};
use webhooks::{Acknowledgement, BasicAuthVerifier, ParseError, Verifier};

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
    /// No Connec! credentials are configured for this tenant. Not returned by
    /// [`WebhookReceiver::connec`], which answers an unknown tenant as a known one with wrong
    /// credentials ([`ReceiveError::Rejected`]) so that tenants cannot be enumerated.
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
    /// Authentic, but more events (or records) in one request than accepted; none is queued.
    /// An HTTP edge answers `413`.
    #[error(
        "{received} events in one request, more than the {limit} accepted: \
         send them in smaller requests"
    )]
    TooManyEvents {
        /// Events or records in the request.
        received: usize,
        /// The most accepted in one request ([`MAX_EVENTS_PER_REQUEST`]).
        limit: usize,
    },
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

/// The most events (app webhooks) or records (Connec! notifications) accepted in one request.
pub const MAX_EVENTS_PER_REQUEST: usize = 1_000;

/// Receives webhooks, verifies them, and queues their work.
pub struct WebhookReceiver {
    store: Arc<dyn SyncStore>,
    bus: Arc<dyn EventBus>,
    dedupe: Arc<dyn Dedupe>,
    clock: Arc<dyn Clock>,
    tenants: HashMap<Tenant, Box<dyn Verifier>>,
    /// Answers a tenant that does not exist as one with wrong credentials.
    unknown_tenant: BasicAuthVerifier,
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
            unknown_tenant: BasicAuthVerifier::refusing_all(),
            apps,
            dedupe_ttl: Duration::from_secs(3 * 24 * 3600),
        }
    }

    /// Registers a tenant's Connec! notification credentials.
    pub fn tenant(mut self, tenant: Tenant, verifier: Box<dyn Verifier>) -> Self {
        self.tenants.insert(tenant, verifier);
        self
    }

    /// [`ReceiveError::TooManyEvents`] when a request carries more than
    /// [`MAX_EVENTS_PER_REQUEST`] events.
    fn within_limit(&self, received: usize) -> Result<(), ReceiveError> {
        if received > MAX_EVENTS_PER_REQUEST {
            tracing::warn!(received, "webhook refused: too many events in one request");
            return Err(ReceiveError::TooManyEvents {
                received,
                limit: MAX_EVENTS_PER_REQUEST,
            });
        }
        Ok(())
    }

    /// Claims the dedupe keys of `candidates` in one batch and groups the first-time ones by
    /// (organization, entity); with `unique_items`, an item already in its batch is not added
    /// twice (app ids: two events on one record fetch it once). Returns the batches and the
    /// number of duplicates. When the claim fails, nothing stays claimed (the
    /// [`Dedupe::first_times`] contract) and the answer is `unavailable`.
    async fn claim<T: PartialEq>(
        &self,
        candidates: Vec<Candidate<T>>,
        now: Timestamp,
        unique_items: bool,
        unavailable: Unavailable,
    ) -> Result<(BTreeMap<(OrgId, EntityName), Claimed<T>>, usize), ReceiveError> {
        let mut batches: BTreeMap<(OrgId, EntityName), Claimed<T>> = BTreeMap::new();
        if candidates.is_empty() {
            return Ok((batches, 0));
        }
        let keys: Vec<String> = candidates.iter().map(|c| c.key.clone()).collect();
        let firsts = match self.dedupe.first_times(&keys, now, self.dedupe_ttl).await {
            Ok(firsts) if firsts.len() == keys.len() => firsts,
            Ok(firsts) => {
                tracing::error!(
                    keys = keys.len(),
                    answers = firsts.len(),
                    "the dedupe store answered for another number of keys"
                );
                return Err(ReceiveError::Unavailable(unavailable));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot record the webhook's dedupe keys");
                return Err(ReceiveError::Unavailable(unavailable));
            }
        };
        let mut duplicates = 0usize;
        for (candidate, first) in candidates.into_iter().zip(firsts) {
            if !first {
                duplicates += 1;
                continue;
            }
            let batch = batches
                .entry((candidate.org, candidate.entity))
                .or_default();
            if !unique_items || !batch.items.contains(&candidate.item) {
                batch.items.push(candidate.item);
            }
            batch.keys.push(candidate.key);
        }
        Ok((batches, duplicates))
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
                let unqueued: Vec<String> = batch
                    .keys
                    .into_iter()
                    .chain(batches.flat_map(|(_, rest)| rest.keys))
                    .collect();
                self.release(&unqueued).await;
                return Err(ReceiveError::Unavailable(unavailable));
            }
            accepted += count;
        }
        Ok(accepted)
    }

    /// Releases the dedupe claims of work that was not queued, so that the redelivery is.
    async fn release(&self, unqueued: &[String]) {
        if let Err(e) = self.dedupe.forget_all(unqueued).await {
            tracing::warn!(error = %e, keys = unqueued.len(), "cannot release dedupe keys; their redelivery may be dropped as a duplicate until the next scheduled sync");
        }
    }
}

/// One routed piece of work (a record or an id for one organization and entity) and its dedupe
/// key, before the claim.
struct Candidate<T> {
    org: OrgId,
    entity: EntityName,
    item: T,
    key: String,
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
