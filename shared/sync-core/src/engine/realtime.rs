//! Real time: Connec! notifications and app webhooks, applied under the organization's lease
//! through the same page code (and so the same [`decide`](super::decide())) as a sync.

use std::sync::atomic::AtomicBool;

use serde_json::Value;

use super::group::GroupPhases;
use super::phase::{Phase, PhaseError};
use super::work::RetryKey;
use super::{RunOptions, SyncEngine};
use crate::domain::{AppId, Counts, Direction, EntityName, OrgId, PendingRecord, Side};
use crate::entity::EntityGroup;
use crate::error::SyncError;

impl SyncEngine {
    /// Applies the Connec! records a notification names to the app, through the same page code
    /// as a sync. The records are read again by id first (one GET each, bounded), because a
    /// notification's body may be older than the record by now: under a side-wins policy an
    /// old body that passes the stale guard could win a conflict against a newer edit. A record
    /// Connec! no longer returns is left alone. Runs under the organization's lease; when a
    /// sync holds it, returns [`SyncError::Locked`] and the records are left to that sync.
    pub async fn apply_hub_records(
        &self,
        org_id: &OrgId,
        entity: &EntityName,
        records: Vec<Value>,
    ) -> Result<Counts, SyncError> {
        self.apply(org_id, entity, Direction::ToApp, |phase| {
            Box::pin(async move {
                // A notification's body may be older than the record by now (Connec! buffers,
                // deliveries repeat and cross): the record's current version is applied.
                let ids: Vec<String> = records
                    .iter()
                    .filter_map(|r| phase.record_id(Side::Hub, r))
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let (current, missing) = phase.fetch_present(Side::Hub, ids).await?;
                let parked = std::collections::HashMap::new();
                phase
                    .page(Direction::ToApp, current, missing, &parked)
                    .await
            })
        })
        .await
    }

    /// Fetches app records by id (an app webhook carries ids only) and applies them to
    /// Connec! like a sync page would. An id the app no longer returns was deleted there: a
    /// linked record becomes INACTIVE in Connec! (a deletion webhook alone is enough).
    ///
    /// When `entity` is a member of a complex entity, the ids are records of the group's app
    /// entity (webhooks name app records, not parts): they are read, split, and each part is
    /// applied to its member, members in order; an id none of the parts has was deleted, and is
    /// applied to the group's first member.
    pub async fn apply_app_changes(
        &self,
        org_id: &OrgId,
        entity: &EntityName,
        ids: Vec<AppId>,
    ) -> Result<Counts, SyncError> {
        if let Some(group) = self.group_of(entity) {
            return self.apply_group_changes(org_id, group, ids).await;
        }
        self.apply(org_id, entity, Direction::ToHub, |phase| {
            Box::pin(async move {
                let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
                let (records, missing) = phase.fetch_present(Side::App, ids).await?;
                let parked = std::collections::HashMap::new();
                phase
                    .page(Direction::ToHub, records, missing, &parked)
                    .await
            })
        })
        .await
    }

