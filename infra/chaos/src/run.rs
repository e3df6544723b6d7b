//! The rounds, one world per conflict policy, then the quiet syncs and the checks.

use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sync_core::domain::{ConflictPolicy, Run, RunStatus, Side};
use sync_core::engine::RunOptions;
use sync_core::error::SyncError;
use sync_core::ports::SyncStore;

use crate::abort::abort_after;
use crate::app::App;
use crate::check::{Figures, check};
use crate::deliver::{DeliveryCounts, Inbox};
use crate::edits::{locate, random_edits, unmapped};
use crate::faults::{FaultCounts, FaultSettings, inject};
use crate::ledger::Ledger;
use crate::world::World;

/// What to run.
#[derive(Clone, Debug)]
pub struct ChaosOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Rounds per policy.
    pub rounds: u32,
    /// The policies, in turn (one world each).
    pub policies: Vec<ConflictPolicy>,
    /// The CLI variant: the `connector` binary whose `sync` processes run (and get `kill -9`).
    pub kill: Option<PathBuf>,
}

/// What one policy's rounds did.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// Rounds run.
    pub rounds: u32,
    /// Mapped-field edits and creations.
    pub edits: u64,
    /// Unmapped-field edits.
    pub unmapped: u64,
    /// Archives.
    pub archives: u64,
    /// Faults armed, by kind.
    pub faults: FaultCounts,
    /// In-process aborts (a sync dropped at a random await, its lease then broken).
    pub aborts: u64,
    /// `kill -9` of a `connector sync` process.
    pub kill9: u64,
    /// Syncs started (aborted and killed ones included).
    pub syncs: u64,
    /// Syncs that returned an error or a failed run (faults; repaired later).
    pub failed_syncs: u64,
    /// Real-time deliveries.
    pub deliveries: DeliveryCounts,
}

/// One policy's outcome.
#[derive(Clone, Debug)]
pub struct PolicyReport {
    /// The policy.
    pub policy: ConflictPolicy,
    /// What the rounds did.
    pub tally: Tally,
    /// What the checks found.
    pub figures: Figures,
}

/// The name of a policy as the configuration spells it.
pub fn policy_name(policy: ConflictPolicy) -> &'static str {
    match policy {
        ConflictPolicy::MostRecent => "most_recent",
        ConflictPolicy::HubWins => "hub_wins",
        ConflictPolicy::AppWins => "app_wins",
    }
}

impl PolicyReport {
    /// The summary line: seed, policy, rounds, edits, faults by kind, kills, duplicates, lost,
    /// mismatched, echo writes (and dangling id-maps).
    pub fn line(&self, seed: u64) -> String {
        let (t, f) = (&self.tally, &self.figures);
        format!(
            "seed={seed} policy={} rounds={} edits={} faults={} kills={} duplicates={} lost={} mismatched={} echo_writes={} dangling_idmaps={}",
            policy_name(self.policy),
            t.rounds,
            t.edits,
            t.faults.render(),
            t.aborts + t.kill9,
            f.duplicates,
            f.lost,
            f.mismatched,
            f.echo_writes,
            f.dangling
        )
    }

    /// A second line with the rest of the tally.
    pub fn extra(&self) -> String {
        let t = &self.tally;
        format!(
            "  aborts={} kill9={} syncs={} failed_syncs={} archives={} unmapped_edits={} deliveries={} locked={} failed_applies={}",
            t.aborts,
            t.kill9,
            t.syncs,
            t.failed_syncs,
            t.archives,
            t.unmapped,
            t.deliveries.delivered,
            t.deliveries.locked,
            t.deliveries.failed
        )
    }
}

/// The whole run.
#[derive(Clone, Debug)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// One per policy.
    pub policies: Vec<PolicyReport>,
}

impl Report {
    /// Whether every figure of every policy is zero.
    pub fn clean(&self) -> bool {
        self.policies.iter().all(|p| p.figures.clean())
    }
}

