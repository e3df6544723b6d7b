//! The store port: persistent state of the framework (organizations, id-maps, cursors, pending
//! records, runs, leases).

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{
    AppId, EntityName, HubId, IdMap, OrgId, Organization, PageCursor, PendingRecord, Run, RunId,
    Side, Timestamp, Watermark,
};
use crate::error::StoreError;

/// Persistent state of the framework: organizations, id-maps, cursors, pending records, runs, locks.
#[async_trait]
pub trait SyncStore: Send + Sync {
    /// Creates or replaces an organization.
    async fn put_organization(&self, org: &Organization) -> Result<(), StoreError>;
    /// One organization.
    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError>;
    /// All organizations.
    async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError>;
    /// Organizations after `after` (by id), at most `limit`: how a fan-out pages through
    /// 100,000 organizations. Backends with a paged query override this default.
    async fn list_organizations_page(
        &self,
        after: Option<&OrgId>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError> {
        let mut all = self.list_organizations().await?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all
            .into_iter()
            .filter(|o| after.is_none_or(|after| &o.id > after))
            .take(limit)
            .collect())
    }

    /// Id-maps of these hub ids.
    async fn idmaps_by_hub_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<IdMap>, StoreError>;
    /// Id-maps of these app ids.
    async fn idmaps_by_app_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[AppId],
    ) -> Result<Vec<IdMap>, StoreError>;
    /// Inserts or updates id-maps in one transaction. A row is identified by its hub id or,
    /// failing that, its app id; (org, entity, hub id) and (org, entity, app id) are unique and a
    /// write that would break either fails with [`StoreError::Conflict`] and writes nothing.
    async fn save_idmaps(&self, maps: &[IdMap]) -> Result<(), StoreError>;
    /// Id-maps of an organization (optionally one entity), ordered, paged.
    async fn list_idmaps(
        &self,
        org: &OrgId,
        entity: Option<&EntityName>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<IdMap>, StoreError>;

    /// Id-maps of an organization whose last write failed (`last_error` set), at most `limit`,
    /// in [`list_idmaps`](Self::list_idmaps) order. The default pages through every id-map;
    /// backends with an index override it.
    async fn failed_idmaps(&self, org: &OrgId, limit: usize) -> Result<Vec<IdMap>, StoreError> {
        scan_idmaps(self, org, limit, |map| map.last_error.is_some()).await
    }
    /// Id-maps of an organization whose hub id or app id is `query`, or whose name contains it
    /// (case-insensitive), at most `limit`. The default pages through every id-map; backends
    /// with an index override it.
    async fn search_idmaps(
        &self,
        org: &OrgId,
        query: &str,
        limit: usize,
    ) -> Result<Vec<IdMap>, StoreError> {
        let needle = query.trim().to_lowercase();
        if needle.is_empty() {
            return Ok(Vec::new());
        }
        scan_idmaps(self, org, limit, |map| idmap_matches(map, &needle)).await
    }
    /// Watermark of one side of one entity.
    async fn get_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<Watermark>, StoreError>;
    /// Sets a watermark.
    async fn set_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        mark: Watermark,
    ) -> Result<(), StoreError>;
    /// Page checkpoint of an interrupted fetch, with the fetch's start time.
    async fn get_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<(PageCursor, Timestamp)>, StoreError>;
    /// Records (or clears, with `None`) a page checkpoint.
    async fn set_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        checkpoint: Option<(PageCursor, Timestamp)>,
    ) -> Result<(), StoreError>;

    /// Records waiting for the next run.
    async fn pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
    ) -> Result<Vec<PendingRecord>, StoreError>;
    /// Parks records (replacing the same (org, entity, source, id)).
    async fn put_pending(&self, records: &[PendingRecord]) -> Result<(), StoreError>;
    /// Forgets parked records.
    async fn remove_pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
        ids: &[String],
    ) -> Result<(), StoreError>;

    /// Records a run (insert or replace); keeps the newest 100 per organization.
    async fn save_run(&self, run: &Run) -> Result<(), StoreError>;
    /// Newest runs first.
    async fn recent_runs(&self, org: &OrgId, limit: usize) -> Result<Vec<Run>, StoreError>;
    /// One run.
    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError>;

    /// Takes the organization's sync lease unless someone else holds an unexpired one.
    async fn acquire_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;
    /// Extends a lease we hold; false if we lost it.
    async fn renew_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;
    /// Releases a lease we hold.
    async fn release_lease(&self, org: &OrgId, owner: &str) -> Result<(), StoreError>;
    /// Who holds the organization's sync lease, and until when. An expired lease is still
    /// returned until someone takes it over, releases it or breaks it; compare
    /// [`LeaseHolder::expires_at`] with the clock to tell.
    ///
    /// The default answers [`StoreError::Backend`]: a store that keeps leases overrides it
    /// (a wrapper delegates).
    async fn lease_holder(&self, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError>;
    /// Removes the organization's sync lease whoever holds it, expired or not, and returns what
    /// it removed (`None` if there was no lease). For a holder that is known to be gone, or an
    /// operator's `connector unlock`; a run that still holds it loses it at its next renewal.
    ///
    /// The default answers [`StoreError::Backend`]: a store that keeps leases overrides it
    /// (a wrapper delegates).
    async fn break_lease(&self, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError>;

    /// Forgets what was synced for an organization: its id-maps, watermarks, page checkpoints
    /// and pending records, so that a later link starts over with a first sync (match and merge).
    /// The organization itself and its run history stay. Returns the number of id-maps removed.
    /// Meant for an organization whose sync is disabled; a run in flight may write again.
    async fn purge_sync_state(&self, org: &OrgId) -> Result<u64, StoreError>;
}

/// The holder of an organization's sync lease, as [`SyncStore::lease_holder`] and
/// [`SyncStore::break_lease`] report it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    /// Who took it: the engine names `"{holder}/run-{uuid}"` or `"{holder}/realtime-{uuid}"`,
    /// where the holder is `pid:<pid>@<host>` by default (see [`crate::lease`]).
    pub owner: String,
    /// When it expires unless renewed (it may be in the past).
    pub expires_at: Timestamp,
}

/// Shared handle to a store.
pub type SharedStore = Arc<dyn SyncStore>;

/// Whether `map` is what a person searching for `needle` (trimmed, lower case) means: its hub or
/// app id exactly, or a name containing it.
pub fn idmap_matches(map: &IdMap, needle: &str) -> bool {
    map.hub_id
        .as_ref()
        .is_some_and(|id| id.as_str().eq_ignore_ascii_case(needle))
        || map
            .app_id
            .as_ref()
            .is_some_and(|id| id.as_str().eq_ignore_ascii_case(needle))
        || map
            .name
            .as_ref()
            .is_some_and(|name| name.to_lowercase().contains(needle))
}

/// Pages through an organization's id-maps and keeps those `keep` accepts, up to `limit`.
async fn scan_idmaps<S: SyncStore + ?Sized>(
    store: &S,
    org: &OrgId,
    limit: usize,
    keep: impl Fn(&IdMap) -> bool,
) -> Result<Vec<IdMap>, StoreError> {
    const PAGE: usize = 500;
    let mut found = Vec::new();
    let mut offset = 0;
    loop {
        let page = store.list_idmaps(org, None, offset, PAGE).await?;
        let done = page.len() < PAGE;
        offset += page.len();
        found.extend(page.into_iter().filter(|m| keep(m)));
        if done || found.len() >= limit {
            found.truncate(limit);
            return Ok(found);
        }
    }
}
