//! `connector bench quota`: the share of an app's call allowance a large initial sync uses.
//!
//! The Connec! emulator and the app's emulator run in this process, the app limited to `--limit`
//! calls per rolling window (HubSpot: `--interval-seconds`, 10 by default; Xero: its minute, with
//! its 5 calls at once and 5,000 a day). Connec! is seeded with N people and N/10 organizations,
//! the people each in one organization (for Xero 4 per organization, as a contact keeps at most
//! 5 contact persons, and the others on their own); one initial sync carries them to the app. The app's call
//! counts are sampled at each window's end, and the report says how many calls it received, how
//! many it refused with 429, and the share of the allowance used (see [`QuotaReport`] for how
//! the partial last window is counted).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use emulators::xero::DEMO_TENANT_ID;
use emulators::{
    CallStats, ConnecEmulator, HubSpotConfig, HubSpotEmulator, RateLimit, RunningServer,
    XeroConfig, XeroEmulator, XeroLimits,
};
use http_client::HttpConfig;
use serde_json::json;
use sync_core::domain::{OrgId, RunStatus};
use sync_core::engine::RunOptions;
use sync_core::ports::SyncStore;
use tokio::time::Instant;

use super::BenchError;
use crate::demo::{GROUP, PORTAL};
use crate::wiring::{self, HubEndpoint, Tuning, WiringError};

pub use super::quota_report::QuotaReport;

/// The app whose allowance is measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum App {
    /// HubSpot: `--limit` calls per `--interval-seconds` per token.
    Hubspot,
    /// Xero: `--limit` calls per minute per tenant (the window is Xero's minute).
    Xero,
}

/// `connector bench quota`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app to sync to.
    #[arg(long, value_enum, default_value_t = App::Hubspot)]
    pub app: App,
    /// Number of people to sync (and a tenth as many organizations).
    #[arg(long, default_value_t = 15_000)]
    pub records: usize,
    /// Calls the app allows per window.
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
    /// The window, in seconds (HubSpot only; Xero's is its minute). Default: 10 for HubSpot.
    #[arg(long)]
    pub interval_seconds: Option<u64>,
}

/// The app's emulator, running.
enum Emulated {
    HubSpot(HubSpotEmulator, RunningServer),
    Xero(XeroEmulator, RunningServer),
}

impl Emulated {
    fn stats(&self) -> CallStats {
        match self {
            Self::HubSpot(emu, _) => emu.stats(),
            Self::Xero(emu, _) => emu.stats(),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::HubSpot(..) => "HubSpot",
            Self::Xero(..) => "Xero",
        }
    }

    async fn shutdown(self) {
        match self {
            Self::HubSpot(_, server) | Self::Xero(_, server) => server.shutdown().await,
        }
    }
}

/// `(calls received, refused, accepted)`: every refusal here is a 429 (no faults, valid tokens).
fn counts(stats: &CallStats) -> (u64, u64, u64) {
    let calls = stats.reads + stats.writes;
    (calls, stats.rejected, calls.saturating_sub(stats.rejected))
}

/// Xero keeps at most 5 contact persons on a contact.
const XERO_PERSONS_PER_CONTACT: usize = 4;

/// Seeds Connec!: each person in an organization (round robin), or for Xero only the first
/// `XERO_PERSONS_PER_CONTACT` per organization, the others on their own (person contacts).
fn seed(connec: &ConnecEmulator, app: App, people: usize, organizations: usize) {
    let org_ids: Vec<String> = (0..organizations)
        .map(|i| {
            let created = connec.seed(
                GROUP,
                "organizations",
                json!({
                    "name": format!("Company {i}"),
                    "website": { "url": format!("company{i}.example") },
                    "email": { "address": format!("office@company{i}.example") },
                }),
            );
            connec::record::hub_id(&created)
                .expect("a seeded record has its id")
                .as_str()
                .to_owned()
        })
        .collect();
    let in_organizations = match app {
        App::Hubspot => people,
        App::Xero => XERO_PERSONS_PER_CONTACT * organizations,
    };
    for i in 0..people {
        let mut person = json!({
            "first_name": format!("First{i}"), "last_name": format!("Last{i}"),
            "email": { "address": format!("person{i}@bench.example") },
            "job_title": "Engineer",
        });
        if i < in_organizations {
            person["organization_id"] = json!(org_ids[i % org_ids.len()]);
        }
        connec.seed(GROUP, "people", person);
    }
}

