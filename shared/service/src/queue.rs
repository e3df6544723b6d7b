//! In-process adapters of the queue ports (`sync_core::ports::{EventBus, Dedupe}`), for
//! `connector serve` and tests: [`LocalQueue`], an unbounded channel drained by one worker task,
//! and [`MemoryDedupe`], dedupe keys in memory with expiry. On AWS the same ports are EventBridge
//! and DynamoDB (`store-aws`); locally the dedupe keys usually live in the database file
//! (`store_embedded::SqliteDedupe`), so that a restart still recognises a redelivery.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sync_core::domain::Timestamp;
use sync_core::error::StoreError;
use sync_core::ports::{BusError, Dedupe, EventBus, WorkItem};

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

    /// All of `keys` under one lock, in order.
    async fn first_times(
        &self,
        keys: &[String],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<bool>, StoreError> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.retain(|_, expires| *expires > now);
        let expires = now.plus(ttl);
        Ok(keys
            .iter()
            .map(|key| {
                if seen.contains_key(key) {
                    false
                } else {
                    seen.insert(key.clone(), expires);
                    true
                }
            })
            .collect())
    }

    async fn forget_all(&self, keys: &[String]) -> Result<(), StoreError> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for key in keys {
            seen.remove(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_claims_each_key_once_and_forget_all_releases_them() {
        let dedupe = MemoryDedupe::default();
        let now = Timestamp::parse("2026-01-01T00:00:00Z").expect("a valid time");
        let ttl = Duration::from_secs(60);
        assert!(dedupe.first_time("old", now, ttl).await.unwrap());
        let keys: Vec<String> = ["a", "old", "a", "b"].map(String::from).to_vec();
        assert_eq!(
            dedupe.first_times(&keys, now, ttl).await.unwrap(),
            [true, false, false, true]
        );
        assert_eq!(
            dedupe.first_times(&keys, now, ttl).await.unwrap(),
            [false; 4]
        );
        dedupe.forget_all(&keys[..2]).await.unwrap();
        assert_eq!(
            dedupe.first_times(&keys, now, ttl).await.unwrap(),
            [true, true, false, false]
        );
        // Expired keys are first again.
        let later = now.plus(ttl);
        assert_eq!(
            dedupe.first_times(&keys, later, ttl).await.unwrap(),
            [true, true, false, true]
        );
    }
}
