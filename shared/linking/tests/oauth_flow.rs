//! Authorize -> callback -> complete_link, against a local token endpoint, with the embedded
//! encrypted stores; and the callback's refusals.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use linking::memory::{MemoryAuthorizationStateStore, MemoryCredentialStore};
use linking::{
    AccountKey, CredentialStore, LinkError, LinkStatus, Linker, SecretString, UnlinkMode,
    complete_link, link_with_api_key, unlink,
};
use store_embedded::{
    EmbeddedStore, EncryptedCredentialStore, SecretKey, SqliteAuthorizationStateStore,
};
use support::{TokenServer, query, ts};
use sync_core::domain::{
    DirectionFlags, EntityName, GroupId, HubId, IdMap, OrgId, Provider, Side, Tenant, Watermark,
};
use sync_core::ports::SyncStore;

/// Log lines written while a test runs (to check that no secret is ever logged).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Captures every log line of this test binary: a global subscriber (a scoped one would miss
/// callsites that tests on other threads registered first).
fn capture_logs() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber).unwrap();
            captured
        })
        .clone()
}

fn all_file_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

fn memory_linker(server: &TokenServer) -> Linker {
    Linker::new(
        server.app(),
        Arc::new(MemoryAuthorizationStateStore::new()),
        reqwest::Client::new(),
    )
    .unwrap()
}

