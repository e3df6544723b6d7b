//! The hub port: Connec! as the engine sees it, without its record shape.
//!
//! The engine reads what it needs of a hub record through [`Hub::describe`] and the reference
//! helpers, and writes through [`HubWrite`]s that name *what* to change; the adapter turns them
//! into its own wire format (id arrays, `status: INACTIVE`, `/batch` ops).

use async_trait::async_trait;
use serde_json::Value;

use super::Page;
use crate::domain::{AppId, EntityName, GroupId, HubId, PageCursor, Provider, Realm, Timestamp};
use crate::error::{HubError, RecordError};

/// An app record's id as the hub keeps it on the hub record (Connec!'s `{id, provider, realm}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExternalId {
    /// The app.
    pub provider: Provider,
    /// The app account.
    pub realm: Realm,
    /// The app record.
    pub id: AppId,
}

/// What the engine needs to know of a hub record.
#[derive(Clone, Debug, PartialEq)]
pub struct HubRecordMeta {
    /// Its id.
    pub id: HubId,
    /// Last modification, UTC.
    pub updated_at: Timestamp,
    /// Creation, when the hub says.
    pub created_at: Option<Timestamp>,
    /// Deleted the hub's way (Connec!: `INACTIVE` or `ARCHIVED`).
    pub inactive: bool,
    /// The app ids the hub knows for this record (every app, every account).
    pub external_ids: Vec<ExternalId>,
}

impl HubRecordMeta {
    /// The id this hub record carries for one app account, if any.
    pub fn external_id(&self, provider: &Provider, realm: &Realm) -> Option<&AppId> {
        self.external_ids
            .iter()
            .find(|e| &e.provider == provider && &e.realm == realm)
            .map(|e| &e.id)
    }
}

/// What a hub write changes.
#[derive(Clone, Debug, PartialEq)]
pub enum HubChange {
    /// Mapped fields (references already in the hub's reference shape).
    Fields(Value),
    /// Deletes the record the hub's way (Connec!: `status: INACTIVE`).
    Archive,
    /// Only records the app id on the hub record (the id write-back), changing no field.
    LinkOnly,
}

/// A write into the hub.
#[derive(Clone, Debug, PartialEq)]
pub struct HubWrite {
    /// Existing hub record to update; `None` creates (or lets the hub smart-merge).
    pub hub_id: Option<HubId>,
    /// What changes.
    pub change: HubChange,
    /// The app record this write comes from: attached to the hub record as its external id,
    /// which also makes a create idempotent (the hub upserts on it).
    pub source: Option<ExternalId>,
    /// Fields the hub smart-merges on when the record is new.
    pub matching_fields: Vec<String>,
}

/// How a hub write ended.
#[derive(Clone, Debug)]
pub struct HubWriteOutcome {
    /// The record as the hub stored it.
    pub meta: HubRecordMeta,
    /// The hub created a record rather than updating or merging.
    pub created: bool,
}

/// The hub (Connec!), as the engine sees it.
#[async_trait]
pub trait Hub: Send + Sync {
    /// Id, timestamps, status and external ids of a hub record.
    fn describe(&self, collection: &EntityName, record: &Value) -> Result<HubRecordMeta, HubError>;
    /// The hub id a reference value points to (`None`: no reference).
    fn reference_target(&self, value: &Value) -> Option<HubId>;
    /// The app id a reference value carries for one app account, when the hub knows it.
    fn reference_external(
        &self,
        value: &Value,
        provider: &Provider,
        realm: &Realm,
    ) -> Option<AppId>;
    /// A reference to a hub record, in the hub's shape.
    fn reference_value(&self, group: &GroupId, id: &HubId) -> Value;

    /// One page of records of `collection` updated after `since` (all when `None`).
    async fn fetch_page(
        &self,
        group: &GroupId,
        collection: &EntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, HubError>;
    /// Records by id; missing ones are simply absent, in any order.
    async fn fetch_by_ids(
        &self,
        group: &GroupId,
        collection: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<Value>, HubError>;
    /// For each record (in the app's mapped, hub-shaped form), the hub records that hold the
    /// same values in `fields` (match-before-create); an empty list when none or no field is set.
    async fn find_matches(
        &self,
        group: &GroupId,
        collection: &EntityName,
        fields: &[String],
        records: &[Value],
    ) -> Result<Vec<Vec<HubRecordMeta>>, HubError>;
    /// Writes, batched; one result per write, in order.
    async fn write(
        &self,
        group: &GroupId,
        collection: &EntityName,
        writes: Vec<HubWrite>,
    ) -> Result<Vec<Result<HubWriteOutcome, RecordError>>, HubError>;
}
