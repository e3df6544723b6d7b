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
mod page;
mod phase;
mod plan;
mod realtime;
mod work;
mod writes;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use decide::{Content, Decision, Incoming, Rules, SkipReason, Target, decide};
pub use writes::{MatchOutcome, resolve_match};

use crate::domain::{
    CountKey, Counts, Direction, EntityName, OrgId, Organization, Resume, Run, RunId, RunStatus,
    Side, Timestamp,
};
use crate::entity::EntityPair;
use crate::error::{StoreError, SyncError};
use crate::ports::{AppConnector, Clock, Hub, SyncStore};
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
                progressed: &progressed,
                parked_after: None,
                parked_stopped: None,
                counts: BTreeMap::new(),
                conflicts: Vec::new(),
            };
            let mut lease_lost = false;
            for direction in phases {
                let key = CountKey {
                    entity: pair.hub.clone(),
                    direction,
                };
                if !flags.allows(direction)
                    || !phase.capable(direction)
                    || resume.done.contains(&key)
                {
                    continue;
                }
                phase.parked_after = resume
                    .parked_after
                    .as_ref()
                    .filter(|(at, _)| at == &key)
                    .map(|(_, id)| id.clone());
                let outcome = phase.run(direction).await;
                if let Err(PhaseError::Deadline) = outcome {
                    tracing::info!(org = %org.id, run = %run.id, entity = %pair.hub, direction = direction.label(), "deadline near: checkpointed, a continuation resumes here");
                    run.needs_continuation = true;
                    run.resume.parked_after = phase.parked_stopped.take().map(|id| (key, id));
                    break;
                }
                if let Err(e) = outcome {
                    tracing::error!(org = %org.id, run = %run.id, entity = %pair.hub, direction = direction.label(), error = %e, "phase failed");
                    run.errors
                        .push(format!("{} ({}): {e}", pair.hub, direction.label()));
                    if matches!(e, PhaseError::LeaseLost(_)) {
                        lease_lost = true;
                        break;
                    }
                }
                run.resume.done.push(key);
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
            if run.needs_continuation || lease_lost {
                break;
            }
            // Progress so far, for whoever watches the run (the connector's page).
            self.store.save_run(&run).await?;
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
