//! Wiring helpers of the CLI (the engine itself is built by `service`), and the check
//! that both sides agree after a sync ([`compare_sides`], in `compare`).

use sync_core::domain::{
    EntityName, GroupId, OrgId, Organization, Provider, Realm, Tenant, Timestamp,
};
use sync_core::ports::{AppConnector, Clock, SyncStore, SystemClock};

pub use crate::compare::{Disagreement, compare_sides};
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
