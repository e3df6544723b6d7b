//! `connector bench sync`: an initial sync of N people and N/10 organizations, measured.
//!
//! The emulators run in a child process (`connector emulate`) so that the peak memory measured
//! is the engine's and the store's alone, not the emulators' growing data.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_client::HttpConfig;
use serde_json::{Value, json};
use sync_core::domain::OrgId;
use sync_core::engine::RunOptions;
use sync_core::ports::SyncStore;

use super::{BenchError, ChildGuard, free_port, peak_rss_kib, wait_ready};
use crate::demo::{GROUP, PORTAL};
use crate::wiring::{self, HubEndpoint, Tuning};

/// What the benchmark measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// People synced.
    pub people: usize,
    /// Organizations synced.
    pub organizations: usize,
    /// Wall time of the sync.
    pub seconds: f64,
    /// Read calls (both APIs).
    pub reads: u64,
    /// Write calls (both APIs).
    pub writes: u64,
    /// The fewest reads the page sizes allow.
    pub min_reads: u64,
    /// The fewest writes the batch sizes allow.
    pub min_writes: u64,
    /// Store operations.
    pub store_ops: u64,
    /// Peak resident memory of this process, KiB.
    pub peak_rss_kib: u64,
    /// Peak resident memory before the sync started, KiB.
    pub baseline_rss_kib: u64,
}

impl BenchReport {
    /// Printable summary.
    pub fn render(&self) -> String {
        let records = (self.people + self.organizations) as f64;
        format!(
            "initial sync of {} people + {} organizations (Connec! -> HubSpot)\n\
             records/s           {:.0}\n\
             time                {:.2} s\n\
             HTTP reads          {} ({:.4}/record; minimum {} -> {:.3}x)\n\
             HTTP writes         {} ({:.4}/record; minimum {} -> {:.3}x)\n\
             store ops           {} ({:.4}/record)\n\
             peak RSS            {} KiB (before the sync: {} KiB; growth {} KiB)\n",
            self.people,
            self.organizations,
            records / self.seconds.max(1e-9),
            self.seconds,
            self.reads,
            self.reads as f64 / records,
            self.min_reads,
            self.reads as f64 / self.min_reads.max(1) as f64,
            self.writes,
            self.writes as f64 / records,
            self.min_writes,
            self.writes as f64 / self.min_writes.max(1) as f64,
            self.store_ops,
            self.store_ops as f64 / records,
            self.peak_rss_kib,
            self.baseline_rss_kib,
            self.peak_rss_kib.saturating_sub(self.baseline_rss_kib),
        )
    }
}

