//! Fixtures for the end-to-end tests: both emulators on loopback, the embedded store on a temp
//! file, the engine wired as the CLI wires it, and helpers to read and change both sides.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use cli::demo::{Emulators, GROUP};
use cli::wiring::{self, Stack, Tuning};
use connec::record;
use http_client::HttpConfig;
use serde_json::Value;
use store_embedded::EmbeddedStore;
use sync_core::domain::*;
use sync_core::engine::{RunOptions, SyncEngine};
use sync_core::error::StoreError;
use sync_core::ports::SyncStore;

pub use cli::demo::GROUP as GROUP_ID;

mod app;
pub mod browser;
pub mod served;
mod xero_app;
pub use app::{AppUnderTest, FakeAppUnderTest, HubSpotUnderTest};
pub use xero_app::XeroUnderTest;

/// Everything a test needs.
pub struct World {
    /// Both emulators.
    pub emulators: Emulators,
    /// The store (behind a switch that can fail id-map writes).
    pub store: Arc<FlakyStore>,
    /// The engine.
    pub engine: SyncEngine,
    /// The connector.
    pub connector: Arc<dyn sync_core::ports::AppConnector>,
    /// The app under test (HubSpot unless built [`World::with_app`]).
    pub app: Arc<dyn AppUnderTest>,
    /// The organization.
    pub org: OrgId,
    /// How the engine was wired.
    pub tuning: Tuning,
    _dir: tempfile::TempDir,
}

/// Options of a [`World`].
#[derive(Clone)]
pub struct WorldOptions {
    /// Conflict policy.
    pub policy: ConflictPolicy,
    /// HTTP tunables.
    pub http: HttpConfig,
    /// Emulator settings.
    pub hubspot: emulators::HubSpotConfig,
}

impl Default for WorldOptions {
    fn default() -> Self {
        Self {
            policy: ConflictPolicy::MostRecent,
            http: HttpConfig::fast(),
            hubspot: emulators::HubSpotConfig::default(),
        }
    }
}

impl World {
    /// Default world.
    pub async fn start() -> Self {
        Self::with(WorldOptions::default()).await
    }

    /// A world with options.
    pub async fn with(options: WorldOptions) -> Self {
        let connec = emulators::ConnecEmulator::new(emulators::ConnecConfig::default());
        let hubspot = emulators::HubSpotEmulator::new(options.hubspot.clone());
        let connec_server = connec.start().await.expect("connec emulator starts");
        let hubspot_server = hubspot.start().await.expect("hubspot emulator starts");
        let emulators = Emulators {
            connec,
            hubspot,
            connec_server,
            hubspot_server,
        };
        let tuning = Tuning {
            http: options.http.clone(),
            overlap: Duration::from_secs(1),
            conflict_policy: options.policy,
        };
        let app: Arc<dyn AppUnderTest> = Arc::new(HubSpotUnderTest {
            emulator: emulators.hubspot.clone(),
            base_url: emulators.hubspot_server.base_url.clone(),
            search_cap: options.hubspot.search_cap,
        });
        Self::assemble(emulators, app, &tuning).await
    }

    /// A world on Xero's emulator (started here), Connec! beside it; the emulator's per-minute
    /// limit is raised so that only the tests about limits meet it.
    pub async fn on_xero() -> Self {
        let config = emulators::XeroConfig {
            limits: emulators::XeroLimits {
                per_minute: 100_000,
                ..emulators::XeroLimits::default()
            },
            ..emulators::XeroConfig::default()
        };
        Self::on_xero_with(config, WorldOptions::default(), 100)
            .await
            .0
    }

