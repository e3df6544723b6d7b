//! The links a page's references point to, looked up once per referenced entity and page.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet};
use serde_json::Value;

use super::phase::Phase;
use crate::domain::{AppId, EntityName, HubId};
use crate::error::StoreError;

/// Reference values resolved through the id-maps for one page, by referenced entity (so a
/// lookup borrows the entity's name instead of building a key per record).
#[derive(Default)]
pub(crate) struct RefIndex {
    /// Hub id -> app id, for active links.
    pub(super) hub_to_app: HashMap<String, HashMap<HubId, AppId>>,
    /// App id -> hub id, for active links.
    pub(super) app_to_hub: HashMap<String, HashMap<AppId, HubId>>,
    /// Referenced hub records whose link is inactive: left out of what the app receives.
    pub(super) archived_hub: HashMap<String, HashSet<HubId>>,
    /// Referenced hub records deleted before they ever travelled: the app can never hold the
    /// reference, so it is "none" on both sides.
    pub(super) gone_hub: HashMap<String, HashSet<HubId>>,
    /// Referenced app records deleted before they ever travelled: references resolve to none.
    pub(super) gone_app: HashMap<String, HashSet<AppId>>,
}

/// Adds `id` to `entity`'s set, naming the entity anew only for its first id.
fn want<K: std::hash::Hash + Eq>(wanted: &mut BTreeMap<String, HashSet<K>>, entity: &str, id: K) {
    match wanted.get_mut(entity) {
        Some(set) => {
            set.insert(id);
        }
        None => {
            let mut set = HashSet::default();
            set.insert(id);
            wanted.insert(entity.to_owned(), set);
        }
    }
}

/// Whether `entity`'s set holds `id`.
pub(super) fn holds<K: std::hash::Hash + Eq>(
    sets: &HashMap<String, HashSet<K>>,
    entity: &str,
    id: &K,
) -> bool {
    sets.get(entity).is_some_and(|set| set.contains(id))
}

impl Phase<'_> {
    /// Looks up the links of every hub record the records' references point to.
    pub(crate) async fn hub_refs<'r>(
        &self,
        records: impl Iterator<Item = &'r Value>,
    ) -> Result<RefIndex, StoreError> {
        let hub = self.engine.hub.as_ref();
        let mut wanted: BTreeMap<String, HashSet<HubId>> = BTreeMap::new();
        for record in records {
            for reference in self.pair.mapping.references() {
                for value in reference.hub.get_all(record) {
                    if let Some(id) = hub.reference_target(value) {
                        want(&mut wanted, &reference.entity, id);
                    }
                }
            }
        }
        let mut index = RefIndex::default();
        for (entity, ids) in wanted {
            let ids: Vec<HubId> = ids.into_iter().collect();
            for map in self
                .store()
                .idmaps_by_hub_ids(&self.org.id, &EntityName::new(entity.clone()), &ids)
                .await?
            {
                let Some(hub_id) = map.hub_id else { continue };
                if map.inactive && map.app_id.is_none() {
                    index
                        .gone_hub
                        .entry(entity.clone())
                        .or_default()
                        .insert(hub_id);
                } else if map.inactive {
                    index
                        .archived_hub
                        .entry(entity.clone())
                        .or_default()
                        .insert(hub_id);
                } else if let Some(app_id) = map.app_id {
                    index
                        .hub_to_app
                        .entry(entity.clone())
                        .or_default()
                        .insert(hub_id, app_id);
                }
            }
        }
        Ok(index)
    }

    /// Looks up the links of every app record the records' references point to.
    pub(crate) async fn app_refs<'r>(
        &self,
        records: impl Iterator<Item = &'r Value>,
    ) -> Result<RefIndex, StoreError> {
        let mut wanted: BTreeMap<String, HashSet<AppId>> = BTreeMap::new();
        for record in records {
            for reference in self.pair.mapping.references() {
                for value in reference.app.get_all(record) {
                    if let Some(id) = scalar_id(value) {
                        want(&mut wanted, &reference.entity, AppId::new(id));
                    }
                }
            }
        }
        let mut index = RefIndex::default();
        for (entity, ids) in wanted {
            let ids: Vec<AppId> = ids.into_iter().collect();
            for map in self
                .store()
                .idmaps_by_app_ids(&self.org.id, &EntityName::new(entity.clone()), &ids)
                .await?
            {
                // Inactive links translate too: Connec! keeps references to INACTIVE records,
                // and the hash must not move when the referenced record is archived. A record
                // deleted before it ever travelled has no hub id: its reference is "none".
                match (map.app_id, map.hub_id) {
                    (Some(app_id), Some(hub_id)) => {
                        index
                            .app_to_hub
                            .entry(entity.clone())
                            .or_default()
                            .insert(app_id, hub_id);
                    }
                    (Some(app_id), None) if map.inactive => {
                        index
                            .gone_app
                            .entry(entity.clone())
                            .or_default()
                            .insert(app_id);
                    }
                    _ => {}
                }
            }
        }
        Ok(index)
    }
}

/// An id given as a string or a number; empty strings and nulls are "no reference".
pub(crate) fn scalar_id(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
