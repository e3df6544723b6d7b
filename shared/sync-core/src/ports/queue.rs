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

    /// [`Dedupe::first_time`] of each of `keys`, in order, in as few writes as the backend
    /// allows. A key already recorded (and not expired) is a duplicate (`false`); a key repeated
    /// within `keys` is first at most once, at its first place.
    ///
    /// On `Err` no key of this call stays recorded: an implementation that cannot write them
    /// all-or-nothing forgets the ones it wrote (best effort, logged), so that a delivery whose
    /// claim failed is first again on redelivery. The default calls [`Dedupe::first_time`] once
    /// per key.
    async fn first_times(
        &self,
        keys: &[String],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<bool>, StoreError> {
        let mut firsts = Vec::with_capacity(keys.len());
        for key in keys {
            match self.first_time(key, now, ttl).await {
                Ok(first) => firsts.push(first),
                Err(error) => {
                    let written: Vec<String> = keys
                        .iter()
                        .zip(&firsts)
                        .filter(|(_, first)| **first)
                        .map(|(key, _)| key.clone())
                        .collect();
                    if let Err(undo) = self.forget_all(&written).await {
                        tracing::warn!(error = %undo, "cannot forget dedupe keys of a failed claim");
                    }
                    return Err(error);
                }
            }
        }
        Ok(firsts)
    }

    /// [`Dedupe::forget`] of each of `keys`, in as few writes as the backend allows. The
    /// default calls [`Dedupe::forget`] once per key and returns the first error after trying
    /// them all.
    async fn forget_all(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut first_error = None;
        for key in keys {
            if let Err(error) = self.forget(key).await {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;

    /// Keys in a map, with only the two required methods; refuses to record `poison`.
    #[derive(Default)]
    struct OneByOne {
        seen: Mutex<HashMap<String, Timestamp>>,
    }

    #[async_trait]
    impl Dedupe for OneByOne {
        async fn first_time(
            &self,
            key: &str,
            now: Timestamp,
            ttl: Duration,
        ) -> Result<bool, StoreError> {
            if key == "poison" {
                return Err(StoreError::Backend("unavailable".into()));
            }
            let mut seen = self.seen.lock().unwrap();
            if seen.get(key).is_some_and(|expires| *expires > now) {
                return Ok(false);
            }
            seen.insert(key.to_owned(), now.plus(ttl));
            Ok(true)
        }

        async fn forget(&self, key: &str) -> Result<(), StoreError> {
            self.seen.lock().unwrap().remove(key);
            Ok(())
        }
    }

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[tokio::test]
    async fn the_default_batch_claims_in_order_and_undoes_its_claims_on_error() {
        let dedupe = OneByOne::default();
        let now = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
        let ttl = Duration::from_secs(60);
        assert!(dedupe.first_time("old", now, ttl).await.unwrap());
        let firsts = dedupe
            .first_times(&keys(&["a", "old", "a", "b"]), now, ttl)
            .await
            .unwrap();
        assert_eq!(firsts, [true, false, false, true]);

        // A failure part-way: the keys this call recorded are forgotten, the older ones stay.
        assert!(
            dedupe
                .first_times(&keys(&["c", "b", "poison", "d"]), now, ttl)
                .await
                .is_err()
        );
        let mut left: Vec<String> = dedupe.seen.lock().unwrap().keys().cloned().collect();
        left.sort();
        assert_eq!(left, ["a", "b", "old"]);

        dedupe.forget_all(&keys(&["a", "never"])).await.unwrap();
        assert!(dedupe.first_time("a", now, ttl).await.unwrap());
    }
}
