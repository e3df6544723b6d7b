//! `connector bench sync`: N people and N/10 organizations seeded in Connec!, synced with an
//! empty HubSpot, measured phase by phase:
//!
//! 1. `initial`: everything travels Connec! -> HubSpot;
//! 2. `no-change (1st)`: nothing changed, but HubSpot's records were all written by the
//!    initial sync, after its app watermark: this pass reads them back (the echo) and writes
//!    nothing;
//! 3. `no-change (2nd)`: the steady state, nothing to read but empty pages;
//! 4. `changed`: `--changed-percent`% of the people changed in Connec! and as many others in
//!    HubSpot (through each API, so they get new modification times) travel to the other side.
//!
//! Each phase is checked (counts agree on both sides, changed records arrived, nothing written
//! when nothing changed) and the run fails loudly if a check does not hold. The emulators run in
//! a child process (`connector emulate`) so that the peak memory measured is the engine's and
//! the store's alone. Between phases the bench waits out the watermark overlap
//! (`--overlap-secs`), as syncs spaced further apart than the overlap would.

use std::time::{Duration, Instant};

use http_client::HttpConfig;
use serde_json::json;
use sync_core::domain::{CountKey, Counts, Direction, EntityName, HubId, OrgId, Run, RunStatus};
use sync_core::engine::RunOptions;

use super::sync_emulators::{Calls, Emulators, cpu_seconds};
use super::sync_report::PhaseReport;
use super::sync_stores::{BenchStore, StoreKind};
use super::{BenchError, peak_rss_kib};
use crate::demo::{GROUP, PORTAL};
use crate::wiring::{self, HubEndpoint, Stack, Tuning};

/// `connector bench sync`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of people (organizations: a tenth of it).
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
    /// Where the sync state goes.
    #[arg(long, value_enum, default_value_t = StoreKind::Embedded)]
    pub store: StoreKind,
    /// Share of the people changed on each side before the last phase (disjoint records: this
    /// many in Connec! and as many others in HubSpot), in percent, at most 50.
    #[arg(long, default_value_t = 1.0)]
    pub changed_percent: f64,
    /// The engine's watermark overlap, seconds; the bench waits it out between phases.
    #[arg(long, default_value_t = 2)]
    pub overlap_secs: u64,
    /// Print one JSON object per phase instead of table rows.
    #[arg(long)]
    pub json: bool,
    /// Also print the calls of each phase per route.
    #[arg(long)]
    pub routes: bool,
}

/// The data set and the people each side changes.
struct Plan {
    people: usize,
    organizations: usize,
    /// Indexes of the people changed in Connec! (even slots) and in HubSpot (odd slots).
    changed: Vec<usize>,
}

impl Plan {
    fn new(people: usize, percent: f64) -> Self {
        let per_side = ((people as f64 * percent / 100.0).round() as usize).clamp(1, people / 2);
        let slots = 2 * per_side;
        Self {
            people,
            organizations: (people / 10).max(1),
            changed: (0..slots).map(|j| j * people / slots).collect(),
        }
    }

    fn per_side(&self) -> usize {
        self.changed.len() / 2
    }

    fn records(&self) -> usize {
        self.people + self.organizations
    }
}

/// Runs `connector bench sync` and prints its report on standard output.
pub async fn command(args: Args) -> Result<(), String> {
    if args.records < 2 {
        return Err("--records must be at least 2 (one person changed on each side)".into());
    }
    if !(args.changed_percent > 0.0 && args.changed_percent <= 50.0) {
        return Err("--changed-percent must be above 0 and at most 50".into());
    }
    run(&args).await.map_err(|e| e.to_string())
}

