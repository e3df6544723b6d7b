//! The [`SyncStore`] port on [`EmbeddedStore`]: each method clones its arguments and runs the
//! matching table module's function (`orgs`, `idmaps`, `progress`, `runs`, `leases`) on the
//! blocking pool, as one counted operation.

use std::time::Duration;

use async_trait::async_trait;
use sync_core::domain::{
    AppId, EntityName, HubId, IdMap, OrgId, Organization, PageCursor, PendingRecord, Run, RunId,
    Side, Timestamp, Watermark,
};
use sync_core::error::StoreError;
use sync_core::ports::{LeaseHolder, SyncStore};

use crate::EmbeddedStore;
use crate::rows::duration_millis;
use crate::runs::StoredRun;
use crate::{idmaps, leases, orgs, progress, runs};

#[async_trait]
impl SyncStore for EmbeddedStore {
    async fn put_organization(&self, org: &Organization) -> Result<(), StoreError> {
        let org = org.clone();
        let flags = orgs::encode_flags(&org)?;
        self.call("put_organization", move |conn| {
            orgs::put(conn, &org, &flags)
        })
        .await
    }

    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
        let id = id.clone();
        self.call("get_organization", move |conn| orgs::get(conn, &id))
            .await
    }

    async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError> {
        self.call("list_organizations", move |conn| orgs::list(conn))
            .await
    }

    async fn idmaps_by_hub_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<IdMap>, StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        self.call("idmaps_by_hub_ids", move |conn| {
            idmaps::idmaps_by(conn, org.as_str(), entity.as_str(), "hub_id", &ids)
        })
        .await
    }

    async fn idmaps_by_app_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[AppId],
    ) -> Result<Vec<IdMap>, StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        self.call("idmaps_by_app_ids", move |conn| {
            idmaps::idmaps_by(conn, org.as_str(), entity.as_str(), "app_id", &ids)
        })
        .await
    }

    async fn save_idmaps(&self, maps: &[IdMap]) -> Result<(), StoreError> {
        let maps = maps.to_vec();
        self.call("save_idmaps", move |conn| idmaps::save_all(conn, &maps))
            .await
    }

    async fn list_idmaps(
        &self,
        org: &OrgId,
        entity: Option<&EntityName>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<IdMap>, StoreError> {
        let (org, entity) = (org.clone(), entity.cloned());
        self.call("list_idmaps", move |conn| {
            idmaps::list(conn, &org, entity.as_ref(), offset, limit)
        })
        .await
    }

    async fn get_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<Watermark>, StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        self.call("get_watermark", move |conn| {
            progress::get_watermark(conn, &org, &entity, side)
        })
        .await
    }

    async fn set_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        mark: Watermark,
    ) -> Result<(), StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        self.call("set_watermark", move |conn| {
            progress::set_watermark(conn, &org, &entity, side, mark)
        })
        .await
    }

    async fn get_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<(PageCursor, Timestamp)>, StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        self.call("get_checkpoint", move |conn| {
            progress::get_checkpoint(conn, &org, &entity, side)
        })
        .await
    }

    async fn set_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        checkpoint: Option<(PageCursor, Timestamp)>,
    ) -> Result<(), StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        self.call("set_checkpoint", move |conn| {
            progress::set_checkpoint(conn, &org, &entity, side, checkpoint)
        })
        .await
    }

    async fn pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
    ) -> Result<Vec<PendingRecord>, StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        self.call("pending", move |conn| {
            progress::pending(conn, &org, &entity, source)
        })
        .await
    }

    async fn put_pending(&self, records: &[PendingRecord]) -> Result<(), StoreError> {
        let records = records.to_vec();
        self.call("put_pending", move |conn| {
            progress::put_pending(conn, &records)
        })
        .await
    }

    async fn remove_pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
        ids: &[String],
    ) -> Result<(), StoreError> {
        let (org, entity, ids) = (org.clone(), entity.clone(), ids.to_vec());
        self.call("remove_pending", move |conn| {
            progress::remove_pending(conn, &org, &entity, source, &ids)
        })
        .await
    }

    async fn save_run(&self, run: &Run) -> Result<(), StoreError> {
        let run = StoredRun::encode(run)?;
        self.call("save_run", move |conn| runs::save(conn, &run))
            .await
    }

    async fn recent_runs(&self, org: &OrgId, limit: usize) -> Result<Vec<Run>, StoreError> {
        let org = org.clone();
        self.call("recent_runs", move |conn| runs::recent(conn, &org, limit))
            .await
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        let id = id.clone();
        self.call("get_run", move |conn| runs::get(conn, &id)).await
    }

    async fn acquire_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let (org, owner) = (org.clone(), owner.to_owned());
        let now = now.epoch_millis();
        let expires = now.saturating_add(duration_millis(ttl));
        self.call("acquire_lease", move |conn| {
            leases::acquire(conn, &org, &owner, now, expires)
        })
        .await
    }

    async fn renew_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let (org, owner) = (org.clone(), owner.to_owned());
        let expires = now.epoch_millis().saturating_add(duration_millis(ttl));
        self.call("renew_lease", move |conn| {
            leases::renew(conn, &org, &owner, expires)
        })
        .await
    }

    async fn release_lease(&self, org: &OrgId, owner: &str) -> Result<(), StoreError> {
        let (org, owner) = (org.clone(), owner.to_owned());
        self.call("release_lease", move |conn| {
            leases::release(conn, &org, &owner)
        })
        .await
    }

    async fn lease_holder(&self, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError> {
        let org = org.clone();
        self.call("lease_holder", move |conn| leases::holder(conn, &org))
            .await
    }

    async fn break_lease(&self, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError> {
        let org = org.clone();
        self.call("break_lease", move |conn| leases::break_lease(conn, &org))
            .await
    }

    async fn purge_sync_state(&self, org: &OrgId) -> Result<u64, StoreError> {
        let org = org.clone();
        self.call("purge_sync_state", move |conn| progress::purge(conn, &org))
            .await
    }
}