    /// A world on Xero's emulator configured so, read `page_size` records a page, and the
    /// emulator (to seed, change and fault).
    pub async fn on_xero_with(
        config: emulators::XeroConfig,
        options: WorldOptions,
        page_size: usize,
    ) -> (Self, emulators::XeroEmulator) {
        let emulator = emulators::XeroEmulator::new(config);
        let server = emulator.start().await.expect("xero emulator starts");
        let mut app = XeroUnderTest::new(emulator.clone(), server.base_url.clone(), Some(server));
        app.page_size = page_size;
        (Self::with_app(Arc::new(app), options).await, emulator)
    }

    /// A world on another app under test (its emulator already running), Connec! beside it.
    pub async fn with_app(app: Arc<dyn AppUnderTest>, options: WorldOptions) -> Self {
        let tuning = Tuning {
            http: options.http.clone(),
            overlap: Duration::from_secs(1),
            conflict_policy: options.policy,
        };
        let emulators = Emulators::start().await.expect("emulators start");
        Self::assemble(emulators, app, &tuning).await
    }

    async fn assemble(emulators: Emulators, app: Arc<dyn AppUnderTest>, tuning: &Tuning) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let inner = EmbeddedStore::open(dir.path().join("test.db")).expect("store opens");
        let store = Arc::new(FlakyStore::new(inner));
        let provider = app.provider(tuning);
        let Stack { engine, connector } =
            wiring::build_static(store.clone(), &emulators.hub(), tuning, provider.as_ref())
                .expect("engine wires");
        let org = wiring::organization_of(
            OrgId::new(GROUP),
            GROUP,
            provider.id(),
            app.realm(),
            "Test Co",
            true,
        );
        store.put_organization(&org).await.expect("org saved");
        Self {
            emulators,
            store,
            engine,
            connector,
            app,
            org: org.id,
            tuning: tuning.clone(),
            _dir: dir,
        }
    }

    /// An engine as a new process would build it (the same store and endpoints, a new
    /// provider: its own call budgets, caches and connections).
    pub fn restarted(&self) -> SyncEngine {
        let provider = self.app.provider(&self.tuning);
        wiring::build_static(
            self.store.clone(),
            &self.emulators.hub(),
            &self.tuning,
            provider.as_ref(),
        )
        .expect("engine wires")
        .engine
    }

    /// Runs one sync and returns its record; panics if the run could not start.
    pub async fn sync(&self) -> Run {
        self.engine
            .sync(&self.org, RunOptions::default())
            .await
            .expect("the sync runs")
    }

    /// Runs one sync with options.
    pub async fn sync_with(&self, options: RunOptions) -> Run {
        self.engine
            .sync(&self.org, options)
            .await
            .expect("the sync runs")
    }

    /// Seeds a Connec! record.
    pub fn hub_seed(&self, collection: &str, record: Value) -> HubId {
        let stored = self.emulators.connec.seed(GROUP, collection, record);
        record::hub_id(&stored).expect("seeded record has an id")
    }

    /// Changes a Connec! record as a third party would.
    pub fn hub_update(&self, collection: &str, id: &HubId, patch: Value) {
        self.emulators
            .connec
            .update(GROUP, collection, id.as_str(), patch)
            .expect("hub record exists");
    }

    /// All Connec! records of a collection.
    pub fn hub(&self, collection: &str) -> Vec<Value> {
        self.emulators.connec.records(GROUP, collection)
    }

    /// One Connec! person by e-mail.
    pub fn hub_person(&self, email: &str) -> Option<Value> {
        self.hub("people")
            .into_iter()
            .find(|p| p.pointer("/email/address").and_then(Value::as_str) == Some(email))
    }

    /// Seeds an app record and returns its id.
    pub fn app_seed(&self, object: &str, properties: Value) -> String {
        self.app.seed(object, properties)
    }

    /// Changes an app record as a third party would.
    pub fn app_update(&self, object: &str, id: &str, properties: Value) {
        self.app.update(object, id, properties);
    }

    /// Active app records.
    pub fn app(&self, object: &str) -> Vec<Value> {
        self.app.records(object)
    }

    /// One HubSpot contact by e-mail.
    pub fn app_contact(&self, email: &str) -> Option<Value> {
        self.app("contacts")
            .into_iter()
            .find(|c| c.pointer("/properties/email").and_then(Value::as_str) == Some(email))
    }

    /// The pair of a hub collection.
    fn pair(&self, collection: &str) -> &sync_core::entity::EntityPair {
        self.connector
            .entities()
            .iter()
            .find(|p| p.hub.as_str() == collection)
            .unwrap_or_else(|| panic!("the app syncs {collection}"))
    }

    /// Seeds an app record given in Connec!'s shape (its references hold app ids), through the
    /// pair's mapping; returns its id. What the shared scenarios use, whatever the app.
    pub fn app_seed_as(&self, collection: &str, hub_shaped: Value) -> String {
        let pair = self.pair(collection);
        let mapped = pair.mapping.to_app(&hub_shaped).expect("the record maps");
        self.app.seed_mapped(pair.app.as_str(), mapped)
    }

    /// Changes an app record with fields given in Connec!'s shape.
    pub fn app_update_as(&self, collection: &str, id: &str, hub_shaped: Value) {
        let pair = self.pair(collection);
        let mapped = pair.mapping.to_app(&hub_shaped).expect("the patch maps");
        self.app.update_mapped(pair.app.as_str(), id, mapped);
    }

    /// The app's active records of a collection's pair, in Connec!'s shape (through the pair's
    /// mapping), each with its app id under `app_id`.
    pub fn app_as_hub(&self, collection: &str) -> Vec<Value> {
        let pair = self.pair(collection);
        self.app(pair.app.as_str())
            .into_iter()
            .map(|record| {
                let mut hub = pair.mapping.to_hub(&record).expect("the record maps");
                let id = self
                    .connector
                    .describe(&pair.app, &record)
                    .expect("an app record describes")
                    .id;
                hub["app_id"] = Value::String(id.to_string());
                hub
            })
            .collect()
    }

    /// Every id-map of an entity.
    pub async fn idmaps(&self, entity: &str) -> Vec<IdMap> {
        self.store
            .list_idmaps(&self.org, Some(&EntityName::new(entity)), 0, 100_000)
            .await
            .expect("id-maps readable")
    }

    /// Asserts that both sides agree on every active record.
    pub async fn assert_agree(&self) {
        let hub = self
            .connector
            .entities()
            .iter()
            .map(|pair| {
                let collection = pair.hub.as_str();
                (collection.to_owned(), self.hub(collection))
            })
            .collect();
        let app = self
            .connector
            .entities()
            .iter()
            .map(|pair| {
                let entity = pair.app.as_str();
                (entity.to_owned(), self.app.all_records(entity))
            })
            .collect();
        let problems = wiring::compare_sides(
            self.store.as_ref(),
            &self.org,
            self.connector.as_ref(),
            &hub,
            &app,
        )
        .await
        .expect("store readable");
        assert!(problems.is_empty(), "the sides disagree: {problems:#?}");
    }
}