async fn run(args: &Args) -> Result<(), BenchError> {
    let plan = Plan::new(args.records, args.changed_percent);
    let say = |line: &str| eprintln!("{line}");
    let emulators = Emulators::start().await?;
    say(&format!(
        "seeding {} organizations and {} people into the Connec! emulator...",
        plan.organizations, plan.people
    ));
    let changed_ids = emulators
        .seed(plan.people, plan.organizations, &plan.changed)
        .await?;
    let (in_connec, in_hubspot): (Vec<_>, Vec<_>) = changed_ids
        .into_iter()
        .enumerate()
        .partition(|(slot, _)| slot % 2 == 0);
    let in_connec: Vec<String> = in_connec.into_iter().map(|(_, id)| id).collect();
    let in_hubspot: Vec<HubId> = in_hubspot
        .into_iter()
        .map(|(_, id)| HubId::new(id))
        .collect();

    let bench = BenchStore::open(args.store).await?;
    let overlap = Duration::from_secs(args.overlap_secs);
    let tuning = Tuning {
        http: HttpConfig {
            timeout: Duration::from_secs(60),
            ..HttpConfig::fast()
        },
        overlap,
        ..Tuning::default()
    };
    let hub = HubEndpoint {
        url: emulators.connec.clone(),
        api_id: "demo-id".into(),
        api_key: "demo-key".into(),
    };
    let app = wiring::emulated_hubspot(&emulators.hubspot, PORTAL, &tuning)?;
    let stack = wiring::build_static(bench.store.clone(), &hub, &tuning, app.as_ref())?;
    bench
        .store
        .put_organization(&wiring::organization(GROUP, PORTAL, "Bench", true))
        .await?;
    let runner = Runner {
        plan: &plan,
        args,
        emulators: &emulators,
        bench: &bench,
        stack: &stack,
    };
    if args.json {
        // One object per phase below.
    } else {
        println!("{}", PhaseReport::header());
    }
    // The seeds are older than the overlap, as records that existed before linking are.
    let wait = overlap + Duration::from_secs(1);
    tokio::time::sleep(wait).await;

    let (_, run) = runner.phase("initial").await?;
    runner.check_totals().await?;
    expect(
        run_counts(&run, "people", Direction::ToApp).created == plan.people as u64
            && run_counts(&run, "organizations", Direction::ToApp).created
                == plan.organizations as u64,
        format!(
            "initial: not every record was created in HubSpot: {:?}",
            run.counts
        ),
    )?;

    for phase in ["no-change (1st)", "no-change (2nd)"] {
        tokio::time::sleep(wait).await;
        let (report, _) = runner.phase(phase).await?;
        expect(
            report.writes == 0 && report.records_written == 0,
            format!(
                "{phase}: nothing changed, yet {} calls wrote {} records",
                report.writes, report.records_written
            ),
        )?;
        runner.check_totals().await?;
    }

    tokio::time::sleep(wait).await;
    let people = EntityName::new("people");
    let maps = bench
        .store
        .idmaps_by_hub_ids(&OrgId::new(GROUP), &people, &in_hubspot)
        .await?;
    let contacts: Vec<String> = maps
        .iter()
        .filter_map(|m| m.app_id.as_ref().map(|id| id.as_str().to_owned()))
        .collect();
    expect(
        contacts.len() == in_hubspot.len(),
        format!(
            "{} of the {} people to change in HubSpot have no HubSpot id",
            in_hubspot.len() - contacts.len(),
            in_hubspot.len()
        ),
    )?;
    let stamp = chrono::Utc::now().format("%H%M%S").to_string();
    let (from_connec, from_hubspot) = (
        format!("Changed in Connec {stamp}"),
        format!("Changed in HubSpot {stamp}"),
    );
    say(&format!(
        "changing {} people in Connec! and {} others in HubSpot...",
        in_connec.len(),
        contacts.len()
    ));
    emulators.change_in_connec(&in_connec, &from_connec).await?;
    emulators
        .change_in_hubspot(&contacts, &from_hubspot)
        .await?;
    let (_, run) = runner.phase("changed").await?;
    let k = plan.per_side() as u64;
    let to_app = run_counts(&run, "people", Direction::ToApp);
    let to_hub = run_counts(&run, "people", Direction::ToHub);
    expect(
        to_app.updated == k && to_hub.updated == k && to_app.conflicts + to_hub.conflicts == 0,
        format!(
            "changed: expected {k} people updated each way and no conflict: {:?}",
            run.counts
        ),
    )?;
    let arrived_in_hubspot = emulators
        .hubspot_count(
            "contacts",
            &[json!({ "propertyName": "jobtitle", "operator": "EQ", "value": from_connec })],
        )
        .await?;
    let arrived_in_connec = emulators
        .connec_count("people", Some(&format!("job_title eq '{from_hubspot}'")))
        .await?;
    expect(
        arrived_in_hubspot == k && arrived_in_connec == k,
        format!(
            "changed: {arrived_in_hubspot} of {k} Connec! changes reached HubSpot, \
             {arrived_in_connec} of {k} HubSpot changes reached Connec!"
        ),
    )?;
    runner.check_totals().await?;
    say(&format!(
        "checks passed: every phase's counts agree on both sides; {k} changes travelled each way"
    ));
    Ok(())
}

