//! [`MemoryStore`]: the [`SyncStore`] port in memory, with faults on demand.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use crate::testing::faults::Plan;

mod control;
mod idmaps;
use crate::domain::{
    AppId, EntityName, HubId, IdMap, OrgId, Organization, PageCursor, PendingRecord, Run, RunId,
    Side, Timestamp, Watermark,
};
use crate::error::StoreError;
use crate::ports::SyncStore;
use idmaps::{IdMaps, list};

/// Runs kept per organization (as the embedded and DynamoDB stores).
const RUNS_KEPT: usize = 100;

/// One operation of [`SyncStore`], to plan faults and read counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum StoreOp {
    PutOrganization,
    GetOrganization,
    ListOrganizations,
    IdmapsByHubIds,
    IdmapsByAppIds,
    SaveIdmaps,
    ListIdmaps,
    GetWatermark,
    SetWatermark,
    GetCheckpoint,
    SetCheckpoint,
    Pending,
    PutPending,
    RemovePending,
    SaveRun,
    RecentRuns,
    GetRun,
    AcquireLease,
    RenewLease,
    ReleaseLease,
    LeaseHolder,
    BreakLease,
    PurgeSyncState,
}

/// How a planned store fault fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreFailure {
    /// [`StoreError::Backend`], nothing done (the backend was unreachable).
    Backend,
    /// [`StoreError::Conflict`], nothing done.
    Conflict,
    /// The operation is applied, *then* [`StoreError::Backend`] is returned (a commit whose
    /// answer was lost).
    BackendAfterCommit,
}

/// A sync lease as the store holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Who holds it (`EngineConfig::holder`).
    pub owner: String,
    /// When it lapses; at or after this instant anyone may take it.
    pub expires_at: Timestamp,
}

/// An in-memory [`SyncStore`] with the embedded store's semantics (and its conformance suite).
///
/// - Id-maps: a row is found by hub id, then by app id; a save may fill a missing side but never
///   replaces or clears a known one ([`StoreError::Conflict`], naming the rule); two half-known
///   rows (hub id only, app id only) that one map links are merged into the hub-side row; a map
///   with neither id is refused. A batch is all or nothing. Lookups and listings come in
///   insertion order (listings by entity, then insertion).
/// - Organizations: one per `(tenant, group, provider)`; another one is refused
///   ([`StoreError::Conflict`] naming the group and the app).
/// - Runs: insert or replace; the newest 100 per organization (by `started_at`) are kept.
/// - Leases: acquired when free, expired (`expires_at <= now`) or already ours; renewed by the
///   owner even after expiry if nobody took it; released only by the owner.
/// - `purge_sync_state`: id-maps, watermarks, checkpoints and pending records of one
///   organization go; the organization and its runs stay.
///
/// Cheap [`Clone`]: clones share the same state. Faults: [`fail_next`](Self::fail_next) makes
/// the next calls of one operation fail; every call is counted ([`calls`](Self::calls)).
///
/// The lease state is a [`Lease`] per organization, see [`lease`](Self::lease) and
/// [`set_lease`](Self::set_lease).
#[derive(Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    data: Data,
    plan: Plan<StoreOp, StoreFailure>,
}

type Key = (OrgId, EntityName, Side);

#[derive(Default)]
struct Data {
    organizations: BTreeMap<OrgId, Organization>,
    idmaps: IdMaps,
    watermarks: HashMap<Key, Watermark>,
    checkpoints: HashMap<Key, (PageCursor, Timestamp)>,
    pending: BTreeMap<(OrgId, EntityName, Side, String), PendingRecord>,
    /// Run id -> (insertion number, run).
    runs: HashMap<RunId, (u64, Run)>,
    next_run: u64,
    leases: HashMap<OrgId, Lease>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryStore")
            .field("organizations", &inner.data.organizations.len())
            .field("idmaps", &inner.data.idmaps.rows.len())
            .field("operations", &inner.plan.total())
            .finish_non_exhaustive()
    }
}

fn expires(now: Timestamp, ttl: Duration) -> Timestamp {
    now.plus(ttl)
}

