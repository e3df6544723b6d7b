//! Wiring helpers of the CLI (the engine itself is built by `service`), and the check
//! that both sides agree after a sync.

use std::collections::{HashMap, HashSet};

use connec::record;
use serde_json::Value;
use sync_core::domain::{
    EntityName, GroupId, OrgId, Organization, Provider, Realm, Tenant, Timestamp,
};
use sync_core::ports::{AppConnector, Clock, SyncStore, SystemClock};

pub use service::{HubEndpoint, Stack, Tuning, WiringError, build, build_static};

/// The apps of a configuration, built by their factories from their sections.
pub fn registry(
    config: &crate::config::Config,
    tuning: &Tuning,
    public_url: &str,
) -> Result<connector_sdk::Registry, String> {
    let context = tuning.build_context(public_url);
    let mut registry = connector_sdk::Registry::new();
    for (id, section) in &config.apps {
        let factory = connectors::factory(id).ok_or_else(|| format!("unknown app `{id}`"))?;
        let provider = factory
            .build(section.clone(), &context)
            .map_err(|e| format!("apps.{id}: {e}"))?;
        registry.register(provider).map_err(|e| e.to_string())?;
    }
    Ok(registry)
}

/// HubSpot as a private app with the emulator's default token, at `base_url`.
pub fn emulated_hubspot(
    base_url: &str,
    portal_id: &str,
    tuning: &Tuning,
) -> Result<std::sync::Arc<dyn connector_sdk::AppProvider>, WiringError> {
    let settings = hubspot::HubSpotSettings::private_app(base_url, "demo-token", portal_id);
    let provider =
        hubspot::HubSpotProvider::new(settings, &tuning.build_context("http://127.0.0.1"))
            .map_err(connector_sdk::ProviderError::from)?;
    Ok(std::sync::Arc::new(provider))
}

/// An organization linking a Connec! group to a HubSpot portal (the demo's and the tests').
///
/// With `historical_data` off only records created from now on travel (the default); turning it
/// on makes the first sync carry everything, and is logged.
pub fn organization(
    group_id: &str,
    portal_id: &str,
    name: &str,
    historical_data: bool,
) -> Organization {
    organization_of(
        OrgId::new(group_id),
        group_id,
        &Provider::new(hubspot::PROVIDER),
        portal_id,
        name,
        historical_data,
    )
}

/// An organization linking a Connec! group to an account (`realm`) of `provider`.
pub fn organization_of(
    id: OrgId,
    group_id: &str,
    provider: &Provider,
    realm: &str,
    name: &str,
    historical_data: bool,
) -> Organization {
    let now = SystemClock.now();
    if historical_data {
        tracing::info!(
            org = %id,
            "historical data enabled: records created before linking will travel"
        );
    }
    Organization {
        id,
        tenant: Tenant::new("default"),
        group_id: GroupId::new(group_id),
        provider: provider.clone(),
        realm: Realm::new(realm),
        name: name.to_owned(),
        sync_enabled: true,
        entity_flags: Default::default(),
        history_from: (!historical_data).then_some(now),
        linked_at: now,
    }
}

/// The group id `value` from `place` (`organization.group_id`, `--group`), checked with
/// [`GroupId::parse`]; the error names the place and the format, not the value.
pub fn group_id(value: &str, place: &str) -> Result<GroupId, String> {
    GroupId::parse(value).map_err(|e| format!("{place}: {e}"))
}

/// Every stored organization of the configured `group` (refused unless a group id).
pub async fn group_organizations(
    store: &dyn SyncStore,
    group: &str,
) -> Result<Vec<Organization>, String> {
    let group = group_id(group, "organization.group_id")?;
    let group = group.as_str();
    Ok(store
        .list_organizations()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|o| o.group_id.as_str() == group)
        .collect())
}

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
            let left = pair
                .mapping
                .canonical_from_hub(&plain)
                .map(|c| mapping::content_hash(&c));
            let right = pair
                .mapping
                .canonical_from_app(&translated)
                .map(|c| mapping::content_hash(&c));
            match (left, right) {
                (Ok(l), Ok(r)) if l == r => {}
                (Ok(_), Ok(_)) => problems.push(Disagreement {
                    entity: entity.clone(),
                    detail: format!(
                        "hub record {hub_id} and app record {app_id} differ in mapped fields"
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

/// The entity names of the HubSpot connector, for listings.
pub fn entity_names(connector: &dyn AppConnector) -> Vec<EntityName> {
    connector.entities().iter().map(|p| p.hub.clone()).collect()
}

/// Now, for callers without a clock.
pub fn now() -> Timestamp {
    SystemClock.now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_configured_group_id_that_is_not_one_is_refused_naming_the_place() {
        let store = store_embedded::EmbeddedStore::in_memory().unwrap();
        store
            .put_organization(&organization("cld-1", "101", "One", false))
            .await
            .unwrap();
        assert_eq!(group_organizations(&store, "cld-1").await.unwrap().len(), 1);
        for bad in ["x/../cld-1", "cld-1/..", "<b>", "", "cld 1"] {
            let err = group_organizations(&store, bad).await.unwrap_err();
            assert!(err.starts_with("organization.group_id: "), "{err}");
            assert!(err.contains("ASCII letters, digits"), "{err}");
        }
        assert!(group_id("cld-abc123", "--group").is_ok());
        assert!(
            group_id("a/b", "--group")
                .unwrap_err()
                .starts_with("--group: ")
        );
    }
}
