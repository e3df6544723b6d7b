//! One entity's records with the indexes its reads need, so that a lookup by id, marker or
//! natural key, and a page, cost the same with 100 records as with 100,000 (the engine
//! benchmark runs on this fake). Every change of a record goes through [`Table::change`],
//! which re-indexes it.

use std::collections::BTreeSet;

use foldhash::HashMap;
use std::ops::Bound;

use serde_json::Value;

use super::{AppRecord, text};
use crate::domain::{AppId, Timestamp};

/// What a table indexes: the marker property, and the entity's natural-key property if any.
#[derive(Clone, Copy)]
pub(super) struct Keys<'a> {
    pub marker: &'a str,
    pub natural: Option<&'a str>,
}

/// The records of one entity in insertion order (deleted ones removed), indexed.
#[derive(Default)]
pub(super) struct Table {
    pub records: Vec<AppRecord>,
    by_id: HashMap<AppId, usize>,
    /// (`updatedAt`, id) of every record: the keyset order of `fetch_page`.
    by_updated: BTreeSet<(Timestamp, String)>,
    /// Marker value -> positions of the records carrying it, ascending (a vector: most
    /// values name one record, and a set would allocate a whole node for it).
    by_marker: HashMap<String, Vec<usize>>,
    /// Natural-key string, trimmed and lower-cased -> positions, ascending.
    by_natural: HashMap<String, Vec<usize>>,
}

/// A natural-key value as the index keeps it; only strings are indexed (others are compared
/// exactly, by a scan).
pub(super) fn folded(value: &Value) -> Option<String> {
    value.as_str().map(|s| s.trim().to_lowercase())
}

impl Table {
    pub fn position(&self, id: &AppId) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    pub fn find(&self, id: &AppId) -> Option<&AppRecord> {
        self.position(id).map(|at| &self.records[at])
    }

    pub fn push(&mut self, record: AppRecord, keys: Keys<'_>) {
        let at = self.records.len();
        self.records.push(record);
        self.index(at, keys);
    }

    /// Changes the record `id` (if it exists), keeping the indexes right.
    pub fn change<R>(
        &mut self,
        id: &AppId,
        keys: Keys<'_>,
        f: impl FnOnce(&mut AppRecord) -> R,
    ) -> Option<R> {
        let at = self.position(id)?;
        self.unindex(at, keys);
        let out = f(&mut self.records[at]);
        self.index(at, keys);
        Some(out)
    }

    /// Removes a record for good; `false` if it was not there.
    pub fn remove(&mut self, id: &AppId, keys: Keys<'_>) -> bool {
        let before = self.records.len();
        self.records.retain(|r| &r.id != id);
        let removed = self.records.len() < before;
        if removed {
            self.rebuild(keys);
        }
        removed
    }

    /// Indexes every record again (positions moved, or what is indexed changed).
    pub fn rebuild(&mut self, keys: Keys<'_>) {
        let records = std::mem::take(&mut self.records);
        *self = Table::default();
        for record in records {
            self.push(record, keys);
        }
    }

    /// Positions of the records whose marker is `value`, in insertion order.
    pub fn marked(&self, value: &str) -> impl Iterator<Item = &AppRecord> {
        self.by_marker
            .get(value)
            .into_iter()
            .flatten()
            .map(|&at| &self.records[at])
    }

    /// Records whose natural-key string folds to `folded`, in insertion order.
    pub fn natural(&self, folded: &str) -> impl Iterator<Item = &AppRecord> {
        self.by_natural
            .get(folded)
            .into_iter()
            .flatten()
            .map(|&at| &self.records[at])
    }

    /// Records in keyset order (`updatedAt`, id), from the first whose `updatedAt` is at or
    /// after `from`.
    pub fn updated_from(&self, from: Option<Timestamp>) -> impl Iterator<Item = &AppRecord> {
        let start = match from {
            Some(at) => Bound::Included((at, String::new())),
            None => Bound::Unbounded,
        };
        self.by_updated
            .range((start, Bound::Unbounded))
            .filter_map(|(_, id)| self.find(&AppId::new(id.as_str())))
    }

    fn index(&mut self, at: usize, keys: Keys<'_>) {
        let record = &self.records[at];
        self.by_id.insert(record.id.clone(), at);
        self.by_updated
            .insert((record.updated_at, record.id.as_str().to_owned()));
        if let Some(marker) = record.properties.get(keys.marker).and_then(text) {
            add_to(&mut self.by_marker, marker, at);
        }
        if let Some(natural) = keys
            .natural
            .and_then(|key| record.properties.get(key))
            .and_then(folded)
        {
            add_to(&mut self.by_natural, natural, at);
        }
    }

    fn unindex(&mut self, at: usize, keys: Keys<'_>) {
        let record = &self.records[at];
        self.by_updated
            .remove(&(record.updated_at, record.id.as_str().to_owned()));
        if let Some(marker) = record.properties.get(keys.marker).and_then(text) {
            remove_from(&mut self.by_marker, &marker, at);
        }
        if let Some(natural) = keys
            .natural
            .and_then(|key| record.properties.get(key))
            .and_then(folded)
        {
            remove_from(&mut self.by_natural, &natural, at);
        }
    }
}

/// Adds position `at` under `key`, keeping the positions ascending and each once.
fn add_to(index: &mut HashMap<String, Vec<usize>>, key: String, at: usize) {
    let positions = index.entry(key).or_default();
    if let Err(slot) = positions.binary_search(&at) {
        positions.insert(slot, at);
    }
}

fn remove_from(index: &mut HashMap<String, Vec<usize>>, key: &str, at: usize) {
    if let Some(positions) = index.get_mut(key) {
        if let Ok(slot) = positions.binary_search(&at) {
            positions.remove(slot);
        }
        if positions.is_empty() {
            index.remove(key);
        }
    }
}
