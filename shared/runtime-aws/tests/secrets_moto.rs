//! The cold start's configuration secrets read in one `BatchGetSecretValue` call, against moto
//! (real SDK clients over HTTP): every function wires from them, and each way a secret can be
//! wrong fails naming that secret, never its value; and every function wires on the
//! process's one TLS configuration (the roots loaded once).

use std::collections::HashMap;

use aws_sdk_secretsmanager::primitives::Blob;
use runtime_aws::{Function, SetupError, service_with};
use serde_json::json;
use store_aws::testing::{sdk_config, unique};

const LAUNCH: &str = "runtime-aws-test-launch-secret-of-at-least-32-bytes";
const API_KEY: &str = "key-that-must-never-be-printed";

/// A fresh secrets prefix with the Connec! credentials, HubSpot's client secret and the launch
/// secret, each replaced by `overrides` (`None`: not created).
async fn prefix_with(overrides: &[(&str, Option<&str>)]) -> String {
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
    let prefix = unique("rt");
    let defaults = [
        (
            "connec/default",
            json!({ "api_id": "demo-id", "api_key": API_KEY }).to_string(),
        ),
        (
            "hubspot/client",
            json!({ "client_secret": "demo-client-secret" }).to_string(),
        ),
        (
            "launch/default",
            json!({ "launch_secret": LAUNCH }).to_string(),
        ),
    ];
    for (name, value) in defaults {
        let value = match overrides.iter().find(|(n, _)| *n == name) {
            Some((_, replaced)) => replaced.map(str::to_owned),
            None => Some(value),
        };
        if let Some(value) = value {
            secrets
                .create_secret()
                .name(format!("{prefix}/{name}"))
                .secret_string(value)
                .send()
                .await
                .unwrap();
        }
    }
    prefix
}

fn env(prefix: &str) -> HashMap<&'static str, String> {
    HashMap::from([
        ("TABLE_NAME", "table".to_owned()),
        ("EVENT_BUS_NAME", "bus".into()),
        ("SECRETS_PREFIX", prefix.into()),
        ("TENANT", "default".into()),
        ("PUBLIC_URL", "https://example.test/".into()),
        ("CONNEC_BASE_URL", "http://127.0.0.1:9".into()),
        ("HUBSPOT_BASE_URL", "http://127.0.0.1:9".into()),
        ("HUBSPOT_CLIENT_ID", "demo-client-id".into()),
        ("HUBSPOT_APP_ID", "424242".into()),
        ("APPS", "hubspot".into()),
    ])
}

/// The error a wiring that must fail fails with, as text.
async fn wiring_error(sdk: &aws_config::SdkConfig, prefix: &str, function: Function) -> String {
    match wire(sdk, prefix, function).await {
        Ok(_) => panic!("wiring {function:?} with prefix {prefix} should have failed"),
        Err(e) => e.to_string(),
    }
}

async fn wire(
    sdk: &aws_config::SdkConfig,
    prefix: &str,
    function: Function,
) -> Result<service::ConnectorService, SetupError> {
    let env = env(prefix);
    service_with(
        sdk,
        &|name| env.get(name).cloned(),
        &connectors::factories(),
        function,
    )
    .await
}

#[tokio::test]
async fn every_function_wires_from_the_secrets_read_in_one_batch() {
    let sdk = sdk_config().await;
    let prefix = prefix_with(&[]).await;
    for function in [Function::OAuthCallback, Function::Webhook, Function::Sync] {
        let service = wire(&sdk, &prefix, function)
            .await
            .unwrap_or_else(|e| panic!("{function:?} wires: {e}"));
        let settings = service.settings();
        assert_eq!(settings.hub.api_id, "demo-id");
        assert_eq!(settings.hub.api_key, API_KEY);
        assert_eq!(settings.public_url, "https://example.test");
        assert!(service.apps().get("hubspot").is_some(), "{function:?}");
        // Only the function serving the page and linking reads the launch secret, and it is
        // the one stored.
        match &settings.launch_secret {
            Some(secret) => {
                assert_eq!(function, Function::OAuthCallback);
                let stored = service::LaunchSecret::new(LAUNCH).unwrap();
                assert_eq!(secret.derived_key("probe"), stored.derived_key("probe"));
            }
            None => assert_ne!(function, Function::OAuthCallback),
        }
    }
}

