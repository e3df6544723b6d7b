//! What the connector's page (and its JSON API) shows: plain data, serializable.

use serde::Serialize;
use sync_core::domain::{
    Counts, Direction, EntityName, IdMap, OrgId, PendingRecord, Provider, Run, RunStatus, Side,
    Timestamp,
};

/// One Connec! group as its page shows it: every app this connector serves.
#[derive(Clone, Debug, Serialize)]
pub struct GroupView {
    /// The group.
    pub group_id: String,
    /// One entry per app served here, in the registry's order.
    pub apps: Vec<AppView>,
}

/// One app for one group.
#[derive(Clone, Debug, Serialize)]
pub struct AppView {
    /// The app's id (`hubspot`).
    pub id: Provider,
    /// The app's name, as people know it.
    pub name: String,
    /// Whether it is linked through OAuth (a "link" button makes sense).
    pub oauth: bool,
    /// Link state.
    pub link: LinkState,
    /// Entity pairs with their direction switches.
    pub entities: Vec<EntityView>,
    /// Whether records that existed before the link travel too.
    pub historical_data: bool,
    /// The newest run, if any.
    pub last_run: Option<RunView>,
}

/// Where a group stands with one app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LinkState {
    /// Never linked (or no organization).
    NotLinked,
    /// Linked and syncing.
    Linked {
        /// The organization.
        org: OrgId,
        /// The app account's name (or id).
        account: String,
    },
    /// Linked, but the app refused our refresh: a person must link again.
    NeedsReauthorization {
        /// The organization.
        org: OrgId,
        /// The app account's name (or id).
        account: String,
        /// What the app said (no secrets).
        reason: String,
    },
    /// Unlinked: tokens removed, sync off (id-maps kept or purged).
    Unlinked {
        /// The organization.
        org: OrgId,
        /// The app account's name (or id).
        account: String,
    },
}

impl LinkState {
    /// The organization, when there is one.
    pub fn org(&self) -> Option<&OrgId> {
        match self {
            LinkState::NotLinked => None,
            LinkState::Linked { org, .. }
            | LinkState::NeedsReauthorization { org, .. }
            | LinkState::Unlinked { org, .. } => Some(org),
        }
    }
}

/// One entity pair's switches.
#[derive(Clone, Debug, Serialize)]
pub struct EntityView {
    /// The hub collection (the pair's name).
    pub entity: EntityName,
    /// The app entity.
    pub app_entity: String,
    /// Records travel from the app to Connec!.
    pub to_hub: bool,
    /// Records travel from Connec! to the app.
    pub to_app: bool,
    /// The connector can carry this pair to Connec! at all.
    pub can_to_hub: bool,
    /// The connector can carry this pair to the app at all.
    pub can_to_app: bool,
}

/// A run, for the history table.
#[derive(Clone, Debug, Serialize)]
pub struct RunView {
    /// The run.
    pub id: String,
    /// Start.
    pub started_at: Timestamp,
    /// End, once finished.
    pub finished_at: Option<Timestamp>,
    /// `running`, `success`, `partial`, `failed`.
    pub status: RunStatus,
    /// Counts per entity and direction.
    pub counts: Vec<CountsView>,
    /// Entity-level errors.
    pub errors: Vec<String>,
}

/// Counts of one entity in one direction.
#[derive(Clone, Debug, Serialize)]
pub struct CountsView {
    /// The entity pair.
    pub entity: EntityName,
    /// `to_hub` or `to_app`.
    pub direction: &'static str,
    /// The counters.
    #[serde(flatten)]
    pub counts: Counts,
}

impl From<&Run> for RunView {
    fn from(run: &Run) -> Self {
        Self {
            id: run.id.to_string(),
            started_at: run.started_at,
            finished_at: run.finished_at,
            status: run.status,
            counts: run
                .counts
                .iter()
                .map(|(key, counts)| CountsView {
                    entity: key.entity.clone(),
                    direction: direction_name(key.direction),
                    counts: *counts,
                })
                .collect(),
            errors: run.errors.clone(),
        }
    }
}

/// `to_hub` / `to_app`.
fn direction_name(direction: Direction) -> &'static str {
    match direction {
        Direction::ToHub => "to_hub",
        Direction::ToApp => "to_app",
    }
}

/// A record that did not travel: its write failed, or it waits for a reference.
#[derive(Clone, Debug, Serialize)]
pub struct FailureView {
    /// The entity pair.
    pub entity: EntityName,
    /// `failed` (a write was refused) or `parked` (waiting, e.g. for a reference).
    pub kind: &'static str,
    /// The side the record comes from (what a retry re-reads).
    pub source: Side,
    /// Its id on that side.
    pub id: String,
    /// Its label, when known.
    pub name: Option<String>,
    /// What went wrong.
    pub error: String,
    /// When it was parked (parked records only).
    pub since: Option<Timestamp>,
}

impl FailureView {
    /// A failed id-map. Its source is the side it is known on; known on both, the hub.
    pub fn failed(map: &IdMap) -> Option<Self> {
        let (source, id) = match (&map.hub_id, &map.app_id) {
            (Some(hub), _) => (Side::Hub, hub.to_string()),
            (None, Some(app)) => (Side::App, app.to_string()),
            (None, None) => return None,
        };
        Some(Self {
            entity: map.entity.clone(),
            kind: "failed",
            source,
            id,
            name: map.name.clone(),
            error: map.last_error.clone().unwrap_or_default(),
            since: None,
        })
    }

    /// A parked record.
    pub fn parked(record: &PendingRecord) -> Self {
        Self {
            entity: record.entity.clone(),
            kind: "parked",
            source: record.source,
            id: record.source_id.clone(),
            name: None,
            error: record.error.clone(),
            since: Some(record.since),
        }
    }
}

/// An id-map, for the search results.
#[derive(Clone, Debug, Serialize)]
pub struct IdMapView {
    /// The entity pair.
    pub entity: EntityName,
    /// Connec! id.
    pub hub_id: Option<String>,
    /// App id.
    pub app_id: Option<String>,
    /// Label.
    pub name: Option<String>,
    /// Archived on one side.
    pub inactive: bool,
    /// The last write's error, if it failed.
    pub last_error: Option<String>,
}

impl From<&IdMap> for IdMapView {
    fn from(map: &IdMap) -> Self {
        Self {
            entity: map.entity.clone(),
            hub_id: map.hub_id.as_ref().map(|h| h.to_string()),
            app_id: map.app_id.as_ref().map(|a| a.to_string()),
            name: map.name.clone(),
            inactive: map.inactive,
            last_error: map.last_error.clone(),
        }
    }
}

/// What an unlink did.
#[derive(Clone, Debug, Serialize)]
pub struct Unlinked {
    /// The organization.
    pub org: OrgId,
    /// Id-maps purged (0 when kept).
    pub purged_idmaps: u64,
    /// Whether the app confirmed the revocation of our access (false: revoke it in the app).
    pub revoked: bool,
}

/// What a retry did.
#[derive(Clone, Debug, Serialize)]
pub struct Retried {
    /// Counts of the retry.
    #[serde(flatten)]
    pub counts: Counts,
    /// The record's error after the retry, if it failed again.
    pub still_failing: Option<String>,
}
