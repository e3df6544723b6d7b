//! Both emulators on loopback, the embedded store on a temporary file and the engine wired as
//! the CLI wires it, plus the lookups the suite needs on both sides.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use connec::record;
use connector_sdk::AppProvider;
use emulators::{ConnecEmulator, HubSpotEmulator, RunningServer};
use http_client::HttpConfig;
use serde_json::Value;
use service::{HubEndpoint, Stack, Tuning};
use store_embedded::EmbeddedStore;
use sync_core::domain::{
    ConflictPolicy, GroupId, OrgId, Organization, Provider, Realm, Side, Tenant,
};
use sync_core::engine::SyncEngine;
use sync_core::ports::{Clock, SyncStore, SystemClock};

use crate::ledger::Kind;

/// The Connec! group of the suite.
pub const GROUP: &str = "cld-chaos";
/// The HubSpot portal of the emulator's default account.
pub const PORTAL: &str = "62515";

/// Short timeouts and retries, so injected timeouts cost little.
pub fn chaos_http() -> HttpConfig {
    HttpConfig {
        timeout: Duration::from_millis(400),
        max_retries: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(2),
        max_concurrency: 8,
    }
}

/// Both emulators, running.
pub struct Sides {
    /// Connec!.
    pub connec: ConnecEmulator,
    /// HubSpot.
    pub hubspot: HubSpotEmulator,
    servers: Vec<RunningServer>,
}

impl Sides {
    /// Starts both on free loopback ports.
    pub async fn start() -> std::io::Result<Self> {
        let connec = ConnecEmulator::new(emulators::ConnecConfig::default());
        let hubspot = HubSpotEmulator::new(emulators::HubSpotConfig::default());
        let servers = vec![connec.start().await?, hubspot.start().await?];
        Ok(Self {
            connec,
            hubspot,
            servers,
        })
    }

    /// Connec! with the emulator's default credentials.
    pub fn hub(&self) -> HubEndpoint {
        HubEndpoint {
            url: self.servers[0].base_url.clone(),
            api_id: "demo-id".into(),
            api_key: "demo-key".into(),
        }
    }

    /// The HubSpot emulator's URL.
    pub fn hubspot_url(&self) -> &str {
        &self.servers[1].base_url
    }

    /// HubSpot as a private app on the emulator's default token.
    pub fn app(&self, tuning: &Tuning) -> Result<hubspot::HubSpotProvider, hubspot::SetupError> {
        hubspot::HubSpotProvider::new(
            hubspot::HubSpotSettings::private_app(&self.servers[1].base_url, "demo-token", PORTAL),
            &tuning.build_context("http://127.0.0.1"),
        )
    }

    /// Removes every fault of both emulators.
    pub fn clear_faults(&self) {
        self.connec.clear_faults();
        self.hubspot.clear_faults();
    }

    /// Zeroes both emulators' call counters.
    pub fn reset_stats(&self) {
        self.connec.reset_stats();
        self.hubspot.reset_stats();
    }

    /// Write calls both emulators counted since the last reset.
    pub fn writes(&self) -> u64 {
        self.connec.stats().writes + self.hubspot.stats().writes
    }

    /// Every record of a kind on a side, archived and inactive ones included.
    pub fn all(&self, side: Side, kind: Kind) -> Vec<Value> {
        match side {
            Side::Hub => self.connec.records(GROUP, kind.collection()),
            Side::App => self.hubspot.all_objects_including_archived(kind.object()),
        }
    }

    /// One record by id (archived ones included).
    pub fn get(&self, side: Side, kind: Kind, id: &str) -> Option<Value> {
        match side {
            Side::Hub => self.connec.get(GROUP, kind.collection(), id),
            Side::App => self.hubspot.get(kind.object(), id),
        }
    }
}

/// The id of a record of either side.
pub fn id_of(side: Side, record: &Value) -> Option<String> {
    match side {
        Side::Hub => record::hub_id(record).map(|id| id.to_string()),
        Side::App => record.get("id").and_then(Value::as_str).map(str::to_owned),
    }
}

/// Whether a record is archived (HubSpot) or inactive (Connec!).
pub fn is_archived(side: Side, record: &Value) -> bool {
    match side {
        Side::Hub => record::is_inactive(record),
        Side::App => record.get("archived").and_then(Value::as_bool) == Some(true),
    }
}

/// The suite's key of a record.
pub fn key_of(side: Side, kind: Kind, record: &Value) -> Option<String> {
    let value = match side {
        Side::Hub => record.get(kind.hub_key()),
        Side::App => record.pointer(&format!("/properties/{}", kind.app_key())),
    };
    value.and_then(Value::as_str).map(str::to_owned)
}

/// The organization of the suite, historical data on.
pub fn organization() -> Organization {
    let now = SystemClock.now();
    Organization {
        id: OrgId::new(GROUP),
        tenant: Tenant::new("default"),
        group_id: GroupId::new(GROUP),
        provider: Provider::new(hubspot::PROVIDER),
        realm: Realm::new(PORTAL),
        name: "Chaos Co".into(),
        sync_enabled: true,
        entity_flags: Default::default(),
        history_from: None,
        linked_at: now,
    }
}

/// One world per conflict policy: emulators, store, engine.
pub struct World {
    /// Both emulators.
    pub sides: Sides,
    /// The store.
    pub store: Arc<EmbeddedStore>,
    /// The engine (absent in the CLI variant, where `connector sync` processes run).
    pub engine: Option<SyncEngine>,
    /// The organization.
    pub org: OrgId,
    /// The conflict policy.
    pub policy: ConflictPolicy,
    /// The store's file.
    pub database: PathBuf,
    dir: tempfile::TempDir,
}

impl World {
    /// Starts a world; `with_engine` is false for the CLI variant.
    pub async fn start(policy: ConflictPolicy, with_engine: bool) -> Result<Self, String> {
        let sides = Sides::start()
            .await
            .map_err(|e| format!("cannot start the emulators on loopback: {e}"))?;
        let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temp folder: {e}"))?;
        let database = dir.path().join("chaos.db");
        let store = Arc::new(EmbeddedStore::open(&database).map_err(|e| e.to_string())?);
        let org = organization();
        store
            .put_organization(&org)
            .await
            .map_err(|e| e.to_string())?;
        let engine = if with_engine {
            let tuning = Tuning {
                http: chaos_http(),
                overlap: Duration::from_secs(1),
                conflict_policy: policy,
            };
            let app = sides.app(&tuning).map_err(|e| e.to_string())?;
            let Stack { engine, .. } = service::build_static(
                store.clone(),
                &sides.hub(),
                &tuning,
                &app as &dyn AppProvider,
            )
            .map_err(|e| e.to_string())?;
            Some(engine)
        } else {
            None
        };
        Ok(Self {
            sides,
            store,
            engine,
            org: org.id,
            policy,
            database,
            dir,
        })
    }

    /// The folder of the store's file (the CLI variant writes its configuration there).
    pub fn folder(&self) -> &std::path::Path {
        self.dir.path()
    }
}
