//! The token endpoint's per-request timeout: the process's HTTP clients have no timeouts of
//! their own, so the linker and the token manager set the configured one on each request; a
//! token endpoint that accepts but never answers fails the exchange or refresh as transient
//! in about that time.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use linking::memory::{MemoryAuthorizationStateStore, MemoryCredentialStore};
use linking::{
    AccountKey, CredentialStore, DEFAULT_MARGIN, LinkError, Linker, OAuthApp, SecretString,
    TokenError, TokenManager, TokenSet,
};
use support::{TokenServer, query, ts};
use sync_core::domain::{GroupId, Tenant};

const CONFIGURED: Duration = Duration::from_millis(300);
/// Fails the test instead of hanging it when the configured timeout does not apply (the
/// default is 30 s).
const GUARD: Duration = Duration::from_secs(10);

/// A token endpoint that accepts connections and never answers.
async fn silent_token_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}/token")
}

async fn silent_app() -> OAuthApp {
    let server = TokenServer::start().await;
    let mut app = server.app();
    app.token_url = silent_token_url().await;
    app
}

#[tokio::test]
async fn a_code_exchange_with_a_silent_token_endpoint_times_out_after_the_configured_timeout() {
    let linker = Linker::new(
        silent_app().await,
        Arc::new(MemoryAuthorizationStateStore::new()),
        reqwest::Client::new(),
    )
    .unwrap()
    .with_request_timeout(CONFIGURED);
    let now = ts("2024-03-01T12:00:00Z");
    let redirect = linker
        .start(Tenant::new("acme"), GroupId::new("cld-1"), now)
        .await
        .unwrap();
    let state = query(&redirect.url)["state"].clone();
    let started = Instant::now();
    let outcome = tokio::time::timeout(
        GUARD,
        linker.callback(Some("code-1"), Some(&state), None, now),
    )
    .await
    .expect("the configured timeout fires, not the test's guard");
    assert!(
        matches!(&outcome, Err(LinkError::Transient { detail, .. }) if detail.contains("timed out")),
        "{outcome:?}"
    );
    assert!(started.elapsed() >= CONFIGURED, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_refresh_with_a_silent_token_endpoint_times_out_after_the_configured_timeout() {
    let key = AccountKey::new("hubspot", "4242");
    let now = ts("2024-03-01T12:00:00Z");
    let credentials = Arc::new(MemoryCredentialStore::new());
    let expiring = TokenSet {
        access_token: SecretString::new("a0"),
        refresh_token: Some(SecretString::new("r0")),
        expires_at: Some(now.plus(Duration::from_secs(60))),
        scopes: vec!["oauth".to_owned()],
    };
    credentials.save(&key, &expiring, None).await.unwrap();
    let tokens = TokenManager::new(
        credentials,
        silent_app().await,
        reqwest::Client::new(),
        DEFAULT_MARGIN,
    )
    .with_request_timeout(CONFIGURED);
    let outcome = tokio::time::timeout(GUARD, tokens.access_token(&key, now))
        .await
        .expect("the configured timeout fires, not the test's guard");
    assert!(
        matches!(&outcome, Err(TokenError::Transient { detail, .. }) if detail.contains("timed out")),
        "{outcome:?}"
    );
}
