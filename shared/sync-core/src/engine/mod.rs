//! The two-way sync engine (the README's "How a sync works").
//!
//! One run syncs one organization, entity pair by entity pair in the connector's order
//! (referenced entities first). Each pair runs two phases, each streaming page by page:
//! hub -> app (Connec! records changed since the hub watermark) and app -> hub (app records
//! changed since the app watermark). On an entity's first sync app -> hub runs first, so that
//! Connec! merges before its own records flow back.
//!
//! Every record of every page, in both directions and in the real-time applies, goes through
//! one pure decision ([`decide()`]): skip (inactive, opted out, too old to start travelling,
//! stale, unchanged), defer (a reference not synced yet), create (after match-and-merge, checked
//! against the id-maps before anything is written), update, settle, resolve a conflict for one
//! side by the entity's policy (against the other side's *current* version, read in one batch
//! per page), archive, or carry a deletion back. The modules:
//!
//! - [`decide`](mod@decide): the decision, pure, table-tested;
//! - `phase`: lease, deadline, checkpoints, watermarks, parked records;
//! - `page`: one page of either side through `decide`;
//! - `plan`: from decisions to the writes of each side, run in order;
//! - `realtime`: Connec! notifications and app webhooks through the same page code;
//! - `content`: reference translation and mapping, both ways;
//! - `writes`: match-before-create and the writes into each side, with their outcomes;
//! - `work`: one page's bookkeeping, saved even when a later write failed.
//!
//! Watermarks are the time a fetch *started* minus an overlap, stored only once the whole fetch
//! completed; the overlap's re-reads are no-ops because every id-map keeps the content hash of
//! the mapped fields as of the last sync (which also suppresses echoes).

mod content;
pub mod decide;
mod group;
mod page;
mod phase;
mod plan;
mod realtime;
mod refs;
mod work;
mod writes;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use decide::{Content, Decision, Incoming, Rules, SkipReason, Target, decide};
pub use writes::{MatchOutcome, resolve_match};

use crate::domain::{
    CountKey, Counts, Direction, EntityName, OrgId, Organization, Resume, Run, RunId, RunStatus,
    Side, Timestamp,
};
use crate::entity::{EntityGroup, EntityPair};
use crate::error::{StoreError, SyncError};
use crate::ports::{AppConnector, Clock, Hub, SyncStore};
use group::GroupPhases;
use phase::{Phase, PhaseError};

