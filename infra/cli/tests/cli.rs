//! The `connector` binary, run as a user would.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use cli::wiring;
use emulators::{CallFault, FaultKind};
use serde_json::json;
use store_embedded::EmbeddedStore;
use sync_core::domain::OrgId;
use sync_core::engine::process_holder;
use sync_core::ports::SyncStore;

fn connector() -> Command {
    Command::new(env!("CARGO_BIN_EXE_connector"))
}

#[test]
fn demo_merges_syncs_both_ways_and_exits_zero_when_the_sides_agree() {
    let output = connector()
        .arg("demo")
        .env("RUST_LOG", "debug")
        .output()
        .expect("connector runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("First sync: success"), "{stdout}");
    assert!(stdout.contains("Incremental sync: success"), "{stdout}");
    assert!(
        stdout.contains("app version kept"),
        "the both-sides edit is reported: {stdout}"
    );
    assert!(stdout.contains("agree on every synced record"), "{stdout}");
    // Secrets and personal data never reach the logs, even at debug level.
    for secret in [
        "demo-key",
        "demo-token",
        "ZGVtby1pZDpkZW1vLWtleQ",
        "ann@acme.example",
        "Head of Sales",
    ] {
        assert!(
            !stderr.contains(secret),
            "`{secret}` leaked into the logs:\n{stderr}"
        );
    }
}

#[test]
fn a_missing_configuration_file_says_what_to_do() {
    let output = connector()
        .args(["sync", "--config", "/nonexistent/connector.yaml"])
        .output()
        .expect("connector runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/connector.yaml"), "{stderr}");
    assert!(stderr.contains("connector.example.yaml"), "{stderr}");
}

#[test]
fn bad_cli_arguments_are_refused_with_usage() {
    let output = connector()
        .args(["bench", "sync", "--records", "many"])
        .output()
        .expect("connector runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid value 'many'"), "{stderr}");
}

#[test]
fn check_mapping_names_the_file_the_field_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.yaml");
    std::fs::write(
        &path,
        "fields:\n  - hub: first_name\n    app: properties.firstname\n  - hub: email.address\n    app: properties.email\n    to_app: lowercse\n",
    )
    .unwrap();
    let output = connector()
        .arg("check-mapping")
        .arg(&path)
        .output()
        .expect("connector runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("people.yaml"), "{stderr}");
    assert!(stderr.contains("fields[1]"), "{stderr}");
    assert!(stderr.contains("email.address"), "{stderr}");
    assert!(stderr.contains("lowercse"), "{stderr}");

    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "fields:\n  - hub: first_name\n    app: properties.firstname\n",
    )
    .unwrap();
    let output = connector()
        .arg("check-mapping")
        .arg(&good)
        .output()
        .expect("connector runs");
    assert!(output.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_status_and_idmaps_against_configured_endpoints() {
    let connec = emulators::ConnecEmulator::new(emulators::ConnecConfig::default());
    let hubspot = emulators::HubSpotEmulator::new(emulators::HubSpotConfig::default());
    let connec_server = connec.start().await.unwrap();
    let hubspot_server = hubspot.start().await.unwrap();
    connec.seed(
        "cld-cli",
        "people",
        json!({ "first_name": "Cli", "email": { "address": "cli@x.example" } }),
    );
    hubspot.seed(
        "contacts",
        json!({ "firstname": "Hub", "email": "hub@x.example" }),
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connector.yaml");
    std::fs::write(
        &config,
        format!(
            "database: state.db\n\
             connec:\n  base_url: {}\n  api_id: demo-id\n  api_key: env:TEST_CONNEC_KEY\n\
             hubspot:\n  base_url: {}\n  access_token: demo-token\n  portal_id: \"62515\"\n\
             organization:\n  group_id: cld-cli\n  historical_data: true\n",
            connec_server.base_url, hubspot_server.base_url
        ),
    )
    .unwrap();

    let config_path = config.clone();
    let run = move |args: &[&str]| {
        let mut command = connector();
        command
            .args(args)
            .arg("--config")
            .arg(&config_path)
            .env("TEST_CONNEC_KEY", "demo-key")
            // Only `unlink` opens the encrypted credentials; the key is a throwaway.
            .env(
                "CONNECTOR_SECRET_KEY",
                "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            );
        command.output().expect("connector runs")
    };
    // The binary blocks: run it off the runtime that serves the emulators.
    let off_thread = |args: &'static [&'static str]| {
        let run = run.clone();
        async move {
            tokio::task::spawn_blocking(move || run(args))
                .await
                .unwrap()
        }
    };
    let linked_rows = |output: &std::process::Output| {
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| l.contains("linked"))
            .count()
    };
    let synced = off_thread(&["sync"]).await;
    let stdout = String::from_utf8_lossy(&synced.stdout);
    assert!(
        synced.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    assert!(stdout.contains("Sync: success"), "{stdout}");
    assert_eq!(connec.records("cld-cli", "people").len(), 2);
    assert_eq!(hubspot.objects("contacts").len(), 2);

    let status = off_thread(&["status"]).await;
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(stdout.contains("people: hub watermark 20"), "{stdout}");
    assert!(stdout.contains("historical data on"), "{stdout}");

    let maps = off_thread(&["idmaps"]).await;
    assert_eq!(
        linked_rows(&maps),
        2,
        "{}",
        String::from_utf8_lossy(&maps.stdout)
    );

    // Unlink with a purge forgets the id-maps (the next link starts over with a first sync).
    let unlinked = off_thread(&["unlink", "--purge"]).await;
    let stdout = String::from_utf8_lossy(&unlinked.stdout);
    assert!(
        unlinked.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&unlinked.stderr)
    );
    assert!(stdout.contains("2 id-map(s) purged"), "{stdout}");
    let maps = off_thread(&["idmaps"]).await;
    assert_eq!(
        linked_rows(&maps),
        0,
        "{}",
        String::from_utf8_lossy(&maps.stdout)
    );

    // A missing env credential is named.
    let output = connector()
        .args(["sync", "--config"])
        .arg(&config)
        .env_remove("TEST_CONNEC_KEY")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("TEST_CONNEC_KEY"));
}

