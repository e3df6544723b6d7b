//! `connector bench peer`: one Connec! collection read by a peer, an Airbyte declarative
//! (low-code) source, and by our read path, against the same emulator in one run.
//!
//! One `connector emulate` child holds N people and N/10 organizations. Then, in this order
//! (the peer first, so that it reads the records before our run writes ids back into them):
//!
//! - **Airbyte**: the CDK's `source-declarative-manifest` with our manifest
//!   (`infra/peer/airbyte/connec_manifest.yaml`): `spec` and `check` runs show its start-up, then
//!   `read` of the `people` stream, its RECORD messages counted on stdout. Two figures: the wall
//!   time from spawn to exit, and the steady state from its first RECORD message to its last
//!   (no interpreter start-up, no manifest parsing, no first request).
//! - **Floor**: plain GETs of every page, parsed and dropped: the emulator's share of both.
//! - **Ours**: the engine's real first sync of the organization, Connec! -> HubSpot's mappings ->
//!   a HubSpot that keeps records in memory ([`peer_sink`](super::peer_sink)), on an embedded
//!   store. Per record: the Connec! client's paging, the decision (id-map lookup in the store,
//!   content hash), the mapping to HubSpot's contact shape with the organization reference
//!   translated through the id-maps, match-before-create, the write, the id-map saved, and the
//!   app id written back to Connec! (`/batch`). Organizations sync first (people reference
//!   them); the people's phase is timed from the organizations' last page to the people's last.
//! - **Ours, read path**: a full resync of the same organization right after: every person
//!   read from Connec! again, mapped, hashed and looked up in the id-maps, and found unchanged
//!   (nothing is written). This is the like-for-like figure: both sides read the whole
//!   collection, ours does more with each record.
//!
//! Both sides page with the same `$top` (`--page-size`, 100 by default) and the same
//! `$orderby`. Both counts must be N, or the benchmark fails.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use connec::{ConnecClient, ConnecConfig};
use http_client::HttpConfig;
use sync_core::domain::{Direction, OrgId};
use sync_core::engine::{EngineConfig, PageProgress, RunOptions, SyncEngine};
use sync_core::ports::{Clock, SyncStore, SystemClock};

use super::peer_airbyte::{self, Runner, Source, Timed};
use super::peer_emulator::{floor, seed, take_stats};
use super::peer_sink::SinkApp;
use super::peer_timing::{HubTime, TimedHub, cpu_seconds};
use super::{BenchError, ChildGuard, free_port, wait_ready};
use crate::demo::{GROUP, PORTAL};
use crate::wiring::{self, Tuning};

/// `connector bench peer`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of people in the collection (plus a tenth as many organizations).
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
    /// Records per page on both sides (Connec!'s `$top`, at most 100).
    #[arg(long, default_value_t = 100)]
    pub page_size: usize,
    /// The virtual environment holding airbyte-cdk (default: <repo>/.venv/airbyte).
    #[arg(long, env = "AIRBYTE_VENV")]
    pub airbyte_venv: Option<PathBuf>,
}

/// The peer's figures.
#[derive(Debug, Clone)]
pub struct AirbyteSide {
    /// The installed airbyte-cdk.
    pub version: String,
    /// `spec`: interpreter and imports.
    pub spec: Timed,
    /// `check`: start-up, manifest, one page.
    pub check: Timed,
    /// `read` of `people`.
    pub read: Timed,
    /// Connec! calls during the read.
    pub hub_reads: u64,
}

/// Our figures.
#[derive(Debug, Clone)]
pub struct OurSide {
    /// Wall time of the whole engine run (organizations and people).
    pub run_seconds: f64,
    /// From the organizations' last page to the people's last page.
    pub people_seconds: f64,
    /// People read from Connec! towards the app.
    pub people_read: u64,
    /// People created in the app.
    pub people_created: u64,
    /// Organizations created in the app.
    pub organizations_created: u64,
    /// Connec! calls of the run.
    pub hub_reads: u64,
    /// Connec! writes of the run (the id write-backs).
    pub hub_writes: u64,
    /// Store operations of the run.
    pub store_ops: u64,
    /// Time of the run spent waiting on Connec!.
    pub hub_time: HubTime,
    /// CPU seconds of this process during the run.
    pub cpu: f64,
}

