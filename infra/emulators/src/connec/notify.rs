//! Connec! notifications: subscribers, buffering of changed records and
//! periodic delivery (one POST per subscriber per flush).
//!
//! Every committed change buffers one entry: the record as that change
//! committed it. A record changed n times between two deliveries therefore
//! appears n times in one POST, one version per entry, in commit order by
//! default. [`ConnecEmulator::set_notification_order`] sends each POST's
//! entries newest first instead (an older version after a newer one), and
//! [`ConnecEmulator::buffer_notification`] queues any record as given (a stale
//! copy, a duplicate): together they let tests deliver one record several
//! times, in any order, in one notification.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ConnecEmulator, Inner, State};
use crate::common::{ChangeEvent, lock};
use crate::delivery::{Attempt, DeliverFuture, Retry};

/// An app subscribed to Connec! notifications.
///
/// Over HTTP (`POST /_emulator/subscribers`) it is
/// `{"url", "api_id", "api_key", "groups"?}`. `Debug` redacts `api_key`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSubscriber {
    /// Where notifications are POSTed.
    pub url: String,
    /// HTTP Basic user sent with each notification.
    pub api_id: String,
    /// HTTP Basic password sent with each notification.
    pub api_key: String,
    /// Groups (organizations) whose changes this subscriber receives;
    /// `None` = all groups.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

impl std::fmt::Debug for NotificationSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationSubscriber")
            .field("url", &self.url)
            .field("api_id", &self.api_id)
            .field("api_key", &"<redacted>")
            .field("groups", &self.groups)
            .finish()
    }
}

/// One notification request made (see [`ConnecEmulator::notifications_sent`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationRecord {
    /// The subscriber URL.
    pub url: String,
    /// Response status; `None` on a transport error or timeout.
    pub status: Option<u16>,
    /// Number of records in the body (all collections).
    pub records: usize,
    /// 0 for the first attempt, then 1, 2, ... for retries.
    pub attempt: u32,
}

/// The order of the entries of one notification POST.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationOrder {
    /// As the changes were committed: the oldest version of a record first.
    #[default]
    CommitOrder,
    /// Reversed: the newest version of a record first, older ones after it.
    NewestFirst,
}

/// A changed record waiting for delivery.
struct Buffered {
    group: String,
    collection: String,
    record: Value,
}

/// Subscribers, buffered records and the delivery log.
#[derive(Default)]
pub(super) struct NotifyState {
    subscribers: Vec<NotificationSubscriber>,
    pending: Vec<Buffered>,
    log: Vec<NotificationRecord>,
    order: NotificationOrder,
}

impl Inner {
    /// Buffers the committed records of `events` (called under the state lock).
    pub(super) fn buffer_notifications(&self, st: &State, events: &[ChangeEvent]) {
        if events.is_empty() {
            return;
        }
        {
            let mut n = lock(&self.notify);
            if n.subscribers.is_empty() {
                return;
            }
            for e in events {
                if let Some(record) = st.render(&e.scope, &e.collection, &e.id, true) {
                    n.pending.push(Buffered {
                        group: e.scope.clone(),
                        collection: e.collection.clone(),
                        record,
                    });
                }
            }
        }
        self.pump.ensure_worker(
            self.me.clone(),
            self.config.notification_interval,
            deliver_boxed,
        );
    }
}

fn deliver_boxed(inner: Arc<Inner>) -> DeliverFuture {
    Box::pin(async move { deliver(&inner).await })
}

