//! Where our run's time goes, for `connector bench peer`: a [`Hub`] that times the calls of the
//! Connec! client it wraps (reads apart from the id write-backs), so that the report can tell
//! the emulator's share from the engine's and the store's.

use std::sync::Mutex;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;
use sync_core::domain::{
    AppId, EntityName, GroupId, HubId, PageCursor, Provider, Realm, Timestamp,
};
use sync_core::error::{HubError, RecordError};
use sync_core::ports::{Hub, HubRecordMeta, HubWrite, HubWriteOutcome, Page};

/// Time spent waiting on Connec!.
#[derive(Clone, Copy, Debug, Default)]
pub struct HubTime {
    /// Listing pages, by id and match searches.
    pub reads: Duration,
    /// `/batch` writes (the id write-backs of a sync towards the app).
    pub writes: Duration,
}

impl HubTime {
    /// The time spent since an earlier reading.
    pub fn since(&self, earlier: &HubTime) -> HubTime {
        HubTime {
            reads: self.reads.saturating_sub(earlier.reads),
            writes: self.writes.saturating_sub(earlier.writes),
        }
    }
}

/// The wrapped hub and its clock.
pub struct TimedHub<H> {
    inner: H,
    time: Mutex<HubTime>,
}

impl<H: Hub> TimedHub<H> {
    /// Times `inner`'s calls.
    pub fn new(inner: H) -> Self {
        Self {
            inner,
            time: Mutex::new(HubTime::default()),
        }
    }

    /// Time spent so far.
    /// The time spent so far.
    pub fn time(&self) -> HubTime {
        *self.time.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, started: Instant, write: bool) {
        let mut time = self.time.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = if write {
            &mut time.writes
        } else {
            &mut time.reads
        };
        *slot += started.elapsed();
    }
}

#[async_trait]
impl<H: Hub> Hub for TimedHub<H> {
    fn describe(&self, collection: &EntityName, record: &Value) -> Result<HubRecordMeta, HubError> {
        self.inner.describe(collection, record)
    }

    fn reference_target(&self, value: &Value) -> Option<HubId> {
        self.inner.reference_target(value)
    }

    fn reference_external(
        &self,
        value: &Value,
        provider: &Provider,
        realm: &Realm,
    ) -> Option<AppId> {
        self.inner.reference_external(value, provider, realm)
    }

    fn reference_value(&self, group: &GroupId, id: &HubId) -> Value {
        self.inner.reference_value(group, id)
    }

    async fn fetch_page(
        &self,
        group: &GroupId,
        collection: &EntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, HubError> {
        let started = Instant::now();
        let page = self
            .inner
            .fetch_page(group, collection, since, cursor)
            .await;
        self.add(started, false);
        page
    }

    async fn fetch_by_ids(
        &self,
        group: &GroupId,
        collection: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<Value>, HubError> {
        let started = Instant::now();
        let found = self.inner.fetch_by_ids(group, collection, ids).await;
        self.add(started, false);
        found
    }

    async fn find_matches(
        &self,
        group: &GroupId,
        collection: &EntityName,
        fields: &[String],
        records: &[Value],
    ) -> Result<Vec<Vec<HubRecordMeta>>, HubError> {
        let started = Instant::now();
        let found = self
            .inner
            .find_matches(group, collection, fields, records)
            .await;
        self.add(started, false);
        found
    }

    async fn write(
        &self,
        group: &GroupId,
        collection: &EntityName,
        writes: Vec<HubWrite>,
    ) -> Result<Vec<Result<HubWriteOutcome, RecordError>>, HubError> {
        let started = Instant::now();
        let outcomes = self.inner.write(group, collection, writes).await;
        self.add(started, true);
        outcomes
    }
}

/// CPU seconds (user + system) of this process and of its children waited for so far, from
/// `/proc/self/stat` (clock ticks of 1/100 s, Linux's `USER_HZ`); zero where it cannot be read.
pub fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // The fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or("")
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime, stime, cutime, cstime are fields 14 to 17; `fields[0]` is field 3.
    let tick = |i: usize| fields.get(i - 3).copied().unwrap_or(0) as f64 / 100.0;
    (tick(14) + tick(15), tick(16) + tick(17))
}
