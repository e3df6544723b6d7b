//! The connector value: its mappings, entity pairs and what it knows of each object type.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use http_client::{ApiClient, HeaderRateLimit, RateLimitPolicy};
use mapping::{BuiltinMapping, EntityMapping, FunctionRegistry, MappingSet};
use sync_core::domain::{AppEntityName, Provider};
use sync_core::entity::EntityPair;
use sync_core::error::AppError;
use sync_core::ports::TokenSource;

use crate::config::HubSpotConfig;
use crate::http::hubspot_error_detail;
use crate::{API, PROVIDER, SetupError};

const PEOPLE_FILE: &str = "people.yaml";
const PEOPLE_MAPPING: &str = include_str!("../mappings/people.yaml");
const ORGANIZATIONS_FILE: &str = "organizations.yaml";
const ORGANIZATIONS_MAPPING: &str = include_str!("../mappings/organizations.yaml");

/// How records of an object type are matched on their natural keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NaturalKey {
    /// Contacts: by e-mail (HubSpot stores e-mails lower-cased and unique).
    Email,
    /// Companies: by domain, then by name (both compared case-insensitively).
    DomainThenName,
}

/// What the connector knows of one HubSpot object type.
#[derive(Clone, Debug)]
pub(crate) struct ObjectType {
    pub(crate) name: &'static str,
    /// The last-modified property searched on.
    pub(crate) modified_property: &'static str,
    /// Properties requested on reads.
    pub(crate) properties: Vec<String>,
    /// The properties the mapping names (webhook subscriptions follow them).
    pub(crate) mapped: Vec<String>,
    /// The object type's singular name in webhook event types (`contact`).
    pub(crate) event_name: &'static str,
    /// The built-in property group the create marker goes into.
    pub(crate) marker_group: &'static str,
    /// How natural matches are found.
    pub(crate) natural: NaturalKey,
}

/// The HubSpot connector.
pub struct HubSpotConnector {
    pub(crate) api: ApiClient,
    pub(crate) config: HubSpotConfig,
    pub(crate) provider: Provider,
    pub(crate) entities: Vec<EntityPair>,
    pub(crate) objects: HashMap<String, ObjectType>,
    /// Object types whose marker property is known to exist (checked once per instance).
    pub(crate) markers: tokio::sync::Mutex<HashSet<&'static str>>,
}

impl HubSpotConnector {
    /// Builds the connector, loading (and validating) its mappings.
    pub fn new(config: HubSpotConfig) -> Result<Self, SetupError> {
        let set = MappingSet::load(
            PROVIDER,
            &[
                BuiltinMapping::new(ORGANIZATIONS_FILE, ORGANIZATIONS_MAPPING),
                BuiltinMapping::new(PEOPLE_FILE, PEOPLE_MAPPING),
            ],
            config.mappings_dir.as_deref(),
            &FunctionRegistry::default(),
        )?;
        let mapping = |file: &str| {
            set.get(file)
                .cloned()
                .expect("every built-in file is loaded")
        };
        let (org_mapping, people_mapping) = (mapping(ORGANIZATIONS_FILE), mapping(PEOPLE_FILE));
        // The properties read and subscribed to are those the mappings name.
        let org_props = org_mapping.app_fields_under("properties.");
        let people_props = people_mapping.app_fields_under("properties.");
        if !valid_property_name(&config.marker_property) {
            return Err(SetupError::Marker {
                name: config.marker_property.clone(),
            });
        }
        let entities = vec![
            EntityPair::new("organizations", "companies", org_mapping)
                .matching(&["name"])
                .policy(config.conflict_policy)
                .labelled_by(&["name"]),
            EntityPair::new("people", "contacts", people_mapping)
                .matching(&["email.address"])
                .policy(config.conflict_policy)
                .labelled_by(&["first_name", "last_name"]),
        ];
        let mut objects = HashMap::new();
        objects.insert(
            "companies".to_owned(),
            ObjectType {
                name: "companies",
                modified_property: "hs_lastmodifieddate",
                properties: with_system(
                    org_props.clone(),
                    "hs_lastmodifieddate",
                    &config.marker_property,
                ),
                mapped: org_props,
                event_name: "company",
                marker_group: "companyinformation",
                natural: NaturalKey::DomainThenName,
            },
        );
        objects.insert(
            "contacts".to_owned(),
            ObjectType {
                name: "contacts",
                modified_property: "lastmodifieddate",
                properties: with_system(
                    people_props.clone(),
                    "lastmodifieddate",
                    &config.marker_property,
                ),
                mapped: people_props,
                event_name: "contact",
                marker_group: "contactinformation",
                natural: NaturalKey::Email,
            },
        );
        Ok(Self {
            api: ApiClient::new(API, config.http.clone(), hubspot_error_detail)?
                .with_rate_limits(rate_limits()),
            config,
            provider: Provider::new(PROVIDER),
            entities,
            objects,
            markers: tokio::sync::Mutex::new(HashSet::new()),
        })
    }

