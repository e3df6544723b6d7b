//! The CLI variant: each round's sync is a real `connector sync` process against the
//! in-process emulators and the world's database file, and some of them get `kill -9` at a
//! random moment. The next `connector sync` must free the dead run's lease by itself.
//!
//! Real-time deliveries are not part of this variant (they need the in-process engine, whose
//! own lease would stand in the processes' way); the in-process variant covers them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rand::Rng;
use sync_core::domain::ConflictPolicy;

use crate::check::Figures;
use crate::faults::FaultSettings;
use crate::ledger::Ledger;
use crate::run::{
    ChaosOptions, PolicyReport, Rngs, Tally, conclude, echo, edit_and_arm, policy_name,
    unmapped_edits,
};
use crate::world::{GROUP, PORTAL, World};

/// Writes the configuration `connector sync` reads, next to the world's database.
fn write_config(world: &World) -> Result<PathBuf, String> {
    let hub = world.sides.hub();
    let path = world.folder().join("connector.yaml");
    let text = format!(
        "database: {}\n\
         connec:\n  base_url: {}\n  api_id: {}\n  api_key: {}\n\
         hubspot:\n  base_url: {}\n  access_token: {}\n  portal_id: \"{PORTAL}\"\n\
         organization:\n  group_id: {GROUP}\n  historical_data: true\n\
         sync:\n  overlap_seconds: 1\n  conflict_policy: {}\n",
        world.database.display(),
        hub.url,
        hub.api_id,
        hub.api_key,
        world.sides.app.url(),
        "demo-token",
        policy_name(world.policy),
    );
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn spawn(binary: &Path, config: &Path, output: bool) -> Result<Child, String> {
    let quiet = || {
        if output {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    Command::new(binary)
        .arg("sync")
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(quiet())
        .stderr(quiet())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))
}

/// Waits (without blocking the emulators' runtime) until the child ends; kills it after
/// `limit` and says so.
async fn wait(child: &mut Child, limit: Duration) -> Result<bool, String> {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Ok(status.success());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "`connector sync` still ran after {limit:?}: killed"
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A sync run to its end, its output kept for the report.
async fn full_sync(
    binary: &Path,
    config: &Path,
    figures: &mut Figures,
    what: &str,
) -> Result<(), String> {
    let mut child = spawn(binary, config, true)?;
    let ok = wait(&mut child, Duration::from_secs(300)).await?;
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !ok {
        let text = String::from_utf8_lossy(&output.stderr);
        let last: Vec<&str> = text.lines().rev().take(3).collect();
        figures
            .details
            .push(format!("note: the {what} failed: {last:?}"));
    }
    Ok(())
}

/// The CLI variant of one policy.
pub async fn cli_variant(
    options: &ChaosOptions,
    index: usize,
    policy: ConflictPolicy,
    binary: &Path,
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<PolicyReport, String> {
    let world = World::start(crate::app::App::HubSpot, policy, false).await?;
    let config = write_config(&world)?;
    let mut rngs = Rngs::new(options.seed, index);
    let mut ledger = Ledger::default();
    let mut tally = Tally::default();
    // The CLI's own HTTP settings (long timeouts): injected timeouts answer 504 quickly.
    let settings = FaultSettings {
        timeout_delay_ms: 100,
    };
    for round in 0..options.rounds {
        tally.rounds += 1;
        edit_and_arm(&mut rngs, &world, &mut ledger, &mut tally, settings);
        let kill = rngs.steps.random_bool(0.6);
        let delay = Duration::from_millis(rngs.steps.random_range(0..=150u64));
        let mut child = spawn(binary, &config, false)?;
        tally.syncs += 1;
        if kill {
            tokio::time::sleep(delay).await;
            if child.try_wait().map_err(|e| e.to_string())?.is_none() {
                child.kill().map_err(|e| format!("kill -9 failed: {e}"))?;
                let _ = child.wait();
                tally.kill9 += 1;
                world.sides.clear_faults();
                continue;
            }
        }
        match wait(&mut child, Duration::from_secs(300)).await {
            Ok(true) => {}
            Ok(false) => tally.failed_syncs += 1,
            Err(e) => say(&format!("round {round}: {e}")),
        }
        world.sides.clear_faults();
    }
    world.sides.clear_faults();
    let mut figures = Figures::default();
    // Three quiet syncs, the third silent (see `run`: a lost create waits one run).
    full_sync(binary, &config, &mut figures, "first quiet sync").await?;
    full_sync(binary, &config, &mut figures, "second quiet sync").await?;
    world.sides.reset_stats();
    full_sync(binary, &config, &mut figures, "third quiet sync").await?;
    echo(&mut figures, &world, "the third quiet sync");
    unmapped_edits(&world, &mut ledger);
    world.sides.reset_stats();
    full_sync(binary, &config, &mut figures, "sync after unmapped edits").await?;
    echo(&mut figures, &world, "the sync after unmapped-only edits");
    Ok(conclude(&world, &ledger, policy, tally, figures).await)
}