/// Engine tunables.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Subtracted from a fetch's start time to make the next watermark; covers clock skew and
    /// records committed while the fetch ran.
    pub overlap: Duration,
    /// Lease length; renewed before every phase, parked chunk and page, so it can be short: a
    /// dead holder blocks the next run for at most this long.
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
            lease_ttl: Duration::from_secs(60),
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
    /// Stop cleanly before another phase, entity, parked chunk or page after this instant (a
    /// Lambda's deadline minus a margin): the page checkpoint stays, the run is marked
    /// `needs_continuation`, and the next run resumes where this one stopped. At least one page
    /// is processed per run.
    pub deadline: Option<Timestamp>,
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
        let org = self.enabled_organization(org_id).await?;
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
            quota_exhausted: false,
            resume: Resume::default(),
        };
        // A continuation of a run cut by its deadline skips what the chain already did.
        let resume = self
            .store
            .recent_runs(&org.id, 1)
            .await?
            .into_iter()
            .next()
            .filter(|previous| previous.needs_continuation)
            .map(|previous| previous.resume)
            .unwrap_or_default();
        run.resume.done = resume.done.clone();
        self.store.save_run(&run).await?;
        tracing::info!(org = %org.id, run = %run.id, "sync started");

        let mut all_first = true;
        let progressed = AtomicBool::new(false);
        let ctx = RunContext {
            org,
            owner,
            options,
            progressed: &progressed,
            resume: &resume,
        };
        let pairs = self.app.entities();
        let mut groups_done: Vec<&EntityGroup> = Vec::new();
        for pair in pairs {
            let flow = match self.group_of(&pair.hub) {
                Some(group) if groups_done.contains(&group) => continue,
                Some(group) => {
                    groups_done.push(group);
                    let members: Vec<&EntityPair> = group
                        .members
                        .iter()
                        .filter_map(|hub| pairs.iter().find(|p| &p.hub == hub))
                        .collect();
                    self.sync_group(&ctx, group, &members, &mut run, &mut all_first)
                        .await?
                }
                None => self.sync_pair(&ctx, pair, &mut run, &mut all_first).await?,
            };
            if flow == Flow::Stop {
                break;
            }
            // Progress so far, for whoever watches the run (the connector's page).
            self.store.save_run(&run).await?;
        }
        run.first_sync = all_first;
        let totals = run.totals();
        run.status = if !run.errors.is_empty() {
            RunStatus::Failed
        } else if totals.failed > 0
            || totals.deferred > 0
            || run.needs_continuation
            || run.quota_exhausted
        {
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

    /// One pair's phases within a run.
    async fn sync_pair(
        &self,
        ctx: &RunContext<'_>,
        pair: &EntityPair,
        run: &mut Run,
        all_first: &mut bool,
    ) -> Result<Flow, SyncError> {
        let flags = ctx.org.flags(&pair.hub);
        let first = self.is_first_sync(ctx.org, pair).await?;
        *all_first &= first;
        let mut phase = ctx.phase(self, pair);
        let mut flow = Flow::Go;
        for direction in phase_order(first) {
            let key = CountKey {
                entity: pair.hub.clone(),
                direction,
            };
            if !flags.allows(direction)
                || !phase.capable(direction)
                || ctx.resume.done.contains(&key)
            {
                continue;
            }
            phase.parked_after = ctx.resume_parked_after(&key);
            let outcome = phase.run(direction).await;
            let stopped = phase.parked_stopped.take().map(|id| (key.clone(), id));
            flow = settle(run, &pair.hub, direction, vec![key], outcome, stopped);
            if flow == Flow::Stop {
                break;
            }
        }
        fold(run, phase);
        Ok(flow)
    }

    /// A complex entity's phases within a run: towards the hub one shared fetch for every
    /// member, towards the app each member on its own.
    async fn sync_group(
        &self,
        ctx: &RunContext<'_>,
        group: &EntityGroup,
        members: &[&EntityPair],
        run: &mut Run,
        all_first: &mut bool,
    ) -> Result<Flow, SyncError> {
        let mut first = self
            .store
            .get_watermark(&ctx.org.id, &group.key(), Side::App)
            .await?
            .is_none();
        for pair in members {
            first &= self.is_first_sync(ctx.org, pair).await?;
        }
        *all_first &= first;
        let mut phases = GroupPhases {
            group,
            phases: members.iter().map(|pair| ctx.phase(self, pair)).collect(),
        };
        let mut flow = Flow::Go;
        'directions: for direction in phase_order(first) {
            let mut active = Vec::new();
            for (i, phase) in phases.phases.iter_mut().enumerate() {
                let key = CountKey {
                    entity: phase.pair.hub.clone(),
                    direction,
                };
                if ctx.org.flags(&phase.pair.hub).allows(direction)
                    && phase.capable(direction)
                    && !ctx.resume.done.contains(&key)
                {
                    phase.parked_after = ctx.resume_parked_after(&key);
                    active.push(i);
                }
            }
            if active.is_empty() {
                continue;
            }
            let key_of = |phase: &Phase<'_>| CountKey {
                entity: phase.pair.hub.clone(),
                direction,
            };
            match direction {
                Direction::ToApp => {
                    for i in active {
                        let phase = &mut phases.phases[i];
                        let outcome = phase.run(direction).await;
                        let key = key_of(phase);
                        let stopped = phase.parked_stopped.take().map(|id| (key.clone(), id));
                        flow = settle(run, &phase.pair.hub, direction, vec![key], outcome, stopped);
                        if flow == Flow::Stop {
                            break 'directions;
                        }
                    }
                }
                Direction::ToHub => {
                    let outcome = phases.run_to_hub(&active).await;
                    let keys = active.iter().map(|&i| key_of(&phases.phases[i])).collect();
                    let stopped = phases.phases.iter_mut().find_map(|phase| {
                        let id = phase.parked_stopped.take()?;
                        Some((key_of(phase), id))
                    });
                    let name = EntityName::new(group.app.as_str());
                    flow = settle(run, &name, direction, keys, outcome, stopped);
                    if flow == Flow::Stop {
                        break 'directions;
                    }
                }
            }
        }
        for phase in phases.phases {
            fold(run, phase);
        }
        Ok(flow)
    }

    /// The complex entity the pair of hub collection `hub` belongs to, if any.
    pub(crate) fn group_of(&self, hub: &EntityName) -> Option<&EntityGroup> {
        self.app.groups().iter().find(|g| g.has_member(hub))
    }

    /// The organization, if it exists and its sync is on.
    pub(crate) async fn enabled_organization(
        &self,
        org_id: &OrgId,
    ) -> Result<Organization, SyncError> {
        let org = self
            .store
            .get_organization(org_id)
            .await?
            .ok_or_else(|| SyncError::UnknownOrganization(org_id.to_string()))?;
        if !org.sync_enabled {
            return Err(SyncError::Disabled(org_id.to_string()));
        }
        Ok(org)
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

/// Whether a run goes on with the next entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// What every phase of one run shares.
struct RunContext<'a> {
    org: &'a Organization,
    owner: &'a str,
    options: &'a RunOptions,
    progressed: &'a AtomicBool,
    resume: &'a Resume,
}

