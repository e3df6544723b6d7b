//! Xero's official Python SDK (`xero-python`), unchanged but for its hosts, against the Xero
//! emulator on loopback: `tests/xero_sdk/check.py` refreshes a token, lists connections,
//! creates, updates and lists contacts (paging, If-Modified-Since), creates an item and an
//! invoice, pays it, deletes the payment, voids the invoice, deletes the item, and meets a
//! validation error, summarizeErrors=false, an idempotency key replay and a 429 as the SDK's
//! own exceptions (a 429 on a GET is retried by the SDK's transport, urllib3, after
//! Retry-After; on a POST it surfaces as `RateLimitException`).
//!
//! Needs the project's venv with the SDK: `infra/scripts/venv.sh xero-python`. Without it
//! this test fails (it never skips).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use emulators::{XeroApp, XeroConfig, XeroEmulator, XeroLimits};

const INSTALL: &str = "run `infra/scripts/venv.sh xero-python` from the repository root";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, with `xero_python` importable; panics with the fix otherwise.
fn python() -> PathBuf {
    let python = repo().join(".venv/bin/python");
    assert!(
        python.exists(),
        "no Python venv at {}: {INSTALL}",
        python.display()
    );
    let probe = Command::new(&python)
        .args(["-c", "import xero_python"])
        .output()
        .expect("the venv's python runs");
    assert!(
        probe.status.success(),
        "the xero-python package is missing from the venv: {INSTALL}\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_works_against_the_emulator() {
    let python = python();
    let emu = XeroEmulator::new(XeroConfig {
        app: XeroApp::new("sdk-client-id", "sdk-client-secret"),
        // The script makes 26 counted calls, then fills the minute window.
        limits: XeroLimits {
            per_minute: 40,
            ..XeroLimits::default()
        },
        ..XeroConfig::default()
    });
    let tenant = emu.tenants()[0].clone();
    let tokens = emu.grant(&[&tenant]);
    let srv = emu.start().await.unwrap();
    let script = repo().join("infra/emulators/tests/xero_sdk/check.py");
    let base = srv.base_url.clone();
    let refresh = tokens.refresh_token.clone();
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(&base)
            .arg(&base)
            .env("XERO_CLIENT_ID", "sdk-client-id")
            .env("XERO_CLIENT_SECRET", "sdk-client-secret")
            .env("XERO_REFRESH_TOKEN", refresh)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("NO_PROXY", "*")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python starts");
        let started = Instant::now();
        while child.try_wait().expect("wait").is_none() {
            if started.elapsed() > Duration::from_secs(120) {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().expect("output");
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap();
    eprintln!("{stdout}");
    assert!(
        status.success(),
        "the SDK check failed ({status}):\n{stdout}\n{stderr}"
    );
    for name in [
        "refresh_oauth2_token",
        "IdentityApi.get_connections",
        "AccountingApi.get_organisations / get_accounts",
        "AccountingApi.create_contacts",
        "AccountingApi.update_contact",
        "AccountingApi.update_or_create_contacts",
        "AccountingApi.get_contacts (paging)",
        "AccountingApi.get_contacts (If-Modified-Since)",
        "AccountingApi.get_contact",
        "AccountingApi.create_items / get_items",
        "AccountingApi.create_invoices",
        "AccountingApi.get_invoice",
        "AccountingApi.create_payment",
        "AccountingApi.get_payments / delete_payment",
        "AccountingApi.update_invoice",
        "AccountingApi.delete_item",
        "AccountingBadRequestException",
        "create_contacts summarize_errors=False",
        "idempotency_key",
        "RateLimitException",
        "429 on GET retried by the SDK's transport",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("PASS {name}:"))),
            "no PASS line for {name}:\n{stdout}\n{stderr}"
        );
    }
    assert!(stdout.contains("checks passed: 21; failed: 0"), "{stdout}");
    // The SDK's calls reached the emulator, and its refresh rotated the token.
    assert_eq!(emu.token_requests(), 1);
    assert!(emu.stats().by_route["GET /api.xro/2.0/Contacts"] >= 4);
    assert_eq!(emu.records("Invoices").len(), 1);
}
