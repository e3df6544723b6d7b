//! Phase plumbing: one direction of one entity pair within a run (or a real-time apply).
//!
//! Before every phase, parked chunk and page the lease is renewed and the deadline checked
//! ([`Phase::guard`]); a fetch resumes from its page checkpoint; the watermark moves to the
//! fetch's start minus the overlap only when the fetch completed. Parked records (deferred or
//! failed last time) are retried first, in chunks of a page, and an error there never keeps the
//! main fetch from running.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use super::decide::Rules;
use super::work::{PageWork, RetryKey};
use super::{PageProgress, RunOptions, SyncEngine};
use crate::domain::{
    AppId, ConflictNote, Counts, Direction, HubId, Organization, PageCursor, PendingRecord, Side,
    Timestamp, Watermark,
};
use crate::entity::EntityPair;
use crate::error::{AppError, HubError, StoreError};
use crate::ports::{Page, SyncStore};

/// How many parked records are retried per chunk.
const PARKED_CHUNK: usize = 100;

/// Reads a pair's pages on either side; it holds no borrow of its phase, so that the next page
/// can be read while the phase works on the current one.
#[derive(Clone, Copy)]
struct PageReader<'a> {
    engine: &'a SyncEngine,
    org: &'a Organization,
    pair: &'a EntityPair,
}

impl<'a> PageReader<'a> {
    fn of(phase: &Phase<'a>) -> Self {
        Self {
            engine: phase.engine,
            org: phase.org,
            pair: phase.pair,
        }
    }

    async fn fetch(
        self,
        side: Side,
        since: Option<Timestamp>,
        cursor: Option<PageCursor>,
    ) -> Result<Page, PhaseError> {
        let cursor = cursor.as_ref();
        Ok(match side {
            Side::Hub => {
                self.engine
                    .hub
                    .fetch_page(&self.org.group_id, &self.pair.hub, since, cursor)
                    .await?
            }
            Side::App => {
                self.engine
                    .app
                    .fetch_page(&self.pair.app, since, cursor)
                    .await?
            }
        })
    }
}

/// Errors that end one phase of one entity (the run goes on with the next entity).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PhaseError {
    #[error("Connec!: {0}")]
    Hub(#[from] HubError),
    #[error("{0}")]
    App(#[from] AppError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("lost the sync lease of organization `{0}`; another run took over")]
    LeaseLost(String),
    #[error("the deadline is near; stopped after a checkpoint")]
    Deadline,
}

/// One entity pair's work within a run.
pub(crate) struct Phase<'a> {
    pub engine: &'a SyncEngine,
    pub org: &'a Organization,
    pub pair: &'a EntityPair,
    pub owner: &'a str,
    pub options: &'a RunOptions,
    /// Set once the run processed a page: the deadline stops a run only after some progress.
    pub progressed: &'a AtomicBool,
    /// A continuation resumes this phase's parked pass after this id.
    pub parked_after: Option<String>,
    /// Where the parked pass stopped at the deadline (the last id retried).
    pub parked_stopped: Option<String>,
    pub counts: BTreeMap<Direction, Counts>,
    pub conflicts: Vec<ConflictNote>,
    /// Set when this run listed the app's entity in full (no `since`, from the first page, to
    /// the last) and it held nothing: with a connector whose listing shows every record a match
    /// could find, the run's creates need no match queries.
    pub app_listed_empty: bool,
}

impl<'a> Phase<'a> {
    /// A phase that has done nothing yet.
    pub(crate) fn new(
        engine: &'a SyncEngine,
        org: &'a Organization,
        pair: &'a EntityPair,
        owner: &'a str,
        options: &'a RunOptions,
        progressed: &'a AtomicBool,
    ) -> Self {
        Phase {
            engine,
            org,
            pair,
            owner,
            options,
            progressed,
            parked_after: None,
            parked_stopped: None,
            counts: BTreeMap::new(),
            conflicts: Vec::new(),
            app_listed_empty: false,
        }
    }

    pub(crate) fn store(&self) -> &dyn SyncStore {
        self.engine.store.as_ref()
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.engine.clock.now()
    }

    /// Whether the pair can travel in a direction at all.
    pub(crate) fn capable(&self, direction: Direction) -> bool {
        let c = self.pair.capabilities;
        match direction {
            Direction::ToApp => c.hub_read && (c.app_create || c.app_update || c.app_archive),
            Direction::ToHub => c.app_read && (c.hub_create || c.hub_update),
        }
    }

    /// What `decide` may do in a direction.
    pub(crate) fn rules(&self, direction: Direction) -> Rules {
        let c = self.pair.capabilities;
        let (can_create, can_update, can_archive, can_update_source) = match direction {
            Direction::ToApp => (c.app_create, c.app_update, c.app_archive, c.hub_update),
            Direction::ToHub => (c.hub_create, c.hub_update, c.hub_update, c.app_update),
        };
        Rules {
            direction,
            history_from: self.org.history_from,
            can_create,
            can_update,
            can_archive,
            can_update_source,
            policy: self.pair.conflict_policy,
        }
    }

