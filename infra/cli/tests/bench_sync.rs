//! `connector bench sync` through the binary: every phase runs, prints its row, and passes its
//! checks (counts agree on both sides, the changes travelled, nothing written when nothing
//! changed), on the embedded store and on DynamoDB (moto). No timing is asserted.

use std::process::{Command, Output};

use serde_json::Value;

const PHASES: [&str; 4] = ["initial", "no-change (1st)", "no-change (2nd)", "changed"];

fn bench(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["bench", "sync", "--overlap-secs", "1"])
        .args(args)
        .output()
        .expect("run connector");
    assert!(
        output.status.success(),
        "connector bench sync {args:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn bench_sync_on_the_embedded_store_runs_and_checks_every_phase() {
    let output = bench(&["--records", "300"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| ")).collect();
    assert!(rows[0].starts_with("| phase | store |"), "{stdout}");
    for (row, phase) in rows[1..].iter().zip(PHASES) {
        assert!(
            row.starts_with(&format!("| {phase} | embedded | 300 |")),
            "{row}"
        );
    }
    assert_eq!(rows.len(), 1 + PHASES.len(), "{stdout}");
    // Nothing changed, nothing written: `0 (0, -)` in the writes column.
    assert!(rows[3].contains("| 0 (0, -) |"), "{}", rows[3]);
    assert!(
        stderr.contains(
            "checks passed: every phase's counts agree on both sides; 3 changes travelled each way"
        ),
        "{stderr}"
    );
}

#[test]
fn bench_sync_on_dynamodb_prints_one_checked_json_object_per_phase() {
    let output = bench(&[
        "--records",
        "40",
        "--store",
        "dynamodb",
        "--changed-percent",
        "5",
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let phases: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(phases.len(), PHASES.len(), "{stdout}");
    for (phase, name) in phases.iter().zip(PHASES) {
        assert_eq!(phase["phase"], name);
        assert_eq!(phase["store"], "dynamodb");
        assert_eq!(phase["records"], 44);
        assert!(phase["store_ops"].as_u64().unwrap() > 0, "{phase}");
    }
    assert_eq!(phases[0]["records_written"], 44);
    // A first sync into an app listed empty asks it nothing before creating: its reads are the
    // pages of both sides, and HubSpot's check of the create-marker property per object type.
    let initial_reads = phases[0]["reads"].as_u64().unwrap();
    let min_reads = phases[0]["min_reads"].as_u64().unwrap();
    assert!(
        initial_reads <= min_reads + 2,
        "initial reads {initial_reads}, minimum {min_reads}: {}",
        phases[0]
    );
    assert_eq!(phases[2]["records_written"], 0);
    assert_eq!(phases[2]["writes"], 0);
    // Two people changed on each side, each written to the other side.
    assert_eq!(phases[3]["records_written"], 4);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("2 changes travelled each way"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
