//! The writers: what a page sends to each side, and how every outcome lands on the id-maps.
//!
//! Before anything is created on either side, the writer looks for the same record there and
//! checks each candidate against the id-maps ([`resolve_match`]): a record already linked to
//! another one is never written into. Matches are reserved within the page, so two new records
//! never claim one target and one batch never names a target twice.

mod app;
mod hub;

use std::collections::HashMap;

use serde_json::Value;

use super::phase::PhaseError;
use super::work::{RetryKey, Slot};
use crate::domain::{AppId, ContentHash, HubId, Timestamp};
use crate::ports::HubChange;

/// A content write into the app.
pub(crate) struct AppPush {
    pub slot: Slot,
    pub hub_id: HubId,
    /// The hub version it carries.
    pub hub_updated_at: Timestamp,
    pub hash: ContentHash,
    pub record: Value,
    /// The linked app record; `None` creates (after match-and-merge).
    pub target: Option<AppId>,
    /// Set by match-and-merge: the target is a match, not a link.
    pub matched: bool,
    /// Set by match-and-merge when the match carries our create marker for this record: the
    /// target is our own earlier create, whose answer (and link) was lost.
    pub ours: bool,
    /// Where the record waits if the write fails.
    pub retry: RetryKey,
}

/// An archive in the app.
pub(crate) struct AppArchive {
    pub slot: Slot,
    pub app_id: AppId,
    pub retry: RetryKey,
}

/// What a hub write is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HubPushKind {
    /// Mapped fields of an app record.
    Content,
    /// The deletion of the linked app record (`INACTIVE`).
    Archive,
    /// The app id written back onto the hub record after a create or merge in the app.
    WriteBack,
}

/// A write into the hub.
pub(crate) struct HubPush {
    pub slot: Slot,
    pub app_id: AppId,
    /// The app version it carries (content writes).
    pub app_updated_at: Option<Timestamp>,
    pub hash: Option<ContentHash>,
    pub label: Option<String>,
    pub kind: HubPushKind,
    pub change: HubChange,
    /// The linked hub record; `None` creates (after match-and-merge).
    pub target: Option<HubId>,
    pub retry: RetryKey,
}

impl HubPush {
    /// The deletion of the linked app record, carried to the hub record (`INACTIVE`).
    pub(crate) fn archive(slot: Slot, app_id: AppId, hub_id: HubId, retry: RetryKey) -> Self {
        Self::bare(
            slot,
            app_id,
            hub_id,
            retry,
            HubPushKind::Archive,
            HubChange::Archive,
        )
    }

    /// The app id of a new link, written back onto the hub record.
    pub(crate) fn write_back(slot: Slot, app_id: AppId, hub_id: HubId, retry: RetryKey) -> Self {
        Self::bare(
            slot,
            app_id,
            hub_id,
            retry,
            HubPushKind::WriteBack,
            HubChange::LinkOnly,
        )
    }

    fn bare(
        slot: Slot,
        app_id: AppId,
        hub_id: HubId,
        retry: RetryKey,
        kind: HubPushKind,
        change: HubChange,
    ) -> Self {
        Self {
            slot,
            app_id,
            app_updated_at: None,
            hash: None,
            label: None,
            kind,
            change,
            target: Some(hub_id),
            retry,
        }
    }
}

/// A batch's answer, checked to hold one outcome per write. Otherwise: why (stored on every
/// write's id-map) and the error that ends the phase.
#[allow(clippy::result_large_err)] // consumed at once by the caller
pub(crate) fn one_per_write<T, E: Into<PhaseError> + std::fmt::Display>(
    sent: usize,
    answer: Result<Vec<T>, E>,
    mismatch: impl FnOnce(String) -> PhaseError,
) -> Result<Vec<T>, (String, PhaseError)> {
    match answer {
        Ok(outcomes) if outcomes.len() == sent => Ok(outcomes),
        Ok(outcomes) => {
            let detail = format!(
                "{sent} writes sent but {} outcomes returned",
                outcomes.len()
            );
            Err((detail.clone(), mismatch(detail)))
        }
        Err(e) => Err((e.to_string(), e.into())),
    }
}

/// How a new record meets the other side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchOutcome<Id> {
    /// The other side already holds this very record (our own earlier create, its id-map lost).
    Ours(Id),
    /// A free record with the same unique attributes: link and update it.
    Merge(Id),
    /// Nothing free matches: create.
    Create,
}

/// Picks where a new record goes, given what the other side holds and who owns it.
///
/// `ours` is a record known to be this one (a create marker, an external id); `natural` the
/// records sharing its unique attributes, best first. `owner` says which record of *our* side
/// a candidate is linked to (`None`: free). A candidate owned by another record is never used;
/// the chosen one is reserved for `me` so that no later record of the page claims it.
///
/// ```
/// use std::collections::HashMap;
/// use sync_core::engine::{MatchOutcome, resolve_match};
/// let mut owner: HashMap<&str, Option<&str>> = HashMap::from([("c1", Some("h1"))]);
/// // C1 is linked to H1: H2 named the same gets a record of its own.
/// assert_eq!(resolve_match("h2", None, &["c1"], &mut owner), MatchOutcome::Create);
/// assert_eq!(resolve_match("h3", None, &["c1", "c2"], &mut owner), MatchOutcome::Merge("c2"));
/// // C2 is now reserved for H3.
/// assert_eq!(resolve_match("h4", None, &["c2"], &mut owner), MatchOutcome::Create);
/// ```
pub fn resolve_match<Me, Id>(
    me: Me,
    ours: Option<Id>,
    natural: &[Id],
    owner: &mut HashMap<Id, Option<Me>>,
) -> MatchOutcome<Id>
where
    Me: Clone + PartialEq,
    Id: Clone + Eq + std::hash::Hash,
{
    let free = |id: &Id, owner: &HashMap<Id, Option<Me>>| {
        owner
            .get(id)
            .is_none_or(|o| o.as_ref().is_none_or(|o| *o == me))
    };
    let outcome = match ours {
        Some(id) if free(&id, owner) => MatchOutcome::Ours(id),
        _ => match natural.iter().find(|id| free(id, owner)) {
            Some(id) => MatchOutcome::Merge(id.clone()),
            None => MatchOutcome::Create,
        },
    };
    if let MatchOutcome::Ours(id) | MatchOutcome::Merge(id) = &outcome {
        owner.insert(id.clone(), Some(me.clone()));
    }
    outcome
}
