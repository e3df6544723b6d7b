//! Change events: what the in-process observers ([`ChangeHook`]) are told after every
//! committed change, at the same point where webhooks and notifications are generated.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A record was created.
    Created,
    /// A record changed.
    Updated,
    /// A record was archived (HubSpot) .
    Archived,
}

/// A state change, emitted after the change is committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Kind of change.
    pub kind: ChangeKind,
    /// Connec! group id; empty for HubSpot.
    pub scope: String,
    /// Connec! collection or HubSpot object type.
    pub collection: String,
    /// Record id.
    pub id: String,
    /// Timestamp of the change (ISO-8601, ms).
    pub at: String,
}

/// Observer of state changes. Called outside the state lock, so it may call
/// back into the emulator.
pub type ChangeHook = Arc<dyn Fn(&ChangeEvent) + Send + Sync>;