    /// The same connector (mappings, object types) for another account's tokens, with its own
    /// HTTP client (its own concurrency cap and rate-limit state).
    pub fn for_token(&self, token: Arc<dyn TokenSource>) -> Result<Self, SetupError> {
        let config = HubSpotConfig {
            token,
            ..self.config.clone()
        };
        Ok(Self {
            api: api_client(&config)?,
            config,
            provider: self.provider.clone(),
            entities: self.entities.clone(),
            objects: self.objects.clone(),
            markers: tokio::sync::Mutex::new(HashSet::new()),
        })
    }

    /// The entity pairs, built from the mappings.
    pub fn entity_pairs(&self) -> &[EntityPair] {
        &self.entities
    }

    /// Each synced object type's webhook name and mapped properties, in entity order.
    pub fn webhook_objects(&self) -> Vec<(&'static str, Vec<String>)> {
        self.entities
            .iter()
            .filter_map(|pair| self.objects.get(pair.app.as_str()))
            .map(|object| (object.event_name, object.mapped.clone()))
            .collect()
    }

    /// Loads a mapping file written by a user, to check it before use.
    pub fn check_mapping_file(path: &Path) -> Result<(), SetupError> {
        EntityMapping::from_file(path, &FunctionRegistry::default())?;
        Ok(())
    }

    /// The object type of an app entity; the only contract error the connector raises.
    pub(crate) fn object(&self, entity: &AppEntityName) -> Result<ObjectType, AppError> {
        self.objects
            .get(entity.as_str())
            .cloned()
            .ok_or_else(|| AppError::UnknownEntity {
                app: API,
                entity: entity.to_string(),
            })
    }
}

/// What HubSpot's rate-limit headers mean: calls remaining of the announced limit, in a window
/// of the given length (the pacer then keeps to the announced limit instead of learning it).
pub(crate) fn rate_limits() -> Arc<dyn RateLimitPolicy> {
    Arc::new(
        HeaderRateLimit::new(&["x-hubspot-ratelimit-remaining"])
            .limit_header("x-hubspot-ratelimit-max")
            .window_ms("x-hubspot-ratelimit-interval-milliseconds"),
    )
}

fn api_client(config: &HubSpotConfig) -> Result<ApiClient, SetupError> {
    Ok(
        ApiClient::new(API, config.http.clone(), hubspot_error_detail)?
            .with_rate_limits(rate_limits()),
    )
}

/// HubSpot internal names: lower-case letters, digits and underscores, starting with a letter.
fn valid_property_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The mapped properties plus what the connector reads itself: the id, the timestamps, and the
/// create marker (so that a record created by a run that died is recognised wherever it is read).
fn with_system(mut properties: Vec<String>, modified: &str, marker: &str) -> Vec<String> {
    for system in ["hs_object_id", "createdate", modified, marker] {
        properties.push(system.to_owned());
    }
    let mut seen = HashSet::new();
    properties.retain(|p| seen.insert(p.clone()));
    properties
}

#[cfg(test)]
mod tests {
    use super::valid_property_name;

    #[test]
    fn marker_names_follow_hubspot_internal_names() {
        assert!(valid_property_name("connec_id"));
        assert!(valid_property_name("x2"));
        assert!(!valid_property_name("Connec_id"));
        assert!(!valid_property_name("_x"));
        assert!(!valid_property_name("a-b"));
        assert!(!valid_property_name(""));
    }
}
