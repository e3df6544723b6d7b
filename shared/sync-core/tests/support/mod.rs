//! An engine over the in-memory fakes, and short helpers to read both sides.

#![allow(dead_code)]

use std::sync::Arc;

use connec::testing::Fakes;
use serde_json::Value;
use sync_core::domain::{AppId, ConflictPolicy, EntityName, HubId, IdMap, Run, Timestamp};
use sync_core::engine::{EngineConfig, RunOptions, SyncEngine};
use sync_core::entity::EntityPair;
use sync_core::ports::SyncStore;
use sync_core::testing::{FakeApp, SAMPLE_GROUP, sample_entities};

/// The fakes and an engine over them.
pub struct World {
    pub fakes: Fakes,
    pub engine: SyncEngine,
}

impl World {
    /// The sample world, most-recent policy, historical data on.
    pub fn new() -> Self {
        Self::with_policy(ConflictPolicy::MostRecent)
    }

    /// The sample world under one conflict policy.
    pub fn with_policy(policy: ConflictPolicy) -> Self {
        let fakes = Fakes::sample();
        let entities: Vec<EntityPair> = sample_entities()
            .into_iter()
            .map(|pair| pair.policy(policy))
            .collect();
        let app = FakeApp::new(
            sync_core::testing::SAMPLE_PROVIDER,
            entities,
            fakes.clock.clone(),
        );
        let fakes = Fakes { app, ..fakes };
        Self::over(fakes)
    }

    /// An engine over given fakes.
    pub fn over(fakes: Fakes) -> Self {
        let engine = SyncEngine::new(
            Arc::new(fakes.store.clone()),
            Arc::new(fakes.hub.clone()),
            Arc::new(fakes.app.clone()),
            Arc::new(fakes.clock.clone()),
            EngineConfig {
                overlap: std::time::Duration::from_secs(1),
                ..EngineConfig::default()
            },
        );
        Self { fakes, engine }
    }

    /// One sync; panics if it cannot start.
    pub async fn sync(&self) -> Run {
        self.sync_with(RunOptions::default()).await
    }

    /// One sync with options.
    pub async fn sync_with(&self, options: RunOptions) -> Run {
        self.fakes.clock.advance_secs(5);
        let run = self
            .engine
            .sync(&self.fakes.org.id, options)
            .await
            .expect("the sync runs");
        self.fakes.clock.advance_secs(5);
        run
    }

    /// Saves a change to the organization.
    pub async fn update_org(&mut self, change: impl FnOnce(&mut sync_core::domain::Organization)) {
        change(&mut self.fakes.org);
        self.fakes
            .store
            .put_organization(&self.fakes.org)
            .await
            .expect("org saved");
    }

    pub fn hub_seed(&self, collection: &str, record: Value) -> HubId {
        self.fakes.hub.seed(SAMPLE_GROUP, collection, record)
    }

    pub fn hub_edit(&self, collection: &str, id: &HubId, change: impl FnOnce(&mut Value)) {
        self.fakes
            .hub
            .edit(SAMPLE_GROUP, collection, id.as_str(), change);
    }

    pub fn hub_get(&self, collection: &str, id: &HubId) -> Value {
        self.fakes
            .hub
            .get(SAMPLE_GROUP, collection, id.as_str())
            .unwrap_or_else(|| panic!("{collection} {id} exists in the hub"))
    }

    pub fn hub_all(&self, collection: &str) -> Vec<Value> {
        self.fakes.hub.all(SAMPLE_GROUP, collection)
    }

    pub fn app_get(&self, entity: &str, id: &AppId) -> Value {
        self.fakes
            .app
            .get(entity, id.as_str())
            .unwrap_or_else(|| panic!("{entity} {id} exists in the app"))
    }

    /// Live (not archived) app records of an entity.
    pub fn app_live(&self, entity: &str) -> Vec<Value> {
        self.fakes
            .app
            .all(entity)
            .into_iter()
            .filter(|r| r["archived"] != Value::Bool(true))
            .collect()
    }

    /// The id-map of a hub record.
    pub async fn map_of_hub(&self, collection: &str, id: &HubId) -> Option<IdMap> {
        self.fakes
            .store
            .idmaps_by_hub_ids(
                &self.fakes.org.id,
                &EntityName::new(collection),
                std::slice::from_ref(id),
            )
            .await
            .expect("store answers")
            .into_iter()
            .next()
    }

    /// The app id linked to a hub record.
    pub async fn app_id_of(&self, collection: &str, id: &HubId) -> AppId {
        self.map_of_hub(collection, id)
            .await
            .and_then(|m| m.app_id)
            .unwrap_or_else(|| panic!("{collection} {id} is linked"))
    }

    /// The hub id linked to an app record.
    pub async fn hub_id_of(&self, collection: &str, app_id: &AppId) -> HubId {
        self.fakes
            .store
            .idmaps_by_app_ids(
                &self.fakes.org.id,
                &EntityName::new(collection),
                std::slice::from_ref(app_id),
            )
            .await
            .expect("store answers")
            .into_iter()
            .next()
            .and_then(|m| m.hub_id)
            .unwrap_or_else(|| panic!("{collection} {app_id} is linked"))
    }

    /// Now, on the shared clock.
    pub fn now(&self) -> Timestamp {
        use sync_core::ports::Clock;
        self.fakes.clock.now()
    }
}

/// A property of an app record.
pub fn prop<'a>(record: &'a Value, name: &str) -> &'a Value {
    &record["properties"][name]
}

/// Whether a hub record is INACTIVE.
pub fn inactive(record: &Value) -> bool {
    record["status"] == "INACTIVE"
}