/// What the benchmark measured.
#[derive(Debug, Clone)]
pub struct PeerReport {
    /// People in the collection.
    pub people: usize,
    /// Organizations in the collection.
    pub organizations: usize,
    /// `$top` of both sides.
    pub page_size: usize,
    /// Plain GETs of every page: (seconds, records).
    pub floor: (f64, u64),
    /// The peer.
    pub airbyte: AirbyteSide,
    /// Us: the first sync.
    pub ours: OurSide,
    /// Us: a full resync of the same collection (every record read, mapped, hashed and looked
    /// up in the id-maps; nothing to write): our read path.
    pub resync: OurSide,
}

fn rate(records: f64, seconds: f64) -> f64 {
    records / seconds.max(1e-9)
}

impl PeerReport {
    /// Airbyte's people/s over its whole `read`.
    pub fn airbyte_wall_rate(&self) -> f64 {
        rate(self.people as f64, self.airbyte.read.seconds)
    }

    /// Airbyte's records/s from its first RECORD message to its last (no start-up).
    pub fn airbyte_steady_rate(&self) -> f64 {
        self.airbyte.read.steady_rate().unwrap_or(0.0)
    }

    /// Our people/s over the whole run (organizations included in the time).
    pub fn ours_run_rate(&self) -> f64 {
        rate(self.people as f64, self.ours.run_seconds)
    }

    /// Our people/s over the people's phase.
    pub fn ours_people_rate(&self) -> f64 {
        rate(self.people as f64, self.ours.people_seconds)
    }

    /// Our read path: people/s over the people's phase of the full resync.
    pub fn resync_people_rate(&self) -> f64 {
        rate(self.people as f64, self.resync.people_seconds)
    }