/// What a phase needs.
struct Runner<'a> {
    plan: &'a Plan,
    args: &'a Args,
    emulators: &'a Emulators,
    bench: &'a BenchStore,
    stack: &'a Stack,
}

impl Runner<'_> {
    /// Runs one sync, measured, prints its row, and returns its report and run.
    async fn phase(&self, name: &str) -> Result<(PhaseReport, Run), BenchError> {
        eprintln!("{name}: syncing...");
        self.emulators.reset_calls().await?;
        reset_peak_rss();
        let rss_start = rss_kib();
        let ops_before = self.bench.operations();
        let cpu = (cpu_seconds("/proc/self/stat"), self.emulators.cpu_seconds());
        let started = Instant::now();
        let run = self
            .stack
            .engine
            .sync(&OrgId::new(GROUP), RunOptions::default())
            .await?;
        let seconds = started.elapsed().as_secs_f64();
        let rss_peak = peak_rss_kib();
        let engine_cpu_s = cpu_seconds("/proc/self/stat") - cpu.0;
        let emulator_cpu_s = self.emulators.cpu_seconds() - cpu.1;
        let store_ops = self.bench.operations() - ops_before;
        let calls = self.emulators.calls().await?;
        expect(
            run.errors.is_empty() && run.status == RunStatus::Success,
            format!("{name}: the sync ended {:?}: {:?}", run.status, run.errors),
        )?;
        let (records_read, records_written) = run_totals(&run);
        let (min_reads, min_writes) = minimum_calls(name, self.plan);
        let Calls {
            reads,
            writes,
            by_route,
        } = calls;
        let report = PhaseReport {
            phase: name.to_owned(),
            store: self.args.store.name().to_owned(),
            people: self.plan.people,
            organizations: self.plan.organizations,
            records: self.plan.records(),
            records_read,
            records_written,
            seconds,
            reads,
            min_reads,
            writes,
            min_writes,
            by_route,
            store_ops,
            rss_start_kib: rss_start,
            rss_peak_kib: rss_peak,
            engine_cpu_s,
            emulator_cpu_s,
        };
        if self.args.json {
            println!("{}", report.json());
        } else {
            println!("{}", report.row());
            if self.args.routes {
                print!("{}", report.routes());
            }
        }
        eprintln!(
            "{name}: {records_read} records read, {records_written} written in {seconds:.2} s"
        );
        Ok((report, run))
    }

    /// Both sides hold the whole data set, no more.
    async fn check_totals(&self) -> Result<(), BenchError> {
        let (people, orgs) = (self.plan.people as u64, self.plan.organizations as u64);
        let found = (
            self.emulators.connec_count("people", None).await?,
            self.emulators.connec_count("organizations", None).await?,
            self.emulators.hubspot_count("contacts", &[]).await?,
            self.emulators.hubspot_count("companies", &[]).await?,
        );
        expect(
            found == (people, orgs, people, orgs),
            format!(
                "expected {people} people and {orgs} organizations on both sides; Connec! has \
                 {} and {}, HubSpot {} contacts and {} companies",
                found.0, found.1, found.2, found.3
            ),
        )
    }
}