/// Runs the benchmark on `store`.
pub async fn run(
    args: &Args,
    store: Arc<dyn SyncStore>,
    say: &mut dyn FnMut(&str),
) -> Result<QuotaReport, BenchError> {
    let people = args.records;
    let organizations = (people / 10).max(1);
    let window = match args.app {
        App::Hubspot => Duration::from_secs(args.interval_seconds.unwrap_or(10)),
        App::Xero => Duration::from_secs(60),
    };
    let connec = ConnecEmulator::new(emulators::ConnecConfig::default());
    let connec_server = connec.start().await.map_err(process)?;
    let tuning = Tuning {
        http: HttpConfig {
            timeout: Duration::from_secs(60),
            // A 429 may ask for up to a whole window.
            max_retry_after: window + Duration::from_secs(5),
            ..HttpConfig::fast()
        },
        ..Tuning::default()
    };
    let (app, provider, account) = match args.app {
        App::Hubspot => {
            let emu = HubSpotEmulator::new(HubSpotConfig {
                rate_limit: Some(RateLimit {
                    max: args.limit,
                    interval_ms: window.as_millis() as u64,
                }),
                ..HubSpotConfig::default()
            });
            let server = emu.start().await.map_err(process)?;
            let provider = wiring::emulated_hubspot(&server.base_url, PORTAL, &tuning)?;
            (Emulated::HubSpot(emu, server), provider, PORTAL)
        }
        App::Xero => {
            let emu = XeroEmulator::new(XeroConfig {
                limits: XeroLimits {
                    per_minute: args.limit,
                    ..XeroLimits::default()
                },
                ..XeroConfig::default()
            });
            let server = emu.start().await.map_err(process)?;
            let token = emu.grant(&[DEMO_TENANT_ID]).access_token;
            let settings = json!({
                "base_url": format!("{}/api.xro/2.0", server.base_url),
                "connections_url": format!("{}/connections", server.base_url),
                "access_token": token,
                "tenant_id": DEMO_TENANT_ID,
                "payment_account_code": "090",
            });
            let factory = connectors::factory("xero")
                .ok_or_else(|| BenchError::Process("this build has no Xero connector".into()))?;
            let provider = factory
                .build(settings, &tuning.build_context("http://127.0.0.1"))
                .map_err(WiringError::from)?;
            (Emulated::Xero(emu, server), provider, DEMO_TENANT_ID)
        }
    };
    say(&format!(
        "seeding {organizations} organizations and {people} people into the Connec! emulator..."
    ));
    seed(&connec, args.app, people, organizations);

    let hub = HubEndpoint {
        url: connec_server.base_url.clone(),
        api_id: "demo-id".into(),
        api_key: "demo-key".into(),
    };
    let stack = wiring::build_static(store.clone(), &hub, &tuning, provider.as_ref())?;
    let org = wiring::organization_of(
        OrgId::new(GROUP),
        GROUP,
        provider.id(),
        account,
        "Bench",
        true,
    );
    store.put_organization(&org).await?;
    let app = Arc::new(app);
    say(&format!(
        "syncing to {} limited to {} calls per {} s...",
        app.name(),
        args.limit,
        window.as_secs()
    ));

    let started = Instant::now();
    let boundaries = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let (app, boundaries) = (app.clone(), boundaries.clone());
        tokio::spawn(async move {
            for k in 1u32.. {
                tokio::time::sleep_until(started + window * k).await;
                let (_, _, accepted) = counts(&app.stats());
                boundaries.lock().expect("samples").push(accepted);
            }
        })
    };
    let outcome = stack
        .engine
        .sync(&OrgId::new(GROUP), RunOptions::default())
        .await;
    let elapsed = started.elapsed();
    let end = counts(&app.stats());
    sampler.abort();
    let run = outcome?;
    if run.status != RunStatus::Success || !run.errors.is_empty() {
        return Err(BenchError::Process(format!(
            "the sync ended {:?}: {:?}",
            run.status, run.errors
        )));
    }
    let at_boundaries = boundaries.lock().expect("samples").clone();
    let mut report = QuotaReport::from_samples(
        app.name(),
        people,
        organizations,
        u64::from(args.limit),
        window,
        elapsed,
        &at_boundaries,
        end,
    );
    report.by_route = app.stats().by_route.into_iter().collect();
    drop(stack);
    if let Ok(app) = Arc::try_unwrap(app) {
        app.shutdown().await;
    }
    connec_server.shutdown().await;
    Ok(report)
}

fn process(e: std::io::Error) -> BenchError {
    BenchError::Process(format!("cannot start an emulator: {e}"))
}

/// Runs `connector bench quota` on a temporary embedded store and prints its report.
pub async fn command(args: Args) -> Result<(), String> {
    if args.records == 0 || args.limit == 0 {
        return Err("--records and --limit must be at least 1".into());
    }
    match (args.app, args.interval_seconds) {
        (App::Xero, Some(s)) if s != 60 => {
            return Err("Xero's window is its minute: leave out --interval-seconds".into());
        }
        (_, Some(0)) => return Err("--interval-seconds must be at least 1".into()),
        _ => {}
    }
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    let store = store_embedded::EmbeddedStore::open(dir.path().join("bench.db"))
        .map_err(|e| e.to_string())?;
    let report = run(&args, Arc::new(store), &mut |l| eprintln!("{l}"))
        .await
        .map_err(|e| e.to_string())?;
    print!("{}", report.render());
    Ok(())
}