    /// Printable summary.
    pub fn render(&self) -> String {
        let a = &self.airbyte;
        let o = &self.ours;
        format!(
            "peer side by side: {people} people (+{orgs} organizations) in one Connec! emulator, \
             pages of {page} ($top) on both sides\n\
             airbyte-cdk {version}: source-declarative-manifest read, people stream\n\
             \x20 records              {a_records}\n\
             \x20 read (wall)          {read:.2} s, spawn to exit   -> {a_wall:.0} records/s\n\
             \x20 start-up             spec {spec:.2} s; check {check:.2} s (start-up + manifest + one page); \
             first record after {first:.2} s\n\
             \x20 steady state         first to last record {steady:.2} s -> {a_net:.0} records/s\n\
             \x20 CPU                  {a_cpu:.2} s (user + system)  -> {a_cpu_rate:.0} records per CPU-second\n\
             \x20 Connec! reads        {a_reads}\n\
             ours: engine run Connec! -> HubSpot mappings -> in-memory HubSpot, embedded store\n\
             \x20 people read          {o_read} (created in the app: {o_created}; organizations: {o_orgs})\n\
             \x20 whole run (wall)     {run:.2} s (organizations first) -> {o_run:.0} people/s\n\
             \x20 people phase         {phase:.2} s                   -> {o_phase:.0} records/s\n\
             \x20 Connec! calls        {o_reads} reads, {o_writes} writes (id write-backs)\n\
             \x20 Connec! call time    reads {t_reads:.2} s (read ahead: they overlap the work), \
             write-backs {t_writes:.2} s\n\
             \x20 store ops            {ops} ({ops_per:.2}/record)\n\
             \x20 CPU                  {o_cpu:.2} s (user + system, organizations included) -> \
             {o_cpu_rate:.0} people per CPU-second\n\
             emulator floor: plain GETs of every people page, records dropped\n\
             \x20 records              {f_records} in {f_secs:.2} s        -> {f_rate:.0} records/s\n\
             ours, full resync: every person read, mapped, hashed, looked up in the id-maps; nothing to write\n\
             \x20 people read          {s_read}\n\
             \x20 people phase         {s_phase:.2} s                   -> {s_rate:.0} records/s\n\
             \x20 Connec! calls        {s_reads} reads, {s_writes} writes\n\
             \x20 CPU                  {s_cpu:.2} s (user + system, organizations included) -> \
             {s_cpu_rate:.0} people per CPU-second\n\
             ratio ours/airbyte (records/s)\n\
             \x20 read path: resync / steady state {r_read:.1}x\n\
             \x20 read path per CPU-second     {r_read_cpu:.1}x\n\
             \x20 people phase / steady state   {r_net:.1}x\n\
             \x20 whole run / read (wall)       {r_wall:.1}x\n\
             \x20 per CPU-second               {r_cpu:.1}x\n",
            people = self.people,
            orgs = self.organizations,
            page = self.page_size,
            version = a.version,
            a_records = a.read.records,
            read = a.read.seconds,
            a_wall = self.airbyte_wall_rate(),
            spec = a.spec.seconds,
            check = a.check.seconds,
            first = a.read.record_span.map_or(0.0, |(first, _)| first),
            steady = a.read.record_span.map_or(0.0, |(first, last)| last - first),
            a_net = self.airbyte_steady_rate(),
            a_cpu = a.read.cpu,
            a_cpu_rate = rate(self.people as f64, a.read.cpu),
            a_reads = a.hub_reads,
            o_read = o.people_read,
            o_created = o.people_created,
            o_orgs = o.organizations_created,
            run = o.run_seconds,
            o_run = self.ours_run_rate(),
            phase = o.people_seconds,
            o_phase = self.ours_people_rate(),
            o_reads = o.hub_reads,
            o_writes = o.hub_writes,
            t_reads = o.hub_time.reads.as_secs_f64(),
            t_writes = o.hub_time.writes.as_secs_f64(),
            ops = o.store_ops,
            o_cpu = o.cpu,
            o_cpu_rate = rate(self.people as f64, o.cpu),
            ops_per = o.store_ops as f64 / (self.people + self.organizations) as f64,
            f_records = self.floor.1,
            f_secs = self.floor.0,
            f_rate = rate(self.floor.1 as f64, self.floor.0),
            r_net = self.ours_people_rate() / self.airbyte_steady_rate().max(1e-9),
            r_read = self.resync_people_rate() / self.airbyte_steady_rate().max(1e-9),
            r_read_cpu =
                rate(self.people as f64, self.resync.cpu) / rate(self.people as f64, a.read.cpu),
            s_read = self.resync.people_read,
            s_phase = self.resync.people_seconds,
            s_rate = self.resync_people_rate(),
            s_reads = self.resync.hub_reads,
            s_writes = self.resync.hub_writes,
            s_cpu = self.resync.cpu,
            s_cpu_rate = rate(self.people as f64, self.resync.cpu),
            r_wall = self.ours_run_rate() / self.airbyte_wall_rate(),
            r_cpu = rate(self.people as f64, o.cpu) / rate(self.people as f64, a.read.cpu),
        )
    }
}

/// The Airbyte side: `spec`, `check`, then `read`, each a fresh process.
async fn run_airbyte(
    http: &reqwest::Client,
    connec: &str,
    runner: Runner,
) -> Result<AirbyteSide, BenchError> {
    let runner = Arc::new(runner);
    let blocking = |f: fn(&Runner) -> Result<Timed, BenchError>| {
        let runner = runner.clone();
        async move {
            tokio::task::spawn_blocking(move || f(&runner))
                .await
                .map_err(|e| BenchError::Process(e.to_string()))?
        }
    };
    let version = {
        let runner = runner.clone();
        tokio::task::spawn_blocking(move || runner.installed_version())
            .await
            .map_err(|e| BenchError::Process(e.to_string()))?
            .unwrap_or_else(|| "(unknown version)".into())
    };
    let spec = blocking(Runner::spec).await?;
    let check = blocking(Runner::check).await?;
    take_stats(http, connec).await?;
    let read = blocking(Runner::read).await?;
    let (hub_reads, _) = take_stats(http, connec).await?;
    Ok(AirbyteSide {
        version,
        spec,
        check,
        read,
        hub_reads,
    })
}

/// One processed page of our run.
struct PageMark {
    at: Instant,
    people: bool,
    to_app: bool,
    records: u64,
}

/// Our engine over the emulated Connec! and the in-memory HubSpot, on an embedded store.
struct Ours {
    engine: SyncEngine,
    hub: Arc<TimedHub<ConnecClient>>,
    sink: Arc<SinkApp>,
    counter: store_embedded::EmbeddedStore,
    _dir: tempfile::TempDir,
}