#[async_trait]
impl SyncStore for MemoryStore {
    async fn put_organization(&self, org: &Organization) -> Result<(), StoreError> {
        self.run(StoreOp::PutOrganization, |data| {
            let link =
                |o: &Organization| (o.tenant.clone(), o.group_id.clone(), o.provider.clone());
            if let Some(other) = data
                .organizations
                .values()
                .find(|other| other.id != org.id && link(other) == link(org))
            {
                return Err(StoreError::Conflict(format!(
                    "organization {} not saved: group {} of tenant {} already has organization \
                     {} for app {} (a group links one account of each app)",
                    org.id, org.group_id, org.tenant, other.id, org.provider
                )));
            }
            if org.sync_enabled
                && let Some(other) = data.organizations.values().find(|other| {
                    other.id != org.id
                        && other.sync_enabled
                        && other.provider == org.provider
                        && other.realm == org.realm
                })
            {
                return Err(StoreError::Conflict(format!(
                    "organization {} not saved: {} account {} is already linked to organization {} \
                     (one app account links to one organization)",
                    org.id, org.provider, org.realm, other.id
                )));
            }
            data.organizations.insert(org.id.clone(), org.clone());
            Ok(())
        })
    }

    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
        self.run(StoreOp::GetOrganization, |data| {
            Ok(data.organizations.get(id).cloned())
        })
    }

    async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError> {
        self.run(StoreOp::ListOrganizations, |data| {
            Ok(data.organizations.values().cloned().collect())
        })
    }

    async fn idmaps_by_hub_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<IdMap>, StoreError> {
        self.run(StoreOp::IdmapsByHubIds, |data| {
            let maps = &data.idmaps;
            Ok(maps.find(&maps.by_hub, org, entity, ids.iter().map(HubId::as_str)))
        })
    }

    async fn idmaps_by_app_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[AppId],
    ) -> Result<Vec<IdMap>, StoreError> {
        self.run(StoreOp::IdmapsByAppIds, |data| {
            let maps = &data.idmaps;
            Ok(maps.find(&maps.by_app, org, entity, ids.iter().map(AppId::as_str)))
        })
    }

    async fn save_idmaps(&self, maps: &[IdMap]) -> Result<(), StoreError> {
        self.run(StoreOp::SaveIdmaps, |data| {
            if maps.is_empty() {
                return Ok(());
            }
            // All or nothing: the rows a failed batch touched are put back.
            data.idmaps.begin();
            for map in maps {
                if let Err(e) = data.idmaps.save(map) {
                    data.idmaps.rollback();
                    return Err(e);
                }
            }
            data.idmaps.commit();
            Ok(())
        })
    }

    async fn list_idmaps(
        &self,
        org: &OrgId,
        entity: Option<&EntityName>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<IdMap>, StoreError> {
        self.run(StoreOp::ListIdmaps, |data| {
            Ok(list(&data.idmaps, org, entity)
                .into_iter()
                .skip(offset)
                .take(limit)
                .collect())
        })
    }

    async fn get_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<Watermark>, StoreError> {
        self.run(StoreOp::GetWatermark, |data| {
            Ok(data
                .watermarks
                .get(&(org.clone(), entity.clone(), side))
                .copied())
        })
    }

    async fn set_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        mark: Watermark,
    ) -> Result<(), StoreError> {
        self.run(StoreOp::SetWatermark, |data| {
            data.watermarks
                .insert((org.clone(), entity.clone(), side), mark);
            Ok(())
        })
    }

    async fn get_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<(PageCursor, Timestamp)>, StoreError> {
        self.run(StoreOp::GetCheckpoint, |data| {
            Ok(data
                .checkpoints
                .get(&(org.clone(), entity.clone(), side))
                .cloned())
        })
    }

    async fn set_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        checkpoint: Option<(PageCursor, Timestamp)>,
    ) -> Result<(), StoreError> {
        self.run(StoreOp::SetCheckpoint, |data| {
            let key = (org.clone(), entity.clone(), side);
            match checkpoint {
                Some(checkpoint) => data.checkpoints.insert(key, checkpoint),
                None => data.checkpoints.remove(&key),
            };
            Ok(())
        })
    }

    async fn pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
    ) -> Result<Vec<PendingRecord>, StoreError> {
        self.run(StoreOp::Pending, |data| {
            let mut found: Vec<PendingRecord> = data
                .pending
                .values()
                .filter(|p| &p.org == org && &p.entity == entity && p.source == source)
                .cloned()
                .collect();
            found.sort_by(|a, b| (a.since, &a.source_id).cmp(&(b.since, &b.source_id)));
            Ok(found)
        })
    }

    async fn put_pending(&self, records: &[PendingRecord]) -> Result<(), StoreError> {
        self.run(StoreOp::PutPending, |data| {
            for record in records {
                let key = (
                    record.org.clone(),
                    record.entity.clone(),
                    record.source,
                    record.source_id.clone(),
                );
                data.pending.insert(key, record.clone());
            }
            Ok(())
        })
    }

    async fn remove_pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
        ids: &[String],
    ) -> Result<(), StoreError> {
        self.run(StoreOp::RemovePending, |data| {
            for id in ids {
                data.pending
                    .remove(&(org.clone(), entity.clone(), source, id.clone()));
            }
            Ok(())
        })
    }

    async fn save_run(&self, run: &Run) -> Result<(), StoreError> {
        self.run(StoreOp::SaveRun, |data| {
            let seq = match data.runs.get(&run.id) {
                Some((seq, _)) => *seq,
                None => {
                    data.next_run += 1;
                    data.next_run
                }
            };
            data.runs.insert(run.id.clone(), (seq, run.clone()));
            let pruned: Vec<RunId> = newest_runs(&data.runs, &run.org)
                .into_iter()
                .skip(RUNS_KEPT)
                .map(|r| r.id.clone())
                .collect();
            for id in pruned {
                data.runs.remove(&id);
            }
            Ok(())
        })
    }

    async fn recent_runs(&self, org: &OrgId, limit: usize) -> Result<Vec<Run>, StoreError> {
        self.run(StoreOp::RecentRuns, |data| {
            Ok(newest_runs(&data.runs, org)
                .into_iter()
                .take(limit)
                .cloned()
                .collect())
        })
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        self.run(StoreOp::GetRun, |data| {
            Ok(data.runs.get(id).map(|(_, run)| run.clone()))
        })
    }

    async fn acquire_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.run(StoreOp::AcquireLease, |data| {
            let free = data
                .leases
                .get(org)
                .is_none_or(|held| held.expires_at <= now || held.owner == owner);
            if free {
                data.leases.insert(
                    org.clone(),
                    Lease {
                        owner: owner.to_owned(),
                        expires_at: expires(now, ttl),
                    },
                );
            }
            Ok(free)
        })
    }

    async fn renew_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.run(StoreOp::RenewLease, |data| {
            // Still ours (even if it expired meanwhile, nobody took it): extend it.
            match data.leases.get_mut(org) {
                Some(held) if held.owner == owner => {
                    held.expires_at = expires(now, ttl);
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
    }

    async fn release_lease(&self, org: &OrgId, owner: &str) -> Result<(), StoreError> {
        self.run(StoreOp::ReleaseLease, |data| {
            if data.leases.get(org).is_some_and(|held| held.owner == owner) {
                data.leases.remove(org);
            }
            Ok(())
        })
    }

    async fn lease_holder(
        &self,
        org: &OrgId,
    ) -> Result<Option<crate::ports::LeaseHolder>, StoreError> {
        self.run(StoreOp::LeaseHolder, |data| {
            Ok(data.leases.get(org).map(|l| crate::ports::LeaseHolder {
                owner: l.owner.clone(),
                expires_at: l.expires_at,
            }))
        })
    }

    async fn break_lease(
        &self,
        org: &OrgId,
    ) -> Result<Option<crate::ports::LeaseHolder>, StoreError> {
        self.run(StoreOp::BreakLease, |data| {
            Ok(data.leases.remove(org).map(|l| crate::ports::LeaseHolder {
                owner: l.owner,
                expires_at: l.expires_at,
            }))
        })
    }

    async fn purge_sync_state(&self, org: &OrgId) -> Result<u64, StoreError> {
        self.run(StoreOp::PurgeSyncState, |data| {
            let rows: Vec<u64> = data
                .idmaps
                .rows
                .iter()
                .filter(|(_, m)| &m.org == org)
                .map(|(row, _)| row)
                .collect();
            for row in &rows {
                data.idmaps.unindex(*row);
            }
            data.watermarks.retain(|(o, _, _), _| o != org);
            data.checkpoints.retain(|(o, _, _), _| o != org);
            data.pending.retain(|(o, _, _, _), _| o != org);
            Ok(rows.len() as u64)
        })
    }
}

/// Runs of `org`, newest first (`started_at`, then the later insertion).
fn newest_runs<'a>(runs: &'a HashMap<RunId, (u64, Run)>, org: &OrgId) -> Vec<&'a Run> {
    let mut found: Vec<&(u64, Run)> = runs.values().filter(|(_, r)| &r.org == org).collect();
    found.sort_by(|(sa, a), (sb, b)| (b.started_at, sb).cmp(&(a.started_at, sa)));
    found.into_iter().map(|(_, run)| run).collect()
}
