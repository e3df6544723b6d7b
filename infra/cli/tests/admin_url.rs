//! `connector admin-url`: a launch URL the running connector accepts, signed with
//! `CONNECTOR_LAUNCH_SECRET` or, without it, with the secret derived from
//! `CONNECTOR_SECRET_KEY` (what `connector serve` derives too).

use std::process::Command;

use sync_core::domain::{Tenant, Timestamp};

const KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

fn admin_url(extra_env: &[(&str, &str)], group: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connector.yaml");
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../connector.serve.example.yaml");
    std::fs::copy(example, &config).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_connector"));
    command
        .args(["admin-url", "--group", group, "--minutes", "5", "--config"])
        .arg(&config)
        .env("CONNECTOR_SECRET_KEY", KEY)
        .env("CONNEC_API_KEY", "demo-key")
        .env("HUBSPOT_CLIENT_SECRET", "demo-client-secret")
        .env_remove("CONNECTOR_LAUNCH_SECRET");
    for (name, value) in extra_env {
        command.env(name, value);
    }
    command.output().expect("connector runs")
}

fn token_of(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let url = String::from_utf8(output.stdout.clone()).unwrap();
    let url = url.trim();
    assert!(
        url.starts_with("http://127.0.0.1:8080/connector/launch?token="),
        "{url}"
    );
    url.rsplit_once("token=").unwrap().1.to_owned()
}

fn now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}

#[test]
fn the_launch_url_is_signed_with_the_derived_secret_for_the_group_and_five_minutes() {
    let token = token_of(&admin_url(&[], "cld-demo"));
    let secret = access::LaunchSecret::derived(KEY.as_bytes(), "default");
    let claims = access::LaunchToken::verify(&secret, &token, &Tenant::new("default"), now())
        .expect("serve accepts it");
    assert_eq!(
        (claims.group_id.as_str(), claims.sub.as_str()),
        ("cld-demo", "operator")
    );
    assert_eq!(claims.exp - claims.iat, 300);
}

#[test]
fn a_configured_launch_secret_signs_it_and_a_short_one_or_a_bad_group_is_refused() {
    let shared = "a-launch-secret-shared-with-the-hub-0123";
    let token = token_of(&admin_url(
        &[("CONNECTOR_LAUNCH_SECRET", shared)],
        "cld-demo",
    ));
    let secret = access::LaunchSecret::new(shared).unwrap();
    assert!(access::LaunchToken::verify(&secret, &token, &Tenant::new("default"), now()).is_ok());

    let short = admin_url(&[("CONNECTOR_LAUNCH_SECRET", "tiny-value")], "cld-demo");
    assert!(!short.status.success());
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(
        stderr.contains("CONNECTOR_LAUNCH_SECRET") && stderr.contains("32"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("tiny-value"),
        "the secret is not echoed: {stderr}"
    );

    let bad = admin_url(&[], "x/../cld-demo");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--group"));
}
