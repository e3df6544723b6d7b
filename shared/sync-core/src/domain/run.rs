//! Runs and what they count: counters, statuses, conflicts and their policy, continuations.

use serde::{Deserialize, Serialize};

use super::{AppId, Direction, EntityName, HubId, OrgId, RunId, Timestamp};

/// Outcome counters of one entity pair in one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Created on the target side.
    pub created: u64,
    /// Updated on the target side.
    pub updated: u64,
    /// Matched an existing target record instead of creating a duplicate.
    pub merged: u64,
    /// Read but nothing to do (unchanged, echo, opted out, too old).
    pub skipped: u64,
    /// Changed on both sides since the last sync.
    pub conflicts: u64,
    /// Write rejected; stored on the id-map and retried next run.
    pub failed: u64,
    /// Waiting for a reference; retried next run.
    pub deferred: u64,
    /// Deletions carried over (archive / INACTIVE).
    pub archived: u64,
}

impl Counts {
    /// Adds another set of counters.
    pub fn add(&mut self, other: &Counts) {
        self.created += other.created;
        self.updated += other.updated;
        self.merged += other.merged;
        self.skipped += other.skipped;
        self.conflicts += other.conflicts;
        self.failed += other.failed;
        self.deferred += other.deferred;
        self.archived += other.archived;
    }
    /// Records written on the target side.
    pub fn written(&self) -> u64 {
        self.created + self.updated + self.merged + self.archived
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still going.
    Running,
    /// Everything travelled.
    Success,
    /// Some records failed or wait for a reference; they are retried next run.
    Partial,
    /// An entity could not be read or written at all.
    Failed,
}

impl RunStatus {
    /// Stable name used in storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Success => "success",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
        }
    }
    /// Parses [`RunStatus::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(RunStatus::Running),
            "success" => Some(RunStatus::Success),
            "partial" => Some(RunStatus::Partial),
            "failed" => Some(RunStatus::Failed),
            _ => None,
        }
    }
}

/// Which side won a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Winner {
    /// Connec!'s version was kept and pushed to the app.
    Hub,
    /// The app's version was kept and pushed to Connec!.
    App,
}

/// One conflict and how it was settled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConflictNote {
    /// Entity pair.
    pub entity: EntityName,
    /// Hub record.
    pub hub_id: HubId,
    /// App record.
    pub app_id: AppId,
    /// The policy that decided.
    pub policy: ConflictPolicy,
    /// The winner.
    pub winner: Winner,
    /// Hub record's `updated_at`.
    pub hub_updated_at: Timestamp,
    /// App record's modification time.
    pub app_updated_at: Timestamp,
}

/// How a conflict (changed on both sides since the last sync) is settled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// Connec! always wins.
    HubWins,
    /// The app always wins.
    AppWins,
    /// The most recent `updated_at` (parsed to UTC) wins; on an exact tie the hub wins.
    #[default]
    MostRecent,
}

impl ConflictPolicy {
    /// Decides a conflict.
    ///
    /// ```
    /// use sync_core::domain::{ConflictPolicy, Timestamp, Winner};
    /// let older = Timestamp::parse("2024-01-01T00:00:00Z").unwrap();
    /// let newer = Timestamp::parse("2024-01-01T00:00:01Z").unwrap();
    /// assert_eq!(ConflictPolicy::MostRecent.decide(older, newer), Winner::App);
    /// assert_eq!(ConflictPolicy::MostRecent.decide(newer, newer), Winner::Hub);
    /// assert_eq!(ConflictPolicy::AppWins.decide(newer, older), Winner::App);
    /// ```
    pub fn decide(&self, hub_updated_at: Timestamp, app_updated_at: Timestamp) -> Winner {
        match self {
            ConflictPolicy::HubWins => Winner::Hub,
            ConflictPolicy::AppWins => Winner::App,
            ConflictPolicy::MostRecent => {
                if app_updated_at > hub_updated_at {
                    Winner::App
                } else {
                    Winner::Hub
                }
            }
        }
    }
}

/// Counters of one entity pair in one direction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CountKey {
    /// Entity pair.
    pub entity: EntityName,
    /// Direction.
    pub direction: Direction,
}

/// One sync of one organization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Run id.
    pub id: RunId,
    /// Organization.
    pub org: OrgId,
    /// Start.
    pub started_at: Timestamp,
    /// End, once finished.
    pub finished_at: Option<Timestamp>,
    /// Status.
    pub status: RunStatus,
    /// Whether this was the organization's first sync.
    pub first_sync: bool,
    /// Counters per entity and direction.
    pub counts: Vec<(CountKey, Counts)>,
    /// Conflicts and how they were settled.
    pub conflicts: Vec<ConflictNote>,
    /// Entity-level errors (a fetch or a whole batch that failed).
    pub errors: Vec<String>,
    /// Stopped at a deadline after a checkpoint: a continuation run resumes it.
    #[serde(default)]
    pub needs_continuation: bool,
    /// Stopped because the app account's call quota ran out (Xero's daily limit): the run is
    /// partial, its page checkpoints stay, and the next scheduled run resumes from them. No
    /// continuation is queued: it would only meet the same closed door.
    #[serde(default)]
    pub quota_exhausted: bool,
    /// Where a continuation of this run resumes.
    #[serde(default, skip_serializing_if = "Resume::is_empty")]
    pub resume: Resume,
}

/// Where a chain of runs cut by deadlines stands, so that each continuation moves forward.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    /// Phases (entity and direction) the chain completed: a continuation skips them.
    #[serde(default)]
    pub done: Vec<CountKey>,
    /// The phase whose parked records were being retried, and the last id retried.
    #[serde(default)]
    pub parked_after: Option<(CountKey, String)>,
}

impl Resume {
    /// Nothing to resume.
    pub fn is_empty(&self) -> bool {
        self.done.is_empty() && self.parked_after.is_none()
    }
}

impl Run {
    /// Total counters across entities and directions.
    pub fn totals(&self) -> Counts {
        let mut total = Counts::default();
        for (_, counts) in &self.counts {
            total.add(counts);
        }
        total
    }
    /// Counters for one entity and direction (zero when absent).
    pub fn counts_for(&self, entity: &str, direction: Direction) -> Counts {
        self.counts
            .iter()
            .find(|(key, _)| key.entity.as_str() == entity && key.direction == direction)
            .map(|(_, counts)| *counts)
            .unwrap_or_default()
    }
}
