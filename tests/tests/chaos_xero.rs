//! The chaos suite (`chaos` crate) on Xero, two fixed seeds, under each conflict policy in
//! turn: random edits on both sides (Connec! and Xero contacts: companies, their contact
//! persons, person contacts), faults, aborted syncs, duplicated and shuffled webhook and
//! notification deliveries, races; then, faults off, every figure must be zero. The Xero
//! side's restrictions are named in `chaos::xero_side`.

use chaos::{App, ChaosOptions, run_app};
use sync_core::domain::ConflictPolicy;

/// About 30 s for both seeds on this machine in debug.
const ROUNDS: u32 = 40;

async fn converges(seed: u64) {
    let options = ChaosOptions {
        seed,
        rounds: ROUNDS,
        policies: vec![
            ConflictPolicy::MostRecent,
            ConflictPolicy::HubWins,
            ConflictPolicy::AppWins,
        ],
        kill: None,
    };
    let mut lines = Vec::new();
    let report = run_app(App::Xero, &options, &mut |line| {
        println!("{line}");
        lines.push(line.to_owned());
    })
    .await
    .expect("the suite runs");
    assert_eq!(report.policies.len(), 3);
    for policy in &report.policies {
        assert_eq!(policy.tally.rounds, ROUNDS);
        assert!(policy.tally.edits > 0, "edits were made");
    }
    assert!(
        report.clean(),
        "seed {seed} did not converge on Xero:\n{}",
        lines.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_converges_on_xero_on_seed_1() {
    converges(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_converges_on_xero_on_seed_20240611() {
    converges(20_240_611).await;
}