/// Runs the benchmark: `store` receives the id-maps, `store_ops` reads its operation counter.
pub async fn run(
    people: usize,
    store: Arc<dyn SyncStore>,
    store_ops: &dyn Fn() -> u64,
    say: &mut dyn FnMut(&str),
) -> Result<BenchReport, BenchError> {
    let organizations = (people / 10).max(1);
    let (connec_port, hubspot_port) = (free_port()?, free_port()?);
    let exe = std::env::current_exe().map_err(|e| BenchError::Process(e.to_string()))?;
    let child = Command::new(exe)
        .args([
            "emulate",
            "--connec-port",
            &connec_port.to_string(),
            "--hubspot-port",
            &hubspot_port.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| BenchError::Process(format!("cannot start `connector emulate`: {e}")))?;
    let _guard = ChildGuard(child);
    let connec = format!("http://127.0.0.1:{connec_port}");
    let hubspot = format!("http://127.0.0.1:{hubspot_port}");
    let http = reqwest::Client::new();
    wait_ready(&http, &connec).await?;
    wait_ready(&http, &hubspot).await?;

    say(&format!(
        "seeding {organizations} organizations and {people} people into the Connec! emulator..."
    ));
    let mut org_ids = Vec::with_capacity(organizations);
    for chunk_start in (0..organizations).step_by(1000) {
        let batch: Vec<Value> = (chunk_start..(chunk_start + 1000).min(organizations))
            .map(|i| json!({ "name": format!("Company {i}"), "website": { "url": format!("company{i}.example") }, "number_of_employees": i % 500 }))
            .collect();
        let created: Vec<Value> = http
            .post(format!("{connec}/_emulator/seed/{GROUP}/organizations"))
            .json(&batch)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        org_ids.extend(created.iter().filter_map(connec::record::hub_id));
    }
    for chunk_start in (0..people).step_by(1000) {
        let batch: Vec<Value> = (chunk_start..(chunk_start + 1000).min(people))
            .map(|i| {
                json!({
                    "first_name": format!("First{i}"), "last_name": format!("Last{i}"),
                    "email": { "address": format!("person{i}@bench.example") },
                    "job_title": "Engineer",
                    "organization_id": org_ids[i % org_ids.len()].as_str(),
                })
            })
            .collect();
        http.post(format!("{connec}/_emulator/seed/{GROUP}/people"))
            .json(&batch)
            .send()
            .await?
            .error_for_status()?;
    }
    for base in [&connec, &hubspot] {
        http.post(format!("{base}/_emulator/stats/reset"))
            .send()
            .await?
            .error_for_status()?;
    }

    let hub = HubEndpoint {
        url: connec.clone(),
        api_id: "demo-id".into(),
        api_key: "demo-key".into(),
    };
    let tuning = Tuning {
        http: HttpConfig {
            timeout: Duration::from_secs(60),
            ..HttpConfig::fast()
        },
        ..Tuning::default()
    };
    let app = wiring::emulated_hubspot(&hubspot, PORTAL, &tuning)?;
    let stack = wiring::build_static(store.clone(), &hub, &tuning, app.as_ref())?;
    let org = wiring::organization(GROUP, PORTAL, "Bench", true);
    store.put_organization(&org).await?;
    let ops_before = store_ops();
    let baseline = peak_rss_kib();
    say("syncing...");
    let started = Instant::now();
    let run = stack
        .engine
        .sync(&OrgId::new(GROUP), RunOptions::default())
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss_kib();
    if !run.errors.is_empty() {
        return Err(BenchError::Process(format!(
            "the sync failed: {:?}",
            run.errors
        )));
    }

    let mut reads = 0;
    let mut writes = 0;
    for base in [&connec, &hubspot] {
        let stats: Value = http
            .get(format!("{base}/_emulator/stats"))
            .send()
            .await?
            .json()
            .await?;
        reads += stats["reads"].as_u64().unwrap_or(0);
        writes += stats["writes"].as_u64().unwrap_or(0);
    }
    let pages = |n: usize, size: usize| n.div_ceil(size) as u64;
    // Hub pages of both collections, one (empty) app listing per entity, and one
    // match-before-create search per 100 new companies.
    let min_reads = pages(people, 100) + pages(organizations, 100) + 2;
    let min_writes = pages(people, 100) + pages(organizations, 100);
    Ok(BenchReport {
        people,
        organizations,
        seconds,
        reads,
        writes,
        min_reads,
        min_writes,
        store_ops: store_ops() - ops_before,
        peak_rss_kib: peak,
        baseline_rss_kib: baseline,
    })
}

/// `connector bench sync`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of people.
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
}

/// Runs `connector bench sync` on a temporary embedded store and prints its report.
pub async fn command(args: Args) -> Result<(), String> {
    if args.records == 0 {
        return Err("--records must be at least 1".into());
    }
    let dir = tempfile::tempdir().map_err(|e| format!("cannot create a temporary folder: {e}"))?;
    let store = store_embedded::EmbeddedStore::open(dir.path().join("bench.db"))
        .map_err(|e| e.to_string())?;
    let counter = store.clone();
    let report = run(
        args.records,
        Arc::new(store),
        &move || counter.operations(),
        &mut |l| eprintln!("{l}"),
    )
    .await
    .map_err(|e| e.to_string())?;
    print!("{}", report.render());
    Ok(())
}
