//! The id-map rules of `save_idmaps`, applied to a snapshot of the items a batch touches.
//!
//! Pure logic (no I/O): [`crate::idmap_items`] reads the snapshot, applies every map of the batch in
//! order, and writes the items whose content changed, each conditioned on what was read.

use std::collections::HashMap;

use sync_core::domain::{AppId, HubId, IdMap};
use sync_core::error::StoreError;

use crate::attr::esc;

/// The content of one id-map item.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Slot {
    /// No item.
    Absent,
    /// The id-map itself (under its hub item, or under its app item when it has no hub id).
    Record { map: Box<IdMap>, created_ms: i64 },
    /// An app item taken by this hub id (the record lives under the hub item).
    Pointer { hub: String },
}

/// One item of the snapshot: as read, and as the batch leaves it.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// `ver` as read; `None` when the item did not exist.
    pub read_ver: Option<i64>,
    pub read: Slot,
    pub current: Slot,
}

impl Entry {
    pub(crate) fn new(read_ver: Option<i64>, read: Slot) -> Self {
        Self {
            read_ver,
            current: read.clone(),
            read,
        }
    }
}

/// `MAP#<org>#<entity>#HUB#<hub id>`.
pub(crate) fn hub_pk(org: &str, entity: &str, hub: &str) -> String {
    format!("MAP#{}#{}#HUB#{}", esc(org), esc(entity), esc(hub))
}

/// `MAP#<org>#<entity>#APP#<app id>`.
pub(crate) fn app_pk(org: &str, entity: &str, app: &str) -> String {
    format!("MAP#{}#{}#APP#{}", esc(org), esc(entity), esc(app))
}

/// The items a map may touch.
pub(crate) fn keys_of(map: &IdMap) -> Vec<String> {
    let (org, entity) = (map.org.as_str(), map.entity.as_str());
    let mut keys = Vec::with_capacity(2);
    if let Some(hub) = &map.hub_id {
        keys.push(hub_pk(org, entity, hub.as_str()));
    }
    if let Some(app) = &map.app_id {
        keys.push(app_pk(org, entity, app.as_str()));
    }
    keys
}

/// Refuses a map that nothing identifies (same message as the embedded store).
pub(crate) fn check_identified(map: &IdMap) -> Result<(), StoreError> {
    if map.hub_id.is_none() && map.app_id.is_none() {
        return Err(StoreError::Conflict(format!(
            "an id-map of entity {} (organization {}) has neither a hub id nor an app id, so \
             nothing identifies it",
            map.entity, map.org
        )));
    }
    Ok(())
}

/// A stored row as the rules see it: where it lives and its ids.
struct Row {
    pk: String,
    hub: Option<String>,
    app: Option<String>,
    created_ms: Option<i64>,
}

fn conflict(message: String) -> StoreError {
    StoreError::Conflict(message)
}

/// The items of a batch, keyed by `PK`.
#[derive(Default)]
pub(crate) struct Snapshot {
    pub entries: HashMap<String, Entry>,
}

impl Snapshot {
    fn slot(&self, pk: &str) -> &Slot {
        self.entries.get(pk).map_or(&Slot::Absent, |e| &e.current)
    }

    fn set(&mut self, pk: String, slot: Slot) {
        self.entries
            .entry(pk)
            .or_insert_with(|| Entry::new(None, Slot::Absent))
            .current = slot;
    }