fn rng_for(seed: u64, policy: usize, stream: u64) -> StdRng {
    StdRng::seed_from_u64(
        seed ^ ((policy as u64 + 1) << 40) ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

fn count_sync(tally: &mut Tally, outcome: &Result<Run, SyncError>) {
    tally.syncs += 1;
    match outcome {
        Ok(run) if run.status != RunStatus::Failed => {}
        Err(SyncError::Locked(_)) => {}
        _ => tally.failed_syncs += 1,
    }
}

/// Runs every policy in turn against HubSpot; `say` gets progress lines and the summaries.
pub async fn run(
    options: &ChaosOptions,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<Report, String> {
    run_app(App::HubSpot, options, say).await
}

/// Runs every policy in turn against `app`; `say` gets progress lines and the summaries.
/// The CLI variant (`options.kill`) runs against HubSpot only.
pub async fn run_app(
    app: App,
    options: &ChaosOptions,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<Report, String> {
    if options.kill.is_some() && app != App::HubSpot {
        return Err(format!(
            "the kill -9 variant runs `connector sync` against HubSpot only, not {}",
            app.name()
        ));
    }
    let mut report = Report {
        seed: options.seed,
        policies: Vec::new(),
    };
    for policy in &options.policies {
        // Streams depend on the policy, not on its place in the list: `--policy hub_wins`
        // replays the hub_wins part of a run of all three.
        let index = match policy {
            ConflictPolicy::MostRecent => 0,
            ConflictPolicy::HubWins => 1,
            ConflictPolicy::AppWins => 2,
        };
        let outcome = match &options.kill {
            None => in_process(app, options, index, *policy, &mut *say).await?,
            Some(binary) => {
                crate::kill::cli_variant(options, index, *policy, binary, &mut *say).await?
            }
        };
        say(&outcome.line(options.seed));
        say(&outcome.extra());
        for detail in outcome.figures.details.iter().take(40) {
            say(&format!("  {detail}"));
        }
        report.policies.push(outcome);
    }
    Ok(report)
}

/// Every choice of one world comes from these, each its own stream so one kind of choice
/// never shifts another.
pub(crate) struct Rngs {
    pub(crate) edits: StdRng,
    pub(crate) faults: StdRng,
    pub(crate) steps: StdRng,
}

impl Rngs {
    pub(crate) fn new(seed: u64, policy: usize) -> Self {
        Self {
            edits: rng_for(seed, policy, 1),
            faults: rng_for(seed, policy, 2),
            steps: rng_for(seed, policy, 3),
        }
    }
}

/// Edits and faults of one round (both variants).
pub(crate) fn edit_and_arm(
    rngs: &mut Rngs,
    world: &World,
    ledger: &mut Ledger,
    tally: &mut Tally,
    settings: FaultSettings,
) {
    let count = rngs.edits.random_range(1..=6u32);
    let done = random_edits(&mut rngs.edits, &world.sides, ledger, count);
    tally.edits += done.edits;
    tally.unmapped += done.unmapped;
    tally.archives += done.archives;
    if rngs.faults.random_bool(0.7) {
        let count = rngs.faults.random_range(1..=3u32);
        inject(
            &mut rngs.faults,
            &world.sides,
            ledger,
            count,
            settings,
            &mut tally.faults,
        );
    }
}

/// Unmapped edits on both sides of up to three linked records, after the quiet syncs (so they
/// are no [`crate::ledger::Touch`]es: every conflict is decided by then).
pub(crate) fn unmapped_edits(world: &World, ledger: &mut Ledger) {
    ledger.quiet = true;
    for index in ledger.active(None).into_iter().take(3) {
        for side in [Side::Hub, Side::App] {
            if locate(&world.sides, &mut ledger.entries[index], side).is_some() {
                unmapped(&world.sides, ledger, index, side);
            }
        }
    }
}

async fn in_process(
    app: App,
    options: &ChaosOptions,
    index: usize,
    policy: ConflictPolicy,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<PolicyReport, String> {
    let world = World::start(app, policy, true).await?;
    let engine = world.engine.as_ref().ok_or("no engine")?;
    let inbox = Inbox::install(&world.sides);
    let mut rngs = Rngs::new(options.seed, index);
    let mut ledger = Ledger::default();
    let mut tally = Tally::default();
    let settings = FaultSettings {
        timeout_delay_ms: 600,
    };
    let sync = || engine.sync(&world.org, RunOptions::default());
    for round in 0..options.rounds {
        if round > 0 && round % 100 == 0 {
            say(&format!(
                "  {}: round {round} of {}",
                policy_name(policy),
                options.rounds
            ));
        }
        tally.rounds += 1;
        edit_and_arm(&mut rngs, &world, &mut ledger, &mut tally, settings);
        inbox.collect(&world.sides);
        for _ in 0..rngs.steps.random_range(1..=2u32) {
            match rngs.steps.random_range(0..100u32) {
                0..35 => {
                    let outcome = sync().await;
                    count_sync(&mut tally, &outcome);
                }
                35..65 => {
                    let budget = rngs.steps.random_range(1..=150u32);
                    match abort_after(sync(), budget).await {
                        Some(outcome) => count_sync(&mut tally, &outcome),
                        None => {
                            tally.syncs += 1;
                            tally.aborts += 1;
                            // As an operator would: the dropped run cannot release its lease.
                            world
                                .store
                                .break_lease(&world.org)
                                .await
                                .map_err(|e| e.to_string())?;
                        }
                    }
                }
                65..80 => {
                    // A webhook races a scheduled sync; `Locked` is acceptable either way.
                    let limit = rngs.steps.random_range(1..=6usize);
                    let (outcome, delivered) = tokio::join!(
                        sync(),
                        inbox.deliver(&mut rngs.steps, engine, &world.org, Some(limit))
                    );
                    count_sync(&mut tally, &outcome);
                    add(&mut tally.deliveries, delivered);
                }
                80..90 => {
                    // Third-party edits while a sync runs.
                    let yields = rngs.steps.random_range(1..=40u32);
                    let count = rngs.edits.random_range(1..=3u32);
                    let (outcome, done) = tokio::join!(sync(), async {
                        for _ in 0..yields {
                            tokio::task::yield_now().await;
                        }
                        random_edits(&mut rngs.edits, &world.sides, &mut ledger, count)
                    });
                    count_sync(&mut tally, &outcome);
                    tally.edits += done.edits;
                    tally.unmapped += done.unmapped;
                    tally.archives += done.archives;
                }
                _ => {
                    let delivered = inbox
                        .deliver(&mut rngs.steps, engine, &world.org, None)
                        .await;
                    add(&mut tally.deliveries, delivered);
                }
            }
            inbox.collect(&world.sides);
        }
        world.sides.clear_faults();
    }
    // Faults off, three quiet syncs; the third must write nothing. (A record whose create lost
    // its answer, or that was just linked to its own lost create, waits one run by design: it
    // may still be written in the second.)
    world.sides.clear_faults();
    inbox.discard();
    // Nothing runs any more. A run dropped at an await inside a store call can still take the
    // lease after its abort was handled (the call finishes on the blocking pool, as a killed
    // process's would not): its lease is a dead holder's, freed as an operator would.
    world
        .store
        .break_lease(&world.org)
        .await
        .map_err(|e| e.to_string())?;
    let mut figures = Figures::default();
    let first = sync().await;
    note_quiet(&mut figures, "first quiet sync", &first);
    let second = sync().await;
    note_quiet(&mut figures, "second quiet sync", &second);
    world.sides.reset_stats();
    let third = sync().await;
    note_quiet(&mut figures, "third quiet sync", &third);
    echo(&mut figures, &world, "the third quiet sync");
    // Edits of unmapped fields only: nothing may be written.
    unmapped_edits(&world, &mut ledger);
    world.sides.reset_stats();
    let after = sync().await;
    note_quiet(&mut figures, "sync after unmapped edits", &after);
    echo(&mut figures, &world, "the sync after unmapped-only edits");
    Ok(conclude(&world, &ledger, policy, tally, figures).await)
}

fn add(total: &mut DeliveryCounts, more: DeliveryCounts) {
    total.delivered += more.delivered;
    total.locked += more.locked;
    total.failed += more.failed;
}

/// Counts the writes since the last stats reset as echo writes.
/// The checks against the ledger, merged into what the quiet syncs found.
pub(crate) async fn conclude(
    world: &World,
    ledger: &Ledger,
    policy: ConflictPolicy,
    tally: Tally,
    mut figures: Figures,
) -> PolicyReport {
    let checked = check(
        &world.sides,
        world.store.as_ref() as &dyn SyncStore,
        &world.org,
        ledger,
        policy,
    )
    .await;
    figures.merge(&checked);
    PolicyReport {
        policy,
        tally,
        figures,
    }
}

pub(crate) fn echo(figures: &mut Figures, world: &World, when: &str) {
    let (connec, app) = (world.sides.connec.stats(), world.sides.app.stats());
    let writes = connec.writes + app.writes;
    if writes > 0 {
        figures.echo_writes += writes;
        let routes: Vec<String> = connec
            .by_route
            .iter()
            .chain(app.by_route.iter())
            .filter(|(route, _)| {
                !route.starts_with("GET")
                    && !route.contains("search")
                    && !route.contains("batch/read")
            })
            .map(|(route, n)| format!("{route} x{n}"))
            .collect();
        figures
            .details
            .push(format!("echo: {writes} write(s) during {when}: {routes:?}"));
    }
}

fn note_quiet(figures: &mut Figures, what: &str, outcome: &Result<Run, SyncError>) {
    match outcome {
        Ok(run) if run.status == RunStatus::Success => {}
        Ok(run) => figures.details.push(format!(
            "note: the {what} ended {:?}: {:?}",
            run.status,
            run.errors.iter().take(3).collect::<Vec<_>>()
        )),
        Err(e) => figures
            .details
            .push(format!("note: the {what} did not run: {e}")),
    }
}
