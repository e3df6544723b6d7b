//! The two-way sync engine (DESIGN section 4, items 1-7, 9 and 10).
//!
//! One run syncs one organization, entity pair by entity pair in the connector's order
//! (referenced entities first). Each pair runs two phases, each streaming page by page:
//!
//! - **hub -> app**: Connec! records changed since the hub watermark. Linked records whose
//!   mapped fields changed are checked against the app's current version (one batch read per
//!   page): if the app record changed too, the entity's [`ConflictPolicy`] picks the winner and
//!   only the winner is pushed. New records are created through the connector, which matches on
//!   the entity's unique attributes first (match-and-merge).
//! - **app -> hub**: app records changed since the app watermark, pushed to Connec! through
//!   `/batch` upserts keyed by our external id (idempotent); new records carry
//!   `opts.matching_fields` so that Connec! smart-merges instead of duplicating.
//!
//! On an entity's first sync the app -> hub phase runs first, so Connec! merges before its own
//! records flow back. Watermarks are the time a fetch *started* minus an overlap, stored only
//! once the whole fetch completed; the overlap's re-reads are no-ops because every id-map keeps
//! the content hash of the mapped fields as of the last sync (which also suppresses echoes).
//! Records whose references are not mapped yet are deferred, and records whose write failed are
//! parked with the error on their id-map; both are re-read and retried on the next run even if
//! they did not change. Id-maps of a page are written in one store transaction before the next
//! page is read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use mapping::{ContentHash, Reference, content_hash};
use serde_json::Value;

use crate::connec::record;
use crate::domain::{
    AppId, ConflictNote, CountKey, Counts, Direction, EntityName, HubId, IdMap, OrgId,
    Organization, PageCursor, PendingReason, PendingRecord, Run, RunId, RunStatus, Side, Timestamp,
    Watermark, Winner,
};
use crate::entity::EntityPair;
use crate::error::{AppError, HubError, StoreError, SyncError};
use crate::ports::{
    AppConnector, AppRecordMeta, AppWrite, AppWriteFailure, AppWriteKind, Clock, Hub, HubWrite,
    SyncStore,
};

/// Engine tunables.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Subtracted from a fetch's start time to make the next watermark; covers clock skew and
    /// records committed while the fetch ran.
    pub overlap: Duration,
    /// Lease length; renewed after every page.
    pub lease_ttl: Duration,
    /// Who this process is, as lease owners name it (`pid:<pid>@<host>`): lets a local rerun
    /// tell that the holder of a lease is a process that no longer exists.
    pub holder: String,
}

/// This process as a lease holder: `pid:<pid>@<host>`.
pub fn process_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("pid:{}@{host}", std::process::id())
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            overlap: Duration::from_secs(120),
            lease_ttl: Duration::from_secs(300),
            holder: process_holder(),
        }
    }
}

/// What a page-level progress callback is told.
#[derive(Clone, Debug)]
pub struct PageProgress {
    /// Entity pair.
    pub entity: EntityName,
    /// Phase.
    pub direction: Direction,
    /// Records read in this page.
    pub records: usize,
    /// Counters of this phase so far.
    pub counts: Counts,
}

/// A callback invoked after every processed page.
pub type ProgressFn = Arc<dyn Fn(&PageProgress) + Send + Sync>;

/// Options of one run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Ignore watermarks: re-read everything (hashes still turn unchanged records into no-ops).
    pub full: bool,
    /// Called after every page.
    pub progress: Option<ProgressFn>,
    /// Stop cleanly before reading another page after this instant (a Lambda's deadline minus
    /// a margin): the page checkpoint stays, the run is marked `needs_continuation`, and the
    /// next run resumes where this one stopped. At least one page is processed per run.
    pub deadline: Option<Timestamp>,
}