/// The fewest calls the page (100 per listing, 200 per HubSpot search) and batch (100 per
/// HubSpot batch, 50 per Connec! `/batch`) sizes allow for a phase.
fn minimum_calls(phase: &str, plan: &Plan) -> (u64, u64) {
    let pages = |n: usize, size: usize| n.div_ceil(size).max(1) as u64;
    let (people, orgs, k) = (plan.people, plan.organizations, plan.per_side());
    match phase {
        // Connec!'s pages of both collections and one (empty) HubSpot listing per entity; one
        // HubSpot batch create per 100 records and, for the id write-back (the HubSpot id into
        // each Connec! record's id array), one Connec! `/batch` per 50.
        "initial" => (
            pages(people, 100) + pages(orgs, 100) + 2,
            pages(people, 100) + pages(orgs, 100) + pages(people, 50) + pages(orgs, 50),
        ),
        // Nothing changed: one empty page per side and entity, and HubSpot's archived listing
        // per entity. (The first pass reads back the echoes of the initial sync's writes on top.)
        "no-change (1st)" | "no-change (2nd)" => (2 + 2 + 2, 0),
        // Connec!'s page(s) of its changes and HubSpot's search of its own and of the echoes
        // of this run's writes into it (hub -> app runs first, and no HubSpot query can leave
        // out what we just wrote: 2k contacts), the archived listings, the other side's current
        // versions of the changed records (HubSpot batch read, Connec! reads in `/batch`es),
        // and one batch write per side and 100 (50) records.
        _ => (
            pages(k, 100) + 1 + pages(2 * k, 200) + 1 + 2 + pages(k, 100) + pages(k, 50),
            pages(k, 100) + pages(k, 50),
        ),
    }
}

/// The counters of one entity and direction of a run.
fn run_counts(run: &Run, entity: &str, direction: Direction) -> Counts {
    let key = CountKey {
        entity: EntityName::new(entity),
        direction,
    };
    run.counts
        .iter()
        .filter(|(k, _)| *k == key)
        .fold(Counts::default(), |mut all, (_, c)| {
            all.add(c);
            all
        })
}

/// Records read and written by a run, every entity and direction.
fn run_totals(run: &Run) -> (u64, u64) {
    run.counts.iter().fold((0, 0), |(read, written), (_, c)| {
        let all = c.written() + c.skipped + c.failed + c.deferred;
        (read + all, written + c.written())
    })
}

fn expect(holds: bool, otherwise: String) -> Result<(), BenchError> {
    if holds {
        Ok(())
    } else {
        Err(BenchError::Check(otherwise))
    }
}

/// Resident memory of this process now (VmRSS), KiB.
fn rss_kib() -> u64 {
    status_field("VmRSS:")
}

/// Restarts the peak (VmHWM) from the current resident size, so that each phase's peak is its
/// own (Linux: `5` into `/proc/self/clear_refs`).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn status_field(name: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changed_people_are_disjoint_spread_and_as_many_on_each_side() {
        let plan = Plan::new(10_000, 1.0);
        assert_eq!(plan.per_side(), 100);
        assert_eq!(plan.changed.len(), 200);
        assert!(plan.changed.windows(2).all(|w| w[0] < w[1]));
        assert!(*plan.changed.last().unwrap() < 10_000);
        let tiny = Plan::new(2, 50.0);
        assert_eq!(tiny.changed, vec![0, 1]);
        assert_eq!(Plan::new(300, 0.01).per_side(), 1);
    }

    #[test]
    fn a_quiet_pass_needs_one_page_per_side_and_entity_and_no_write() {
        let plan = Plan::new(100_000, 1.0);
        assert_eq!(minimum_calls("no-change (2nd)", &plan), (6, 0));
        assert_eq!(minimum_calls("no-change (1st)", &plan), (6, 0));
        assert_eq!(
            minimum_calls("initial", &plan),
            (1_000 + 100 + 2, 1_100 + 2_000 + 200)
        );
    }

    #[test]
    fn a_changed_pass_counts_the_echoes_of_its_own_writes_in_the_app_search() {
        // 1,000 changes a side: Connec! pages 10 + 1, HubSpot search 10 (2,000 contacts) + 1,
        // archived 2, HubSpot batch reads 10, Connec! batch reads 20; writes 10 + 20.
        let plan = Plan::new(100_000, 1.0);
        assert_eq!(minimum_calls("changed", &plan), (11 + 11 + 2 + 10 + 20, 30));
    }
}
