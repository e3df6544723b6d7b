//! Connec! and the app's emulator on loopback, the embedded store on a temporary file and the engine wired as
//! the CLI wires it, plus the lookups the suite needs on both sides.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use connec::record;
use emulators::{ConnecEmulator, RunningServer};
use http_client::HttpConfig;
use serde_json::Value;
use service::{HubEndpoint, Stack, Tuning};
use store_embedded::EmbeddedStore;
use sync_core::domain::Run;
use sync_core::domain::{ConflictPolicy, GroupId, OrgId, Organization, Side, Tenant, Timestamp};
use sync_core::engine::{RunOptions, SyncEngine};
use sync_core::error::SyncError;
use sync_core::ports::{Clock, SyncStore, SystemClock};

use crate::app::{App, AppSide};
use crate::check::{Figures, check};
use crate::hubspot_side::HubSpotSide;
use crate::ledger::{Fields, Kind, Ledger};
use crate::xero_side::XeroSide;

/// The Connec! group of the suite.
pub const GROUP: &str = "cld-chaos";
pub use crate::hubspot_side::PORTAL;

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

/// Connec! and the app, running.
pub struct Sides {
    /// Connec!.
    pub connec: ConnecEmulator,
    /// The app.
    pub app: Box<dyn AppSide>,
    server: RunningServer,
}

impl Sides {
    /// Starts Connec! and `app` on free loopback ports.
    pub async fn start(app: App) -> std::io::Result<Self> {
        let connec = ConnecEmulator::new(emulators::ConnecConfig::default());
        let server = connec.start().await?;
        let app: Box<dyn AppSide> = match app {
            App::HubSpot => Box::new(crate::hubspot_side::HubSpotSide::start().await?),
            App::Xero => Box::new(crate::xero_side::XeroSide::start().await?),
        };
        Ok(Self {
            connec,
            app,
            server,
        })
    }

    /// Connec! with the emulator's default credentials.
    pub fn hub(&self) -> HubEndpoint {
        HubEndpoint {
            url: self.server.base_url.clone(),
            api_id: "demo-id".into(),
            api_key: "demo-key".into(),
        }
    }

    /// Removes every fault of both emulators.
    pub fn clear_faults(&self) {
        self.connec.clear_faults();
        self.app.clear_faults();
    }

    /// Zeroes both emulators' call counters.
    pub fn reset_stats(&self) {
        self.connec.reset_stats();
        self.app.reset_stats();
    }

    /// Every record of a kind on a side, archived and inactive ones included.
    pub fn all(&self, side: Side, kind: Kind) -> Vec<Value> {
        match side {
            Side::Hub => self.connec.records(GROUP, kind.collection()),
            Side::App => self.app.all(kind),
        }
    }

    /// One record by id (archived ones included).
    pub fn get(&self, side: Side, kind: Kind, id: &str) -> Option<Value> {
        match side {
            Side::Hub => self.connec.get(GROUP, kind.collection(), id),
            Side::App => self.app.get(kind, id),
        }
    }

    /// The id of a record of either side.
    pub fn id_of(&self, side: Side, kind: Kind, record: &Value) -> Option<String> {
        match side {
            Side::Hub => record::hub_id(record).map(|id| id.to_string()),
            Side::App => self.app.id_of(kind, record),
        }
    }

    /// Whether a record is archived (app) or inactive (Connec!).
    pub fn is_archived(&self, side: Side, record: &Value) -> bool {
        match side {
            Side::Hub => record::is_inactive(record),
            Side::App => self.app.is_archived(record),
        }
    }

    /// The suite's key of a record.
    pub fn key_of(&self, side: Side, kind: Kind, record: &Value) -> Option<String> {
        match side {
            Side::Hub => record
                .get(kind.hub_key())
                .and_then(Value::as_str)
                .map(str::to_owned),
            Side::App => self.app.key_of(kind, record),
        }
    }

    /// A record's modification time.
    pub fn stamp(&self, side: Side, kind: Kind, record: &Value) -> Option<Timestamp> {
        match side {
            Side::Hub => record
                .get("updated_at")
                .and_then(Value::as_str)
                .and_then(Timestamp::parse),
            Side::App => self.app.stamp(kind, record),
        }
    }

    /// The edited fields a record of either side holds.
    pub fn fields_of(&self, side: Side, kind: Kind, record: &Value) -> Fields {
        match side {
            Side::Hub => Fields::from_hub(self.app.hub_paths(kind), record),
            Side::App => self.app.fields_of(kind, record),
        }
    }
}

/// The organization of the suite, historical data on.
pub fn organization(app: &dyn AppSide) -> Organization {
    let now = SystemClock.now();
    let (provider, realm) = app.link();
    Organization {
        id: OrgId::new(GROUP),
        tenant: Tenant::new("default"),
        group_id: GroupId::new(GROUP),
        provider,
        realm,
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
    pub async fn start(
        app: App,
        policy: ConflictPolicy,
        with_engine: bool,
    ) -> Result<Self, String> {
        let sides = Sides::start(app)
            .await
            .map_err(|e| format!("cannot start the emulators on loopback: {e}"))?;
        let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temp folder: {e}"))?;
        let database = dir.path().join("chaos.db");
        let store = Arc::new(EmbeddedStore::open(&database).map_err(|e| e.to_string())?);
        let org = organization(sides.app.as_ref());
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
            let app = sides.app.provider(&tuning)?;
            let Stack { engine, .. } =
                service::build_static(store.clone(), &sides.hub(), &tuning, app.as_ref())
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

    /// One scheduled sync of the organization (the world must have its engine).
    pub async fn sync(&self) -> Result<Run, SyncError> {
        let engine = self
            .engine
            .as_ref()
            .expect("a world started with its engine");
        engine.sync(&self.org, RunOptions::default()).await
    }

    /// The suite's checks of both sides and the id-maps against `ledger`.
    pub async fn check(&self, ledger: &Ledger) -> Figures {
        check(
            &self.sides,
            self.store.as_ref(),
            &self.org,
            ledger,
            self.policy,
        )
        .await
    }

    /// The HubSpot side of a world started on HubSpot.
    pub fn hubspot(&self) -> &HubSpotSide {
        self.sides
            .app
            .as_any()
            .downcast_ref::<HubSpotSide>()
            .expect("a world started on HubSpot")
    }

    /// The Xero side of a world started on Xero.
    pub fn xero(&self) -> &XeroSide {
        self.sides
            .app
            .as_any()
            .downcast_ref::<XeroSide>()
            .expect("a world started on Xero")
    }
}