/// Errors that end one phase of one entity (the run goes on with the next entity).
#[derive(Debug, thiserror::Error)]
enum PhaseError {
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

/// The sync engine: ports in, runs out.
pub struct SyncEngine {
    store: Arc<dyn SyncStore>,
    hub: Arc<dyn Hub>,
    app: Arc<dyn AppConnector>,
    clock: Arc<dyn Clock>,
    config: EngineConfig,
}

impl SyncEngine {
    /// An engine over the given ports.
    pub fn new(
        store: Arc<dyn SyncStore>,
        hub: Arc<dyn Hub>,
        app: Arc<dyn AppConnector>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Self {
        Self {
            store,
            hub,
            app,
            clock,
            config,
        }
    }

    /// Runs one sync of one organization and returns its record (also saved in the store).
    pub async fn sync(&self, org_id: &OrgId, options: RunOptions) -> Result<Run, SyncError> {
        let org = self
            .store
            .get_organization(org_id)
            .await?
            .ok_or_else(|| SyncError::UnknownOrganization(org_id.to_string()))?;
        if !org.sync_enabled {
            return Err(SyncError::Disabled(org_id.to_string()));
        }
        let run_id = RunId::new(uuid::Uuid::new_v4().to_string());
        let owner = format!("{}/run-{run_id}", self.config.holder);
        if !self
            .store
            .acquire_lease(org_id, &owner, self.clock.now(), self.config.lease_ttl)
            .await?
        {
            return Err(SyncError::Locked(org_id.to_string()));
        }
        let result = self.sync_locked(&org, run_id, &owner, &options).await;
        if let Err(e) = self.store.release_lease(org_id, &owner).await {
            tracing::warn!(org = %org_id, error = %e, "could not release the sync lease; it will expire");
        }
        result
    }

    async fn sync_locked(
        &self,
        org: &Organization,
        run_id: RunId,
        owner: &str,
        options: &RunOptions,
    ) -> Result<Run, SyncError> {
        let mut run = Run {
            id: run_id,
            org: org.id.clone(),
            started_at: self.clock.now(),
            finished_at: None,
            status: RunStatus::Running,
            first_sync: false,
            counts: Vec::new(),
            conflicts: Vec::new(),
            errors: Vec::new(),
            needs_continuation: false,
        };
        self.store.save_run(&run).await?;
        tracing::info!(org = %org.id, run = %run.id, "sync started");

        let mut all_first = true;
        for pair in self.app.entities() {
            let flags = org.flags(&pair.hub);
            let first = self.is_first_sync(org, pair).await?;
            all_first &= first;
            // First sync: app -> hub first, so that Connec! smart-merges before its records flow back.
            let phases = if first {
                [Direction::ToHub, Direction::ToApp]
            } else {
                [Direction::ToApp, Direction::ToHub]
            };
            let mut phase = Phase {
                engine: self,
                org,
                pair,
                owner,
                options,
                counts: BTreeMap::new(),
                conflicts: Vec::new(),
            };
            for direction in phases {
                if !flags.allows(direction) || !phase.capable(direction) {
                    continue;
                }
                let outcome = match direction {
                    Direction::ToApp => phase.hub_to_app().await,
                    Direction::ToHub => phase.app_to_hub().await,
                };
                if let Err(PhaseError::Deadline) = outcome {
                    tracing::info!(org = %org.id, run = %run.id, entity = %pair.hub, direction = direction.label(), "deadline near: checkpointed, a continuation resumes here");
                    run.needs_continuation = true;
                    break;
                }
                if let Err(e) = outcome {
                    tracing::error!(org = %org.id, run = %run.id, entity = %pair.hub, direction = direction.label(), error = %e, "phase failed");
                    run.errors
                        .push(format!("{} ({}): {e}", pair.hub, direction.label()));
                    if matches!(e, PhaseError::LeaseLost(_)) {
                        break;
                    }
                }
            }
            for (direction, counts) in phase.counts {
                run.counts.push((
                    CountKey {
                        entity: pair.hub.clone(),
                        direction,
                    },
                    counts,
                ));
            }
            run.conflicts.extend(phase.conflicts);
            if run.needs_continuation {
                break;
            }
        }
        run.first_sync = all_first;
        let totals = run.totals();
        run.status = if !run.errors.is_empty() {
            RunStatus::Failed
        } else if totals.failed > 0 || totals.deferred > 0 || run.needs_continuation {
            RunStatus::Partial
        } else {
            RunStatus::Success
        };
        run.finished_at = Some(self.clock.now());
        self.store.save_run(&run).await?;
        tracing::info!(
            org = %org.id,
            run = %run.id,
            status = run.status.as_str(),
            created = totals.created,
            updated = totals.updated,
            merged = totals.merged,
            conflicts = totals.conflicts,
            failed = totals.failed,
            deferred = totals.deferred,
            "sync finished"
        );
        Ok(run)
    }

    /// Applies Connec! records received in a notification to the app, through the same
    /// consolidation as a sync page: direction flags, references (deferred when unknown), echo
    /// suppression by content hash, the stale-overwrite guard and the conflict check against
    /// the app's current version. Runs under the organization's lease; when a sync holds it,
    /// returns [`SyncError::Locked`] and the records are left to that sync's next run.
    pub async fn apply_hub_records(
        &self,
        org_id: &OrgId,
        entity: &EntityName,
        records: Vec<Value>,
    ) -> Result<Counts, SyncError> {
        self.apply(org_id, entity, Direction::ToApp, |phase| {
            Box::pin(async move {
                let parked = HashMap::new();
                phase.hub_page(records, &parked).await
            })
        })
        .await
    }

    /// Fetches app records by id (an app webhook carries ids only) and applies them to
    /// Connec! like a sync page would. Missing ids are ignored (deleted since).
    pub async fn apply_app_changes(
        &self,
        org_id: &OrgId,
        entity: &EntityName,
        ids: Vec<AppId>,
    ) -> Result<Counts, SyncError> {
        self.apply(org_id, entity, Direction::ToHub, |phase| {
            Box::pin(async move {
                let records = phase.engine.app.fetch_by_ids(&phase.pair.app, &ids).await?;
                let parked = HashMap::new();
                phase.app_page(records, &parked).await
            })
        })
        .await
    }

    async fn apply<F>(
        &self,
        org_id: &OrgId,
        entity: &EntityName,
        direction: Direction,
        work: F,
    ) -> Result<Counts, SyncError>
    where
        F: for<'p> FnOnce(
            &'p mut Phase<'_>,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<(), PhaseError>> + Send + 'p>,
        >,
    {
        let org = self
            .store
            .get_organization(org_id)
            .await?
            .ok_or_else(|| SyncError::UnknownOrganization(org_id.to_string()))?;
        if !org.sync_enabled {
            return Err(SyncError::Disabled(org_id.to_string()));
        }
        let pair = self
            .app
            .entities()
            .iter()
            .find(|p| &p.hub == entity)
            .ok_or_else(|| SyncError::UnknownEntity(entity.to_string()))?;
        if !org.flags(entity).allows(direction) {
            return Err(SyncError::DirectionOff {
                entity: entity.to_string(),
                direction: direction.label(),
            });
        }
        let owner = format!("{}/realtime-{}", self.config.holder, uuid::Uuid::new_v4());
        if !self
            .store
            .acquire_lease(org_id, &owner, self.clock.now(), self.config.lease_ttl)
            .await?
        {
            return Err(SyncError::Locked(org_id.to_string()));
        }
        let options = RunOptions::default();
        let mut phase = Phase {
            engine: self,
            org: &org,
            pair,
            owner: &owner,
            options: &options,
            counts: BTreeMap::new(),
            conflicts: Vec::new(),
        };
        let outcome = work(&mut phase).await;
        if let Err(e) = self.store.release_lease(org_id, &owner).await {
            tracing::warn!(org = %org_id, error = %e, "could not release the lease; it will expire");
        }
        outcome.map_err(|e| SyncError::Apply(e.to_string()))?;
        let mut total = Counts::default();
        for counts in phase.counts.values() {
            total.add(counts);
        }
        tracing::info!(
            org = %org_id,
            entity = %entity,
            direction = direction.label(),
            written = total.written(),
            skipped = total.skipped,
            conflicts = total.conflicts,
            "real-time changes applied"
        );
        Ok(total)
    }

    async fn is_first_sync(
        &self,
        org: &Organization,
        pair: &EntityPair,
    ) -> Result<bool, StoreError> {
        for side in [Side::Hub, Side::App] {
            if self
                .store
                .get_watermark(&org.id, &pair.hub, side)
                .await?
                .is_some()
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A prepared hub -> app push.
struct ToAppItem {
    map: IdMap,
    hub_id: HubId,
    hub_updated_at: Timestamp,
    app_record: Value,
    hash: ContentHash,
    /// Was the id-map already stored (vs. created in this page)?
    pending_key: String,
}

/// A prepared app -> hub push.
struct ToHubItem {
    map: IdMap,
    meta: AppRecordMeta,
    write: HubWrite,
    hash: Option<ContentHash>,
    /// An archive (INACTIVE) rather than a content push.
    archive: bool,
}

/// Why an app record cannot travel to Connec! in this run.
enum Unready {
    /// A reference is not in the id-map yet.
    Deferred(String),
    /// Mapping failed.
    Failed(String),
}

/// Reference values resolved through the id-map for one page.
#[derive(Default)]
struct RefIndex {
    /// (referenced entity, hub id) -> app id
    hub_to_app: HashMap<(String, String), AppId>,
    /// (referenced entity, app id) -> hub id
    app_to_hub: HashMap<(String, String), HubId>,
}

/// One entity pair's work within a run.
struct Phase<'a> {
    engine: &'a SyncEngine,
    org: &'a Organization,
    pair: &'a EntityPair,
    owner: &'a str,
    options: &'a RunOptions,
    counts: BTreeMap<Direction, Counts>,
    conflicts: Vec<ConflictNote>,
}

impl Phase<'_> {
    fn store(&self) -> &dyn SyncStore {
        self.engine.store.as_ref()
    }

    fn capable(&self, direction: Direction) -> bool {
        let c = self.pair.capabilities;
        match direction {
            Direction::ToApp => c.hub_read && (c.app_create || c.app_update || c.app_archive),
            Direction::ToHub => c.app_read && (c.hub_create || c.hub_update),
        }
    }

    fn count(&mut self, direction: Direction) -> &mut Counts {
        self.counts.entry(direction).or_default()
    }

    fn too_old(&self, created_at: Option<Timestamp>) -> bool {
        match (self.org.history_from, created_at) {
            (Some(cutoff), Some(created)) => created < cutoff,
            _ => false,
        }
    }

    /// Past the deadline (checked only between pages, after a checkpoint): stop.
    fn check_deadline(&self) -> Result<(), PhaseError> {
        match self.options.deadline {
            Some(deadline) if self.engine.clock.now() >= deadline => Err(PhaseError::Deadline),
            _ => Ok(()),
        }
    }

    async fn renew_lease(&self) -> Result<(), PhaseError> {
        let now = self.engine.clock.now();
        if self
            .store()
            .renew_lease(&self.org.id, self.owner, now, self.engine.config.lease_ttl)
            .await?
        {
            Ok(())
        } else {
            Err(PhaseError::LeaseLost(self.org.id.to_string()))
        }
    }

    fn report(&self, direction: Direction, records: usize) {
        if let Some(progress) = &self.options.progress {
            progress(&PageProgress {
                entity: self.pair.hub.clone(),
                direction,
                records,
                counts: self.counts.get(&direction).copied().unwrap_or_default(),
            });
        }
    }

    /// Where a fetch starts: a checkpoint of an interrupted run, or the first page now.
    async fn fetch_start(
        &self,
        side: Side,
    ) -> Result<(Option<PageCursor>, Timestamp, Option<Timestamp>), PhaseError> {
        let since = if self.options.full {
            None
        } else {
            self.store()
                .get_watermark(&self.org.id, &self.pair.hub, side)
                .await?
                .map(|w| w.0)
        };
        Ok(
            match self
                .store()
                .get_checkpoint(&self.org.id, &self.pair.hub, side)
                .await?
            {
                Some((cursor, started)) => (Some(cursor), started, since),
                None => (None, self.engine.clock.now(), since),
            },
        )
    }

    /// After a page: `false` on the last one; otherwise checkpoints the next page's cursor (so a
    /// crash or a deadline resumes there), renews the lease and checks the deadline.
    async fn after_page(
        &self,
        side: Side,
        next: Option<&PageCursor>,
        started: Timestamp,
    ) -> Result<bool, PhaseError> {
        let Some(next) = next else {
            return Ok(false);
        };
        self.store()
            .set_checkpoint(
                &self.org.id,
                &self.pair.hub,
                side,
                Some((next.clone(), started)),
            )
            .await?;
        self.renew_lease().await?;
        self.check_deadline()?;
        Ok(true)
    }

    /// Records the end of a complete fetch: the watermark moves to its start minus the overlap.
    async fn fetch_done(&self, side: Side, started: Timestamp) -> Result<(), PhaseError> {
        let mark = Watermark(started.minus(self.engine.config.overlap));
        self.store()
            .set_watermark(&self.org.id, &self.pair.hub, side, mark)
            .await?;
        self.store()
            .set_checkpoint(&self.org.id, &self.pair.hub, side, None)
            .await?;
        Ok(())
    }

    // ----------------------------------------------------------------- hub -> app

    async fn hub_to_app(&mut self) -> Result<(), PhaseError> {
        let engine = self.engine;
        let group = &self.org.group_id;
        let entity = &self.pair.hub;
        self.count(Direction::ToApp);

        // Parked records first: retried even though they did not change.
        let parked = self
            .store()
            .pending(&self.org.id, entity, Side::Hub)
            .await?;
        if !parked.is_empty() {
            let ids: Vec<HubId> = parked
                .iter()
                .map(|p| HubId::new(p.source_id.clone()))
                .collect();
            let records = engine.hub.fetch_by_ids(group, entity, &ids).await?;
            let found: HashSet<String> = records
                .iter()
                .filter_map(record::hub_id)
                .map(|id| id.to_string())
                .collect();
            let gone: Vec<String> = parked
                .iter()
                .map(|p| p.source_id.clone())
                .filter(|id| !found.contains(id))
                .collect();
            self.store()
                .remove_pending(&self.org.id, entity, Side::Hub, &gone)
                .await?;
            let parked_by_id = parked
                .into_iter()
                .map(|p| (p.source_id.clone(), p))
                .collect();
            self.hub_page(records, &parked_by_id).await?;
        }

        let (mut cursor, started, since) = self.fetch_start(Side::Hub).await?;
        let parked_none = HashMap::new();
        loop {
            let page = engine
                .hub
                .fetch_page(group, entity, since, cursor.as_ref())
                .await?;
            let size = page.records.len();
            self.hub_page(page.records, &parked_none).await?;
            self.report(Direction::ToApp, size);
            cursor = page.next;
            if !self.after_page(Side::Hub, cursor.as_ref(), started).await? {
                break;
            }
        }
        self.fetch_done(Side::Hub, started).await
    }

    /// Processes one page of hub records.
    async fn hub_page(
        &mut self,
        records: Vec<Value>,
        parked: &HashMap<String, PendingRecord>,
    ) -> Result<(), PhaseError> {
        let engine = self.engine;
        let org = self.org;
        let pair = self.pair;
        let provider = engine.app.provider();
        let mapping = pair.mapping.clone();
        let now = engine.clock.now();
        let mut pending_out: Vec<PendingRecord> = Vec::new();
        let mut resolved: Vec<String> = Vec::new();

        // Parse what the engine needs of each record; malformed ones fail alone.
        let mut parsed: Vec<(HubId, Timestamp, Value)> = Vec::with_capacity(records.len());
        for record in records {
            match (record::hub_id(&record), record::updated_at(&record)) {
                (Some(id), Some(updated)) => parsed.push((id, updated, record)),
                _ => {
                    tracing::warn!(org = %org.id, entity = %pair.hub, "hub record without id or updated_at; skipped");
                    self.count(Direction::ToApp).failed += 1;
                }
            }
        }
        if parsed.is_empty() {
            return Ok(());
        }
        let ids: Vec<HubId> = parsed.iter().map(|(id, _, _)| id.clone()).collect();
        let mut maps: HashMap<HubId, IdMap> = self
            .store()
            .idmaps_by_hub_ids(&org.id, &pair.hub, &ids)
            .await?
            .into_iter()
            .filter_map(|m| m.hub_id.clone().map(|id| (id, m)))
            .collect();
        let refs = self
            .resolve_hub_refs(parsed.iter().map(|(_, _, r)| r))
            .await?;

        let mut updates: Vec<ToAppItem> = Vec::new();
        let mut creates: Vec<ToAppItem> = Vec::new();
        let mut archives: Vec<IdMap> = Vec::new();
        let mut touched: Vec<IdMap> = Vec::new();

        for (hub_id, updated_at, hub_record) in parsed {
            let key = hub_id.to_string();
            let mut map = maps.remove(&hub_id).unwrap_or_else(|| {
                let mut m = IdMap::new(org.id.clone(), pair.hub.clone());
                m.hub_id = Some(hub_id.clone());
                m
            });
            if self.too_old(record::created_at(&hub_record)) || map.inactive || !map.to_app {
                self.count(Direction::ToApp).skipped += 1;
                resolved.push(key);
                continue;
            }
            // Connec! may already know our id for this record (e.g. the id-map was lost).
            if map.app_id.is_none()
                && let Some(app_id) = hub_record
                    .get("id")
                    .and_then(|ids| record::external_id(ids, provider, &org.realm))
            {
                map.app_id = Some(app_id);
            }
            if record::is_inactive(&hub_record) {
                if map.app_id.is_some() && pair.capabilities.app_archive {
                    archives.push(map);
                } else {
                    self.count(Direction::ToApp).skipped += 1;
                }
                resolved.push(key);
                continue;
            }
            // An older version (overlap re-read, late webhook) never overwrites a newer one.
            if map.hub_updated_at.is_some_and(|seen| seen > updated_at) {
                self.count(Direction::ToApp).skipped += 1;
                resolved.push(key);
                continue;
            }
            let (plain, for_app) = match self.translate_hub_refs(&hub_record, &refs, &mapping) {
                Ok(pair_of_records) => pair_of_records,
                Err(missing) => {
                    self.count(Direction::ToApp).deferred += 1;
                    pending_out.push(self.pending(
                        Side::Hub,
                        &key,
                        PendingReason::Deferred,
                        missing,
                        parked,
                        now,
                    ));
                    continue;
                }
            };
            let prepared = mapping
                .canonical_from_hub(&plain)
                .and_then(|canonical| Ok((content_hash(&canonical), mapping.to_app(&for_app)?)));
            let (hash, app_record) = match prepared {
                Ok(ok) => ok,
                Err(e) => {
                    tracing::warn!(org = %org.id, entity = %pair.hub, hub_id = %hub_id, "hub record cannot be mapped; parked");
                    self.count(Direction::ToApp).failed += 1;
                    map.last_error = Some(format!("mapping to the app failed: {e}"));
                    pending_out.push(self.pending(
                        Side::Hub,
                        &key,
                        PendingReason::Failed,
                        e.to_string(),
                        parked,
                        now,
                    ));
                    touched.push(map);
                    continue;
                }
            };
            if map.hash.as_ref() == Some(&hash) {
                // Nothing we map changed: an echo of our own write, or an overlap re-read.
                self.count(Direction::ToApp).skipped += 1;
                resolved.push(key);
                continue;
            }
            map.name = self.label(&hub_record).or(map.name);
            let item = ToAppItem {
                map,
                hub_id,
                hub_updated_at: updated_at,
                app_record,
                hash,
                pending_key: key,
            };
            if item.map.app_id.is_some() {
                updates.push(item);
            } else {
                creates.push(item);
            }
        }

        // Linked records: compare with the app's current version to detect conflicts.
        let mut writes_to_app: Vec<ToAppItem> = Vec::new();
        let mut hub_wins_back: Vec<ToHubItem> = Vec::new();
        if !updates.is_empty() {
            let app_ids: Vec<AppId> = updates
                .iter()
                .filter_map(|u| u.map.app_id.clone())
                .collect();
            let current = engine.app.fetch_by_ids(&pair.app, &app_ids).await?;
            let app_refs = self.resolve_app_refs(current.iter()).await?;
            let mut by_id: HashMap<AppId, (AppRecordMeta, Value)> = HashMap::new();
            for app_record in current {
                let meta = engine.app.describe(&pair.app, &app_record)?;
                by_id.insert(meta.id.clone(), (meta, app_record));
            }
            for mut item in updates {
                let app_id = item.map.app_id.clone().expect("updates are linked");
                let Some((meta, app_record)) = by_id.remove(&app_id) else {
                    tracing::warn!(org = %org.id, entity = %pair.hub, app_id = %app_id, "app record is gone; id-map marked inactive");
                    item.map.inactive = true;
                    item.map.last_error = Some(format!(
                        "{} record {app_id} no longer exists in the app",
                        pair.app
                    ));
                    self.count(Direction::ToApp).skipped += 1;
                    resolved.push(item.pending_key.clone());
                    touched.push(item.map);
                    continue;
                };
                if meta.archived {
                    // The app deleted it: the app -> hub phase carries the deletion over.
                    self.count(Direction::ToApp).skipped += 1;
                    resolved.push(item.pending_key.clone());
                    continue;
                }
                let app_hash = self
                    .translate_app_refs(&app_record, &app_refs, &mapping)
                    .ok()
                    .and_then(|translated| mapping.canonical_from_app(&translated).ok())
                    .map(|canonical| content_hash(&canonical));
                let app_changed = app_hash.is_some() && app_hash != item.map.hash;
                if !app_changed || item.map.hash.is_none() {
                    writes_to_app.push(item);
                    continue;
                }
                if app_hash.as_ref() == Some(&item.hash) {
                    // Both sides already say the same thing.
                    item.map.hash = Some(item.hash.clone());
                    item.map.hub_updated_at = Some(item.hub_updated_at);
                    item.map.app_updated_at = Some(meta.updated_at);
                    self.count(Direction::ToApp).skipped += 1;
                    resolved.push(item.pending_key.clone());
                    touched.push(item.map);
                    continue;
                }
                let winner = pair
                    .conflict_policy
                    .decide(item.hub_updated_at, meta.updated_at);
                self.count(Direction::ToApp).conflicts += 1;
                tracing::info!(org = %org.id, entity = %pair.hub, hub_id = %item.hub_id, app_id = %app_id, winner = ?winner, "conflict");
                self.conflicts.push(ConflictNote {
                    entity: pair.hub.clone(),
                    hub_id: item.hub_id.clone(),
                    app_id: app_id.clone(),
                    policy: pair.conflict_policy,
                    winner,
                    hub_updated_at: item.hub_updated_at,
                    app_updated_at: meta.updated_at,
                });
                match winner {
                    Winner::Hub => writes_to_app.push(item),
                    Winner::App => {
                        resolved.push(item.pending_key.clone());
                        match self.prepare_to_hub(item.map, meta, &app_record, &app_refs) {
                            Ok(to_hub) => hub_wins_back.push(to_hub),
                            Err((
                                mut map,
                                Unready::Deferred(problem) | Unready::Failed(problem),
                            )) => {
                                self.count(Direction::ToHub).failed += 1;
                                map.last_error = Some(problem);
                                touched.push(map);
                            }
                        }
                    }
                }
            }
        }
        writes_to_app.extend(creates);

        // Write to the app, then record every outcome on the id-maps.
        if !writes_to_app.is_empty() {
            let writes: Vec<AppWrite> = writes_to_app
                .iter()
                .map(|item| match &item.map.app_id {
                    Some(id) => AppWrite::Update {
                        id: id.clone(),
                        record: item.app_record.clone(),
                    },
                    None => AppWrite::Create {
                        hub_id: item.hub_id.clone(),
                        record: item.app_record.clone(),
                    },
                })
                .collect();
            let outcomes = engine.app.write(&pair.app, writes).await?;
            if outcomes.len() != writes_to_app.len() {
                return Err(AppError::Invalid {
                    app: "connector",
                    detail: format!(
                        "{} writes sent but {} outcomes returned",
                        writes_to_app.len(),
                        outcomes.len()
                    ),
                }
                .into());
            }
            // A created or merged app record already linked to another hub record must not be
            // linked twice (two hub records with one email, say): that record fails instead.
            let new_ids: Vec<AppId> = outcomes
                .iter()
                .zip(&writes_to_app)
                .filter(|(_, item)| item.map.app_id.is_none())
                .filter_map(|(outcome, _)| outcome.as_ref().ok())
                .filter_map(|o| engine.app.describe(&pair.app, &o.record).ok().map(|m| m.id))
                .collect();
            let mut taken: HashMap<AppId, Option<HubId>> = self
                .store()
                .idmaps_by_app_ids(&org.id, &pair.hub, &new_ids)
                .await?
                .into_iter()
                .filter_map(|m| m.app_id.clone().map(|id| (id, m.hub_id.clone())))
                .collect();
            for (mut item, outcome) in writes_to_app.into_iter().zip(outcomes) {
                match outcome {
                    Ok(done) => {
                        let meta = match engine.app.describe(&pair.app, &done.record) {
                            Ok(meta) => meta,
                            Err(e) => return Err(e.into()),
                        };
                        if item.map.app_id.is_none() {
                            match taken.get(&meta.id) {
                                Some(Some(owner)) if owner != &item.hub_id => {
                                    let problem = format!(
                                        "matches {} record {} which is already linked to another hub record",
                                        pair.app, meta.id
                                    );
                                    self.count(Direction::ToApp).failed += 1;
                                    item.map.last_error = Some(problem.clone());
                                    pending_out.push(self.pending(
                                        Side::Hub,
                                        &item.pending_key,
                                        PendingReason::Failed,
                                        problem,
                                        parked,
                                        now,
                                    ));
                                    touched.push(item.map);
                                    continue;
                                }
                                _ => {
                                    taken.insert(meta.id.clone(), Some(item.hub_id.clone()));
                                }
                            }
                        }
                        let counts = self.count(Direction::ToApp);
                        match done.kind {
                            AppWriteKind::Created => counts.created += 1,
                            AppWriteKind::Merged => counts.merged += 1,
                            AppWriteKind::Updated => counts.updated += 1,
                        }
                        item.map.app_id = Some(meta.id);
                        item.map.hash = Some(item.hash);
                        item.map.last_push_to_app = Some(now);
                        item.map.hub_updated_at = Some(item.hub_updated_at);
                        item.map.app_updated_at = Some(meta.updated_at);
                        item.map.last_error = None;
                        resolved.push(item.pending_key);
                        touched.push(item.map);
                    }
                    Err(AppWriteFailure::NotFound) => {
                        item.map.inactive = true;
                        item.map.last_error =
                            Some(format!("{} record no longer exists in the app", pair.app));
                        self.count(Direction::ToApp).skipped += 1;
                        resolved.push(item.pending_key);
                        touched.push(item.map);
                    }
                    Err(AppWriteFailure::Rejected(e)) => {
                        tracing::warn!(org = %org.id, entity = %pair.hub, hub_id = %item.hub_id, status = e.status, "app rejected the record; parked for the next run");
                        self.count(Direction::ToApp).failed += 1;
                        item.map.last_error = Some(e.message.clone());
                        pending_out.push(self.pending(
                            Side::Hub,
                            &item.pending_key,
                            PendingReason::Failed,
                            e.message,
                            parked,
                            now,
                        ));
                        touched.push(item.map);
                    }
                }
            }
        }

        if !archives.is_empty() {
            let ids: Vec<AppId> = archives.iter().filter_map(|m| m.app_id.clone()).collect();
            let outcomes = engine.app.archive(&pair.app, &ids).await?;
            for (mut map, outcome) in archives.into_iter().zip(outcomes) {
                match outcome {
                    Ok(()) | Err(AppWriteFailure::NotFound) => {
                        map.inactive = true;
                        map.last_push_to_app = Some(now);
                        map.last_error = None;
                        self.count(Direction::ToApp).archived += 1;
                    }
                    Err(AppWriteFailure::Rejected(e)) => {
                        self.count(Direction::ToApp).failed += 1;
                        map.last_error = Some(e.message);
                    }
                }
                touched.push(map);
            }
        }

        if !hub_wins_back.is_empty() {
            // Parked app-side failures travel in the same list: each record names its side.
            self.push_to_hub(
                hub_wins_back,
                &mut touched,
                &mut pending_out,
                &mut Vec::new(),
                &HashMap::new(),
                now,
            )
            .await?;
        }

        self.persist(touched, pending_out, resolved, Side::Hub, parked)
            .await
    }

    // ----------------------------------------------------------------- app -> hub

    async fn app_to_hub(&mut self) -> Result<(), PhaseError> {
        let engine = self.engine;
        let entity = &self.pair.hub;
        self.count(Direction::ToHub);

        let parked = self
            .store()
            .pending(&self.org.id, entity, Side::App)
            .await?;
        if !parked.is_empty() {
            let ids: Vec<AppId> = parked
                .iter()
                .map(|p| AppId::new(p.source_id.clone()))
                .collect();
            let records = engine.app.fetch_by_ids(&self.pair.app, &ids).await?;
            let mut found = HashSet::new();
            for r in &records {
                found.insert(engine.app.describe(&self.pair.app, r)?.id.to_string());
            }
            let gone: Vec<String> = parked
                .iter()
                .map(|p| p.source_id.clone())
                .filter(|id| !found.contains(id))
                .collect();
            self.store()
                .remove_pending(&self.org.id, entity, Side::App, &gone)
                .await?;
            let parked_by_id = parked
                .into_iter()
                .map(|p| (p.source_id.clone(), p))
                .collect();
            self.app_page(records, &parked_by_id).await?;
        }

        let (mut cursor, started, since) = self.fetch_start(Side::App).await?;
        let parked_none = HashMap::new();
        loop {
            let page = engine
                .app
                .fetch_page(&self.pair.app, since, cursor.as_ref())
                .await?;
            let size = page.records.len();
            self.app_page(page.records, &parked_none).await?;
            self.report(Direction::ToHub, size);
            cursor = page.next;
            if !self.after_page(Side::App, cursor.as_ref(), started).await? {
                break;
            }
        }
        self.fetch_done(Side::App, started).await
    }

    /// Processes one page of app records.
    async fn app_page(
        &mut self,
        records: Vec<Value>,
        parked: &HashMap<String, PendingRecord>,
    ) -> Result<(), PhaseError> {
        let engine = self.engine;
        let org = self.org;
        let pair = self.pair;
        let now = engine.clock.now();
        let mut pending_out = Vec::new();
        let mut resolved = Vec::new();
        let mut touched = Vec::new();

        let mut parsed = Vec::with_capacity(records.len());
        for record in records {
            match engine.app.describe(&pair.app, &record) {
                Ok(meta) => parsed.push((meta, record)),
                Err(e) => {
                    tracing::warn!(org = %org.id, entity = %pair.hub, error = %e, "app record without id or timestamps; skipped");
                    self.count(Direction::ToHub).failed += 1;
                }
            }
        }
        if parsed.is_empty() {
            return Ok(());
        }
        let ids: Vec<AppId> = parsed.iter().map(|(m, _)| m.id.clone()).collect();
        let mut maps: HashMap<AppId, IdMap> = self
            .store()
            .idmaps_by_app_ids(&org.id, &pair.hub, &ids)
            .await?
            .into_iter()
            .filter_map(|m| m.app_id.clone().map(|id| (id, m)))
            .collect();
        let refs = self.resolve_app_refs(parsed.iter().map(|(_, r)| r)).await?;

        let mut items = Vec::new();
        for (meta, app_record) in parsed {
            let key = meta.id.to_string();
            let map = maps.remove(&meta.id).unwrap_or_else(|| {
                let mut m = IdMap::new(org.id.clone(), pair.hub.clone());
                m.app_id = Some(meta.id.clone());
                m
            });
            if self.too_old(meta.created_at) || map.inactive || !map.to_hub {
                self.count(Direction::ToHub).skipped += 1;
                resolved.push(key);
                continue;
            }
            if meta.archived {
                if let Some(hub_id) = map.hub_id.clone() {
                    let write = HubWrite {
                        change: crate::ports::HubChange::Archive,
                        hub_id: Some(hub_id),
                        source: None,
                        matching_fields: Vec::new(),
                    };
                    items.push(ToHubItem {
                        map,
                        meta,
                        write,
                        hash: None,
                        archive: true,
                    });
                } else {
                    self.count(Direction::ToHub).skipped += 1;
                }
                resolved.push(key);
                continue;
            }
            if map
                .app_updated_at
                .is_some_and(|seen| seen > meta.updated_at)
            {
                self.count(Direction::ToHub).skipped += 1;
                resolved.push(key);
                continue;
            }
            match self.prepare_to_hub(map, meta, &app_record, &refs) {
                Ok(item) => {
                    if item.map.hash == item.hash {
                        self.count(Direction::ToHub).skipped += 1;
                        resolved.push(key);
                    } else {
                        items.push(item);
                    }
                }
                Err((mut map, Unready::Deferred(problem))) => {
                    self.count(Direction::ToHub).deferred += 1;
                    map.last_error = None;
                    pending_out.push(self.pending(
                        Side::App,
                        &key,
                        PendingReason::Deferred,
                        problem,
                        parked,
                        now,
                    ));
                }
                Err((mut map, Unready::Failed(problem))) => {
                    self.count(Direction::ToHub).failed += 1;
                    map.last_error = Some(problem.clone());
                    touched.push(map);
                    pending_out.push(self.pending(
                        Side::App,
                        &key,
                        PendingReason::Failed,
                        problem,
                        parked,
                        now,
                    ));
                }
            }
        }
        // Capabilities: create-only or update-only entities.
        let caps = pair.capabilities;
        items.retain(|item| {
            let allowed = if item.map.hub_id.is_some() {
                caps.hub_update
            } else {
                caps.hub_create
            };
            if !allowed {
                resolved.push(item.meta.id.to_string());
            }
            allowed
        });
        if !items.is_empty() {
            self.push_to_hub(
                items,
                &mut touched,
                &mut pending_out,
                &mut resolved,
                parked,
                now,
            )
            .await?;
        }
        self.persist(touched, pending_out, resolved, Side::App, parked)
            .await
    }

    /// Maps an app record for Connec!: references translated, external id attached.
    /// Fails with the id-map and why the record cannot travel yet.
    #[allow(clippy::result_large_err)]
    fn prepare_to_hub(
        &self,
        mut map: IdMap,
        meta: AppRecordMeta,
        app_record: &Value,
        refs: &RefIndex,
    ) -> Result<ToHubItem, (IdMap, Unready)> {
        let mapping = &self.pair.mapping;
        let translated = match self.translate_app_refs(app_record, refs, mapping) {
            Ok(t) => t,
            Err(missing) => return Err((map, Unready::Deferred(missing))),
        };
        let mapped = mapping
            .canonical_from_app(&translated)
            .and_then(|canonical| Ok((canonical, mapping.to_hub(&translated)?)));
        let (canonical, mut body) = match mapped {
            Ok(ok) => ok,
            Err(e) => {
                return Err((
                    map,
                    Unready::Failed(format!("mapping to Connec! failed: {e}")),
                ));
            }
        };
        // References travel as connec id triples.
        let channel = format!("org-{}", self.org.group_id);
        for reference in mapping.references() {
            let _ = reference
                .hub
                .rewrite(&mut body, |value| -> Result<Option<Value>, ()> {
                    Ok(Some(match value {
                        Value::String(id) if !id.is_empty() => {
                            record::connec_triple(&HubId::new(id.clone()), &channel)
                        }
                        other => other.clone(),
                    }))
                });
        }

        if map.name.is_none() {
            map.name = self.label(&body);
        }
        let write = HubWrite {
            change: crate::ports::HubChange::Fields(body),
            source: Some(crate::ports::ExternalId {
                provider: self.engine.app.provider().clone(),
                realm: self.org.realm.clone(),
                id: meta.id.clone(),
            }),
            hub_id: map.hub_id.clone(),
            matching_fields: self.pair.matching_fields.clone(),
        };
        Ok(ToHubItem {
            map,
            meta,
            write,
            hash: Some(content_hash(&canonical)),
            archive: false,
        })
    }

    /// Writes prepared items to Connec! and records outcomes.
    async fn push_to_hub(
        &mut self,
        items: Vec<ToHubItem>,
        touched: &mut Vec<IdMap>,
        pending_out: &mut Vec<PendingRecord>,
        resolved: &mut Vec<String>,
        parked: &HashMap<String, PendingRecord>,
        now: Timestamp,
    ) -> Result<(), PhaseError> {
        let engine = self.engine;
        let org = self.org;
        let pair = self.pair;
        let writes: Vec<HubWrite> = items.iter().map(|i| i.write.clone()).collect();
        let outcomes = engine.hub.write(&org.group_id, &pair.hub, writes).await?;
        // A merged hub record already linked to another app record must not be linked twice.
        let returned: Vec<HubId> = outcomes
            .iter()
            .zip(&items)
            .filter(|(_, item)| item.map.hub_id.is_none())
            .filter_map(|(o, _)| o.as_ref().ok().map(|o| o.meta.id.clone()))
            .collect();
        let mut taken: HashMap<HubId, Option<AppId>> = self
            .store()
            .idmaps_by_hub_ids(&org.id, &pair.hub, &returned)
            .await?
            .into_iter()
            .filter_map(|m| m.hub_id.clone().map(|id| (id, m.app_id.clone())))
            .collect();
        for (mut item, outcome) in items.into_iter().zip(outcomes) {
            let key = item.meta.id.to_string();
            match outcome {
                Ok(done) => {
                    let hub_id = done.meta.id.clone();
                    let was_linked = item.map.hub_id.is_some();
                    if !was_linked {
                        match taken.get(&hub_id) {
                            Some(Some(owner)) if owner != &item.meta.id => {
                                let problem = format!(
                                    "Connec! merged it into {} record {hub_id}, which is already linked to another app record",
                                    pair.hub
                                );
                                self.count(Direction::ToHub).failed += 1;
                                item.map.last_error = Some(problem.clone());
                                pending_out.push(self.pending(
                                    Side::App,
                                    &key,
                                    PendingReason::Failed,
                                    problem,
                                    parked,
                                    now,
                                ));
                                touched.push(item.map);
                                continue;
                            }
                            _ => {
                                taken.insert(hub_id.clone(), Some(item.meta.id.clone()));
                            }
                        }
                    }
                    let counts = self.count(Direction::ToHub);
                    if item.archive {
                        counts.archived += 1;
                        item.map.inactive = true;
                    } else if done.created {
                        counts.created += 1;
                    } else if was_linked {
                        counts.updated += 1;
                    } else {
                        counts.merged += 1;
                    }
                    item.map.hub_id = Some(hub_id);
                    if let Some(hash) = item.hash {
                        item.map.hash = Some(hash);
                    }
                    item.map.last_push_to_hub = Some(now);
                    item.map.app_updated_at = Some(item.meta.updated_at);
                    item.map.hub_updated_at = Some(done.meta.updated_at);
                    item.map.last_error = None;
                    resolved.push(key);
                    touched.push(item.map);
                }
                Err(e) if e.status == Some(404) && item.map.hub_id.is_some() => {
                    item.map.inactive = true;
                    item.map.last_error = Some("the Connec! record no longer exists".into());
                    self.count(Direction::ToHub).skipped += 1;
                    resolved.push(key);
                    touched.push(item.map);
                }
                Err(e) => {
                    tracing::warn!(org = %org.id, entity = %pair.hub, app_id = %item.meta.id, status = e.status, "Connec! rejected the record; parked for the next run");
                    self.count(Direction::ToHub).failed += 1;
                    item.map.last_error = Some(e.message.clone());
                    pending_out.push(self.pending(
                        Side::App,
                        &key,
                        PendingReason::Failed,
                        e.message,
                        parked,
                        now,
                    ));
                    touched.push(item.map);
                }
            }
        }
        Ok(())
    }

    /// Saves a page's id-maps in one transaction, then the parked-record bookkeeping.
    async fn persist(
        &self,
        touched: Vec<IdMap>,
        pending_out: Vec<PendingRecord>,
        resolved: Vec<String>,
        source: Side,
        parked: &HashMap<String, PendingRecord>,
    ) -> Result<(), PhaseError> {
        let touched: Vec<IdMap> = touched
            .into_iter()
            .filter(|m| m.hub_id.is_some() || m.app_id.is_some())
            .collect();
        if !touched.is_empty() {
            self.store().save_idmaps(&touched).await?;
        }
        if !pending_out.is_empty() {
            self.store().put_pending(&pending_out).await?;
        }
        // Only records that were parked need un-parking: saves a store call per page otherwise.
        let unparked: Vec<String> = resolved
            .into_iter()
            .filter(|id| parked.contains_key(id))
            .collect();
        if !unparked.is_empty() {
            self.store()
                .remove_pending(&self.org.id, &self.pair.hub, source, &unparked)
                .await?;
        }
        Ok(())
    }

    fn pending(
        &self,
        source: Side,
        id: &str,
        reason: PendingReason,
        error: String,
        parked: &HashMap<String, PendingRecord>,
        now: Timestamp,
    ) -> PendingRecord {
        let previous = parked.get(id);
        PendingRecord {
            org: self.org.id.clone(),
            entity: self.pair.hub.clone(),
            source,
            source_id: id.to_owned(),
            reason,
            error,
            attempts: previous.map_or(1, |p| p.attempts + 1),
            since: previous.map_or(now, |p| p.since),
        }
    }

    fn label(&self, hub_record: &Value) -> Option<String> {
        let parts: Vec<String> = self
            .pair
            .label_fields
            .iter()
            .filter_map(|field| {
                let mut current = hub_record;
                for key in field.split('.') {
                    current = current.get(key)?;
                }
                current.as_str().map(str::to_owned)
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    // ----------------------------------------------------------------- references

    /// Looks up, in one store call per referenced entity, the app ids of every hub record the
    /// page's references point to.
    async fn resolve_hub_refs<'r>(
        &self,
        records: impl Iterator<Item = &'r Value>,
    ) -> Result<RefIndex, StoreError> {
        let references = self.pair.mapping.references();
        let mut wanted: BTreeMap<String, HashSet<HubId>> = BTreeMap::new();
        for record in records {
            for reference in references {
                for value in reference.hub.get_all(record) {
                    if let Some(id) = record::connec_ref(value) {
                        wanted
                            .entry(reference.entity.clone())
                            .or_default()
                            .insert(id);
                    }
                }
            }
        }
        let mut index = RefIndex::default();
        for (entity, ids) in wanted {
            let ids: Vec<HubId> = ids.into_iter().collect();
            for map in self
                .store()
                .idmaps_by_hub_ids(&self.org.id, &EntityName::new(entity.clone()), &ids)
                .await?
            {
                if let (Some(hub), Some(app)) = (map.hub_id, map.app_id)
                    && !map.inactive
                {
                    index
                        .hub_to_app
                        .insert((entity.clone(), hub.to_string()), app);
                }
            }
        }
        Ok(index)
    }

    /// Looks up the hub ids of every app record the page's references point to.
    async fn resolve_app_refs<'r>(
        &self,
        records: impl Iterator<Item = &'r Value>,
    ) -> Result<RefIndex, StoreError> {
        let references = self.pair.mapping.references();
        let mut wanted: BTreeMap<String, HashSet<AppId>> = BTreeMap::new();
        for record in records {
            for reference in references {
                for value in reference.app.get_all(record) {
                    if let Some(id) = scalar_id(value) {
                        wanted
                            .entry(reference.entity.clone())
                            .or_default()
                            .insert(AppId::new(id));
                    }
                }
            }
        }
        let mut index = RefIndex::default();
        for (entity, ids) in wanted {
            let ids: Vec<AppId> = ids.into_iter().collect();
            for map in self
                .store()
                .idmaps_by_app_ids(&self.org.id, &EntityName::new(entity.clone()), &ids)
                .await?
            {
                if let (Some(hub), Some(app)) = (map.hub_id, map.app_id) {
                    index
                        .app_to_hub
                        .insert((entity.clone(), app.to_string()), hub);
                }
            }
        }
        Ok(index)
    }

    /// A hub record twice: references as plain hub ids (the canonical shape) and as app ids (to
    /// push). Fails with a description of the first unresolved reference.
    fn translate_hub_refs(
        &self,
        hub_record: &Value,
        refs: &RefIndex,
        mapping: &mapping::EntityMapping,
    ) -> Result<(Value, Value), String> {
        let provider = self.engine.app.provider();
        let mut plain = hub_record.clone();
        let mut for_app = hub_record.clone();
        for reference in mapping.references() {
            reference
                .hub
                .rewrite(&mut plain, |value| -> Result<Option<Value>, String> {
                    Ok(Some(match record::connec_ref(value) {
                        Some(id) => Value::String(id.to_string()),
                        None => value.clone(),
                    }))
                })?;
            reference
                .hub
                .rewrite(&mut for_app, |value| -> Result<Option<Value>, String> {
                    if value.is_null() || value.as_array().is_some_and(Vec::is_empty) {
                        return Ok(Some(Value::Null));
                    }
                    if let Some(app_id) = record::external_id(value, provider, &self.org.realm) {
                        return Ok(Some(Value::String(app_id.to_string())));
                    }
                    match record::connec_ref(value) {
                        Some(hub_id) => match refs
                            .hub_to_app
                            .get(&(reference.entity.clone(), hub_id.to_string()))
                        {
                            Some(app_id) => Ok(Some(Value::String(app_id.to_string()))),
                            None => Err(missing_reference(reference, hub_id.as_str())),
                        },
                        None => Err(format!(
                            "waiting for `{}`: reference without a Connec! id",
                            reference.hub
                        )),
                    }
                })?;
        }
        Ok((plain, for_app))
    }

    /// An app record with references rewritten to hub ids.
    fn translate_app_refs(
        &self,
        app_record: &Value,
        refs: &RefIndex,
        mapping: &mapping::EntityMapping,
    ) -> Result<Value, String> {
        let mut translated = app_record.clone();
        for reference in mapping.references() {
            reference
                .app
                .rewrite(&mut translated, |value| -> Result<Option<Value>, String> {
                    let Some(app_id) = scalar_id(value) else {
                        return Ok(Some(Value::Null));
                    };
                    match refs
                        .app_to_hub
                        .get(&(reference.entity.clone(), app_id.clone()))
                    {
                        Some(hub_id) => Ok(Some(Value::String(hub_id.to_string()))),
                        None => Err(missing_reference(reference, &app_id)),
                    }
                })?;
        }
        Ok(translated)
    }
}

fn missing_reference(reference: &Reference, id: &str) -> String {
    format!(
        "waiting for `{}`: {} record {id} is not synced yet",
        reference.hub, reference.entity
    )
}

/// An id given as a string or a number; empty strings and nulls are "no reference".
fn scalar_id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
