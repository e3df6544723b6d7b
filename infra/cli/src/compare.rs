//! The check that both sides agree after a sync: every active record on each side linked to
//! exactly one on the other, with equal mapped fields (re-exported by [`crate::wiring`]).

use std::collections::{HashMap, HashSet};

use connec::record;
use serde_json::Value;
use sync_core::domain::OrgId;
use sync_core::ports::{AppConnector, SyncStore};

/// A mismatch between the two sides.
#[derive(Debug, Clone, PartialEq)]
pub struct Disagreement {
    /// Entity pair.
    pub entity: String,
    /// What differs.
    pub detail: String,
}

/// Compares active hub records with app records through the id-map and the mappings: every
/// active record on each side is linked to exactly one on the other, with equal mapped fields.
pub async fn compare_sides(
    store: &dyn SyncStore,
    org: &OrgId,
    connector: &dyn AppConnector,
    hub_records: &HashMap<String, Vec<Value>>,
    app_records: &HashMap<String, Vec<Value>>,
) -> Result<Vec<Disagreement>, sync_core::error::StoreError> {
    let mut problems = Vec::new();
    // app id -> hub id per entity, from the id-map.
    let mut app_to_hub: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut hub_to_app: HashMap<String, HashMap<String, String>> = HashMap::new();
    for pair in connector.entities() {
        let mut offset = 0;
        loop {
            let maps = store
                .list_idmaps(org, Some(&pair.hub), offset, 1000)
                .await?;
            if maps.is_empty() {
                break;
            }
            offset += maps.len();
            for map in maps {
                if let (Some(hub), Some(app), false) = (map.hub_id, map.app_id, map.inactive) {
                    app_to_hub
                        .entry(pair.hub.to_string())
                        .or_default()
                        .insert(app.to_string(), hub.to_string());
                    hub_to_app
                        .entry(pair.hub.to_string())
                        .or_default()
                        .insert(hub.to_string(), app.to_string());
                }
            }
        }
    }
    for pair in connector.entities() {
        let entity = pair.hub.to_string();
        let empty = Vec::new();
        let hubs = hub_records.get(&entity).unwrap_or(&empty);
        let apps = app_records.get(pair.app.as_str()).unwrap_or(&empty);
        let links = hub_to_app.get(&entity).cloned().unwrap_or_default();
        let mut app_by_id: HashMap<String, &Value> = HashMap::new();
        for app in apps {
            if let Ok(meta) = connector.describe(&pair.app, app)
                && !meta.archived
            {
                app_by_id.insert(meta.id.to_string(), app);
            }
        }
        let mut seen_apps = HashSet::new();
        for hub in hubs.iter().filter(|h| !record::is_inactive(h)) {
            let Some(hub_id) = record::hub_id(hub) else {
                continue;
            };
            let Some(app_id) = links.get(hub_id.as_str()) else {
                problems.push(Disagreement {
                    entity: entity.clone(),
                    detail: format!("hub record {hub_id} is not linked to any app record"),
                });
                continue;
            };
            seen_apps.insert(app_id.clone());
            let Some(app) = app_by_id.get(app_id) else {
                problems.push(Disagreement {
                    entity: entity.clone(),
                    detail: format!("hub record {hub_id} is linked to app record {app_id}, which is missing or archived"),
                });
                continue;
            };
            let mut plain = hub.clone();
            let mut translated = (*app).clone();
            for reference in pair.mapping.references() {
                let _ = reference
                    .hub
                    .rewrite(&mut plain, |v| -> Result<Option<Value>, ()> {
                        Ok(Some(
                            record::connec_ref(v)
                                .map_or(v.clone(), |id| Value::String(id.to_string())),
                        ))
                    });
                let lookup = app_to_hub
                    .get(&reference.entity)
                    .cloned()
                    .unwrap_or_default();
                let _ = reference
                    .app
                    .rewrite(&mut translated, |v| -> Result<Option<Value>, ()> {
                        Ok(Some(match v.as_str().and_then(|id| lookup.get(id)) {
                            Some(hub_id) => Value::String(hub_id.clone()),
                            None if v.as_str().is_some_and(str::is_empty) => Value::Null,
                            None => v.clone(),
                        }))
                    });
            }
            let left = pair.mapping.canonical_from_hub(&plain);
            let right = pair.mapping.canonical_from_app(&translated);
            let (left, right) = match (left, right) {
                (Ok(mut l), Ok(mut r)) => {
                    reconcile(&mut l, &mut r, &plain);
                    (Ok(l), Ok(r))
                }
                other => other,
            };
            match (left, right) {
                (Ok(l), Ok(r)) if mapping::content_hash(&l) == mapping::content_hash(&r) => {}
                (Ok(l), Ok(r)) => problems.push(Disagreement {
                    entity: entity.clone(),
                    detail: format!(
                        "hub record {hub_id} and app record {app_id} differ in mapped fields: {}",
                        differing_fields(&l, &r).join(", ")
                    ),
                }),
                (l, r) => problems.push(Disagreement {
                    entity: entity.clone(),
                    detail: format!(
                        "cannot compare hub {hub_id} / app {app_id}: {:?} {:?}",
                        l.err(),
                        r.err()
                    ),
                }),
            }
        }
        for app_id in app_by_id.keys() {
            if !seen_apps.contains(app_id) {
                problems.push(Disagreement {
                    entity: entity.clone(),
                    detail: format!("app record {app_id} has no active hub counterpart"),
                });
            }
        }
    }
    Ok(problems)
}

