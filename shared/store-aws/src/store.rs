//! [`DynamoStore`]: the [`SyncStore`] port on one DynamoDB table (key design in the crate docs).
//!
//! This module holds the handle and the port impl; each method hands over to the module of its
//! items: `orgs`, `idmap_items` (with the rules in `idmaps`), `progress` (watermarks,
//! checkpoints, pending records, purge), `runs` and `leases`. The request helpers they share
//! are in `requests`, the table itself in `table`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use sync_core::domain::{
    AppId, EntityName, HubId, IdMap, OrgId, Organization, PageCursor, PendingRecord, Run, RunId,
    Side, Timestamp, Watermark,
};
use sync_core::error::StoreError;
use sync_core::ports::{LeaseHolder, SyncStore};

use crate::{idmap_items, leases, orgs, progress, runs};

/// The [`SyncStore`] on DynamoDB: one table, see the crate documentation for the items.
///
/// Cheap to clone (clones share the client and the operation counter).
#[derive(Clone)]
pub struct DynamoStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    table: String,
    operations: AtomicU64,
}

impl fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.inner.table)
            .field("operations", &self.operations())
            .finish_non_exhaustive()
    }
}

impl DynamoStore {
    /// A store on `table` (which must exist: see [`create_table`](crate::create_table)).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                table: table.into(),
                operations: AtomicU64::new(0),
            }),
        }
    }

    /// The table name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The SDK client (shared with the other adapters of the same table).
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// How many port operations ([`SyncStore`] method calls) this store (all clones together)
    /// has performed, failed ones included. Benchmarks divide it by records synced.
    #[must_use]
    pub fn operations(&self) -> u64 {
        self.inner.operations.load(Ordering::Relaxed)
    }

    /// Deletes an organization and its link item (the place it holds in its group for its app)
    /// in one transaction; `false` if there was none. Not part of [`SyncStore`]: the framework
    /// never deletes an organization (unlinking switches its sync off and keeps it), so this is
    /// for an operator's clean-up. Its sync state and runs stay: purge them first
    /// ([`SyncStore::purge_sync_state`]) if they should go too. Not counted in
    /// [`operations`](Self::operations).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when DynamoDB fails, [`StoreError::Conflict`] when concurrent
    /// writers keep changing the organization.
    pub async fn delete_organization(&self, id: &OrgId) -> Result<bool, StoreError> {
        orgs::delete_organization(self, id).await
    }

    fn count(&self) {
        self.inner.operations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn client_ref(&self) -> &Client {
        &self.inner.client
    }
}

#[async_trait]
impl SyncStore for DynamoStore {
    async fn put_organization(&self, org: &Organization) -> Result<(), StoreError> {
        self.count();
        orgs::put_organization(self, org).await
    }

    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
        self.count();
        orgs::get_organization(self, id).await
    }

    async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError> {
        self.count();
        orgs::list_organizations(self).await
    }

    async fn idmaps_by_hub_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<IdMap>, StoreError> {
        self.count();
        idmap_items::idmaps_by_hub_ids(self, org, entity, ids).await
    }

    async fn idmaps_by_app_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[AppId],
    ) -> Result<Vec<IdMap>, StoreError> {
        self.count();
        idmap_items::idmaps_by_app_ids(self, org, entity, ids).await
    }

    async fn save_idmaps(&self, maps: &[IdMap]) -> Result<(), StoreError> {
        self.count();
        idmap_items::save_idmaps(self, maps).await
    }

    async fn list_idmaps(
        &self,
        org: &OrgId,
        entity: Option<&EntityName>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<IdMap>, StoreError> {
        self.count();
        idmap_items::list_idmaps(self, org, entity, offset, limit).await
    }

    async fn get_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<Watermark>, StoreError> {
        self.count();
        progress::get_watermark(self, org, entity, side).await
    }

    async fn set_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        mark: Watermark,
    ) -> Result<(), StoreError> {
        self.count();
        progress::set_watermark(self, org, entity, side, mark).await
    }

    async fn get_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<(PageCursor, Timestamp)>, StoreError> {
        self.count();
        progress::get_checkpoint(self, org, entity, side).await
    }

    async fn set_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        checkpoint: Option<(PageCursor, Timestamp)>,
    ) -> Result<(), StoreError> {
        self.count();
        progress::set_checkpoint(self, org, entity, side, checkpoint).await
    }

    async fn pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
    ) -> Result<Vec<PendingRecord>, StoreError> {
        self.count();
        progress::pending(self, org, entity, source).await
    }

    async fn put_pending(&self, records: &[PendingRecord]) -> Result<(), StoreError> {
        self.count();
        progress::put_pending(self, records).await
    }

    async fn remove_pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
        ids: &[String],
    ) -> Result<(), StoreError> {
        self.count();
        progress::remove_pending(self, org, entity, source, ids).await
    }

    async fn save_run(&self, run: &Run) -> Result<(), StoreError> {
        self.count();
        runs::save_run(self, run).await
    }

    async fn recent_runs(&self, org: &OrgId, limit: usize) -> Result<Vec<Run>, StoreError> {
        self.count();
        runs::recent_runs(self, org, limit).await
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        self.count();
        runs::get_run(self, id).await
    }

    async fn acquire_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.count();
        leases::acquire_lease(self, org, owner, now, ttl).await
    }

    async fn renew_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.count();
        leases::renew_lease(self, org, owner, now, ttl).await
    }

    async fn release_lease(&self, org: &OrgId, owner: &str) -> Result<(), StoreError> {
        self.count();
        leases::release_lease(self, org, owner).await
    }

    async fn lease_holder(&self, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError> {
        self.count();
        leases::lease_holder(self, org).await
    }

    async fn break_lease(&self, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError> {
        self.count();
        leases::break_lease(self, org).await
    }

    async fn purge_sync_state(&self, org: &OrgId) -> Result<u64, StoreError> {
        self.count();
        progress::purge_sync_state(self, org).await
    }
}
