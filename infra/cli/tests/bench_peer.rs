//! `connector bench peer` through the binary: the Airbyte declarative source and our engine
//! both read every one of 200 Connec! people. Figures are printed, never asserted.
//!
//! Needs airbyte-cdk in `<repo>/.venv/airbyte` (or `AIRBYTE_VENV`); `infra/scripts/test.sh`
//! installs it. Without it the test fails, naming the install command.

use std::path::PathBuf;
use std::process::Command;

/// The install command `connector bench peer` prints when airbyte-cdk is missing.
const INSTALL: &str = "VENV=.venv/airbyte infra/scripts/venv.sh airbyte-cdk==7.39.1";

fn venv() -> PathBuf {
    std::env::var_os("AIRBYTE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/airbyte"))
}

/// The first number on the report line that starts with `label`.
fn figure(report: &str, label: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no `{label}` line in the report:\n{report}"));
    line[line.find(label).expect("found") + label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number on `{line}`"))
}

#[test]
fn both_sides_read_every_person() {
    let runner = venv().join("bin/source-declarative-manifest");
    assert!(
        runner.is_file(),
        "airbyte-cdk is not installed ({} is missing): from the repository root run\n  {INSTALL}",
        runner.display()
    );
    let output = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["bench", "peer", "--records", "200"])
        .env_remove("RUST_LOG")
        .output()
        .expect("run connector");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "bench peer failed:\n{stdout}\n{stderr}"
    );
    print!("{stdout}");

    assert!(
        stdout.contains("200 people (+20 organizations)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pages of 100 ($top) on both sides"),
        "{stdout}"
    );
    // The peer: every person a RECORD message, in two pages.
    assert_eq!(figure(&stdout, "records"), 200, "{stdout}");
    assert_eq!(figure(&stdout, "Connec! reads"), 2, "{stdout}");
    // Ours: every person read, mapped and created in the app, each organization too.
    assert_eq!(figure(&stdout, "people read"), 200, "{stdout}");
    assert!(
        stdout.contains("(created in the app: 200; organizations: 20)"),
        "{stdout}"
    );
    // The full resync reads every person again and writes nothing.
    let resync = &stdout[stdout.find("ours, full resync").expect("a resync section")..];
    assert_eq!(figure(resync, "people read"), 200, "{stdout}");
    assert!(resync.contains(" reads, 0 writes"), "{stdout}");
    assert!(
        stdout.contains("read path: resync / steady state"),
        "{stdout}"
    );
    assert!(stdout.contains("ratio ours/airbyte"), "{stdout}");
}

#[test]
fn a_missing_airbyte_is_an_error_naming_the_install_command() {
    let empty = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["bench", "peer", "--records", "10"])
        .env("AIRBYTE_VENV", empty.path())
        .output()
        .expect("run connector");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("airbyte-cdk is not installed"), "{stderr}");
    assert!(stderr.contains(INSTALL), "{stderr}");
}