    /// Retries one record now, as a person asked from the connector's page: the record is read
    /// again by id from the side it comes from (`source`) and applied to the other side through
    /// the same page code as a sync (mapping, references, matching, conflicts, id-map). Under the
    /// organization's lease, like the other real-time applies.
    pub async fn retry_record(
        &self,
        org_id: &OrgId,
        entity: &EntityName,
        source: Side,
        id: &str,
    ) -> Result<Counts, SyncError> {
        let direction = match source {
            Side::Hub => Direction::ToApp,
            Side::App => Direction::ToHub,
        };
        let id = id.to_owned();
        self.apply(org_id, entity, direction, |phase| {
            Box::pin(async move {
                // A parked record that now goes through leaves the parked list, as in a sync.
                let parked: std::collections::HashMap<RetryKey, PendingRecord> = phase
                    .store()
                    .pending(&phase.org.id, &phase.pair.hub, source)
                    .await?
                    .into_iter()
                    .filter(|p| p.source_id == id)
                    .map(|p| {
                        let key = RetryKey {
                            side: source,
                            id: p.source_id.clone(),
                        };
                        (key, p)
                    })
                    .collect();
                let (records, missing) = phase.fetch_present(source, vec![id]).await?;
                phase.page(direction, records, missing, &parked).await
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
        let org = self.enabled_organization(org_id).await?;
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
        let owner = self.acquire_realtime_lease(org_id).await?;
        let options = RunOptions::default();
        let progressed = AtomicBool::new(true);
        let mut phase = Phase::new(self, &org, pair, &owner, &options, &progressed);
        let outcome = match phase.guard().await {
            Ok(()) => work(&mut phase).await,
            Err(e) => Err(e),
        };
        self.release_realtime_lease(org_id, &owner).await;
        outcome.map_err(|e| SyncError::Apply(e.to_string()))?;
        let total = total_of(std::slice::from_ref(&phase));
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

    /// Records of a complex entity's app entity, by id, applied part by part to its members.
    async fn apply_group_changes(
        &self,
        org_id: &OrgId,
        group: &EntityGroup,
        ids: Vec<AppId>,
    ) -> Result<Counts, SyncError> {
        let org = self.enabled_organization(org_id).await?;
        let pairs = self.app.entities();
        let options = RunOptions::default();
        let progressed = AtomicBool::new(true);
        let owner = self.acquire_realtime_lease(org_id).await?;
        let phases = group
            .members
            .iter()
            .filter_map(|hub| pairs.iter().find(|p| &p.hub == hub))
            .map(|pair| Phase::new(self, &org, pair, &owner, &options, &progressed))
            .collect();
        let mut phases = GroupPhases { group, phases };
        let active: Vec<usize> = (0..phases.phases.len())
            .filter(|&i| {
                let phase = &phases.phases[i];
                org.flags(&phase.pair.hub).to_hub && phase.capable(Direction::ToHub)
            })
            .collect();
        let outcome = if active.is_empty() {
            Ok(())
        } else {
            apply_group_page(&mut phases, &active, ids).await
        };
        self.release_realtime_lease(org_id, &owner).await;
        if active.is_empty() {
            return Err(SyncError::DirectionOff {
                entity: group.app.to_string(),
                direction: Direction::ToHub.label(),
            });
        }
        outcome.map_err(|e| SyncError::Apply(e.to_string()))?;
        let total = total_of(&phases.phases);
        tracing::info!(
            org = %org_id,
            group = %group.app,
            written = total.written(),
            skipped = total.skipped,
            conflicts = total.conflicts,
            "real-time changes applied"
        );
        Ok(total)
    }

    async fn acquire_realtime_lease(&self, org_id: &OrgId) -> Result<String, SyncError> {
        let owner = format!("{}/realtime-{}", self.config.holder, uuid::Uuid::new_v4());
        if !self
            .store
            .acquire_lease(org_id, &owner, self.clock.now(), self.config.lease_ttl)
            .await?
        {
            return Err(SyncError::Locked(org_id.to_string()));
        }
        Ok(owner)
    }

    async fn release_realtime_lease(&self, org_id: &OrgId, owner: &str) {
        if let Err(e) = self.store.release_lease(org_id, owner).await {
            tracing::warn!(org = %org_id, error = %e, "could not release the lease; it will expire");
        }
    }
}

/// Reads a group's records by id, splits them, and applies each member's parts.
async fn apply_group_page(
    phases: &mut GroupPhases<'_>,
    active: &[usize],
    ids: Vec<AppId>,
) -> Result<(), PhaseError> {
    let lead = active[0];
    phases.phases[lead].guard().await?;
    let engine = phases.phases[lead].engine;
    let records = engine.app.fetch_by_ids(&phases.group.app, &ids).await?;
    let mut parts = phases.split(records, active);
    let mut found = std::collections::HashSet::new();
    for (i, records) in parts.iter().enumerate() {
        found.extend(
            records
                .iter()
                .filter_map(|r| phases.phases[i].record_id(Side::App, r)),
        );
    }
    let missing: Vec<String> = ids
        .iter()
        .map(|id| id.to_string())
        .filter(|id| !found.contains(id))
        .collect();
    let none = std::collections::HashMap::new();
    for &i in active {
        let records = std::mem::take(&mut parts[i]);
        let gone = if i == lead {
            missing.clone()
        } else {
            Vec::new()
        };
        phases.phases[i]
            .page(Direction::ToHub, records, gone, &none)
            .await?;
    }
    Ok(())
}

fn total_of(phases: &[Phase<'_>]) -> Counts {
    let mut total = Counts::default();
    for phase in phases {
        for counts in phase.counts.values() {
            total.add(counts);
        }
    }
    total
}
