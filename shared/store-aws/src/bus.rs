//! [`EventBridgeBus`]: the work queue on an EventBridge custom bus.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use sync_core::ports::{BusError, EventBus, WorkItem};

use crate::error::describe;
use crate::requests::backoff;

/// `Source` of every event.
pub const EVENT_SOURCE: &str = "connector";
/// `DetailType` of [`WorkItem::Sync`].
pub const DETAIL_TYPE_SYNC: &str = "SyncRequested";
/// `DetailType` of [`WorkItem::HubRecords`].
pub const DETAIL_TYPE_HUB_RECORDS: &str = "HubRecords";
/// `DetailType` of [`WorkItem::AppChanges`].
pub const DETAIL_TYPE_APP_CHANGES: &str = "AppChanges";
/// EventBridge's size limit of one entry, and of one `PutEvents` request (256 KB).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// Entries per `PutEvents` call (the service limit).
const BATCH: usize = 10;
/// Attempts of entries EventBridge did not accept.
const ATTEMPTS: u32 = 5;
/// What EventBridge counts for `Time` when it is set (we do not set it; counted to be safe).
const TIME_BYTES: usize = 14;

/// [`EventBus`] on an EventBridge custom bus: `Source = "connector"`, `DetailType` per kind of
/// work ([`DETAIL_TYPE_SYNC`], [`DETAIL_TYPE_HUB_RECORDS`], [`DETAIL_TYPE_APP_CHANGES`]),
/// `Detail` = the [`WorkItem`] as JSON (its `type` tag included), so a rule can route on
/// `detail-type` and the target parses `detail` back into a [`WorkItem`].
///
/// Entries are limited to 256 KB. A [`WorkItem::HubRecords`] over the limit is split by records
/// (halves, recursively) into several events; a single record or another kind of item over the
/// limit fails with a [`BusError`] naming the organization and entity (never the content).
/// Large webhook bodies should therefore be split by the receiver before publishing, or carry ids
/// only (as [`WorkItem::AppChanges`] does) so that the worker fetches the records.
///
/// Entries EventBridge reports as failed (`FailedEntryCount`) are retried with backoff, up to 5
/// attempts. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
    calls: Arc<AtomicU64>,
}

impl EventBridgeBus {
    /// A bus publishing to `bus_name` (name or ARN of a custom bus).
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// `PutEvents` calls made so far (all clones together), retries included.
    #[must_use]
    pub fn put_events_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The `DetailType` of a work item.
    #[must_use]
    pub fn detail_type(item: &WorkItem) -> &'static str {
        match item {
            WorkItem::Sync { .. } => DETAIL_TYPE_SYNC,
            WorkItem::HubRecords { .. } => DETAIL_TYPE_HUB_RECORDS,
            WorkItem::AppChanges { .. } => DETAIL_TYPE_APP_CHANGES,
        }
    }

    /// Publishes many work items (the hourly fan-out), 10 entries per `PutEvents` call (and at
    /// most 256 KB per call), retrying entries EventBridge did not accept.
    ///
    /// # Errors
    ///
    /// [`BusError`] when an item cannot fit in an event, when a call fails, or when entries are
    /// still refused after 5 attempts. Items of batches sent before the failure stay published
    /// (publishing is at-least-once; workers are idempotent).
    pub async fn publish_batch(&self, items: Vec<WorkItem>) -> Result<(), BusError> {
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            self.entries_for(item, &mut entries)?;
        }
        let mut batch: Vec<PutEventsRequestEntry> = Vec::with_capacity(BATCH);
        let mut batch_bytes = 0usize;
        for (size, entry) in entries {
            if batch.len() == BATCH || (batch_bytes + size > MAX_ENTRY_BYTES && !batch.is_empty()) {
                self.send(std::mem::take(&mut batch)).await?;
                batch_bytes = 0;
            }
            batch_bytes += size;
            batch.push(entry);
        }
        if !batch.is_empty() {
            self.send(batch).await?;
        }
        Ok(())
    }

    /// Turns an item into entries (splitting big `HubRecords`), with their sizes.
    fn entries_for(
        &self,
        item: WorkItem,
        out: &mut Vec<(usize, PutEventsRequestEntry)>,
    ) -> Result<(), BusError> {
        let detail = serde_json::to_string(&item)
            .map_err(|e| BusError(format!("cannot encode a work item: {e}")))?;
        let detail_type = Self::detail_type(&item);
        let size = TIME_BYTES + EVENT_SOURCE.len() + detail_type.len() + detail.len();
        if size <= MAX_ENTRY_BYTES {
            out.push((
                size,
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus_name)
                    .source(EVENT_SOURCE)
                    .detail_type(detail_type)
                    .detail(detail)
                    .build(),
            ));
            return Ok(());
        }
        match item {
            WorkItem::HubRecords {
                org,
                entity,
                mut records,
            } if records.len() > 1 => {
                let second = records.split_off(records.len() / 2);
                self.entries_for(
                    WorkItem::HubRecords {
                        org: org.clone(),
                        entity: entity.clone(),
                        records,
                    },
                    out,
                )?;
                self.entries_for(
                    WorkItem::HubRecords {
                        org,
                        entity,
                        records: second,
                    },
                    out,
                )
            }
            WorkItem::HubRecords { org, entity, .. } | WorkItem::AppChanges { org, entity, .. } => {
                Err(BusError(format!(
                    "a {detail_type} event for organization {org}, entity {entity} is {size} \
                     bytes, over EventBridge's limit of {MAX_ENTRY_BYTES} bytes per event; split \
                     the webhook body into smaller batches (or send ids and let the worker fetch \
                     the records)"
                )))
            }
            WorkItem::Sync { org } => Err(BusError(format!(
                "a {detail_type} event for organization {org} is {size} bytes, over \
                 EventBridge's limit of {MAX_ENTRY_BYTES} bytes"
            ))),
        }
    }

    /// One `PutEvents` call per attempt; failed entries are retried.
    async fn send(&self, mut entries: Vec<PutEventsRequestEntry>) -> Result<(), BusError> {
        for attempt in 0..ATTEMPTS {
            self.calls.fetch_add(1, Ordering::Relaxed);
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries.clone()))
                .send()
                .await
                .map_err(|e| {
                    BusError(format!(
                        "PutEvents to bus {}: {}",
                        self.bus_name,
                        describe(&e)
                    ))
                })?;
            if out.failed_entry_count() == 0 {
                return Ok(());
            }
            let results = out.entries();
            let mut failed = Vec::new();
            let mut codes = Vec::new();
            for (index, entry) in entries.into_iter().enumerate() {
                // A missing result for an entry is treated as a failure (retried).
                match results.get(index) {
                    Some(result) if result.error_code().is_none() => {}
                    Some(result) => {
                        codes.push(result.error_code().unwrap_or("unknown").to_owned());
                        failed.push(entry);
                    }
                    None => failed.push(entry),
                }
            }
            if failed.is_empty() {
                return Ok(());
            }
            tracing::warn!(
                bus = %self.bus_name,
                failed = failed.len(),
                ?codes,
                attempt,
                "EventBridge refused some entries; retrying them"
            );
            if attempt + 1 == ATTEMPTS {
                return Err(BusError(format!(
                    "{} event(s) refused by bus {} after {ATTEMPTS} attempts: {}",
                    failed.len(),
                    self.bus_name,
                    codes.join(", ")
                )));
            }
            entries = failed;
            backoff(attempt).await;
        }
        Ok(())
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, item: WorkItem) -> Result<(), BusError> {
        self.publish_batch(vec![item]).await
    }
}