    /// Renews the lease and checks the deadline: before every phase, parked chunk and page.
    pub(crate) async fn guard(&self) -> Result<(), PhaseError> {
        let now = self.now();
        if !self
            .store()
            .renew_lease(&self.org.id, self.owner, now, self.engine.config.lease_ttl)
            .await?
        {
            return Err(PhaseError::LeaseLost(self.org.id.to_string()));
        }
        match self.options.deadline {
            Some(deadline) if now >= deadline && self.progressed.load(Ordering::Relaxed) => {
                Err(PhaseError::Deadline)
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn report(&self, direction: Direction, records: usize) {
        if let Some(progress) = &self.options.progress {
            progress(&PageProgress {
                entity: self.pair.hub.clone(),
                direction,
                records,
                counts: self.counts.get(&direction).copied().unwrap_or_default(),
            });
        }
    }

    /// Runs one direction: parked records first, then every changed record since the watermark.
    pub(crate) async fn run(&mut self, direction: Direction) -> Result<(), PhaseError> {
        let parked_error = self.run_parked(direction).await?;
        self.fetch_all(direction).await?;
        parked_error.map_or(Ok(()), Err)
    }

    /// The parked pass of a direction, after renewing the lease. A deadline or a lost lease
    /// ends the phase; any other error is handed back so that the main fetch still runs.
    pub(crate) async fn run_parked(
        &mut self,
        direction: Direction,
    ) -> Result<Option<PhaseError>, PhaseError> {
        self.counts.entry(direction).or_default();
        self.guard().await?;
        match self.retry_parked(direction).await {
            Ok(()) => Ok(None),
            Err(e @ (PhaseError::Deadline | PhaseError::LeaseLost(_))) => Err(e),
            Err(e) => {
                tracing::warn!(org = %self.org.id, entity = %self.pair.hub, direction = direction.label(), error = %e, "retrying parked records failed; the main fetch goes on");
                Ok(Some(e))
            }
        }
    }

    async fn fetch_all(&mut self, direction: Direction) -> Result<(), PhaseError> {
        let side = direction.source();
        let (mut cursor, started, since) = self.fetch_start(&self.pair.hub, side).await?;
        // A listing resumed from a checkpoint, or since a watermark, shows only part of the app.
        let full_listing = side == Side::App && since.is_none() && cursor.is_none();
        let mut listed = 0usize;
        let none = HashMap::new();
        let reader = PageReader::of(self);
        let mut page = reader.fetch(side, since, cursor.clone()).await?;
        loop {
            let size = page.records.len();
            listed += size;
            cursor = page.next.take();
            // The next page is read while this one is worked on: the API's answer time hides
            // behind the engine's and the writes'. Its checkpoint is still saved only after
            // this page's outcomes, and a failure here drops the page read ahead unused.
            let (worked, ahead) = futures::join!(
                self.page(
                    direction,
                    std::mem::take(&mut page.records),
                    Vec::new(),
                    &none
                ),
                async {
                    match &cursor {
                        Some(next) => Some(reader.fetch(side, since, Some(next.clone())).await),
                        None => None,
                    }
                }
            );
            worked?;
            self.progressed.store(true, Ordering::Relaxed);
            self.report(direction, size);
            let Some(next) = &cursor else { break };
            self.store()
                .set_checkpoint(
                    &self.org.id,
                    &self.pair.hub,
                    side,
                    Some((next.clone(), started)),
                )
                .await?;
            self.guard().await?;
            page = ahead.expect("a next cursor reads ahead")?;
        }
        let mark = Watermark(started.minus(self.engine.config.overlap));
        self.store()
            .set_watermark(&self.org.id, &self.pair.hub, side, mark)
            .await?;
        self.store()
            .set_checkpoint(&self.org.id, &self.pair.hub, side, None)
            .await?;
        if full_listing && listed == 0 {
            self.app_listed_empty = true;
        }
        Ok(())
    }

    /// Where a fetch starts: a checkpoint of an interrupted run, or the first page now. `key`
    /// names the watermark and checkpoint: the pair's hub collection, or a complex entity's key.
    pub(crate) async fn fetch_start(
        &self,
        key: &crate::domain::EntityName,
        side: Side,
    ) -> Result<(Option<PageCursor>, Timestamp, Option<Timestamp>), PhaseError> {
        let since = if self.options.full {
            None
        } else {
            self.store()
                .get_watermark(&self.org.id, key, side)
                .await?
                .map(|w| w.0)
        };
        Ok(
            match self.store().get_checkpoint(&self.org.id, key, side).await? {
                Some((cursor, started)) => (Some(cursor), started, since),
                None => (None, self.now(), since),
            },
        )
    }

    /// Records of one side by id, in any order; absent ones are gone or archived.
    pub(crate) async fn fetch_by_ids(
        &self,
        side: Side,
        ids: &[String],
    ) -> Result<Vec<Value>, PhaseError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(match side {
            Side::Hub => {
                let ids: Vec<HubId> = ids.iter().map(HubId::new).collect();
                self.engine
                    .hub
                    .fetch_by_ids(&self.org.group_id, &self.pair.hub, &ids)
                    .await?
            }
            Side::App => {
                let ids: Vec<AppId> = ids.iter().map(AppId::new).collect();
                self.engine.app.fetch_by_ids(&self.pair.app, &ids).await?
            }
        })
    }

    /// Parked records of the direction's source, re-read and retried in chunks of a page.
    async fn retry_parked(&mut self, direction: Direction) -> Result<(), PhaseError> {
        let side = direction.source();
        let parked = self
            .store()
            .pending(&self.org.id, &self.pair.hub, side)
            .await?;
        for chunk in parked.chunks(PARKED_CHUNK) {
            let ids: Vec<String> = chunk.iter().map(|p| p.source_id.clone()).collect();
            let (records, missing) = self.fetch_present(side, ids).await?;
            let by_key: HashMap<RetryKey, PendingRecord> = chunk
                .iter()
                .map(|p| {
                    let key = RetryKey {
                        side,
                        id: p.source_id.clone(),
                    };
                    (key, p.clone())
                })
                .collect();
            self.page(direction, records, missing, &by_key).await?;
            self.progressed.store(true, Ordering::Relaxed);
            if let Err(e) = self.guard().await {
                if matches!(e, PhaseError::Deadline) {
                    self.parked_stopped = chunk.last().map(|p| p.source_id.clone());
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Records of one side by id, and the ids it no longer returns.
    pub(crate) async fn fetch_present(
        &self,
        side: Side,
        ids: Vec<String>,
    ) -> Result<(Vec<Value>, Vec<String>), PhaseError> {
        let records = self.fetch_by_ids(side, &ids).await?;
        let found: std::collections::HashSet<String> = records
            .iter()
            .filter_map(|r| self.record_id(side, r))
            .collect();
        let missing = ids.into_iter().filter(|id| !found.contains(id)).collect();
        Ok((records, missing))
    }

    /// The id of a record of one side, when it has one.
    pub(crate) fn record_id(&self, side: Side, record: &Value) -> Option<String> {
        match side {
            Side::Hub => self
                .engine
                .hub
                .describe(&self.pair.hub, record)
                .ok()
                .map(|m| m.id.to_string()),
            Side::App => self
                .engine
                .app
                .describe(&self.pair.app, record)
                .ok()
                .map(|m| m.id.to_string()),
        }
    }

    /// Saves a page's outcomes: id-maps in one transaction, then parked-record bookkeeping.
    pub(crate) async fn persist(
        &mut self,
        mut work: PageWork,
        parked: &HashMap<RetryKey, PendingRecord>,
    ) -> Result<(), PhaseError> {
        for (direction, counts) in &work.counts {
            self.counts.entry(*direction).or_default().add(counts);
        }
        self.conflicts.extend(work.conflicts.iter().cloned());
        let maps = work.take_dirty_maps();
        if !maps.is_empty() {
            self.save_maps(maps).await?;
        }
        let rows = work.pending_rows(&self.org.id, &self.pair.hub, parked, self.now());
        if !rows.is_empty() {
            self.store().put_pending(&rows).await?;
        }
        let unparked = work.unparked(parked);
        for side in [Side::Hub, Side::App] {
            let ids: Vec<String> = unparked
                .iter()
                .filter(|k| k.side == side)
                .map(|k| k.id.clone())
                .collect();
            if !ids.is_empty() {
                self.store()
                    .remove_pending(&self.org.id, &self.pair.hub, side, &ids)
                    .await?;
            }
        }
        Ok(())
    }

    /// Saves the hashes about to be written before the write is sent (the write-ahead): a run
    /// that dies before the outcome is saved still recognises the written version as its own.
    pub(crate) async fn write_ahead(
        &self,
        work: &mut PageWork,
        side: Side,
        slots: impl IntoIterator<Item = (super::work::Slot, crate::domain::ContentHash)>,
    ) -> Result<(), PhaseError> {
        let mut maps = Vec::new();
        for (slot, hash) in slots {
            let map = work.map(slot);
            map.set_pending(side, hash);
            if map.hub_id.is_some() || map.app_id.is_some() {
                maps.push(map.clone());
            }
        }
        if !maps.is_empty() {
            self.save_maps(maps).await?;
        }
        Ok(())
    }

    /// One transaction; should it conflict (two links claiming one record, which the engine's
    /// checks make unlikely), each map is saved on its own so the others are not lost.
    async fn save_maps(&self, maps: Vec<crate::domain::IdMap>) -> Result<(), PhaseError> {
        match self.store().save_idmaps(&maps).await {
            Err(StoreError::Conflict(detail)) => {
                tracing::warn!(org = %self.org.id, entity = %self.pair.hub, detail = %detail, "id-map conflict in a page; saving one by one");
                for map in maps {
                    if let Err(e) = self.store().save_idmaps(std::slice::from_ref(&map)).await {
                        tracing::warn!(org = %self.org.id, entity = %self.pair.hub, hub_id = ?map.hub_id, app_id = ?map.app_id, error = %e, "id-map not saved");
                    }
                }
                Ok(())
            }
            other => Ok(other?),
        }
    }
}
