//! The in-memory id-map table: rows with unique indexes on hub id and app id, and the save
//! rules of the embedded store (fill a missing side, merge two half-known rows, refuse re-links).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::domain::{AppId, EntityName, HubId, IdMap, OrgId};
use crate::error::StoreError;

pub(super) type IdKey = (OrgId, EntityName, String);

/// Id-map rows by insertion number, with unique indexes on hub id and app id.
#[derive(Clone, Default)]
pub(super) struct IdMaps {
    pub(super) rows: BTreeMap<u64, IdMap>,
    pub(super) by_hub: HashMap<IdKey, u64>,
    pub(super) by_app: HashMap<IdKey, u64>,
    pub(super) next_row: u64,
}

fn hub_key(map: &IdMap) -> Option<IdKey> {
    map.hub_id
        .as_ref()
        .map(|id| (map.org.clone(), map.entity.clone(), id.as_str().to_owned()))
}

fn app_key(map: &IdMap) -> Option<IdKey> {
    map.app_id
        .as_ref()
        .map(|id| (map.org.clone(), map.entity.clone(), id.as_str().to_owned()))
}

fn conflict(message: String) -> StoreError {
    StoreError::Conflict(message)
}

impl IdMaps {
    pub(super) fn unindex(&mut self, row: u64) -> Option<IdMap> {
        let map = self.rows.remove(&row)?;
        if let Some(key) = hub_key(&map) {
            self.by_hub.remove(&key);
        }
        if let Some(key) = app_key(&map) {
            self.by_app.remove(&key);
        }
        Some(map)
    }

    pub(super) fn put(&mut self, row: u64, map: IdMap) {
        self.unindex(row);
        if let Some(key) = hub_key(&map) {
            self.by_hub.insert(key, row);
        }
        if let Some(key) = app_key(&map) {
            self.by_app.insert(key, row);
        }
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
        let by_hub = hub_key(map).and_then(|k| self.by_hub.get(&k).copied());
        let mut by_app = app_key(map).and_then(|k| self.by_app.get(&k).copied());
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
        index: &HashMap<IdKey, u64>,
        org: &OrgId,
        entity: &EntityName,
        ids: impl Iterator<Item = &'a str>,
    ) -> Vec<IdMap> {
        let rows: BTreeSet<u64> = ids
            .filter_map(|id| {
                index
                    .get(&(org.clone(), entity.clone(), id.to_owned()))
                    .copied()
            })
            .collect();
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