    /// Applies one map with the embedded store's rules; returns the keys it wrote.
    pub(crate) fn apply(&mut self, map: &IdMap, now_ms: i64) -> Result<Vec<String>, StoreError> {
        check_identified(map)?;
        let org = map.org.as_str();
        let entity = map.entity.as_str();
        let hub = map.hub_id.as_ref().map(HubId::as_str);
        let app = map.app_id.as_ref().map(AppId::as_str);

        let by_hub = hub.and_then(|h| {
            let pk = hub_pk(org, entity, h);
            match self.slot(&pk) {
                Slot::Record { map, created_ms } => Some(Row {
                    hub: Some(h.to_owned()),
                    app: map.app_id.as_ref().map(|a| a.as_str().to_owned()),
                    created_ms: Some(*created_ms),
                    pk,
                }),
                _ => None,
            }
        });
        let mut by_app = app.and_then(|a| {
            let pk = app_pk(org, entity, a);
            match self.slot(&pk) {
                Slot::Record { map, created_ms } => Some(Row {
                    hub: map.hub_id.as_ref().map(|h| h.as_str().to_owned()),
                    app: Some(a.to_owned()),
                    created_ms: Some(*created_ms),
                    pk,
                }),
                Slot::Pointer { hub: other } => Some(Row {
                    pk: hub_pk(org, entity, other),
                    hub: Some(other.clone()),
                    app: Some(a.to_owned()),
                    created_ms: None,
                }),
                Slot::Absent => None,
            }
        });

        // Two half-known rows (hub id only, app id only) that this map links are one record
        // seen from both sides: the hub-side row is kept, the app row becomes its pointer.
        if let (Some(h), Some(a)) = (&by_hub, &by_app)
            && h.pk != a.pk
            && h.app.is_none()
            && a.hub.is_none()
        {
            by_app = None;
        }
        if let (Some(h), Some(a), Some(hub), Some(app)) = (&by_hub, &by_app, hub, app)
            && h.pk != a.pk
        {
            return Err(conflict(match &a.hub {
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
        if let Some(stored) = &target {
            if let Some(stored_hub) = &stored.hub
                && hub != Some(stored_hub.as_str())
            {
                return Err(conflict(format!(
                    "app id {} of entity {entity} (organization {org}) is already mapped to hub \
                     id {stored_hub}",
                    app.unwrap_or("?")
                )));
            }
            if let Some(stored_app) = &stored.app
                && app != Some(stored_app.as_str())
            {
                return Err(conflict(format!(
                    "hub id {} of entity {entity} (organization {org}) is already mapped to app \
                     id {stored_app}",
                    hub.unwrap_or("?")
                )));
            }
        }
        let created_ms = target.and_then(|t| t.created_ms).unwrap_or(now_ms);
        let mut touched = Vec::with_capacity(2);
        match (hub, app) {
            (Some(h), app) => {
                let pk = hub_pk(org, entity, h);
                self.set(
                    pk.clone(),
                    Slot::Record {
                        map: Box::new(map.clone()),
                        created_ms,
                    },
                );
                touched.push(pk);
                if let Some(a) = app {
                    let pk = app_pk(org, entity, a);
                    self.set(pk.clone(), Slot::Pointer { hub: h.to_owned() });
                    touched.push(pk);
                }
            }
            (None, Some(a)) => {
                let pk = app_pk(org, entity, a);
                self.set(
                    pk.clone(),
                    Slot::Record {
                        map: Box::new(map.clone()),
                        created_ms,
                    },
                );
                touched.push(pk);
            }
            (None, None) => unreachable!("checked by check_identified"),
        }
        Ok(touched)
    }
}

/// Groups keys that must be written together (keys touched by one map, transitively), so that
/// a large batch can be split into transactions without splitting a map.
pub(crate) fn groups(touched: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut parent: HashMap<String, String> = HashMap::new();
    fn find(parent: &mut HashMap<String, String>, key: &str) -> String {
        let mut root = key.to_owned();
        while let Some(next) = parent.get(&root)
            && *next != root
        {
            root = next.clone();
        }
        root
    }
    for keys in touched {
        for key in keys {
            parent.entry(key.clone()).or_insert_with(|| key.clone());
        }
        if let Some(first) = keys.first() {
            let root = find(&mut parent, first);
            for key in &keys[1..] {
                let other = find(&mut parent, key);
                if other != root {
                    parent.insert(other, root.clone());
                }
            }
        }
    }
    let mut order: Vec<String> = Vec::new();
    let mut by_root: HashMap<String, Vec<String>> = HashMap::new();
    for keys in touched {
        for key in keys {
            let root = find(&mut parent, key);
            let group = by_root.entry(root.clone()).or_insert_with(|| {
                order.push(root.clone());
                Vec::new()
            });
            if !group.contains(key) {
                group.push(key.clone());
            }
        }
    }
    order
        .into_iter()
        .filter_map(|root| by_root.remove(&root))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_core::domain::{EntityName, OrgId};

    fn map(hub: Option<&str>, app: Option<&str>) -> IdMap {
        let mut m = IdMap::new(OrgId::new("o"), EntityName::new("people"));
        m.hub_id = hub.map(HubId::new);
        m.app_id = app.map(AppId::new);
        m
    }

    #[test]
    fn merges_half_known_rows_into_the_hub_row() {
        let mut snap = Snapshot::default();
        snap.apply(&map(Some("h"), None), 1).unwrap();
        snap.apply(&map(None, Some("a")), 2).unwrap();
        snap.apply(&map(Some("h"), Some("a")), 3).unwrap();
        let hub = &snap.entries[&hub_pk("o", "people", "h")].current;
        assert!(matches!(hub, Slot::Record { created_ms: 1, .. }));
        let app = &snap.entries[&app_pk("o", "people", "a")].current;
        assert_eq!(app, &Slot::Pointer { hub: "h".into() });
    }

    #[test]
    fn never_relinks() {
        let mut snap = Snapshot::default();
        snap.apply(&map(Some("h1"), Some("a")), 1).unwrap();
        let err = snap.apply(&map(Some("h2"), Some("a")), 2).unwrap_err();
        assert!(
            err.to_string().contains("already mapped to hub id h1"),
            "{err}"
        );
        let err = snap.apply(&map(Some("h1"), Some("b")), 2).unwrap_err();
        assert!(
            err.to_string().contains("already mapped to app id a"),
            "{err}"
        );
        let err = snap.apply(&map(Some("h1"), None), 2).unwrap_err();
        assert!(
            err.to_string().contains("already mapped to app id a"),
            "{err}"
        );
        let err = snap.apply(&map(None, None), 2).unwrap_err();
        assert!(
            err.to_string().contains("neither a hub id nor an app id"),
            "{err}"
        );
    }

    #[test]
    fn groups_keep_a_map_together() {
        let touched = vec![
            vec!["a".to_owned(), "b".to_owned()],
            vec!["c".to_owned()],
            vec!["b".to_owned(), "d".to_owned()],
        ];
        let groups = groups(&touched);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0], vec!["a", "b", "d"]);
        assert_eq!(groups[1], vec!["c"]);
    }
}
