//! Domain types: identifiers, timestamps, organizations, id-maps, runs.
//!
//! Everything that crosses a port boundary has its own type so that a hub id can never be passed
//! where an app id is expected, and every timestamp is UTC.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use mapping::ContentHash;

mod group_id;
mod ids;
mod run;
mod timestamp;
pub use group_id::{InvalidGroupId, MAX_GROUP_ID_LEN};
pub use ids::{
    AppEntityName, AppId, EntityName, GroupId, HubId, OrgId, Provider, Realm, RunId, Tenant,
};
pub use run::{ConflictNote, ConflictPolicy, CountKey, Counts, Resume, Run, RunStatus, Winner};
pub use timestamp::Timestamp;

/// Which system a record comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Connec!.
    Hub,
    /// The external application.
    App,
}

impl Side {
    /// Stable lower-case name used in storage keys.
    pub fn as_str(&self) -> &'static str {
        match self {
            Side::Hub => "hub",
            Side::App => "app",
        }
    }
    /// Parses [`Side::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hub" => Some(Side::Hub),
            "app" => Some(Side::App),
            _ => None,
        }
    }
}

/// Which way records travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// App -> Connec!.
    ToHub,
    /// Connec! -> app.
    ToApp,
}

impl Direction {
    /// The side records are read from.
    pub fn source(&self) -> Side {
        match self {
            Direction::ToHub => Side::App,
            Direction::ToApp => Side::Hub,
        }
    }
    /// Human label.
    pub fn label(&self) -> &'static str {
        match self {
            Direction::ToHub => "app -> hub",
            Direction::ToApp => "hub -> app",
        }
    }
}

/// Per-entity switches of an organization: which directions travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectionFlags {
    /// App records are pushed to Connec!.
    pub to_hub: bool,
    /// Connec! records are pushed to the app.
    pub to_app: bool,
}

impl Default for DirectionFlags {
    fn default() -> Self {
        Self {
            to_hub: true,
            to_app: true,
        }
    }
}

impl DirectionFlags {
    /// Whether `direction` is enabled.
    pub fn allows(&self, direction: Direction) -> bool {
        match direction {
            Direction::ToHub => self.to_hub,
            Direction::ToApp => self.to_app,
        }
    }
}

/// One Connec! group linked to one app account, with its sync settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// Our key.
    pub id: OrgId,
    /// Whose Connec! credentials apply.
    pub tenant: Tenant,
    /// The Connec! group.
    pub group_id: GroupId,
    /// The app (`hubspot`).
    pub provider: Provider,
    /// The linked app account.
    pub realm: Realm,
    /// Display name.
    pub name: String,
    /// Master switch for scheduled syncs.
    pub sync_enabled: bool,
    /// Per-entity direction flags; an entity absent here uses the defaults (both ways).
    pub entity_flags: BTreeMap<EntityName, DirectionFlags>,
    /// Records created before this instant do not travel; `None` means historical data is on.
    pub history_from: Option<Timestamp>,
    /// When the account was linked.
    pub linked_at: Timestamp,
}

impl Organization {
    /// Flags for one entity (defaults when unset).
    pub fn flags(&self, entity: &EntityName) -> DirectionFlags {
        self.entity_flags.get(entity).copied().unwrap_or_default()
    }
}

/// The link between one hub record and one app record of an organization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdMap {
    /// Organization.
    pub org: OrgId,
    /// Entity pair (hub collection).
    pub entity: EntityName,
    /// Hub record, once known.
    pub hub_id: Option<HubId>,
    /// App record, once known.
    pub app_id: Option<AppId>,
    /// Hash of the mapped fields in canonical shape as of the last sync in either direction.
    pub hash: Option<ContentHash>,
    /// Last successful write into Connec!.
    pub last_push_to_hub: Option<Timestamp>,
    /// Last successful write into the app.
    pub last_push_to_app: Option<Timestamp>,
    /// Newest `updated_at` seen on the hub record: an older version never overwrites a newer one.
    pub hub_updated_at: Option<Timestamp>,
    /// Newest modification time seen on the app record.
    pub app_updated_at: Option<Timestamp>,
    /// Per-record opt-out of app -> hub.
    pub to_hub: bool,
    /// Per-record opt-out of hub -> app.
    pub to_app: bool,
    /// Deleted or archived on one side: no longer synced, never recreated silently.
    pub inactive: bool,
    /// Last per-record error, cleared on success.
    pub last_error: Option<String>,
    /// Human label (record name), for status screens.
    pub name: Option<String>,
    /// Writes in flight, at most one per side (the side written to and the hash written),
    /// saved before each write is sent: if the run dies before the outcome is saved, that side's
    /// version is recognised as ours (an echo), never taken for a change there that could win a
    /// conflict. A write to one side never forgets the other side's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_writes: Vec<(Side, ContentHash)>,
}

impl IdMap {
    /// A fresh, unlinked id-map.
    pub fn new(org: OrgId, entity: EntityName) -> Self {
        Self {
            org,
            entity,
            hub_id: None,
            app_id: None,
            hash: None,
            last_push_to_hub: None,
            last_push_to_app: None,
            hub_updated_at: None,
            app_updated_at: None,
            to_hub: true,
            to_app: true,
            inactive: false,
            last_error: None,
            name: None,
            pending_writes: Vec::new(),
        }
    }
    /// The write in flight to one side, if any.
    pub fn pending_to(&self, side: Side) -> Option<&ContentHash> {
        self.pending_writes
            .iter()
            .find(|(s, _)| *s == side)
            .map(|(_, hash)| hash)
    }
    /// Records a write in flight to one side (replacing that side's earlier one).
    pub fn set_pending(&mut self, side: Side, hash: ContentHash) {
        self.clear_pending(side);
        self.pending_writes.push((side, hash));
    }
    /// The write to one side settled (or never happened).
    pub fn clear_pending(&mut self, side: Side) {
        self.pending_writes.retain(|(s, _)| *s != side);
    }
    /// Both sides are known.
    pub fn is_linked(&self) -> bool {
        self.hub_id.is_some() && self.app_id.is_some()
    }
}

/// Why a record waits for the next run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingReason {
    /// A reference is not in the id-map yet.
    Deferred,
    /// The write failed.
    Failed,
}

impl PendingReason {
    /// Stable name used in storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            PendingReason::Deferred => "deferred",
            PendingReason::Failed => "failed",
        }
    }
    /// Parses [`PendingReason::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "deferred" => Some(PendingReason::Deferred),
            "failed" => Some(PendingReason::Failed),
            _ => None,
        }
    }
}

/// A record to retry on the next run even if it did not change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingRecord {
    /// Organization.
    pub org: OrgId,
    /// Entity pair.
    pub entity: EntityName,
    /// Where the record is read from when retried.
    pub source: Side,
    /// Its id on that side.
    pub source_id: String,
    /// Why it waits.
    pub reason: PendingReason,
    /// What went wrong (no personal data).
    pub error: String,
    /// How many runs tried it.
    pub attempts: u32,
    /// First time it was parked.
    pub since: Timestamp,
}

/// Where a paged fetch stands, stored as a checkpoint so that an interrupted run resumes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PageCursor(String);

impl PageCursor {
    /// Wraps an opaque cursor.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The opaque cursor.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A watermark: changes after this instant are fetched next time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark(pub Timestamp);
