//! `connector bench quota`: a small sync against a rate-limited HubSpot emulator prints its
//! report, and the client paces its calls instead of firing into 429s (a storm of them is the
//! bug this benchmark exists to catch). No utilisation threshold: that is a figure, not a test.

use std::process::Command;

/// The value of the report's line `name  value`, as a number.
fn figure(report: &str, name: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no line `{name}` in:\n{report}"));
    line[name.len()..]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("`{line}` has no count"))
}

fn bench(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args(["bench", "quota"])
        .args(args)
        .output()
        .expect("connector runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn a_rate_limited_sync_reports_its_calls_and_draws_few_429s() {
    // 330 records take 16 calls; 5 a second makes the sync span several windows.
    for limit in ["20", "5"] {
        let report = bench(&[
            "--app",
            "hubspot",
            "--records",
            "300",
            "--limit",
            limit,
            "--interval-seconds",
            "1",
        ]);
        let calls = figure(&report, "app calls");
        let refused = figure(&report, "429 answers");
        let accepted = figure(&report, "accepted calls");
        assert!(calls > 0, "{report}");
        assert_eq!(accepted + refused, calls, "{report}");
        assert!(
            refused <= 2,
            "at most a couple of 429s, each honoured:\n{report}"
        );
        assert!(report.contains("utilisation"), "{report}");
    }
}

#[test]
fn xero_takes_no_window_of_its_own() {
    let output = Command::new(env!("CARGO_BIN_EXE_connector"))
        .args([
            "bench",
            "quota",
            "--app",
            "xero",
            "--interval-seconds",
            "10",
        ])
        .output()
        .expect("connector runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("minute"));
}