impl<'a> RunContext<'a> {
    fn phase(&self, engine: &'a SyncEngine, pair: &'a EntityPair) -> Phase<'a> {
        Phase::new(
            engine,
            self.org,
            pair,
            self.owner,
            self.options,
            self.progressed,
        )
    }

    /// Where a continuation resumes this phase's parked pass.
    fn resume_parked_after(&self, key: &CountKey) -> Option<String> {
        self.resume
            .parked_after
            .as_ref()
            .filter(|(at, _)| at == key)
            .map(|(_, id)| id.clone())
    }
}

/// First sync: app -> hub first, so that Connec! smart-merges before its records flow back.
fn phase_order(first: bool) -> [Direction; 2] {
    if first {
        [Direction::ToHub, Direction::ToApp]
    } else {
        [Direction::ToApp, Direction::ToHub]
    }
}

/// Records a phase's outcome on the run: done, failed (the run goes on with the next phase),
/// cut by the deadline or the lost lease (the run stops).
fn settle(
    run: &mut Run,
    entity: &EntityName,
    direction: Direction,
    keys: Vec<CountKey>,
    outcome: Result<(), PhaseError>,
    parked_stopped: Option<(CountKey, String)>,
) -> Flow {
    match outcome {
        Err(PhaseError::Deadline) => {
            tracing::info!(org = %run.org, run = %run.id, entity = %entity, direction = direction.label(), "deadline near: checkpointed, a continuation resumes here");
            run.needs_continuation = true;
            run.resume.parked_after = parked_stopped;
            Flow::Stop
        }
        Err(PhaseError::App(e)) if e.is_quota_exhausted() => {
            tracing::warn!(org = %run.org, run = %run.id, entity = %entity, direction = direction.label(), error = %e, "the app's call quota ran out: the run stops after its checkpoint; the next one resumes there");
            run.quota_exhausted = true;
            Flow::Stop
        }
        Err(e) => {
            tracing::error!(org = %run.org, run = %run.id, entity = %entity, direction = direction.label(), error = %e, "phase failed");
            run.errors
                .push(format!("{entity} ({}): {e}", direction.label()));
            if matches!(e, PhaseError::LeaseLost(_)) {
                return Flow::Stop;
            }
            run.resume.done.extend(keys);
            Flow::Go
        }
        Ok(()) => {
            run.resume.done.extend(keys);
            Flow::Go
        }
    }
}

/// Adds a phase's counts and conflicts to the run.
fn fold(run: &mut Run, phase: Phase<'_>) {
    for (direction, counts) in phase.counts {
        run.counts.push((
            CountKey {
                entity: phase.pair.hub.clone(),
                direction,
            },
            counts,
        ));
    }
    run.conflicts.extend(phase.conflicts);
}
