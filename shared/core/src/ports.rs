//! Ports: what the engine needs from the outside world, as traits.
//!
//! Each backend (embedded file, DynamoDB, an app's API) implements them; the engine never knows
//! which one it talks to.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::domain::{
    AppEntityName, AppId, EntityName, GroupId, HubId, IdMap, OrgId, Organization, PageCursor,
    PendingRecord, Run, RunId, Side, Timestamp, Watermark,
};
use crate::entity::EntityPair;
use crate::error::{AppError, HubError, RecordError, StoreError};

/// Time, injectable so that tests can pin it.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(chrono::Utc::now())
    }
}

/// A page of records and where the next one starts.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// Records of this page.
    pub records: Vec<Value>,
    /// Cursor of the next page; `None` on the last page.
    pub next: Option<PageCursor>,
}

/// A write into Connec!.
#[derive(Clone, Debug)]
pub struct HubWrite {
    /// The record body (mapped, references as id arrays, external id attached).
    pub record: Value,
    /// Existing hub record to update, if linked.
    pub hub_id: Option<HubId>,
    /// Fields Connec! smart-merges on when the record is new.
    pub matching_fields: Vec<String>,
}

/// How a hub write ended.
#[derive(Clone, Debug)]
pub struct HubWriteOutcome {
    /// The record as Connec! stored it.
    pub record: Value,
    /// Connec! created a record (201) rather than updating or merging (200).
    pub created: bool,
}

/// The Connec! hub, as the engine sees it.
#[async_trait]
pub trait Hub: Send + Sync {
    /// One page of records of `collection` updated after `since` (all when `None`).
    async fn fetch_page(
        &self,
        group: &GroupId,
        collection: &EntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, HubError>;
    /// Records by id; missing ones are simply absent.
    async fn fetch_by_ids(
        &self,
        group: &GroupId,
        collection: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<Value>, HubError>;
    /// Upserts, batched; one result per write, in order.
    async fn write(
        &self,
        group: &GroupId,
        collection: &EntityName,
        writes: Vec<HubWrite>,
    ) -> Result<Vec<Result<HubWriteOutcome, RecordError>>, HubError>;
}

/// What the engine needs to know of an app record.
#[derive(Clone, Debug, PartialEq)]
pub struct AppRecordMeta {
    /// Its id.
    pub id: AppId,
    /// Last modification.
    pub updated_at: Timestamp,
    /// Creation, when the app says.
    pub created_at: Option<Timestamp>,
    /// Archived or deleted in the app.
    pub archived: bool,
}

/// A write into the app.
#[derive(Clone, Debug)]
pub enum AppWrite {
    /// A new record: the connector must first look for the same record by the entity's unique
    /// attributes and update it instead of creating a duplicate.
    Create {
        /// Mapped record.
        record: Value,
    },
    /// An update of a linked record.
    Update {
        /// Target.
        id: AppId,
        /// Mapped record (only mapped fields).
        record: Value,
    },
}

/// How an app write ended.
#[derive(Clone, Debug)]
pub struct AppWriteOutcome {
    /// The record as the app stored it (at least its id).
    pub record: Value,
    /// What happened.
    pub kind: AppWriteKind,
}

/// What an app write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppWriteKind {
    /// A new record.
    Created,
    /// An existing record matched and was updated (match-and-merge).
    Merged,
    /// A linked record was updated.
    Updated,
}

/// Why a write was not applied to one record.
#[derive(Clone, Debug)]
pub enum AppWriteFailure {
    /// The target record no longer exists: the id-map becomes inactive.
    NotFound,
    /// Any other per-record rejection.
    Rejected(RecordError),
}

/// An external application's connector.
#[async_trait]
pub trait AppConnector: Send + Sync {
    /// Provider name used in Connec! external ids.
    fn provider(&self) -> &crate::domain::Provider;
    /// Entity pairs in sync order (referenced entities first).
    fn entities(&self) -> &[EntityPair];
    /// Id, timestamps and archived flag of an app record.
    fn describe(&self, entity: &AppEntityName, record: &Value) -> Result<AppRecordMeta, AppError>;
    /// One page of records changed after `since` (everything when `None`), including archived
    /// ones when the app can tell.
    async fn fetch_page(
        &self,
        entity: &AppEntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, AppError>;
    /// Records by id; missing ones are absent from the result.
    async fn fetch_by_ids(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Value>, AppError>;
    /// Applies writes (batched as the API allows); one result per write, in order.
    async fn write(
        &self,
        entity: &AppEntityName,
        writes: Vec<AppWrite>,
    ) -> Result<Vec<Result<AppWriteOutcome, AppWriteFailure>>, AppError>;
    /// Archives records; one result per id, in order.
    async fn archive(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Result<(), AppWriteFailure>>, AppError>;
}

/// Shared handle to a connector.
pub type SharedConnector = Arc<dyn AppConnector>;

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

    /// Forgets what was synced for an organization: its id-maps, watermarks, page checkpoints
    /// and pending records, so that a later link starts over with a first sync (match and merge).
    /// The organization itself and its run history stay. Returns the number of id-maps removed.
    /// Meant for an organization whose sync is disabled; a run in flight may write again.
    async fn purge_sync_state(&self, org: &OrgId) -> Result<u64, StoreError>;
}

/// Shared handle to a store.
pub type SharedStore = Arc<dyn SyncStore>;

/// Where an API client gets its bearer token: a static token, or OAuth tokens refreshed on
/// expiry. Asked before every request, so a refresh between pages is picked up.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The current access token.
    async fn bearer(&self) -> Result<String, AppError>;
    /// A new token after the API refused the current one (401): refresh now. Sources that
    /// cannot refresh hand back the same token.
    async fn renew(&self) -> Result<String, AppError> {
        self.bearer().await
    }
}

/// A token that never changes (private-app tokens, API keys, tests).
pub struct StaticToken(String);

impl StaticToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn bearer(&self) -> Result<String, AppError> {
        Ok(self.0.clone())
    }
}
