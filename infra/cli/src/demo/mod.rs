//! `connector demo`: the whole two-way sync on one machine, against in-process emulators.
//!
//! Seeds both sides (with records that exist on both and must merge), links an organization,
//! runs the first sync, changes records on both sides (one on both at once), runs an
//! incremental sync, prints what happened and the final state, and checks that both sides agree.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use emulators::{ConnecEmulator, HubSpotEmulator, RunningServer};
use http_client::HttpConfig;
use serde_json::Value;
use sync_core::domain::{OrgId, Run};
use sync_core::engine::RunOptions;
use sync_core::ports::SyncStore;

use crate::report::run_summary;

mod hubspot;
pub mod xero;
mod xero_checks;
mod xero_seed;
mod xero_view;

use crate::wiring::{self, Disagreement, HubEndpoint, Stack, Tuning};
use hubspot::{change_both_sides, final_state, seed};

/// The demo's Connec! group and HubSpot portal.
pub const GROUP: &str = "cld-demo";
/// Portal id of the emulated HubSpot account.
pub const PORTAL: &str = "62515";
/// The apps `connector demo` runs on (the first is the default).
pub const APPS: &[&str] = &["hubspot", "xero"];

/// Both emulators, running on loopback.
pub struct Emulators {
    /// Connec!.
    pub connec: ConnecEmulator,
    /// HubSpot.
    pub hubspot: HubSpotEmulator,
    /// Connec! server.
    pub connec_server: RunningServer,
    /// HubSpot server.
    pub hubspot_server: RunningServer,
}

impl Emulators {
    /// Starts both on free loopback ports.
    pub async fn start() -> std::io::Result<Self> {
        let connec = ConnecEmulator::new(emulators::ConnecConfig::default());
        let hubspot = HubSpotEmulator::new(emulators::HubSpotConfig::default());
        let connec_server = connec.start().await?;
        let hubspot_server = hubspot.start().await?;
        Ok(Self {
            connec,
            hubspot,
            connec_server,
            hubspot_server,
        })
    }

    /// Connec! with the emulator's default credentials.
    pub fn hub(&self) -> HubEndpoint {
        HubEndpoint {
            url: self.connec_server.base_url.clone(),
            api_id: "demo-id".into(),
            api_key: "demo-key".into(),
        }
    }

    /// HubSpot on the emulator, as a private app of the demo portal.
    pub fn app(
        &self,
        tuning: &Tuning,
    ) -> Result<Arc<dyn connector_sdk::AppProvider>, wiring::WiringError> {
        wiring::emulated_hubspot(&self.hubspot_server.base_url, PORTAL, tuning)
    }

    /// Every record of both sides, keyed by hub collection and app object type.
    pub fn snapshot(&self) -> (HashMap<String, Vec<Value>>, HashMap<String, Vec<Value>>) {
        let mut hub = HashMap::new();
        for collection in ["organizations", "people"] {
            hub.insert(
                collection.to_owned(),
                self.connec.records(GROUP, collection),
            );
        }
        let mut app = HashMap::new();
        for object in ["companies", "contacts"] {
            app.insert(
                object.to_owned(),
                self.hubspot.all_objects_including_archived(object),
            );
        }
        (hub, app)
    }
}

/// What the demo found.
pub struct DemoOutcome {
    /// First sync.
    pub first: Run,
    /// Incremental sync.
    pub second: Run,
    /// Mismatches left (empty when the sides agree).
    pub disagreements: Vec<Disagreement>,
    /// The printed report.
    pub report: String,
}

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Emulators could not start.
    #[error("cannot start the emulators on loopback: {0}")]
    Io(#[from] std::io::Error),
    /// Wiring.
    #[error(transparent)]
    Wiring(#[from] wiring::WiringError),
    /// A sync could not run.
    #[error(transparent)]
    Sync(#[from] sync_core::error::SyncError),
    /// Another run holds the organization's lease (a reused `--database`).
    #[error(transparent)]
    Lease(crate::lease::LeaseRunError),
    /// Store.
    #[error(transparent)]
    Store(#[from] sync_core::error::StoreError),
    /// The demo cannot be set up, or cannot read its records back.
    #[error("{0}")]
    Demo(String),
}

/// Runs the demo on `store`, printing as it goes through `say`.
pub async fn run(
    store: Arc<dyn SyncStore>,
    say: &mut dyn FnMut(&str),
) -> Result<DemoOutcome, DemoError> {
    let emulators = Emulators::start().await?;
    say(&format!(
        "Connec! emulator on {}, HubSpot emulator on {}",
        emulators.connec_server.base_url, emulators.hubspot_server.base_url
    ));
    seed(&emulators);
    say(
        "Seeded Connec! with 3 organizations and 4 people, HubSpot with 2 companies and 2 contacts;",
    );
    say("  'Acme Corp' and ann@acme.example exist on both sides and must merge, not duplicate.");

    let tuning = Tuning {
        http: HttpConfig::fast(),
        overlap: Duration::from_secs(1),
        ..Tuning::default()
    };
    let app = emulators.app(&tuning)?;
    let Stack { engine, connector } =
        wiring::build_static(store.clone(), &emulators.hub(), &tuning, app.as_ref())?;
    let org = wiring::organization(GROUP, PORTAL, "Demo Co", true);
    store.put_organization(&org).await?;
    say(&format!(
        "Linked Connec! group {GROUP} to HubSpot portal {PORTAL} (historical data on: existing records travel)."
    ));

    let first = sync(store.as_ref(), &engine, &org.id).await?;
    let mut report = run_summary("First sync", &first);

    change_both_sides(&emulators);
    report.push_str(
        "\nChanged: Bob's job title in Connec!; Erin's phone in HubSpot; Ann in both (HubSpot last, so it wins);\n\
         Dave set INACTIVE in Connec! (archived in HubSpot).\n\n",
    );
    // Both edits to Ann must be strictly ordered in time for "most recent wins" to be visible.
    tokio::time::sleep(Duration::from_millis(5)).await;

    let second = sync(store.as_ref(), &engine, &org.id).await?;
    report.push_str(&run_summary("Incremental sync", &second));

    let (hub, app) = emulators.snapshot();
    report.push('\n');
    report.push_str(&final_state(&hub, &app));
    let disagreements = wiring::compare_sides(
        store.as_ref(),
        &OrgId::new(GROUP),
        connector.as_ref(),
        &hub,
        &app,
    )
    .await?;
    if disagreements.is_empty() {
        report.push_str("\nConnec! and HubSpot agree on every synced record.\n");
    } else {
        report.push_str("\nConnec! and HubSpot DISAGREE:\n");
        for d in &disagreements {
            report.push_str(&format!("  {}: {}\n", d.entity, d.detail));
        }
    }
    say(&report);
    emulators.connec_server.shutdown().await;
    emulators.hubspot_server.shutdown().await;
    Ok(DemoOutcome {
        first,
        second,
        disagreements,
        report,
    })
}

/// One sync; a lease left by a killed demo on a reused `--database` is freed (see
/// [`crate::lease`]).
pub(crate) async fn sync(
    store: &dyn SyncStore,
    engine: &sync_core::engine::SyncEngine,
    org: &OrgId,
) -> Result<Run, DemoError> {
    crate::lease::run_with_lease_recovery(store, org, || engine.sync(org, RunOptions::default()))
        .await
        .map_err(|e| match e {
            crate::lease::LeaseRunError::Sync(e) => DemoError::Sync(e),
            other => DemoError::Lease(other),
        })
}

/// The text at `pointer`, or `-`.
pub(crate) fn text(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "-".into(),
    }
}
