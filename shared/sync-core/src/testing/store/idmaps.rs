//! The in-memory id-map table: rows with unique indexes on hub id and app id, and the save
//! rules of the embedded store (fill a missing side, merge two half-known rows, refuse re-links).

use foldhash::{HashMap, HashSet};

use crate::domain::{AppId, EntityName, HubId, IdMap, OrgId};
use crate::error::StoreError;

/// An index of one side: organization -> entity -> id -> row (nested, so that a lookup
/// borrows its keys instead of building them).
pub(super) type Index = HashMap<OrgId, HashMap<EntityName, HashMap<String, u64>>>;

fn ids_of<'a>(
    index: &'a Index,
    org: &OrgId,
    entity: &EntityName,
) -> Option<&'a HashMap<String, u64>> {
    index.get(org)?.get(entity)
}

/// Id-map rows by number (1, 2, ...: the order of their first save), in a vector indexed by
/// number, as a `BTreeMap<u64, IdMap>` would hold them (a test compares the two): a B-tree
/// of rows this large moves whole id-maps about its nodes on every insert and walks several
/// nodes per lookup. Removed rows leave a hole; numbers are never reused
/// (except those a rollback gives back).
#[derive(Clone, Default)]
pub(super) struct Rows {
    slots: Vec<Option<IdMap>>,
    len: usize,
}

impl Rows {
    /// The slot of a row: its number (the table numbers from 1: slot 0 stays empty).
    fn slot(row: u64) -> usize {
        usize::try_from(row).expect("a row number fits in memory")
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn get(&self, row: &u64) -> Option<&IdMap> {
        self.slots.get(Self::slot(*row))?.as_ref()
    }

    /// Puts `map` at `row`; the map that was there, if any.
    pub(super) fn insert(&mut self, row: u64, map: IdMap) -> Option<IdMap> {
        let at = Self::slot(row);
        if at >= self.slots.len() {
            self.slots.resize_with(at + 1, || None);
        }
        let before = self.slots[at].replace(map);
        if before.is_none() {
            self.len += 1;
        }
        before
    }

    pub(super) fn remove(&mut self, row: &u64) -> Option<IdMap> {
        let before = self.slots.get_mut(Self::slot(*row))?.take();
        if before.is_some() {
            self.len -= 1;
        }
        before
    }

    /// Removes the rows numbered `from` and after, and returns them in order.
    pub(super) fn split_off(&mut self, from: &u64) -> Vec<(u64, IdMap)> {
        let at = Self::slot(*from).min(self.slots.len());
        let tail: Vec<(u64, IdMap)> = self
            .slots
            .split_off(at)
            .into_iter()
            .zip(*from..)
            .filter_map(|(map, row)| Some((row, map?)))
            .collect();
        self.len -= tail.len();
        tail
    }

    /// Rows in number order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &IdMap)> {
        self.slots
            .iter()
            .zip(0..)
            .filter_map(|(map, row)| Some((row, map.as_ref()?)))
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &IdMap> {
        self.iter().map(|(_, map)| map)
    }
}

impl std::ops::Index<&u64> for Rows {
    type Output = IdMap;

