//! The app port: one external application's connector, as the engine sees it.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::Page;
use crate::domain::{AppEntityName, AppId, HubId, PageCursor, Provider, Timestamp};
use crate::entity::{EntityGroup, EntityPair, Part};
use crate::error::{AppError, RecordError};

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
    /// The hub id the record's create marker holds, when the connector has markers: lets the
    /// engine check that a create's answer is the record it asked for, whatever the order.
    pub marker: Option<HubId>,
}

/// A hub record about to be created in the app, for the match-before-create search.
#[derive(Clone, Debug)]
pub struct MatchQuery {
    /// The hub record's id: what the connector's create marker holds.
    pub hub_id: HubId,
    /// The mapped (app-shaped) record.
    pub record: Value,
}

/// What the app already holds for one [`MatchQuery`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppMatches {
    /// A record that carries this hub id in the connector's create marker: created by an earlier
    /// run whose id-map was lost. It *is* this hub record's app record.
    pub marked: Option<AppId>,
    /// Records that share the entity's unique attributes (e-mail, domain, name...), best first.
    pub natural: Vec<AppId>,
}

/// A write into the app. The engine resolves matches first, so a write never merges on its own.
#[derive(Clone, Debug)]
pub enum AppWrite {
    /// A new record. The connector stamps it with its create marker (the hub id), so that a
    /// create whose answer was lost is found by [`AppConnector::find_matches`] next time.
    Create {
        /// The hub record it comes from.
        hub_id: HubId,
        /// Mapped record.
        record: Value,
        /// How many earlier creates of this record the app refused (0 the first time). A
        /// connector deriving an idempotency key from the content includes it: a create whose
        /// answer was lost is retried with the same key (the app answers as the first time,
        /// creating nothing new), while a create retried after a refusal gets a new key (else
        /// the app would answer with the refusal again).
        attempt: u32,
    },
    /// An update of an existing record (linked, or matched and free).
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
    /// Any other per-record rejection: nothing was written.
    Rejected(RecordError),
    /// The call carrying the write failed as a whole in a way that leaves its fate unknown (a
    /// 5xx, a timeout, a reset connection): it may have been applied. The engine keeps its
    /// write-ahead, so that a create that did land is found again by its marker and recognised.
    Unsettled(RecordError),
}

impl AppWriteFailure {
    /// The fate a whole-call failure leaves its writes in: refused (a 4xx: nothing was
    /// applied) or unknown (anything else).
    pub fn of_failed_call(error: &crate::error::AppError, record: RecordError) -> Self {
        match error {
            crate::error::AppError::Http(crate::error::HttpError::Status { status, .. })
                if (400..500).contains(status) =>
            {
                AppWriteFailure::Rejected(record)
            }
            _ => AppWriteFailure::Unsettled(record),
        }
    }
}

/// An external application's connector.
#[async_trait]
pub trait AppConnector: Send + Sync {
    /// Provider name used in Connec! external ids.
    fn provider(&self) -> &Provider;
    /// Entity pairs in sync order (referenced entities first).
    fn entities(&self) -> &[EntityPair];
    /// Whether a full listing of the entity ([`AppConnector::fetch_page`] from no `since`, every
    /// page) shows every record [`AppConnector::find_matches`] could find. When it does, a run
    /// that listed the entity in full and found it empty creates into it without match
    /// queries: there was nothing to match, and what the app holds since is the run's own
    /// writes. Say `true` only when the listing and the matching see the same records (for
    /// example both leave archived ones out).
    fn listing_shows_every_match(&self, entity: &AppEntityName) -> bool {
        let _ = entity;
        false
    }
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
    /// Records by id, in any order; missing ones are absent. Archived ones are absent too, or
    /// present and described as archived.
    async fn fetch_by_ids(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Value>, AppError>;
    /// For each query, what the app already holds (by create marker, then by the entity's
    /// unique attributes). Writes nothing.
    async fn find_matches(
        &self,
        entity: &AppEntityName,
        queries: &[MatchQuery],
    ) -> Result<Vec<AppMatches>, AppError>;
    /// Applies writes (batched as the API allows); one result per write, in order. A batch
    /// that fails as a whole fails its own writes, never the ones already settled.
    async fn write(
        &self,
        entity: &AppEntityName,
        writes: Vec<AppWrite>,
    ) -> Result<Vec<Result<AppWriteOutcome, AppWriteFailure>>, AppError>;
    /// Archives records; one result per id, in order. Success means the app says it archived.
    async fn archive(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Result<(), AppWriteFailure>>, AppError>;
    /// Its complex entities: app entities read once and split into the parts of several pairs.
    /// The engine then reads the group's `app` entity (with [`AppConnector::fetch_page`] and,
    /// for webhooks, [`AppConnector::fetch_by_ids`]) instead of each member's.
    fn groups(&self) -> &[EntityGroup] {
        &[]
    }
    /// Splits one record of a group's app entity into its parts, members in the group's order.
    /// A record that cannot be split is an error of that record alone.
    fn split(&self, group: &AppEntityName, record: Value) -> Result<Vec<Part>, RecordError> {
        let _ = record;
        Err(RecordError::new(
            None,
            format!("`{group}` is not a complex entity of this connector"),
        ))
    }
}

/// Shared handle to a connector.
pub type SharedConnector = Arc<dyn AppConnector>;