#[tokio::test]
async fn start_callback_complete_stores_encrypted_tokens() {
    let logs = capture_logs();
    let server = TokenServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.db");
    let secret = SecretKey::generate();
    let store = EmbeddedStore::open(&path).unwrap();
    let credentials = EncryptedCredentialStore::open(&path, secret.clone()).unwrap();
    let states = Arc::new(SqliteAuthorizationStateStore::open(&path, secret).unwrap());
    let linker = Linker::new(server.app(), states, reqwest::Client::new()).unwrap();
    let now = ts("2024-03-01T12:00:00Z");

    let redirect = linker
        .start(Tenant::new("acme"), GroupId::new("cld-1"), now)
        .await
        .unwrap();
    let params = query(&redirect.url);
    assert!(
        redirect
            .url
            .starts_with(&format!("http://{}/authorize?", server.addr))
    );
    assert_eq!(params["response_type"], "code");
    assert_eq!(params["client_id"], support::CLIENT_ID);
    assert_eq!(params["redirect_uri"], support::REDIRECT_URI);
    assert_eq!(params["scope"], "crm.objects.contacts.read oauth");
    assert_eq!(params["state"], redirect.state);
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["code_challenge"].len(), 43);
    assert!(!params.contains_key("client_secret"));
    // At least 128 random bits, URL-safe.
    let (_, random) = redirect.state.split_once('.').unwrap();
    assert!(random.len() >= 22, "{}", redirect.state);
    assert!(
        redirect
            .state
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    );
    let other = linker
        .start(Tenant::new("acme"), GroupId::new("cld-1"), now)
        .await
        .unwrap();
    assert_ne!(other.state, redirect.state);

    // The browser comes back with a code bound to our PKCE challenge.
    let code = server.issue_code(Some(&params["code_challenge"]));
    let authorized = linker
        .callback(
            Some(&code),
            Some(&redirect.state),
            None,
            now.plus(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert_eq!(authorized.tenant, Tenant::new("acme"));
    assert_eq!(authorized.group_id, GroupId::new("cld-1"));
    assert_eq!(authorized.provider, Provider::new("hubspot"));
    let access = authorized.tokens.access_token.expose().to_owned();
    let refresh = authorized
        .tokens
        .refresh_token
        .clone()
        .unwrap()
        .expose()
        .to_owned();
    assert_eq!(access, "ACCESS-tok-0001-q8x");
    assert_eq!(refresh, "REFRESH-tok-0001-z3k");
    assert_eq!(
        authorized.tokens.expires_at,
        Some(now.plus(Duration::from_secs(30 + support::EXPIRES_IN)))
    );
    assert_eq!(
        authorized.tokens.scopes,
        vec!["crm.objects.contacts.read".to_owned(), "oauth".to_owned()]
    );

    let org = complete_link(
        &store,
        &credentials,
        authorized,
        "4242".to_owned(),
        "Acme Portal",
        now,
    )
    .await
    .unwrap();
    assert_eq!(org.id, OrgId::new("cld-1"));
    assert_eq!(org.realm.as_str(), "4242");
    assert!(org.sync_enabled);
    assert_eq!(org.history_from, Some(now));
    assert!(org.entity_flags.is_empty());
    assert_eq!(store.get_organization(&org.id).await.unwrap(), Some(org));

    let stored = credentials
        .load(&AccountKey::new("hubspot", "4242"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.tokens.access_token.expose(), access);
    assert_eq!(stored.status, LinkStatus::Active);
    assert_eq!(stored.version, 1);

    // Nothing secret in the database file (nor its WAL).
    let bytes = all_file_bytes(dir.path());
    assert!(contains(&bytes, "4242"));
    assert!(
        !contains(&bytes, &access),
        "access token found in the database file"
    );
    assert!(
        !contains(&bytes, &refresh),
        "refresh token found in the database file"
    );
    assert!(
        !contains(&bytes, &redirect.state),
        "state found in the database file"
    );
    assert!(
        !contains(&bytes, &other.state),
        "state found in the database file"
    );

    // The state is one-time.
    let code = server.issue_code(Some(&params["code_challenge"]));
    let reused = linker
        .callback(Some(&code), Some(&redirect.state), None, now)
        .await
        .unwrap_err();
    assert!(matches!(reused, LinkError::StateAlreadyUsed), "{reused:?}");
    assert!(
        reused.to_string().contains("start linking again"),
        "{reused}"
    );
    assert_eq!(
        server.calls(),
        1,
        "a refused callback never reaches the token endpoint"
    );

    // Nothing secret in the logs either.
    let text = logs.text();
    assert!(text.contains("hubspot/4242"), "{text}");
    for secret in [
        access.as_str(),
        refresh.as_str(),
        redirect.state.as_str(),
        code.as_str(),
        support::CLIENT_SECRET,
    ] {
        assert!(!text.contains(secret), "`{secret}` was logged:\n{text}");
    }
}

#[tokio::test]
async fn callbacks_with_bad_states_are_refused_distinctly() {
    let server = TokenServer::start().await;
    let linker = memory_linker(&server);
    let now = ts("2024-03-01T12:00:00Z");
    let group = GroupId::new("cld-1");

    let missing = linker
        .callback(Some("code"), None, None, now)
        .await
        .unwrap_err();
    assert!(matches!(missing, LinkError::MissingState), "{missing:?}");
    let empty = linker
        .callback(Some("code"), Some(""), None, now)
        .await
        .unwrap_err();
    assert!(matches!(empty, LinkError::MissingState), "{empty:?}");

    let unknown = linker
        .callback(Some("code"), Some("forged-state"), None, now)
        .await
        .unwrap_err();
    assert!(matches!(unknown, LinkError::UnknownState), "{unknown:?}");
    assert!(unknown.to_string().contains("start linking again"));

    let redirect = linker
        .start(Tenant::new("acme"), group.clone(), now)
        .await
        .unwrap();
    let expired = linker
        .callback(
            Some("code"),
            Some(&redirect.state),
            None,
            now.plus(Duration::from_secs(10 * 60 + 1)),
        )
        .await
        .unwrap_err();
    assert!(matches!(expired, LinkError::StateExpired), "{expired:?}");
    assert!(expired.to_string().contains("expired"), "{expired}");
    // Exactly at the expiry it is expired too.
    let redirect = linker
        .start(Tenant::new("acme"), group.clone(), now)
        .await
        .unwrap();
    let at_expiry = linker
        .callback(
            Some("code"),
            Some(&redirect.state),
            None,
            now.plus(Duration::from_secs(600)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(at_expiry, LinkError::StateExpired),
        "{at_expiry:?}"
    );

    // Declined consent: mapped, and the state is consumed.
    let redirect = linker
        .start(Tenant::new("acme"), group.clone(), now)
        .await
        .unwrap();
    let denied = linker
        .callback(None, Some(&redirect.state), Some("access_denied"), now)
        .await
        .unwrap_err();
    assert!(matches!(denied, LinkError::Denied { .. }), "{denied:?}");
    assert!(denied.to_string().contains("denied"), "{denied}");
    let after = linker
        .callback(Some("code"), Some(&redirect.state), None, now)
        .await
        .unwrap_err();
    assert!(matches!(after, LinkError::StateAlreadyUsed), "{after:?}");

    let redirect = linker
        .start(Tenant::new("acme"), group.clone(), now)
        .await
        .unwrap();
    let other = linker
        .callback(None, Some(&redirect.state), Some("invalid_scope<b>"), now)
        .await
        .unwrap_err();
    match other {
        LinkError::AuthorizationFailed { error, .. } => assert_eq!(error, "invalid_scopeb"),
        other => panic!("unexpected {other:?}"),
    }

    let redirect = linker.start(Tenant::new("acme"), group, now).await.unwrap();
    let no_code = linker
        .callback(None, Some(&redirect.state), None, now)
        .await
        .unwrap_err();
    assert!(matches!(no_code, LinkError::MissingCode), "{no_code:?}");
    assert_eq!(server.calls(), 0);
}

#[tokio::test]
async fn token_endpoint_errors_carry_the_oauth_code_only() {
    let server = TokenServer::start().await;
    let linker = memory_linker(&server);
    let now = ts("2024-03-01T12:00:00Z");

    // A code bound to another PKCE challenge: the endpoint says invalid_grant.
    let redirect = linker
        .start(Tenant::new("acme"), GroupId::new("cld-1"), now)
        .await
        .unwrap();
    let code = server.issue_code(Some("another-challenge"));
    let error = linker
        .callback(Some(&code), Some(&redirect.state), None, now)
        .await
        .unwrap_err();
    match &error {
        LinkError::TokenEndpoint { error, .. } => assert_eq!(error, "invalid_grant"),
        other => panic!("unexpected {other:?}"),
    }
    let message = error.to_string();
    assert!(!message.contains(support::CLIENT_SECRET), "{message}");
    assert!(!message.contains(&code), "{message}");

    // 503: transient.
    server.lock().fail_status = Some(503);
    let redirect = linker
        .start(Tenant::new("acme"), GroupId::new("cld-1"), now)
        .await
        .unwrap();
    let code = server.issue_code(None);
    let error = linker
        .callback(Some(&code), Some(&redirect.state), None, now)
        .await
        .unwrap_err();
    assert!(matches!(error, LinkError::Transient { .. }), "{error:?}");

    // Unreachable endpoint: transient.
    let mut app = server.app();
    app.token_url = "http://127.0.0.1:9/token".to_owned();
    let linker = Linker::new(
        app,
        Arc::new(MemoryAuthorizationStateStore::new()),
        reqwest::Client::new(),
    )
    .unwrap();
    let redirect = linker
        .start(Tenant::new("acme"), GroupId::new("cld-1"), now)
        .await
        .unwrap();
    let error = linker
        .callback(Some("code"), Some(&redirect.state), None, now)
        .await
        .unwrap_err();
    assert!(matches!(error, LinkError::Transient { .. }), "{error:?}");
}

#[tokio::test]
async fn pkce_can_be_off_and_urls_are_checked() {
    let server = TokenServer::start().await;
    let mut app = server.app();
    app.pkce = false;
    let linker = Linker::new(
        app,
        Arc::new(MemoryAuthorizationStateStore::new()),
        reqwest::Client::new(),
    )
    .unwrap();
    let now = ts("2024-03-01T12:00:00Z");
    let redirect = linker
        .start(Tenant::new("acme"), GroupId::new("cld-1"), now)
        .await
        .unwrap();
    assert!(!query(&redirect.url).contains_key("code_challenge"));
    let code = server.issue_code(None);
    linker
        .callback(Some(&code), Some(&redirect.state), None, now)
        .await
        .unwrap();

    let mut bad = server.app();
    bad.token_url = "not a url".to_owned();
    let error = Linker::new(
        bad,
        Arc::new(MemoryAuthorizationStateStore::new()),
        reqwest::Client::new(),
    )
    .unwrap_err();
    assert!(matches!(error, LinkError::Config { .. }), "{error:?}");
}

fn authorized(group: &str, access: &str) -> linking::Authorized {
    linking::Authorized {
        provider: Provider::new("hubspot"),
        tenant: Tenant::new("acme"),
        group_id: GroupId::new(group),
        tokens: linking::TokenSet {
            access_token: SecretString::new(access),
            refresh_token: Some(SecretString::new(format!("{access}-refresh"))),
            expires_at: None,
            scopes: Vec::new(),
        },
    }
}

#[tokio::test]
async fn one_account_links_to_one_group() {
    let store = EmbeddedStore::in_memory().unwrap();
    let credentials = MemoryCredentialStore::new();
    let now = ts("2024-03-01T12:00:00Z");
    complete_link(
        &store,
        &credentials,
        authorized("cld-1", "a1"),
        "4242".into(),
        "Acme",
        now,
    )
    .await
    .unwrap();
    let error = complete_link(
        &store,
        &credentials,
        authorized("cld-2", "a2"),
        "4242".into(),
        "Other",
        now,
    )
    .await
    .unwrap_err();
    match &error {
        LinkError::AccountAlreadyLinked { group, account, .. } => {
            assert_eq!(group, &GroupId::new("cld-1"));
            assert_eq!(account, "4242");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(error.to_string().contains("cld-1"), "{error}");
    // Nothing changed.
    assert!(
        store
            .get_organization(&OrgId::new("cld-2"))
            .await
            .unwrap()
            .is_none()
    );
    let key = AccountKey::new("hubspot", "4242");
    let stored = credentials.load(&key).await.unwrap().unwrap();
    assert_eq!(stored.tokens.access_token.expose(), "a1");

    // The same group cannot switch to another account either.
    let error = complete_link(
        &store,
        &credentials,
        authorized("cld-1", "a3"),
        "9999".into(),
        "Acme",
        now,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, LinkError::GroupLinkedToAnotherAccount { .. }),
        "{error:?}"
    );

    // API-key apps go through the same checks.
    let error = link_with_api_key(
        &store,
        &credentials,
        Provider::new("hubspot"),
        "4242".into(),
        Tenant::new("acme"),
        GroupId::new("cld-3"),
        SecretString::new("key"),
        "Third",
        now,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, LinkError::AccountAlreadyLinked { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn relink_keeps_settings_unlink_keeps_idmaps_unless_purged() {
    let store = EmbeddedStore::in_memory().unwrap();
    let credentials = MemoryCredentialStore::new();
    let linked_at = ts("2024-03-01T12:00:00Z");
    let org = complete_link(
        &store,
        &credentials,
        authorized("cld-1", "a1"),
        "4242".into(),
        "Acme",
        linked_at,
    )
    .await
    .unwrap();
    let key = AccountKey::new("hubspot", "4242");

    // Settings changed after linking: historical data on, one entity one-way.
    let mut customised = org.clone();
    customised.history_from = None;
    customised.entity_flags = BTreeMap::from([(
        EntityName::new("people"),
        DirectionFlags {
            to_hub: true,
            to_app: false,
        },
    )]);
    store.put_organization(&customised).await.unwrap();
    let mut map = IdMap::new(org.id.clone(), EntityName::new("people"));
    map.hub_id = Some(HubId::new("h-1"));
    store.save_idmaps(&[map]).await.unwrap();

    let purged = unlink(&store, &credentials, &org.id, UnlinkMode::KeepSyncState)
        .await
        .unwrap();
    assert_eq!(purged, 0);
    assert!(credentials.load(&key).await.unwrap().is_none());
    let after = store.get_organization(&org.id).await.unwrap().unwrap();
    assert!(!after.sync_enabled);
    assert_eq!(after.entity_flags, customised.entity_flags);
    assert_eq!(
        store.list_idmaps(&org.id, None, 0, 10).await.unwrap().len(),
        1,
        "id-maps are kept"
    );

    let relinked_at = ts("2024-04-01T12:00:00Z");
    let relinked = complete_link(
        &store,
        &credentials,
        authorized("cld-1", "a2"),
        "4242".into(),
        "Acme Renamed",
        relinked_at,
    )
    .await
    .unwrap();
    assert!(relinked.sync_enabled);
    assert_eq!(relinked.history_from, None, "settings kept");
    assert_eq!(relinked.entity_flags, customised.entity_flags);
    assert_eq!(relinked.linked_at, linked_at);
    assert_eq!(relinked.name, "Acme Renamed");
    assert_eq!(
        store.get_organization(&org.id).await.unwrap(),
        Some(relinked)
    );
    let stored = credentials.load(&key).await.unwrap().unwrap();
    assert_eq!(stored.tokens.access_token.expose(), "a2");

    // Unlinked with a purge: the id-maps and watermarks go, the organization stays.
    let mark = Watermark(relinked_at);
    store
        .set_watermark(&org.id, &EntityName::new("people"), Side::Hub, mark)
        .await
        .unwrap();
    let purged = unlink(&store, &credentials, &org.id, UnlinkMode::PurgeSyncState)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert!(
        store
            .list_idmaps(&org.id, None, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .get_watermark(&org.id, &EntityName::new("people"), Side::Hub)
            .await
            .unwrap(),
        None,
        "the next link starts with a first sync"
    );
    assert!(
        !store
            .get_organization(&org.id)
            .await
            .unwrap()
            .unwrap()
            .sync_enabled
    );

    // Unlinked elsewhere: the account may move to another group.
    let moved = link_with_api_key(
        &store,
        &credentials,
        Provider::new("hubspot"),
        "4242".into(),
        Tenant::new("acme"),
        GroupId::new("cld-9"),
        SecretString::new("api-key"),
        "Moved",
        relinked_at,
    )
    .await
    .unwrap();
    assert_eq!(moved.id, OrgId::new("cld-9"));
    let stored = credentials.load(&key).await.unwrap().unwrap();
    assert_eq!(stored.tokens.access_token.expose(), "api-key");
    assert_eq!(stored.tokens.refresh_token, None);
    assert_eq!(stored.tokens.expires_at, None);

    // The dormant cld-1 does not block cld-9 from refreshing its own link...
    link_with_api_key(
        &store,
        &credentials,
        Provider::new("hubspot"),
        "4242".into(),
        Tenant::new("acme"),
        GroupId::new("cld-9"),
        SecretString::new("api-key-2"),
        "Moved",
        relinked_at,
    )
    .await
    .unwrap();
    // ...but cld-1 cannot take the account back while cld-9 holds it.
    let error = complete_link(
        &store,
        &credentials,
        authorized("cld-1", "a3"),
        "4242".into(),
        "Acme",
        relinked_at,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, LinkError::AccountAlreadyLinked { ref group, .. } if group.as_str() == "cld-9"),
        "{error:?}"
    );

    let error = unlink(
        &store,
        &credentials,
        &OrgId::new("nope"),
        UnlinkMode::KeepSyncState,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, LinkError::UnknownOrganization(_)),
        "{error:?}"
    );
}
