//! The queue contract and webhook dedupe: how work travels from a webhook or the schedule to a
//! worker, locally (an in-process queue) or on AWS (EventBridge).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::{AppId, EntityName, OrgId, Timestamp};
use crate::error::StoreError;

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