/// The embedded store, with a switch that makes the next id-map writes fail, to simulate a crash
/// between a push and its id-map write.
pub struct FlakyStore {
    inner: EmbeddedStore,
    failing_saves: AtomicU32,
}

impl FlakyStore {
    /// Wraps a store.
    pub fn new(inner: EmbeddedStore) -> Self {
        Self {
            inner,
            failing_saves: AtomicU32::new(0),
        }
    }

    /// Makes the next `count` outcome saves of id-maps fail without writing: the saves that
    /// follow a push (the write-ahead saves before it still go through), as a crash between a
    /// push and its id-map write would.
    pub fn fail_next_idmap_saves(&self, count: u32) {
        self.failing_saves.store(count, Ordering::SeqCst);
    }

    /// The embedded store's operation counter.
    pub fn operations(&self) -> u64 {
        self.inner.operations()
    }
}

#[async_trait]
impl SyncStore for FlakyStore {
    async fn put_organization(&self, org: &Organization) -> Result<(), StoreError> {
        self.inner.put_organization(org).await
    }
    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
        self.inner.get_organization(id).await
    }
    async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError> {
        self.inner.list_organizations().await
    }
    async fn idmaps_by_hub_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<IdMap>, StoreError> {
        self.inner.idmaps_by_hub_ids(org, entity, ids).await
    }
    async fn idmaps_by_app_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[AppId],
    ) -> Result<Vec<IdMap>, StoreError> {
        self.inner.idmaps_by_app_ids(org, entity, ids).await
    }
    async fn save_idmaps(&self, maps: &[IdMap]) -> Result<(), StoreError> {
        // A write-ahead save (a write still in flight) is the one before the push.
        let before_push = maps.iter().any(|m| !m.pending_writes.is_empty());
        let armed = !before_push
            && self
                .failing_saves
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if armed {
            return Err(StoreError::Backend(
                "simulated crash before the id-map write".into(),
            ));
        }
        self.inner.save_idmaps(maps).await
    }
    async fn list_idmaps(
        &self,
        org: &OrgId,
        entity: Option<&EntityName>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<IdMap>, StoreError> {
        self.inner.list_idmaps(org, entity, offset, limit).await
    }
    async fn get_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<Watermark>, StoreError> {
        self.inner.get_watermark(org, entity, side).await
    }
    async fn set_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        mark: Watermark,
    ) -> Result<(), StoreError> {
        self.inner.set_watermark(org, entity, side, mark).await
    }
    async fn get_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<(PageCursor, Timestamp)>, StoreError> {
        self.inner.get_checkpoint(org, entity, side).await
    }
    async fn set_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        checkpoint: Option<(PageCursor, Timestamp)>,
    ) -> Result<(), StoreError> {
        self.inner
            .set_checkpoint(org, entity, side, checkpoint)
            .await
    }
    async fn pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
    ) -> Result<Vec<PendingRecord>, StoreError> {
        self.inner.pending(org, entity, source).await
    }
    async fn put_pending(&self, records: &[PendingRecord]) -> Result<(), StoreError> {
        self.inner.put_pending(records).await
    }
    async fn remove_pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
        ids: &[String],
    ) -> Result<(), StoreError> {
        self.inner.remove_pending(org, entity, source, ids).await
    }
    async fn save_run(&self, run: &Run) -> Result<(), StoreError> {
        self.inner.save_run(run).await
    }
    async fn recent_runs(&self, org: &OrgId, limit: usize) -> Result<Vec<Run>, StoreError> {
        self.inner.recent_runs(org, limit).await
    }
    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        self.inner.get_run(id).await
    }
    async fn acquire_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.acquire_lease(org, owner, now, ttl).await
    }
    async fn renew_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.renew_lease(org, owner, now, ttl).await
    }
    async fn release_lease(&self, org: &OrgId, owner: &str) -> Result<(), StoreError> {
        self.inner.release_lease(org, owner).await
    }
    async fn purge_sync_state(&self, org: &OrgId) -> Result<u64, StoreError> {
        self.inner.purge_sync_state(org).await
    }
    async fn lease_holder(
        &self,
        org: &OrgId,
    ) -> Result<Option<sync_core::ports::LeaseHolder>, StoreError> {
        self.inner.lease_holder(org).await
    }
    async fn break_lease(
        &self,
        org: &OrgId,
    ) -> Result<Option<sync_core::ports::LeaseHolder>, StoreError> {
        self.inner.break_lease(org).await
    }
}

/// Counters of a run for one entity and direction.
pub fn counts(run: &Run, entity: &str, direction: Direction) -> Counts {
    run.counts_for(entity, direction)
}

/// Every HubSpot property value of a contact.
pub fn prop<'a>(object: &'a Value, name: &str) -> Option<&'a str> {
    object.get("properties")?.get(name)?.as_str()
}