    fn index(&self, row: &u64) -> &IdMap {
        self.get(row).expect("a row of the table")
    }
}

/// Id-map rows by insertion number, with unique indexes on hub id and app id.
#[derive(Clone, Default)]
pub(super) struct IdMaps {
    pub(super) rows: Rows,
    pub(super) by_hub: Index,
    pub(super) by_app: Index,
    pub(super) next_row: u64,
    /// While a batch is saved: each row it touched as it was before, to undo the batch (a
    /// batch is all or nothing without copying the whole table).
    journal: Option<Journal>,
}

#[derive(Clone, Default)]
struct Journal {
    /// Rows that existed before the batch, as they were (rows the batch created are those
    /// numbered after `next_row`: undone without a copy).
    before: Vec<(u64, IdMap)>,
    touched: HashSet<u64>,
    next_row: u64,
}

fn hub_id(map: &IdMap) -> Option<&str> {
    map.hub_id.as_ref().map(HubId::as_str)
}

fn app_id(map: &IdMap) -> Option<&str> {
    map.app_id.as_ref().map(AppId::as_str)
}

fn lookup(index: &Index, map: &IdMap, id: Option<&str>) -> Option<u64> {
    ids_of(index, &map.org, &map.entity)?.get(id?).copied()
}

fn insert(index: &mut Index, map: &IdMap, id: Option<&str>, row: u64) {
    let Some(id) = id else { return };
    // The organization and entity are named anew only for their first row.
    if !index.contains_key(&map.org) {
        index.insert(map.org.clone(), HashMap::default());
    }
    let entities = index.get_mut(&map.org).expect("inserted above");
    if !entities.contains_key(&map.entity) {
        entities.insert(map.entity.clone(), HashMap::default());
    }
    let ids = entities.get_mut(&map.entity).expect("inserted above");
    ids.insert(id.to_owned(), row);
}

/// Removes `id` from the index, only where it names `row` when `row` is given.
fn remove(index: &mut Index, map: &IdMap, id: Option<&str>, row: Option<u64>) {
    let (Some(id), Some(ids)) = (
        id,
        index
            .get_mut(&map.org)
            .and_then(|entities| entities.get_mut(&map.entity)),
    ) else {
        return;
    };
    if row.is_none_or(|row| ids.get(id) == Some(&row)) {
        ids.remove(id);
    }
}

fn conflict(message: String) -> StoreError {
    StoreError::Conflict(message)
}

impl IdMaps {
    /// Starts a batch: what it changes can be undone until [`commit`](Self::commit).
    pub(super) fn begin(&mut self) {
        self.journal = Some(Journal {
            next_row: self.next_row,
            ..Journal::default()
        });
    }

    /// Keeps the batch.
    pub(super) fn commit(&mut self) {
        self.journal = None;
    }

    /// Undoes the batch: every row it touched as it was, and the indexes with them.
    pub(super) fn rollback(&mut self) {
        let Some(journal) = self.journal.take() else {
            return;
        };
        for (row, created) in self.rows.split_off(&(journal.next_row + 1)) {
            remove(&mut self.by_hub, &created, hub_id(&created), Some(row));
            remove(&mut self.by_app, &created, app_id(&created), Some(row));
        }
        for (row, _) in &journal.before {
            if let Some(current) = self.rows.remove(row) {
                remove(&mut self.by_hub, &current, hub_id(&current), Some(*row));
                remove(&mut self.by_app, &current, app_id(&current), Some(*row));
            }
        }
        for (row, map) in journal.before {
            insert(&mut self.by_hub, &map, hub_id(&map), row);
            insert(&mut self.by_app, &map, app_id(&map), row);
            self.rows.insert(row, map);
        }
        self.next_row = journal.next_row;
    }

    /// Keeps a row the batch replaced or removed as it was before the batch (only its first
    /// version; rows the batch created need nothing).
    fn remember(&mut self, row: u64, before: IdMap) {
        if let Some(journal) = &mut self.journal
            && row <= journal.next_row
            && journal.touched.insert(row)
        {
            journal.before.push((row, before));
        }
    }

    /// Removes a row and its index entries.
    pub(super) fn unindex(&mut self, row: u64) {
        let Some(map) = self.rows.remove(&row) else {
            return;
        };
        remove(&mut self.by_hub, &map, hub_id(&map), None);
        remove(&mut self.by_app, &map, app_id(&map), None);
        self.remember(row, map);
    }

    pub(super) fn put(&mut self, row: u64, map: IdMap) {
        // Same ids (a later save of a known row): the indexes stay as they are.
        if let Some(stored) = self.rows.get(&row)
            && stored.org == map.org
            && stored.entity == map.entity
            && stored.hub_id == map.hub_id
            && stored.app_id == map.app_id
        {
            if let Some(before) = self.rows.insert(row, map) {
                self.remember(row, before);
            }
            return;
        }
        // Same organization and entity (a side filled in): only the index of a changed id
        // moves.
        if let Some(stored) = self.rows.get(&row)
            && stored.org == map.org
            && stored.entity == map.entity
        {
            if stored.hub_id != map.hub_id {
                remove(&mut self.by_hub, stored, hub_id(stored), None);
                insert(&mut self.by_hub, &map, hub_id(&map), row);
            }
            if stored.app_id != map.app_id {
                remove(&mut self.by_app, stored, app_id(stored), None);
                insert(&mut self.by_app, &map, app_id(&map), row);
            }
            if let Some(before) = self.rows.insert(row, map) {
                self.remember(row, before);
            }
            return;
        }
        self.unindex(row);
        insert(&mut self.by_hub, &map, hub_id(&map), row);
        insert(&mut self.by_app, &map, app_id(&map), row);
        self.rows.insert(row, map);
    }

