//! The app side of the end-to-end world, behind one trait: an [`AppUnderTest`] is an app's
//! emulator plus how to build the app's provider on it and read and change its records. The
//! world is built on one ([`World::with_app`](crate::World::with_app)); HubSpot is the default.
//! A new connector adds its own implementation next to [`HubSpotUnderTest`] and runs the shared
//! scenarios on it.

use std::sync::Arc;

use cli::wiring::Tuning;
use connector_sdk::AppProvider;
use emulators::HubSpotEmulator;
use serde_json::Value;

/// An app and its emulator, as the end-to-end scenarios see them.
pub trait AppUnderTest: Send + Sync {
    /// The app's id.
    fn id(&self) -> &'static str;
    /// The account the world's organization is linked to.
    fn realm(&self) -> &str;
    /// The app's provider on its emulator, with a configured credential.
    fn provider(&self, tuning: &Tuning) -> Arc<dyn AppProvider>;
    /// Creates a record as a person using the app would; returns its id.
    fn seed(&self, entity: &str, fields: Value) -> String;
    /// Changes a record as a person using the app would.
    fn update(&self, entity: &str, id: &str, fields: Value);
    /// The active records of an entity.
    fn records(&self, entity: &str) -> Vec<Value>;
    /// Every record of an entity, archived ones included (for comparing both sides).
    fn all_records(&self, entity: &str) -> Vec<Value>;
    /// Creates a record given as the pair's mapping writes it (`to_app` of a hub-shaped
    /// record), as a person using the app would; returns its id. The shared scenarios seed
    /// through this, so they are written once, in Connec!'s shape, for every app.
    fn seed_mapped(&self, entity: &str, mapped: Value) -> String;
    /// Changes a record with fields given as the pair's mapping writes them.
    fn update_mapped(&self, entity: &str, id: &str, mapped: Value);
}

/// The `properties` of a HubSpot-shaped mapped record.
fn properties(mapped: Value) -> Value {
    mapped
        .get("properties")
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()))
}

/// HubSpot on its emulator, as a private app of the demo portal.
pub struct HubSpotUnderTest {
    /// The emulator.
    pub emulator: HubSpotEmulator,
    /// Its base URL.
    pub base_url: String,
    /// The search cap the provider is built with.
    pub search_cap: usize,
}

impl AppUnderTest for HubSpotUnderTest {
    fn id(&self) -> &'static str {
        hubspot::PROVIDER
    }

    fn realm(&self) -> &str {
        cli::demo::PORTAL
    }

    fn provider(&self, tuning: &Tuning) -> Arc<dyn AppProvider> {
        let mut settings =
            hubspot::HubSpotSettings::private_app(&self.base_url, "demo-token", self.realm());
        settings.search_cap = Some(self.search_cap);
        Arc::new(
            hubspot::HubSpotProvider::new(settings, &tuning.build_context("http://127.0.0.1"))
                .expect("provider builds"),
        )
    }

    fn seed(&self, entity: &str, fields: Value) -> String {
        let stored = self.emulator.seed(entity, fields);
        stored["id"]
            .as_str()
            .expect("seeded object has an id")
            .to_owned()
    }

    fn update(&self, entity: &str, id: &str, fields: Value) {
        self.emulator
            .update(entity, id, fields)
            .expect("app record exists");
    }

    fn records(&self, entity: &str) -> Vec<Value> {
        self.emulator.objects(entity)
    }

    fn all_records(&self, entity: &str) -> Vec<Value> {
        self.emulator.all_objects_including_archived(entity)
    }

    fn seed_mapped(&self, entity: &str, mapped: Value) -> String {
        self.seed(entity, properties(mapped))
    }

    fn update_mapped(&self, entity: &str, id: &str, mapped: Value) {
        self.update(entity, id, properties(mapped));
    }
}

/// An in-memory app ([`connector_sdk::testing::FakeProvider`] over `FakeApp`) with HubSpot's
/// entity pairs and mappings, so the shared scenarios, written with HubSpot-shaped properties,
/// run on a second app and a second connector implementation.
pub struct FakeAppUnderTest {
    /// The provider (its `app()` holds the records).
    pub provider: Arc<connector_sdk::testing::FakeProvider>,
    clock: sync_core::testing::ManualClock,
}

impl Default for FakeAppUnderTest {
    fn default() -> Self {
        use sync_core::ports::Clock;
        let mappings = hubspot::HubSpotProvider::new(
            hubspot::HubSpotSettings::private_app("http://127.0.0.1:9", "unused", "unused"),
            &Tuning::default().build_context("http://127.0.0.1"),
        )
        .expect("the built-in mappings load");
        let clock = sync_core::testing::ManualClock::new(sync_core::ports::SystemClock.now());
        let app = sync_core::testing::FakeApp::new(
            "fakecrm",
            mappings.entities().to_vec(),
            clock.clone(),
        );
        app.set_natural_key("contacts", "email");
        app.set_natural_key("companies", "name");
        Self {
            provider: Arc::new(connector_sdk::testing::FakeProvider::new(
                "fakecrm",
                "fake-realm",
                app,
            )),
            clock,
        }
    }
}

impl FakeAppUnderTest {
    /// A person's edits happen now (the engine's own writes keep the time of the last one).
    fn tick(&self) {
        use sync_core::ports::Clock;
        self.clock.set(sync_core::ports::SystemClock.now());
    }
}

impl AppUnderTest for FakeAppUnderTest {
    fn id(&self) -> &'static str {
        "fakecrm"
    }

    fn realm(&self) -> &str {
        "fake-realm"
    }

    fn provider(&self, _tuning: &Tuning) -> Arc<dyn AppProvider> {
        self.provider.clone()
    }

    fn seed(&self, entity: &str, fields: Value) -> String {
        self.tick();
        self.provider.app().seed(entity, fields).to_string()
    }

    fn update(&self, entity: &str, id: &str, fields: Value) {
        self.tick();
        self.provider.app().edit(entity, id, |record| {
            if let (Some(properties), Value::Object(changes)) =
                (record["properties"].as_object_mut(), fields)
            {
                properties.extend(changes);
            }
        });
    }

    fn records(&self, entity: &str) -> Vec<Value> {
        self.all_records(entity)
            .into_iter()
            .filter(|r| r["archived"] != Value::Bool(true))
            .collect()
    }

    fn all_records(&self, entity: &str) -> Vec<Value> {
        self.provider.app().all(entity)
    }

    fn seed_mapped(&self, entity: &str, mapped: Value) -> String {
        self.seed(entity, properties(mapped))
    }

    fn update_mapped(&self, entity: &str, id: &str, mapped: Value) {
        self.update(entity, id, properties(mapped));
    }
}