impl Ours {
    async fn new(connec: &str, hubspot: &str, page_size: usize) -> Result<Self, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| BenchError::Process(e.to_string()))?;
        let store = store_embedded::EmbeddedStore::open(dir.path().join("bench.db"))?;
        let counter = store.clone();
        let store: Arc<dyn SyncStore> = Arc::new(store);
        let tuning = Tuning {
            http: HttpConfig {
                timeout: Duration::from_secs(60),
                ..HttpConfig::fast()
            },
            ..Tuning::default()
        };
        // HubSpot's real connector, for its mappings and record descriptions; never called.
        let provider = wiring::emulated_hubspot(hubspot, PORTAL, &tuning)?;
        let (account, token) = provider.static_account().ok_or_else(|| {
            BenchError::Process("the HubSpot provider has no static token".into())
        })?;
        let real = provider
            .connector(&account.realm, token)
            .map_err(|e| BenchError::Process(e.to_string()))?;
        let sink = Arc::new(SinkApp::new(real, hubspot::DEFAULT_MARKER_PROPERTY));
        let hub_error = |e: sync_core::error::HubError| BenchError::Process(e.to_string());
        let mut config = ConnecConfig::new(connec, "demo-id", "demo-key").map_err(hub_error)?;
        config.page_size = page_size;
        config.http = tuning.http.clone();
        let hub = Arc::new(TimedHub::new(ConnecClient::new(config).map_err(hub_error)?));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let engine = SyncEngine::new(
            store.clone(),
            hub.clone(),
            sink.clone(),
            clock,
            EngineConfig::default(),
        );
        store
            .put_organization(&wiring::organization(GROUP, PORTAL, "Bench", true))
            .await?;
        Ok(Self {
            engine,
            hub,
            sink,
            counter,
            _dir: dir,
        })
    }

    /// One timed run: the first sync, or (`full`) a full resync of what it synced.
    async fn measure(
        &self,
        http: &reqwest::Client,
        connec: &str,
        full: bool,
    ) -> Result<OurSide, BenchError> {
        // Page times, to tell the people's phase from the organizations'.
        let pages: Arc<Mutex<Vec<PageMark>>> = Arc::default();
        let progress = {
            let pages = pages.clone();
            Arc::new(move |p: &PageProgress| {
                pages
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(PageMark {
                        at: Instant::now(),
                        people: p.entity.as_str() == "people",
                        to_app: p.direction == Direction::ToApp,
                        records: p.records as u64,
                    });
            })
        };
        take_stats(http, connec).await?;
        let hub_time_before = self.hub.time();
        let created_before = (
            self.sink.created("contacts"),
            self.sink.created("companies"),
        );
        let ops_before = self.counter.operations();
        let (cpu_before, _) = cpu_seconds();
        let started = Instant::now();
        let run = self
            .engine
            .sync(
                &OrgId::new(GROUP),
                RunOptions {
                    progress: Some(progress),
                    full,
                    ..RunOptions::default()
                },
            )
            .await?;
        let run_seconds = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds().0 - cpu_before;
        let store_ops = self.counter.operations() - ops_before;
        let (hub_reads, hub_writes) = take_stats(http, connec).await?;
        if !run.errors.is_empty() {
            return Err(BenchError::Process(format!(
                "our sync failed: {:?}",
                run.errors
            )));
        }
        let pages = pages.lock().unwrap_or_else(PoisonError::into_inner);
        let people_pages = || pages.iter().filter(|p| p.people && p.to_app);
        let people_read = people_pages().map(|p| p.records).sum();
        // People travel after organizations: their phase starts at the last page before theirs.
        let first_people = pages.iter().position(|p| p.people && p.to_app);
        let people_start = first_people
            .and_then(|i| i.checked_sub(1))
            .map_or(started, |i| pages[i].at);
        let people_end = people_pages().next_back().map_or(started, |p| p.at);
        Ok(OurSide {
            run_seconds,
            people_seconds: people_end
                .saturating_duration_since(people_start)
                .as_secs_f64(),
            people_read,
            people_created: self.sink.created("contacts") - created_before.0,
            organizations_created: self.sink.created("companies") - created_before.1,
            hub_reads,
            hub_writes,
            store_ops,
            hub_time: self.hub.time().since(&hub_time_before),
            cpu,
        })
    }
}

