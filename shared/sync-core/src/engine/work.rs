//! One page's bookkeeping: the id-maps it touches (one slot per record, so two steps of one
//! record change one row), what it parks, what it un-parks, counters and conflicts.
//!
//! Every write step records its outcomes here as it settles them; the page saves this once at
//! the end, also when a later step failed, so a write that happened is never forgotten.

use std::collections::{BTreeMap, HashMap};

use crate::domain::{
    ConflictNote, Counts, Direction, IdMap, PendingReason, PendingRecord, Side, Timestamp,
};

/// Index of an id-map in [`PageWork::maps`].
pub(crate) type Slot = usize;

/// Where a record waits when its write fails: the side it is read from and its id there.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RetryKey {
    pub side: Side,
    pub id: String,
}

/// A page's outcomes, saved in one go.
#[derive(Default)]
pub(crate) struct PageWork {
    pub maps: Vec<IdMap>,
    dirty: Vec<bool>,
    pub pending: Vec<(RetryKey, PendingReason, String)>,
    pub resolved: Vec<RetryKey>,
    pub counts: BTreeMap<Direction, Counts>,
    pub conflicts: Vec<ConflictNote>,
    /// Records that already waited a run for a lost create to show up (see [`LOST_CREATE`]).
    pub waited: std::collections::HashSet<RetryKey>,
    /// Records linked to their own lost create without a write (see [`RECLAIMED_CREATE`]):
    /// their first write after that is the one that writes the app id back to Connec!.
    pub reclaimed: std::collections::HashSet<RetryKey>,
    /// Parked records the other side refused, and how many runs tried them: their creates
    /// say so ([`AppWrite::Create::attempt`](crate::ports::AppWrite::Create)).
    pub refusals: HashMap<RetryKey, u32>,
}

/// Why a record linked to our own create whose answer was lost waits for the next pass.
pub(crate) const RECLAIMED_CREATE: &str = "linked to our own create whose answer was lost; decided against the app's current version next";

/// Why a record whose create lost its answer waits one run before it is created again.
pub(crate) const LOST_CREATE: &str =
    "an earlier create of this record lost its answer; waiting a run to read the app";

impl PageWork {
    /// Adds an id-map and returns its slot.
    pub fn add(&mut self, map: IdMap) -> Slot {
        self.maps.push(map);
        self.dirty.push(false);
        self.maps.len() - 1
    }

    /// The id-map in a slot, to change: it will be saved.
    pub fn map(&mut self, slot: Slot) -> &mut IdMap {
        self.dirty[slot] = true;
        &mut self.maps[slot]
    }

    /// Read-only view of a slot.
    pub fn peek(&self, slot: Slot) -> &IdMap {
        &self.maps[slot]
    }

    /// Counters of one direction.
    pub fn count(&mut self, direction: Direction) -> &mut Counts {
        self.counts.entry(direction).or_default()
    }

    /// Done with this record (un-parks it if it was parked).
    pub fn resolve(&mut self, key: RetryKey) {
        self.resolved.push(key);
    }

    /// Parks a record for the next run.
    pub fn park(&mut self, key: RetryKey, reason: PendingReason, error: impl Into<String>) {
        self.pending.push((key, reason, error.into()));
    }

    /// A write failed for one record: counted, error on its id-map, parked.
    pub fn fail(&mut self, direction: Direction, slot: Slot, key: RetryKey, error: String) {
        self.count(direction).failed += 1;
        self.map(slot).last_error = Some(error.clone());
        self.park(key, PendingReason::Failed, error);
    }

    /// A whole write call failed: every record in it fails the same way.
    pub fn fail_all(
        &mut self,
        direction: Direction,
        records: impl IntoIterator<Item = (Slot, RetryKey)>,
        error: &str,
    ) {
        for (slot, key) in records {
            self.fail(direction, slot, key, error.to_owned());
        }
    }

    /// The id-maps to save, taken out of the page (its last step): changed ones that name at
    /// least one side.
    pub fn take_dirty_maps(&mut self) -> Vec<IdMap> {
        std::mem::take(&mut self.maps)
            .into_iter()
            .zip(std::mem::take(&mut self.dirty))
            .filter(|(map, dirty)| *dirty && (map.hub_id.is_some() || map.app_id.is_some()))
            .map(|(map, _)| map)
            .collect()
    }

    /// Pending rows, carrying attempts and first-seen time over from the parked ones.
    pub fn pending_rows(
        &self,
        org: &crate::domain::OrgId,
        entity: &crate::domain::EntityName,
        parked: &HashMap<RetryKey, PendingRecord>,
        now: Timestamp,
    ) -> Vec<PendingRecord> {
        let mut rows: HashMap<RetryKey, PendingRecord> = HashMap::new();
        for (key, reason, error) in &self.pending {
            let previous = parked.get(key);
            rows.insert(
                key.clone(),
                PendingRecord {
                    org: org.clone(),
                    entity: entity.clone(),
                    source: key.side,
                    source_id: key.id.clone(),
                    reason: *reason,
                    error: error.clone(),
                    attempts: previous.map_or(1, |p| p.attempts + 1),
                    since: previous.map_or(now, |p| p.since),
                },
            );
        }
        rows.into_values().collect()
    }

    /// Parked records this page settled (and did not park again).
    pub fn unparked(&self, parked: &HashMap<RetryKey, PendingRecord>) -> Vec<RetryKey> {
        let again: std::collections::HashSet<&RetryKey> =
            self.pending.iter().map(|(key, _, _)| key).collect();
        let mut out: Vec<RetryKey> = self
            .resolved
            .iter()
            .filter(|key| parked.contains_key(*key) && !again.contains(key))
            .cloned()
            .collect();
        out.sort_by(|a, b| (a.side, &a.id).cmp(&(b.side, &b.id)));
        out.dedup();
        out
    }
}
