//! `connector demo xero`, `connector demo <unknown>` and the Xero emulator of `connector
//! emulate`, run as a user would.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

fn connector() -> Command {
    Command::new(env!("CARGO_BIN_EXE_connector"))
}

fn demo_xero() -> (Output, String, String) {
    let output = connector()
        .args(["demo", "xero"])
        .env("RUST_LOG", "debug")
        .output()
        .expect("connector runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

/// Every step the Xero demo shows, as its output names it.
const STEPS: &[&str] = &[
    "as a custom connection",
    "First sync:",
    "Incremental sync:",
    "complex contact Xero -> Connec!",
    "complex contact Connec! -> Xero",
    "items both ways",
    "deferred line: INV-C-002",
    "INV-C-002: deferred",
    "validation error: INV-C-003",
    "INV-C-003: failed alone, Xero said: The TaxType code 'GST-BOGUS' does not exist",
    "voided invoice: INV-X-001",
    "payment Xero -> Connec!",
    "payment Connec! -> Xero",
    "invoice lines: every line names the same item in Connec! and in Xero",
    "Final state",
];

#[test]
fn demo_xero_names_every_step_and_its_exit_code_is_its_checks() {
    let (output, stdout, stderr) = demo_xero();
    for step in STEPS {
        assert!(
            stdout.contains(step),
            "`{step}` is not in the output:\n{stdout}"
        );
    }
    let agree = stdout.contains("Connec! and Xero agree on every synced record.");
    let disagree = stdout.contains("Connec! and Xero DISAGREE:");
    assert!(
        agree != disagree,
        "the final check says one thing:\n{stdout}"
    );
    let every_step = !stdout.contains("[FAILED]");
    assert_eq!(
        output.status.success(),
        agree && every_step,
        "exit code 0 exactly when every step happened and both sides agree:\n{stdout}\n{stderr}"
    );
    // Secrets and personal data never reach the logs, even at debug level.
    for secret in [
        "demo-key",
        "ZGVtby1pZDpkZW1vLWtleQ",
        "Bearer ey",
        "ann@acme.example",
        "peter@initech.example",
        "Gibbons",
    ] {
        assert!(
            !stderr.contains(secret),
            "`{secret}` leaked into the logs:\n{stderr}"
        );
    }
}

#[test]
fn demo_xero_does_every_step_and_both_sides_agree() {
    let (output, stdout, stderr) = demo_xero();
    assert!(output.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(!stdout.contains("[FAILED]"), "{stdout}");
    assert!(
        stdout.contains("First sync: partial"),
        "the invalid invoice fails: {stdout}"
    );
    assert!(stdout.contains("Incremental sync: success"), "{stdout}");
    assert!(stdout.contains("agree on every synced record"), "{stdout}");
}

#[test]
fn demo_of_an_unknown_app_fails_listing_the_apps() {
    let output = connector()
        .args(["demo", "nope"])
        .output()
        .expect("connector runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown app `nope`"), "{stderr}");
    assert!(stderr.contains("hubspot, xero"), "{stderr}");
}

#[test]
fn demo_hubspot_is_the_default_demo() {
    let output = connector()
        .args(["demo", "hubspot"])
        .output()
        .expect("connector runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("HubSpot emulator on"), "{stdout}");
    assert!(stdout.contains("Connec! and HubSpot agree"), "{stdout}");
}

/// Kills the child when the test ends, whatever happens.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn emulate_serves_xero_and_prints_its_url_tenant_and_a_token_that_works() {
    let child = connector()
        .args([
            "emulate",
            "--connec-port",
            "0",
            "--hubspot-port",
            "0",
            "--xero-port",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("connector runs");
    let mut child = Running(child);
    let stdout = child.0.stdout.take().expect("piped");
    let mut printed = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("a line");
        let done = line.contains("Ctrl-C stops");
        printed.push(line);
        if done {
            break;
        }
    }
    let printed = printed.join("\n");
    let after = |prefix: &str| {
        printed
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("`{prefix}` is printed:\n{printed}"))
            .to_owned()
    };
    let url = after("Xero emulator:");
    let tenant = after("organisation (xero-tenant-id)")
        .trim_end_matches(';')
        .to_owned();
    let token = after("Bearer");
    assert_eq!(tenant, emulators::xero::DEMO_TENANT_ID);

    let client = reqwest::Client::new();
    let answer = client
        .get(format!("{url}/api.xro/2.0/Organisation"))
        .bearer_auth(&token)
        .header("xero-tenant-id", &tenant)
        .header("Accept", "application/json")
        .send()
        .await
        .expect("the emulator answers");
    assert_eq!(answer.status(), 200, "{printed}");
    let connections = client
        .get(format!("{url}/connections"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("the emulator answers");
    assert_eq!(connections.status(), 200);
    let body: serde_json::Value = connections.json().await.expect("JSON");
    assert_eq!(body[0]["tenantId"], tenant.as_str(), "{body}");
}