/// Runs the benchmark.
pub async fn run(args: &Args, say: &mut dyn FnMut(&str)) -> Result<PeerReport, BenchError> {
    let people = args.records;
    let organizations = (people / 10).max(1);
    let venv = args
        .airbyte_venv
        .clone()
        .unwrap_or_else(peer_airbyte::default_venv);
    let (connec_port, hubspot_port, xero_port) = (free_port()?, free_port()?, free_port()?);
    let connec = format!("http://127.0.0.1:{connec_port}");
    let hubspot = format!("http://127.0.0.1:{hubspot_port}");
    // Before the emulator starts: a missing airbyte-cdk fails at once.
    let runner = Runner::new(
        &venv,
        &Source {
            base_url: &connec,
            group_id: GROUP,
            api_id: "demo-id",
            api_key: "demo-key",
            page_size: args.page_size,
        },
    )?;
    let exe = std::env::current_exe().map_err(|e| BenchError::Process(e.to_string()))?;
    let child = Command::new(exe)
        .args(["emulate", "--connec-port", &connec_port.to_string()])
        .args(["--hubspot-port", &hubspot_port.to_string()])
        .args(["--xero-port", &xero_port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| BenchError::Process(format!("cannot start `connector emulate`: {e}")))?;
    let _guard = ChildGuard(child);
    let http = reqwest::Client::new();
    wait_ready(&http, &connec).await?;
    wait_ready(&http, &hubspot).await?;
    say(&format!(
        "seeding {organizations} organizations and {people} people into the Connec! emulator..."
    ));
    seed(&http, &connec, people, organizations).await?;

    say("airbyte: spec, check, read of people...");
    let airbyte = run_airbyte(&http, &connec, runner).await?;
    say("floor: plain GETs of every page...");
    let floor = floor(&http, &connec, args.page_size).await?;
    say("ours: engine run Connec! -> in-memory HubSpot, then a full resync...");
    let engine = Ours::new(&connec, &hubspot, args.page_size).await?;
    let ours = engine.measure(&http, &connec, false).await?;
    let resync = engine.measure(&http, &connec, true).await?;
    let (app_reads, app_writes) = take_stats(&http, &hubspot).await?;

    let mut wrong = Vec::new();
    if airbyte.read.records != people as u64 {
        wrong.push(format!(
            "airbyte read {} people records",
            airbyte.read.records
        ));
    }
    if floor.1 != people as u64 {
        wrong.push(format!("the plain GETs read {} people", floor.1));
    }
    if ours.people_read != people as u64 {
        wrong.push(format!("ours read {} people", ours.people_read));
    }
    if resync.people_read != people as u64 {
        wrong.push(format!(
            "our full resync read {} people",
            resync.people_read
        ));
    }
    if resync.hub_writes != 0 || resync.people_created != 0 {
        wrong.push(format!(
            "our full resync wrote ({} Connec! writes, {} contacts created)",
            resync.hub_writes, resync.people_created
        ));
    }
    if ours.people_created != people as u64 {
        wrong.push(format!(
            "ours created {} contacts in the app",
            ours.people_created
        ));
    }
    if app_reads + app_writes != 0 {
        wrong.push(format!(
            "the HubSpot emulator was called ({app_reads} reads, {app_writes} writes)"
        ));
    }
    if !wrong.is_empty() {
        return Err(BenchError::Process(format!(
            "expected {people} people on both sides: {}",
            wrong.join("; ")
        )));
    }
    Ok(PeerReport {
        people,
        organizations,
        page_size: args.page_size,
        floor,
        airbyte,
        ours,
        resync,
    })
}

/// Runs `connector bench peer` and prints its report.
pub async fn command(args: Args) -> Result<(), String> {
    if args.records == 0 {
        return Err("--records must be at least 1".into());
    }
    if !(1..=100).contains(&args.page_size) {
        return Err("--page-size must be between 1 and 100 (Connec!'s largest $top)".into());
    }
    let report = run(&args, &mut |l| eprintln!("{l}"))
        .await
        .map_err(|e| e.to_string())?;
    print!("{}", report.render());
    Ok(())
}