    /// The embedded store's `save_idmap`, rule for rule.
    pub(super) fn save(&mut self, map: &IdMap) -> Result<(), StoreError> {
        let (org, entity) = (map.org.as_str(), map.entity.as_str());
        let hub = map.hub_id.as_ref().map(HubId::as_str);
        let app = map.app_id.as_ref().map(AppId::as_str);
        if hub.is_none() && app.is_none() {
            return Err(conflict(format!(
                "an id-map of entity {entity} (organization {org}) has neither a hub id nor an \
                 app id, so nothing identifies it"
            )));
        }
        let by_hub = lookup(&self.by_hub, map, hub);
        let mut by_app = lookup(&self.by_app, map, app);
        // Two half-known rows that this map links: the same record seen from both sides.
        if let (Some(h), Some(a)) = (by_hub, by_app)
            && h != a
            && self.rows[&h].app_id.is_none()
            && self.rows[&a].hub_id.is_none()
        {
            self.unindex(a);
            by_app = None;
        }
        if let (Some(h), Some(a), Some(hub), Some(app)) = (by_hub, by_app, hub, app)
            && h != a
        {
            return Err(conflict(match &self.rows[&a].hub_id {
                Some(other) => format!(
                    "app id {app} of entity {entity} (organization {org}) is already mapped to \
                     hub id {other}"
                ),
                None => format!(
                    "app id {app} of entity {entity} (organization {org}) already has its own \
                     id-map, and hub id {hub} has another one"
                ),
            }));
        }
        let target = by_hub.or(by_app);
        if let Some(row) = target {
            let stored = &self.rows[&row];
            if let Some(stored_hub) = &stored.hub_id
                && hub != Some(stored_hub.as_str())
            {
                return Err(conflict(format!(
                    "app id {} of entity {entity} (organization {org}) is already mapped to hub \
                     id {stored_hub}",
                    app.unwrap_or("?")
                )));
            }
            if let Some(stored_app) = &stored.app_id
                && app != Some(stored_app.as_str())
            {
                return Err(conflict(format!(
                    "hub id {} of entity {entity} (organization {org}) is already mapped to app \
                     id {stored_app}",
                    hub.unwrap_or("?")
                )));
            }
        }
        let row = target.unwrap_or_else(|| {
            self.next_row += 1;
            self.next_row
        });
        self.put(row, map.clone());
        Ok(())
    }

    pub(super) fn find<'a>(
        &self,
        index: &Index,
        org: &OrgId,
        entity: &EntityName,
        ids: impl Iterator<Item = &'a str>,
    ) -> Vec<IdMap> {
        let Some(index) = ids_of(index, org, entity) else {
            return Vec::new();
        };
        // Sorted and deduplicated in a vector: a set would allocate a node per few rows.
        let mut rows: Vec<u64> = ids.filter_map(|id| index.get(id).copied()).collect();
        rows.sort_unstable();
        rows.dedup();
        rows.iter().map(|row| self.rows[row].clone()).collect()
    }
}