/// Makes the two canonical forms of a linked pair comparable where the trip through the
/// mapping cannot:
/// - a field only mapped to the hub (`direction: to_hub`) is absent from `hub` (the hub
///   record's trip through the app drops it): the hub record's own value is compared;
/// - sub-lines (`lines`) carry their own ids: a hub line's ids are Connec!'s id array (its
///   Connec! id and the external ids written back), an app line's is the app's. Hub lines are
///   compared by their Connec! id, and an app line id that one of those lines holds as an
///   external id is that line's Connec! id; any other app line id stays as it is (and
///   differs).
fn reconcile(hub: &mut Value, app: &mut Value, plain: &Value) {
    let (Some(h), Some(a)) = (hub.as_object_mut(), app.as_object_mut()) else {
        return;
    };
    for (key, _) in a.iter() {
        if !h.contains_key(key)
            && let Some(own) = plain.get(key)
        {
            h.insert(key.clone(), own.clone());
        }
    }
    for (key, value) in h.iter_mut() {
        let (Value::Array(hub_lines), Some(Value::Array(app_lines))) = (value, a.get_mut(key))
        else {
            continue;
        };
        let mut known: HashMap<String, String> = HashMap::new();
        for line in hub_lines.iter_mut() {
            let Some(ids) = line.get("id").filter(|v| v.is_array()).cloned() else {
                continue;
            };
            let Some(own) = record::connec_ref(&ids).map(|id| id.to_string()) else {
                continue;
            };
            for triple in ids.as_array().into_iter().flatten() {
                if let Some(id) = triple.get("id").and_then(Value::as_str) {
                    known.insert(id.to_owned(), own.clone());
                }
            }
            line["id"] = Value::String(own);
        }
        for line in app_lines.iter_mut() {
            if let Some(own) = line
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| known.get(id))
            {
                line["id"] = Value::String(own.clone());
            }
        }
    }
}

/// The fields (top-level, hub names) whose values differ between two canonical records: names
/// only, never values (they may be personal data).
fn differing_fields(left: &Value, right: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let l = left.as_object().unwrap_or(&empty);
    let r = right.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = l.keys().chain(r.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| {
            let (a, b) = (l.get(*k), r.get(*k));
            a.map(mapping::content_hash) != b.map(mapping::content_hash)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn triple(id: &str, provider: &str) -> Value {
        json!({ "id": id, "provider": provider, "realm": "r" })
    }

    #[test]
    fn hub_lines_compare_by_their_connec_id_and_app_line_ids_written_back_are_that_id() {
        let mut hub = json!({ "lines": [
            { "id": [triple("c1", "connec"), triple("x1", "xero")], "quantity": 2 },
            { "id": [triple("c2", "connec")], "quantity": 1 },
        ] });
        let mut app = json!({ "lines": [
            { "id": "x1", "quantity": 2 },
            { "id": "x2", "quantity": 1 },
        ] });
        reconcile(&mut hub, &mut app, &json!({}));
        assert_eq!(hub["lines"][0]["id"], "c1");
        assert_eq!(app["lines"][0]["id"], "c1");
        // An app line id no hub line holds stays the app's: the lines differ.
        assert_eq!(hub["lines"][1]["id"], "c2");
        assert_eq!(app["lines"][1]["id"], "x2");
        assert_eq!(differing_fields(&hub, &app), ["lines"]);
    }

    #[test]
    fn a_field_mapped_to_the_hub_only_compares_with_the_hub_records_own_value() {
        let plain = json!({ "status": "ACTIVE", "amount": 5 });
        let mut hub = json!({ "amount": 5 });
        let mut app = json!({ "amount": 5, "status": "ACTIVE" });
        reconcile(&mut hub, &mut app, &plain);
        assert!(differing_fields(&hub, &app).is_empty());

        let mut hub = json!({ "amount": 5 });
        let mut app = json!({ "amount": 5, "status": "INACTIVE" });
        reconcile(&mut hub, &mut app, &plain);
        assert_eq!(differing_fields(&hub, &app), ["status"]);

        // Absent from the hub record too: it differs.
        let mut hub = json!({ "amount": 5 });
        let mut app = json!({ "amount": 5, "status": "ACTIVE" });
        reconcile(&mut hub, &mut app, &json!({ "amount": 5 }));
        assert_eq!(differing_fields(&hub, &app), ["status"]);
    }
}
