//! The `connector` binary, run as a user would.

use std::process::Command;

use serde_json::json;

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
        .args(["bench", "--records", "many"])
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
