//! TokenManager against a local token endpoint that rotates single-use refresh tokens.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use linking::memory::MemoryCredentialStore;
use linking::{
    AccountKey, CredentialStore, DEFAULT_MARGIN, LinkStatus, SaveOutcome, SecretString,
    StoredCredentials, TokenError, TokenManager, TokenSet,
};
use store_embedded::{EncryptedCredentialStore, SecretKey};
use support::{TokenServer, ts};
use sync_core::domain::Timestamp;
use sync_core::error::StoreError;

fn key() -> AccountKey {
    AccountKey::new("hubspot", "4242")
}

fn now() -> Timestamp {
    ts("2024-03-01T12:00:00Z")
}

/// Tokens that expire in one minute (inside the 5-minute margin).
fn expiring(access: &str, refresh: &str) -> TokenSet {
    TokenSet {
        access_token: SecretString::new(access),
        refresh_token: Some(SecretString::new(refresh)),
        expires_at: Some(now().plus(Duration::from_secs(60))),
        scopes: vec!["oauth".to_owned()],
    }
}

fn manager(server: &TokenServer, credentials: Arc<dyn CredentialStore>) -> TokenManager {
    TokenManager::new(
        credentials,
        server.app(),
        reqwest::Client::new(),
        DEFAULT_MARGIN,
    )
    .with_rotation_grace(Duration::from_millis(50))
}

