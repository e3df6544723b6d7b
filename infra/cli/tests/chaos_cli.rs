//! `connector chaos`, run as a user would: the in-process variant and the one that runs
//! `connector sync` processes and kills some of them with `kill -9`.

use std::process::Command;

fn chaos(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_connector"))
        .arg("chaos")
        .args(args)
        .output()
        .expect("connector runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (output.status.success(), format!("{stdout}{stderr}"))
}

fn assert_summary(text: &str, seed: &str, policies: &[&str]) {
    for policy in policies {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("seed={seed} policy={policy} ")))
            .unwrap_or_else(|| panic!("no summary line for {policy}:\n{text}"));
        for field in [
            "rounds=",
            "edits=",
            "faults={",
            "kills=",
            "duplicates=0",
            "lost=0",
            "mismatched=0",
            "echo_writes=0",
            "dangling_idmaps=0",
        ] {
            assert!(line.contains(field), "`{field}` missing in {line}");
        }
    }
}

#[test]
fn killed_sync_processes_still_converge_under_each_policy() {
    let (ok, text) = chaos(&["--rounds", "4", "--seed", "11", "--kill"]);
    assert!(ok, "{text}");
    assert!(text.contains("kill -9 of `connector sync`"), "{text}");
    assert_summary(&text, "11", &["most_recent", "hub_wins", "app_wins"]);
    assert!(text.contains("converged"), "{text}");
}

#[test]
fn the_in_process_variant_prints_one_summary_per_policy() {
    let (ok, text) = chaos(&["--rounds", "3", "--seed", "2", "--policy", "hub_wins"]);
    assert!(ok, "{text}");
    assert_summary(&text, "2", &["hub_wins"]);
    assert!(!text.contains("policy=most_recent"), "{text}");
}

#[test]
fn a_bad_policy_or_zero_rounds_is_refused() {
    let (ok, text) = chaos(&["--policy", "loudest"]);
    assert!(!ok);
    assert!(text.contains("unknown policy `loudest`"), "{text}");
    let (ok, text) = chaos(&["--rounds", "0"]);
    assert!(!ok);
    assert!(text.contains("--rounds must be at least 1"), "{text}");
}