/// Sends everything buffered (unless paused): one POST per subscriber.
async fn deliver(inner: &Inner) {
    if inner.pump.paused() {
        return;
    }
    let _running = inner.pump.run_lock.lock().await;
    let retry = Retry {
        max_attempts: inner.config.notification_max_attempts,
        backoff: inner.config.notification_backoff,
        timeout: inner.config.notification_timeout,
    };
    loop {
        if inner.pump.paused() {
            return;
        }
        let (subscribers, pending) = {
            let mut n = lock(&inner.notify);
            if n.pending.is_empty() {
                return;
            }
            let mut pending = std::mem::take(&mut n.pending);
            if n.order == NotificationOrder::NewestFirst {
                pending.reverse();
            }
            (n.subscribers.clone(), pending)
        };
        for sub in &subscribers {
            let mut body: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
            let mut count = 0;
            for b in pending
                .iter()
                .filter(|b| sub.groups.as_ref().is_none_or(|gs| gs.contains(&b.group)))
            {
                body.entry(b.collection.as_str())
                    .or_default()
                    .push(&b.record);
                count += 1;
            }
            if count == 0 {
                continue;
            }
            let body: Map<String, Value> = body
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        Value::Array(v.into_iter().cloned().collect()),
                    )
                })
                .collect();
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let auth = format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", sub.api_id, sub.api_key))
            );
            let build = |_attempt: u32| -> Attempt {
                (
                    bytes.clone(),
                    vec![
                        ("content-type", "application/json".to_string()),
                        ("authorization", auth.clone()),
                    ],
                )
            };
            let record = |status: Option<u16>, attempt: u32| {
                lock(&inner.notify).log.push(NotificationRecord {
                    url: sub.url.clone(),
                    status,
                    records: count,
                    attempt,
                });
            };
            inner.pump.send(retry, &sub.url, &build, &record).await;
        }
    }
}

impl ConnecEmulator {
    /// Subscribes an app to notifications of every later change (in its
    /// `groups`, or all groups). A subscriber with the same `url` is
    /// replaced.
    pub fn subscribe(&self, sub: NotificationSubscriber) {
        let mut n = lock(&self.inner.notify);
        n.subscribers.retain(|s| s.url != sub.url);
        n.subscribers.push(sub);
    }

    /// Removes every subscriber; already buffered records are dropped at
    /// the next flush.
    pub fn clear_subscribers(&self) {
        lock(&self.inner.notify).subscribers.clear();
    }

    /// The current subscribers.
    pub fn subscribers(&self) -> Vec<NotificationSubscriber> {
        lock(&self.inner.notify).subscribers.clone()
    }

    /// Every notification request made so far, in order (retries included).
    pub fn notifications_sent(&self) -> Vec<NotificationRecord> {
        lock(&self.inner.notify).log.clone()
    }

    /// Number of changed records buffered and not yet handed to delivery.
    pub fn pending_notifications(&self) -> usize {
        lock(&self.inner.notify).pending.len()
    }

    /// Sends everything buffered now (retries included) and waits for it,
    /// and for any delivery already in flight. Does nothing while paused.
    pub async fn flush_notifications(&self) {
        deliver(&self.inner).await;
    }

    /// `true`: changes keep being buffered but nothing is sent (neither by
    /// the background task nor by [`ConnecEmulator::flush_notifications`])
    /// until unpaused.
    pub fn pause_notifications(&self, paused: bool) {
        self.inner.pump.set_paused(paused);
        if !paused && !lock(&self.inner.notify).pending.is_empty() {
            self.inner.pump.ensure_worker(
                self.inner.me.clone(),
                self.inner.config.notification_interval,
                deliver_boxed,
            );
        }
    }

    /// Orders the entries of each later notification POST (default
    /// [`NotificationOrder::CommitOrder`]). Within one collection of one POST,
    /// [`NotificationOrder::NewestFirst`] puts a record's newest version before
    /// its older ones. Pause, change a record several times, then unpause and
    /// flush to get all its versions in one POST.
    pub fn set_notification_order(&self, order: NotificationOrder) {
        lock(&self.inner.notify).order = order;
    }

    /// Queues `record` (in the `CONNEC-EXTERNAL-IDS` shape, e.g. a copy kept
    /// from [`ConnecEmulator::get`] before later edits) for the next delivery,
    /// as if Connec! had buffered it for a change of `group`'s `collection`.
    /// It goes to the subscribers of that group, after the entries already
    /// buffered (before them with [`NotificationOrder::NewestFirst`]). Nothing
    /// is queued while there is no subscriber, as for real changes.
    pub fn buffer_notification(&self, group: &str, collection: &str, record: Value) {
        {
            let mut n = lock(&self.inner.notify);
            if n.subscribers.is_empty() {
                return;
            }
            n.pending.push(Buffered {
                group: group.to_owned(),
                collection: collection.to_owned(),
                record,
            });
        }
        self.inner.pump.ensure_worker(
            self.inner.me.clone(),
            self.inner.config.notification_interval,
            deliver_boxed,
        );
    }

    /// `true`: every successful notification POST is sent a second time,
    /// byte for byte. Default `false`.
    pub fn duplicate_notifications(&self, on: bool) {
        self.inner.pump.set_duplicate(on);
    }
}