pub(super) fn list(maps: &IdMaps, org: &OrgId, entity: Option<&EntityName>) -> Vec<IdMap> {
    let mut found: Vec<&IdMap> = maps
        .rows
        .values()
        .filter(|m| &m.org == org && entity.is_none_or(|e| &m.entity == e))
        .collect();
    // Stable: insertion order within an entity.
    found.sort_by(|a, b| a.entity.cmp(&b.entity));
    found.into_iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(hub: Option<&str>, app: Option<&str>) -> IdMap {
        let mut map = IdMap::new(OrgId::new("org"), EntityName::new("people"));
        map.hub_id = hub.map(HubId::new);
        map.app_id = app.map(AppId::new);
        map
    }

    fn by_hub(maps: &IdMaps, id: &str) -> Vec<IdMap> {
        maps.find(
            &maps.by_hub,
            &OrgId::new("org"),
            &EntityName::new("people"),
            [id].into_iter(),
        )
    }

    fn by_app(maps: &IdMaps, id: &str) -> Vec<IdMap> {
        maps.find(
            &maps.by_app,
            &OrgId::new("org"),
            &EntityName::new("people"),
            [id].into_iter(),
        )
    }

    /// The rows behave as the `BTreeMap` they replaced, operation for operation.
    #[test]
    fn rows_answer_as_a_btree_map_of_them_would() {
        use std::collections::BTreeMap;
        let mut rows = Rows::default();
        let mut tree: BTreeMap<u64, IdMap> = BTreeMap::new();
        let mut seed = 7u64;
        let mut next = |bound: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % bound
        };
        for step in 0..2000u64 {
            let row = next(40);
            match next(10) {
                0..=4 => {
                    let map = map(Some(&format!("h-{step}")), None);
                    assert_eq!(rows.insert(row, map.clone()), tree.insert(row, map));
                }
                5..=7 => assert_eq!(rows.remove(&row), tree.remove(&row)),
                8 => {
                    let tail: Vec<(u64, IdMap)> = tree.split_off(&row).into_iter().collect();
                    assert_eq!(rows.split_off(&row), tail);
                }
                _ => assert_eq!(rows.get(&row), tree.get(&row)),
            }
            assert_eq!(rows.len(), tree.len());
            let ours: Vec<(u64, &IdMap)> = rows.iter().collect();
            let theirs: Vec<(u64, &IdMap)> = tree.iter().map(|(r, m)| (*r, m)).collect();
            assert_eq!(ours, theirs, "step {step}");
        }
    }

    #[test]
    fn filling_in_a_side_indexes_the_new_id_and_keeps_the_other() {
        let mut maps = IdMaps::default();
        maps.save(&map(Some("h-1"), None)).unwrap();
        maps.save(&map(None, Some("a-2"))).unwrap();
        maps.save(&map(Some("h-1"), Some("a-1"))).unwrap();
        maps.save(&map(Some("h-2"), Some("a-2"))).unwrap();

        for (hub, app) in [("h-1", "a-1"), ("h-2", "a-2")] {
            let both = vec![map(Some(hub), Some(app))];
            assert_eq!(by_hub(&maps, hub), both);
            assert_eq!(by_app(&maps, app), both);
        }
        assert_eq!(maps.rows.len(), 2);
        // A re-link of a known side is still refused, and changes nothing.
        assert!(maps.save(&map(Some("h-1"), Some("a-9"))).is_err());
        assert!(by_app(&maps, "a-9").is_empty());
        assert_eq!(by_app(&maps, "a-1"), vec![map(Some("h-1"), Some("a-1"))]);
    }

    #[test]
    fn a_rollback_undoes_created_merged_and_changed_rows_with_their_indexes() {
        let mut maps = IdMaps::default();
        maps.save(&map(Some("h-1"), None)).unwrap();
        maps.save(&map(None, Some("a-1"))).unwrap();
        maps.save(&map(Some("h-2"), Some("a-2"))).unwrap();
        let before: Vec<(u64, IdMap)> = maps.rows.iter().map(|(r, m)| (r, m.clone())).collect();

        maps.begin();
        // Created, created then changed, two half rows merged, a known row changed.
        maps.save(&map(Some("h-new"), None)).unwrap();
        maps.save(&map(Some("h-3"), None)).unwrap();
        maps.save(&map(Some("h-3"), Some("a-3"))).unwrap();
        maps.save(&map(Some("h-1"), Some("a-1"))).unwrap();
        let mut renamed = map(Some("h-2"), Some("a-2"));
        renamed.name = Some("Renamed".into());
        maps.save(&renamed).unwrap();
        maps.rollback();

        let after: Vec<(u64, IdMap)> = maps.rows.iter().map(|(r, m)| (r, m.clone())).collect();
        assert_eq!(after, before);
        assert_eq!(maps.next_row, 3);
        for gone in ["h-new", "h-3"] {
            assert!(by_hub(&maps, gone).is_empty(), "{gone}");
        }
        assert!(by_app(&maps, "a-3").is_empty());
        assert_eq!(by_hub(&maps, "h-1"), vec![map(Some("h-1"), None)]);
        assert_eq!(by_app(&maps, "a-1"), vec![map(None, Some("a-1"))]);
        assert_eq!(by_app(&maps, "a-2"), vec![map(Some("h-2"), Some("a-2"))]);

        // The table goes on numbering from where it was.
        maps.save(&map(Some("h-4"), None)).unwrap();
        let numbers: Vec<u64> = maps.rows.iter().map(|(row, _)| row).collect();
        assert_eq!(numbers, [1, 2, 3, 4]);
    }
}