async fn stored(credentials: &dyn CredentialStore) -> StoredCredentials {
    credentials.load(&key()).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_fresh_token_is_returned_without_calling_the_endpoint() {
    let server = TokenServer::start().await;
    let credentials = Arc::new(MemoryCredentialStore::new());
    let mut tokens = expiring("a0", "r0");
    tokens.expires_at = Some(now().plus(Duration::from_secs(3600)));
    credentials.save(&key(), &tokens, None).await.unwrap();
    let tokens = manager(&server, credentials);
    assert_eq!(
        tokens.access_token(&key(), now()).await.unwrap().expose(),
        "a0"
    );
    assert_eq!(server.calls(), 0);

    let missing = tokens
        .access_token(&AccountKey::new("hubspot", "nobody"), now())
        .await
        .unwrap_err();
    assert!(
        matches!(missing, TokenError::NotLinked { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn concurrent_calls_refresh_once() {
    let server = TokenServer::start().await;
    server.seed_refresh_token("r0");
    server.lock().refresh_delay = Duration::from_millis(200);
    let credentials = Arc::new(MemoryCredentialStore::new());
    credentials
        .save(&key(), &expiring("a0", "r0"), None)
        .await
        .unwrap();
    let tokens = Arc::new(manager(&server, credentials.clone()));

    let calls = (0..2).map(|_| {
        let tokens = Arc::clone(&tokens);
        tokio::spawn(async move { tokens.access_token(&key(), now()).await.unwrap() })
    });
    let results: Vec<SecretString> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(server.refresh_calls(), 1, "exactly one token-endpoint call");
    assert_eq!(results[0].expose(), "ACCESS-tok-0001-q8x");
    assert_eq!(results[1].expose(), "ACCESS-tok-0001-q8x");

    let stored = stored(credentials.as_ref()).await;
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose(),
        "REFRESH-tok-0001-z3k"
    );
    assert_eq!(
        stored.tokens.expires_at,
        Some(now().plus(Duration::from_secs(support::EXPIRES_IN)))
    );
    // Now fresh: no further call.
    tokens.access_token(&key(), now()).await.unwrap();
    assert_eq!(server.refresh_calls(), 1);
}

#[tokio::test]
async fn two_processes_racing_never_lose_a_rotation() {
    let server = TokenServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.db");
    let secret = SecretKey::generate();
    // Two "processes": each its own store connection and its own manager (own locks).
    let store_a: Arc<dyn CredentialStore> =
        Arc::new(EncryptedCredentialStore::open(&path, secret.clone()).unwrap());
    let store_b: Arc<dyn CredentialStore> =
        Arc::new(EncryptedCredentialStore::open(&path, secret).unwrap());
    server.seed_refresh_token("r0");
    store_a
        .save(&key(), &expiring("a0", "r0"), None)
        .await
        .unwrap();
    let a = Arc::new(manager(&server, Arc::clone(&store_a)));
    let b = Arc::new(manager(&server, Arc::clone(&store_b)));

    let mut at = now();
    for round in 0..6 {
        server.lock().refresh_delay = Duration::from_millis(20 * (round % 3));
        let (ra, rb) = {
            let (a, b) = (Arc::clone(&a), Arc::clone(&b));
            tokio::join!(
                tokio::spawn(async move { a.force_refresh(&key(), at).await }),
                tokio::spawn(async move { b.force_refresh(&key(), at).await }),
            )
        };
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let current = stored(store_a.as_ref()).await;
        let newest = server.lock().newest_refresh.clone().unwrap();
        assert_eq!(
            current.status,
            LinkStatus::Active,
            "round {round}: {ra:?} {rb:?}"
        );
        assert_eq!(
            current.tokens.refresh_token.as_ref().unwrap().expose(),
            newest,
            "round {round}: the stored refresh token is the one the endpoint honours"
        );
        assert!(server.lock().valid_refresh.contains(&newest));
        // Both callers got a working token (the winner's), never an error.
        assert_eq!(ra.unwrap(), current.tokens.access_token, "round {round}");
        assert_eq!(rb.unwrap(), current.tokens.access_token, "round {round}");
        at = at.plus(Duration::from_secs(3600));
    }

    assert!(server.refresh_calls() > 6, "the two processes really raced");
    // A later refresh by either process succeeds.
    let later = at.plus(Duration::from_secs(support::EXPIRES_IN));
    let token = b.access_token(&key(), later).await.unwrap();
    assert_eq!(token, stored(store_a.as_ref()).await.tokens.access_token);
    assert_eq!(stored(store_b.as_ref()).await.status, LinkStatus::Active);
}

#[tokio::test]
async fn invalid_grant_marks_the_link_and_later_calls_fail_fast() {
    let server = TokenServer::start().await;
    // "r0" was revoked: the endpoint does not know it.
    let credentials = Arc::new(MemoryCredentialStore::new());
    credentials
        .save(&key(), &expiring("a0", "r0"), None)
        .await
        .unwrap();
    let tokens = manager(&server, credentials.clone());

    let error = tokens.access_token(&key(), now()).await.unwrap_err();
    assert!(
        matches!(error, TokenError::NeedsReauthorization { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("hubspot/4242"), "{error}");
    assert!(error.to_string().contains("linking again"), "{error}");
    assert_eq!(server.refresh_calls(), 1);
    let stored = stored(credentials.as_ref()).await;
    assert!(
        matches!(&stored.status, LinkStatus::NeedsReauthorization { reason } if reason.contains("invalid_grant")),
        "{:?}",
        stored.status
    );

    for _ in 0..3 {
        let again = tokens.access_token(&key(), now()).await.unwrap_err();
        assert!(
            matches!(again, TokenError::NeedsReauthorization { .. }),
            "{again:?}"
        );
        let forced = tokens.force_refresh(&key(), now()).await.unwrap_err();
        assert!(
            matches!(forced, TokenError::NeedsReauthorization { .. }),
            "{forced:?}"
        );
    }
    assert_eq!(server.refresh_calls(), 1, "no endpoint call once marked");

    // A new link (save with None) makes it active again.
    credentials
        .save(&key(), &expiring("a9", "r9"), None)
        .await
        .unwrap();
    assert_eq!(
        stored_status(credentials.as_ref()).await,
        LinkStatus::Active
    );
}

async fn stored_status(credentials: &dyn CredentialStore) -> LinkStatus {
    stored(credentials).await.status
}

/// A store through which "another process" rotates the token right after our manager read it.
struct RotatedBehindOurBack {
    inner: Arc<MemoryCredentialStore>,
    server: TokenServer,
    loads: AtomicUsize,
    /// On this load (1-based), rotate after reading.
    rotate_on: usize,
    /// Expiry of the tokens the other process saves.
    other_expires_at: Timestamp,
}

#[async_trait]
impl CredentialStore for RotatedBehindOurBack {
    async fn load(&self, key: &AccountKey) -> Result<Option<StoredCredentials>, StoreError> {
        let read = self.inner.load(key).await?;
        if self.loads.fetch_add(1, Ordering::SeqCst) + 1 == self.rotate_on {
            let current = read.clone().unwrap();
            let used = current.tokens.refresh_token.clone().unwrap();
            let (access, refresh) = self.server.rotate_now(used.expose()).unwrap();
            let tokens = TokenSet {
                access_token: SecretString::new(access),
                refresh_token: Some(SecretString::new(refresh)),
                expires_at: Some(self.other_expires_at),
                scopes: Vec::new(),
            };
            let saved = self.inner.save(key, &tokens, Some(current.version)).await?;
            assert!(matches!(saved, SaveOutcome::Saved { .. }));
        }
        Ok(read)
    }
    async fn save(
        &self,
        key: &AccountKey,
        tokens: &TokenSet,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, StoreError> {
        self.inner.save(key, tokens, expected_version).await
    }
    async fn mark_needs_reauth(&self, key: &AccountKey, reason: &str) -> Result<(), StoreError> {
        self.inner.mark_needs_reauth(key, reason).await
    }
    async fn delete(&self, key: &AccountKey) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
}

async fn rotated_behind_our_back(
    other_expires_at: Timestamp,
) -> (
    TokenServer,
    Arc<MemoryCredentialStore>,
    Result<SecretString, TokenError>,
) {
    let server = TokenServer::start().await;
    server.seed_refresh_token("r0");
    let inner = Arc::new(MemoryCredentialStore::new());
    inner
        .save(&key(), &expiring("a0", "r0"), None)
        .await
        .unwrap();
    // Load 1: the expiry check; load 2: the re-read under the lock, whose refresh token we use.
    let store = Arc::new(RotatedBehindOurBack {
        inner: Arc::clone(&inner),
        server: server.clone(),
        loads: AtomicUsize::new(0),
        rotate_on: 2,
        other_expires_at,
    });
    let result = manager(&server, store).access_token(&key(), now()).await;
    (server, inner, result)
}

#[tokio::test]
async fn invalid_grant_after_a_rotation_elsewhere_retries_with_the_stored_token() {
    // The other process stored a token that is itself expiring: retry once with its refresh
    // token.
    let (server, inner, result) =
        rotated_behind_our_back(now().plus(Duration::from_secs(10))).await;
    let token = result.unwrap();
    // Issued: 1 by the other process, 2 by our retry.
    assert_eq!(token.expose(), "ACCESS-tok-0002-q8x");
    assert_eq!(server.refresh_calls(), 2, "our failed call and our retry");
    let stored = stored(inner.as_ref()).await;
    assert_eq!(stored.status, LinkStatus::Active);
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose(),
        "REFRESH-tok-0002-z3k"
    );
    assert_eq!(
        server.lock().newest_refresh.as_deref(),
        Some("REFRESH-tok-0002-z3k")
    );
}

#[tokio::test]
async fn invalid_grant_after_a_fresh_rotation_elsewhere_uses_the_stored_token() {
    let (server, inner, result) =
        rotated_behind_our_back(now().plus(Duration::from_secs(3600))).await;
    assert_eq!(result.unwrap().expose(), "ACCESS-tok-0001-q8x");
    assert_eq!(server.refresh_calls(), 1, "no retry needed");
    let stored = stored(inner.as_ref()).await;
    assert_eq!(stored.status, LinkStatus::Active);
    assert_eq!(
        stored.tokens.refresh_token.unwrap().expose(),
        "REFRESH-tok-0001-z3k"
    );
}

#[tokio::test]
async fn transient_failures_do_not_mark_the_link() {
    let server = TokenServer::start().await;
    server.seed_refresh_token("r0");
    let credentials = Arc::new(MemoryCredentialStore::new());
    credentials
        .save(&key(), &expiring("a0", "r0"), None)
        .await
        .unwrap();
    let tokens = manager(&server, credentials.clone());

    for status in [500, 503, 429] {
        server.lock().fail_status = Some(status);
        let error = tokens.access_token(&key(), now()).await.unwrap_err();
        assert!(
            matches!(error, TokenError::Transient { .. }),
            "{status}: {error:?}"
        );
        assert_eq!(
            stored_status(credentials.as_ref()).await,
            LinkStatus::Active
        );
    }
    server.lock().fail_status = None;

    // Unreachable endpoint.
    let mut app = server.app();
    app.token_url = "http://127.0.0.1:9/token".to_owned();
    let unreachable = TokenManager::new(
        credentials.clone(),
        app,
        reqwest::Client::new(),
        DEFAULT_MARGIN,
    );
    let error = unreachable.access_token(&key(), now()).await.unwrap_err();
    assert!(matches!(error, TokenError::Transient { .. }), "{error:?}");
    assert_eq!(
        stored_status(credentials.as_ref()).await,
        LinkStatus::Active
    );

    // A wrong client secret is refused, not a dead grant: not marked either.
    server.lock().fail_error = Some("invalid_client".to_owned());
    let error = tokens.access_token(&key(), now()).await.unwrap_err();
    match &error {
        TokenError::Rejected { error, .. } => assert_eq!(error, "invalid_client"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        stored_status(credentials.as_ref()).await,
        LinkStatus::Active
    );
    server.lock().fail_error = None;

    // And it recovers.
    let token = tokens.access_token(&key(), now()).await.unwrap();
    assert_eq!(token.expose(), "ACCESS-tok-0001-q8x");
}

#[tokio::test]
async fn non_rotating_apps_keep_their_refresh_token() {
    let server = TokenServer::start().await;
    server.lock().rotate = false;
    server.seed_refresh_token("r0");
    let credentials = Arc::new(MemoryCredentialStore::new());
    credentials
        .save(&key(), &expiring("a0", "r0"), None)
        .await
        .unwrap();
    let tokens = manager(&server, credentials.clone());
    let token = tokens.force_refresh(&key(), now()).await.unwrap();
    assert_eq!(token.expose(), "ACCESS-tok-0001-q8x");
    let stored = stored(credentials.as_ref()).await;
    assert_eq!(stored.tokens.refresh_token.unwrap().expose(), "r0");
    assert_eq!(stored.tokens.scopes, vec!["oauth".to_owned()]);
}

#[tokio::test]
async fn api_keys_never_refresh_and_a_rejected_one_needs_reauth() {
    let server = TokenServer::start().await;
    let credentials = Arc::new(MemoryCredentialStore::new());
    credentials
        .save(
            &key(),
            &TokenSet::api_key(SecretString::new("api-key")),
            None,
        )
        .await
        .unwrap();
    let tokens = manager(&server, credentials.clone());
    let far = now().plus(Duration::from_secs(10 * 365 * 86_400));
    assert_eq!(
        tokens.access_token(&key(), far).await.unwrap().expose(),
        "api-key"
    );
    let error = tokens.force_refresh(&key(), now()).await.unwrap_err();
    assert!(
        matches!(error, TokenError::NeedsReauthorization { .. }),
        "{error:?}"
    );
    assert_eq!(server.calls(), 0);
}