#[tokio::test]
async fn every_function_wires_on_the_processs_one_tls_configuration() {
    let sdk = sdk_config().await;
    let prefix = prefix_with(&[]).await;
    // Each wiring builds Connec!'s client, HubSpot's provider and connector, the linker and
    // the token manager: each used to build its own reqwest client (and read the system's
    // root certificates again).
    for function in [Function::OAuthCallback, Function::Webhook, Function::Sync] {
        wire(&sdk, &prefix, function)
            .await
            .unwrap_or_else(|e| panic!("{function:?} wires: {e}"));
    }
    assert_eq!(http_client::shared_builds(), 1);
}

#[tokio::test]
async fn a_missing_secret_is_named_with_secrets_managers_reason() {
    let sdk = sdk_config().await;
    let prefix = prefix_with(&[("hubspot/client", None)]).await;
    let error = wire(&sdk, &prefix, Function::Webhook)
        .await
        .err()
        .expect("a missing secret fails the cold start")
        .to_string();
    assert!(
        error.starts_with(&format!(
            "secret `{prefix}/hubspot/client`: cannot read it ("
        )),
        "{error}"
    );
    assert!(error.contains("ResourceNotFoundException"), "{error}");

    // The launch secret is read only by the OAuth function: the others do not miss it.
    let prefix = prefix_with(&[("launch/default", None)]).await;
    assert!(wire(&sdk, &prefix, Function::Sync).await.is_ok());
    let error = wiring_error(&sdk, &prefix, Function::OAuthCallback).await;
    assert!(
        error.contains(&format!("secret `{prefix}/launch/default`")),
        "{error}"
    );
}

#[tokio::test]
async fn a_malformed_secret_is_named_and_its_value_never_shown() {
    let sdk = sdk_config().await;
    let wrong_type = json!({ "api_id": 7, "api_key": API_KEY }).to_string();
    let prefix = prefix_with(&[("connec/default", Some(&wrong_type))]).await;
    let error = wiring_error(&sdk, &prefix, Function::Sync).await;
    assert_eq!(
        error,
        format!(
            "secret `{prefix}/connec/default`: is not the expected JSON (missing or wrongly typed \
             fields)"
        )
    );

    let not_json = format!("api_key={API_KEY}");
    let prefix = prefix_with(&[("hubspot/client", Some(&not_json))]).await;
    let error = wiring_error(&sdk, &prefix, Function::Webhook).await;
    assert_eq!(
        error,
        format!("secret `{prefix}/hubspot/client`: is not the expected JSON (syntax error)")
    );

    let short = json!({ "launch_secret": "short" }).to_string();
    let prefix = prefix_with(&[("launch/default", Some(&short))]).await;
    let error = wiring_error(&sdk, &prefix, Function::OAuthCallback).await;
    assert!(
        error.starts_with(&format!("secret `{prefix}/launch/default`: ")),
        "{error}"
    );
    assert!(!error.contains("short\""), "{error}");
}

#[tokio::test]
async fn a_binary_secret_is_named_as_having_no_string_value() {
    let sdk = sdk_config().await;
    let prefix = prefix_with(&[("connec/default", None)]).await;
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(format!("{prefix}/connec/default"))
        .secret_binary(Blob::new(API_KEY.as_bytes()))
        .send()
        .await
        .unwrap();
    let error = wiring_error(&sdk, &prefix, Function::Webhook).await;
    assert_eq!(
        error,
        format!("secret `{prefix}/connec/default`: has no string value")
    );
}

#[tokio::test]
async fn a_refused_batch_call_names_every_secret_it_asked_for() {
    // Secrets Manager unreachable (a closed port), no retries: the call itself fails.
    let sdk = sdk_config()
        .await
        .into_builder()
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let prefix = unique("rt");
    let error = wire(&sdk, &prefix, Function::OAuthCallback)
        .await
        .err()
        .unwrap();
    assert!(matches!(error, SetupError::Secrets { .. }), "{error:?}");
    let error = error.to_string();
    assert!(
        error.starts_with(&format!(
            "secrets `{prefix}/connec/default`, `{prefix}/launch/default`, \
             `{prefix}/hubspot/client`: cannot read them ("
        )),
        "{error}"
    );
}
