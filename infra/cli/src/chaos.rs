//! `connector chaos`: the chaos suite (crate `chaos`) for long runs, in-process or with
//! `connector sync` processes killed with `kill -9` (`--kill`).

use std::process::ExitCode;

use ::chaos::{App, ChaosOptions, run_app};
use sync_core::domain::ConflictPolicy;

/// The policies `--policy` names (`all` = each in turn).
pub fn policies(name: &str) -> Result<Vec<ConflictPolicy>, String> {
    Ok(match name {
        "all" => vec![
            ConflictPolicy::MostRecent,
            ConflictPolicy::HubWins,
            ConflictPolicy::AppWins,
        ],
        "most_recent" => vec![ConflictPolicy::MostRecent],
        "hub_wins" => vec![ConflictPolicy::HubWins],
        "app_wins" => vec![ConflictPolicy::AppWins],
        other => {
            return Err(format!(
                "unknown policy `{other}`: use most_recent, hub_wins, app_wins or all"
            ));
        }
    })
}

/// Runs the suite and prints its summary lines; fails when a figure is not zero.
pub async fn command(
    rounds: u32,
    seed: u64,
    policy: &str,
    kill: bool,
    app: &str,
) -> Result<ExitCode, String> {
    if rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    let app = App::parse(app)
        .ok_or_else(|| format!("unknown app `{app}`: the chaos suite runs on hubspot or xero"))?;
    let kill = if kill {
        Some(std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?)
    } else {
        None
    };
    let options = ChaosOptions {
        seed,
        rounds,
        policies: policies(policy)?,
        kill,
    };
    println!(
        "chaos: {}, seed {seed}, {rounds} round(s) per policy, policy {policy}{}",
        app.name(),
        if options.kill.is_some() {
            ", kill -9 of `connector sync`"
        } else {
            ""
        }
    );
    let report = run_app(app, &options, &mut |line| println!("{line}")).await?;
    Ok(if report.clean() {
        println!("chaos: converged (every figure is zero)");
        ExitCode::SUCCESS
    } else {
        println!("chaos: did NOT converge; reproduce with --seed {seed}");
        ExitCode::FAILURE
    })
}