/// A configuration file for `group` against the two emulators, in `dir` (database `state.db`).
fn write_config(
    dir: &std::path::Path,
    connec_url: &str,
    hubspot_url: &str,
    group: &str,
) -> PathBuf {
    let config = dir.join("connector.yaml");
    std::fs::write(
        &config,
        format!(
            "database: state.db\n\
             connec:\n  base_url: {connec_url}\n  api_id: demo-id\n  api_key: demo-key\n\
             hubspot:\n  base_url: {hubspot_url}\n  access_token: demo-token\n  portal_id: \"62515\"\n\
             organization:\n  group_id: {group}\n  historical_data: true\n"
        ),
    )
    .unwrap();
    config
}

/// Runs `connector <args> --config <config>` off the async runtime that serves the emulators.
async fn run_off_thread(args: &[&str], config: &std::path::Path) -> std::process::Output {
    let mut command = connector();
    command
        .args(args)
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn");
    tokio::task::spawn_blocking(move || command.output().expect("connector runs"))
        .await
        .unwrap()
}

fn texts(output: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The lease's holder as the database has it.
async fn lease_owner(database: &std::path::Path, group: &str) -> Option<String> {
    let store = EmbeddedStore::open(database).unwrap();
    store
        .lease_holder(&OrgId::new(group))
        .await
        .unwrap()
        .map(|holder| holder.owner)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_sync_does_not_block_the_rerun() {
    let connec = emulators::ConnecEmulator::new(emulators::ConnecConfig::default());
    let hubspot = emulators::HubSpotEmulator::new(emulators::HubSpotConfig::default());
    let connec_server = connec.start().await.unwrap();
    let hubspot_server = hubspot.start().await.unwrap();
    let group = "cld-killed";
    for n in 0..5 {
        connec.seed(
            group,
            "people",
            json!({ "first_name": format!("P{n}"), "email": { "address": format!("p{n}@k.example") } }),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &connec_server.base_url,
        &hubspot_server.base_url,
        group,
    );
    let database = dir.path().join("state.db");

    // Every Connec! read hangs (far longer than this test waits): the run is stuck mid-way,
    // holding the organization's lease.
    connec.fail_calls(CallFault {
        method: Some("GET".into()),
        path_contains: "/api/v2/".into(),
        times: 0,
        kind: FaultKind::Timeout { delay_ms: 600_000 },
    });
    let mut child = connector()
        .arg("sync")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("connector starts");
    let expected_prefix = format!("pid:{}@", child.id());
    // Wait (without a time limit on the verdict) until the run holds the lease.
    let mut polls = 0u32;
    let owner = loop {
        if database.exists()
            && let Some(owner) = lease_owner(&database, group).await
        {
            break owner;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the sync ended before it was killed: {status}");
        }
        polls += 1;
        assert!(polls < 1200, "the sync never took the lease");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(owner.starts_with(&expected_prefix), "{owner}");
    assert!(child.try_wait().unwrap().is_none(), "still running");

    // kill -9: no chance to release anything.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        lease_owner(&database, group).await.as_deref(),
        Some(owner.as_str()),
        "the killed run's lease is left behind"
    );

    connec.clear_faults();
    let rerun = run_off_thread(&["sync"], &config).await;
    let (stdout, stderr) = texts(&rerun);
    assert!(rerun.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("Sync: success"), "{stdout}{stderr}");
    assert!(!stderr.contains("is running"), "{stderr}");
    // The freed lease is logged with its old holder.
    assert!(stderr.contains("no longer exists"), "{stderr}");
    assert!(stderr.contains(&owner), "{stderr}");
    assert_eq!(hubspot.objects("contacts").len(), 5);
    assert_eq!(lease_owner(&database, group).await, None);

    connec_server.shutdown().await;
    hubspot_server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_holder_is_named_and_connector_unlock_frees_its_lease() {
    let connec = emulators::ConnecEmulator::new(emulators::ConnecConfig::default());
    let hubspot = emulators::HubSpotEmulator::new(emulators::HubSpotConfig::default());
    let connec_server = connec.start().await.unwrap();
    let hubspot_server = hubspot.start().await.unwrap();
    let group = "cld-unlock";
    connec.seed(
        group,
        "people",
        json!({ "first_name": "Una", "email": { "address": "una@u.example" } }),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &connec_server.base_url,
        &hubspot_server.base_url,
        group,
    );
    let database = dir.path().join("state.db");
    let org = OrgId::new(group);

    // Nothing to unlock yet.
    let output = run_off_thread(&["unlock"], &config).await;
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("nothing to unlock"), "{stdout}");

    // Held by a live process of this machine (this test), then by one of another machine.
    let live = format!("{}/run-held-by-the-test", process_holder());
    let remote = "pid:1@another-machine.example/run-0b1c2d3e";
    for (owner, still_running) in [(live.as_str(), true), (remote, false)] {
        let store = EmbeddedStore::open(&database).unwrap();
        assert!(
            store
                .acquire_lease(&org, owner, wiring::now(), Duration::from_secs(3600))
                .await
                .unwrap()
        );

        let refused = run_off_thread(&["sync"], &config).await;
        let (stdout, stderr) = texts(&refused);
        assert!(!refused.status.success(), "{stdout}{stderr}");
        assert!(
            stderr.contains("another sync of organization `cld-unlock` is running"),
            "{stderr}"
        );
        assert!(stderr.contains(owner), "the holder is named: {stderr}");
        assert!(
            stderr.contains("expires in 59 min") || stderr.contains("expires in 60 min"),
            "{stderr}"
        );
        assert!(stderr.contains("connector unlock"), "{stderr}");
        assert_eq!(lease_owner(&database, group).await.as_deref(), Some(owner));

        let unlocked = run_off_thread(&["unlock"], &config).await;
        let (stdout, stderr) = texts(&unlocked);
        assert!(unlocked.status.success(), "{stdout}{stderr}");
        assert!(
            stdout.contains("Removed the sync lease of organization cld-unlock"),
            "{stdout}"
        );
        assert!(stdout.contains(owner), "{stdout}");
        assert_eq!(stdout.contains("still exists"), still_running, "{stdout}");
        // Logged for operators, with the holder it removed.
        assert!(stderr.contains("connector unlock"), "{stderr}");
        assert!(stderr.contains(owner), "{stderr}");
        assert_eq!(lease_owner(&database, group).await, None);

        let synced = run_off_thread(&["sync"], &config).await;
        let (stdout, stderr) = texts(&synced);
        assert!(synced.status.success(), "{stdout}{stderr}");
        assert!(stdout.contains("Sync: success"), "{stdout}");
    }
    assert_eq!(hubspot.objects("contacts").len(), 1);

    connec_server.shutdown().await;
    hubspot_server.shutdown().await;
}
