//! Tests of the encrypted credential store and the authorization state store: sealing on
//! disk, wrong keys, versions, single-use states.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use linking::{
    AccountKey, AuthorizationStateStore, CredentialStore, LinkStatus, PendingAuthorization,
    SaveOutcome, SecretString, TokenSet,
};
use sync_core::domain::{GroupId, Provider, Tenant, Timestamp};
use sync_core::error::StoreError;
use sync_core::ports::SyncStore;

use super::{
    EncryptedCredentialStore, KeyError, SECRET_KEY_VAR, SecretKey, SqliteAuthorizationStateStore,
};
use crate::EmbeddedStore;

pub(super) fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

pub(super) fn key() -> AccountKey {
    AccountKey::new("hubspot", "4242")
}

pub(super) fn tokens(access: &str, refresh: &str) -> TokenSet {
    TokenSet {
        access_token: SecretString::new(access),
        refresh_token: Some(SecretString::new(refresh)),
        expires_at: Some(ts("2024-01-01T00:30:00Z")),
        scopes: vec!["crm.objects.contacts.read".to_owned()],
    }
}

/// Every byte of the database: the main file, its WAL and anything else beside it.
fn file_bytes(dir: &Path) -> Vec<u8> {
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

pub(super) fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("sync.db")
}

#[tokio::test]
async fn credentials_round_trip_and_are_sealed_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = EncryptedCredentialStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    let set = tokens("access-PLAINTEXT-1", "refresh-PLAINTEXT-1");
    assert_eq!(
        store.save(&key(), &set, None).await.unwrap(),
        SaveOutcome::Saved { version: 1 }
    );
    let loaded = store.load(&key()).await.unwrap().unwrap();
    assert_eq!(loaded.tokens, set);
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.status, LinkStatus::Active);
    assert!(
        store
            .load(&AccountKey::new("hubspot", "other"))
            .await
            .unwrap()
            .is_none()
    );

    let bytes = file_bytes(dir.path());
    assert!(
        contains(&bytes, "4242"),
        "the account id is stored in clear"
    );
    assert!(!contains(&bytes, "access-PLAINTEXT-1"));
    assert!(!contains(&bytes, "refresh-PLAINTEXT-1"));
    assert!(!contains(&bytes, "crm.objects.contacts.read"));
}

#[tokio::test]
async fn conditional_saves_follow_the_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = EncryptedCredentialStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    // Nothing stored: a conditional save is stale.
    assert_eq!(
        store
            .save(&key(), &tokens("a0", "r0"), Some(1))
            .await
            .unwrap(),
        SaveOutcome::Stale
    );
    store.save(&key(), &tokens("a1", "r1"), None).await.unwrap();
    assert_eq!(
        store
            .save(&key(), &tokens("a2", "r2"), Some(1))
            .await
            .unwrap(),
        SaveOutcome::Saved { version: 2 }
    );
    // A writer that read version 1 is now stale and changes nothing.
    assert_eq!(
        store
            .save(&key(), &tokens("a-old", "r-old"), Some(1))
            .await
            .unwrap(),
        SaveOutcome::Stale
    );
    let loaded = store.load(&key()).await.unwrap().unwrap();
    assert_eq!(loaded.tokens.refresh_token.unwrap().expose(), "r2");
    assert_eq!(loaded.version, 2);
    // `None` overwrites (a re-link).
    assert_eq!(
        store.save(&key(), &tokens("a3", "r3"), None).await.unwrap(),
        SaveOutcome::Saved { version: 3 }
    );
}

#[tokio::test]
async fn racing_conditional_saves_across_connections_let_exactly_one_win() {
    let dir = tempfile::tempdir().unwrap();
    let secret = SecretKey::generate();
    let first = EncryptedCredentialStore::open(db_path(&dir), secret.clone()).unwrap();
    first.save(&key(), &tokens("a1", "r1"), None).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = EncryptedCredentialStore::open(db_path(&dir), secret.clone()).unwrap();
        tasks.push(tokio::spawn(async move {
            store
                .save(&key(), &tokens(&format!("a{n}"), &format!("r{n}")), Some(1))
                .await
                .unwrap()
        }));
    }
    let mut saved = 0;
    for task in tasks {
        if task.await.unwrap() == (SaveOutcome::Saved { version: 2 }) {
            saved += 1;
        }
    }
    assert_eq!(saved, 1);
    assert_eq!(first.load(&key()).await.unwrap().unwrap().version, 2);
}

#[tokio::test]
async fn needs_reauth_keeps_tokens_and_a_save_reactivates() {
    let dir = tempfile::tempdir().unwrap();
    let store = EncryptedCredentialStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    store
        .mark_needs_reauth(&key(), "nothing stored")
        .await
        .unwrap();
    assert!(store.load(&key()).await.unwrap().is_none());
    store.save(&key(), &tokens("a1", "r1"), None).await.unwrap();
    store
        .mark_needs_reauth(&key(), "invalid_grant")
        .await
        .unwrap();
    let loaded = store.load(&key()).await.unwrap().unwrap();
    assert_eq!(
        loaded.status,
        LinkStatus::NeedsReauthorization {
            reason: "invalid_grant".to_owned()
        }
    );
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.tokens.access_token.expose(), "a1");
    store
        .save(&key(), &tokens("a2", "r2"), Some(1))
        .await
        .unwrap();
    assert_eq!(
        store.load(&key()).await.unwrap().unwrap().status,
        LinkStatus::Active
    );
    store.delete(&key()).await.unwrap();
    assert!(store.load(&key()).await.unwrap().is_none());
    store.delete(&key()).await.unwrap();
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_decrypt_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = EncryptedCredentialStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    store.save(&key(), &tokens("a1", "r1"), None).await.unwrap();
    let other = EncryptedCredentialStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    let error = other.load(&key()).await.unwrap_err();
    let StoreError::Corrupt(message) = &error else {
        panic!("expected a corrupt error, got {error:?}");
    };
    assert!(message.contains("cannot be decrypted"), "{message}");
    assert!(message.contains("CONNECTOR_SECRET_KEY"), "{message}");
    assert!(message.contains("hubspot/4242"), "{message}");
}

#[tokio::test]
async fn sealed_rows_are_bound_to_their_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = EncryptedCredentialStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    store.save(&key(), &tokens("a1", "r1"), None).await.unwrap();
    let conn = rusqlite::Connection::open(db_path(&dir)).unwrap();
    conn.execute(
        "INSERT INTO credentials (provider, account, version, status, nonce, sealed, updated_at) \
         SELECT provider, 'thief', version, status, nonce, sealed, updated_at FROM credentials",
        [],
    )
    .unwrap();
    let error = store
        .load(&AccountKey::new("hubspot", "thief"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
}

#[test]
fn key_errors_say_what_to_do() {
    assert_eq!(SecretKey::from_base64("  ").unwrap_err(), KeyError::Missing);
    let missing = KeyError::Missing.to_string();
    assert!(
        missing.contains("CONNECTOR_SECRET_KEY is not set"),
        "{missing}"
    );
    assert!(missing.contains("openssl rand -base64 32"), "{missing}");

    let short = SecretKey::from_base64("c2hvcnQ=").unwrap_err();
    assert_eq!(
        short,
        KeyError::Malformed {
            detail: "it decodes to 5 bytes".to_owned()
        }
    );
    assert!(short.to_string().contains("is not base64 of 32 bytes"));
    let garbage = SecretKey::from_base64("not base64 at all!").unwrap_err();
    assert!(matches!(garbage, KeyError::Malformed { .. }));
    assert!(
        !garbage.to_string().contains("not base64 at all!"),
        "the value is never echoed"
    );

    let generated = SecretKey::generate();
    let again = SecretKey::from_base64(&generated.to_base64()).unwrap();
    assert_eq!(again.0, generated.0);
    assert_eq!(format!("{generated:?}"), "SecretKey(<redacted>)");
}

#[test]
fn from_env_reads_connector_secret_key() {
    // SAFETY: no other test of this crate reads or writes this variable, and the lines
    // below run sequentially.
    unsafe { std::env::remove_var(SECRET_KEY_VAR) };
    assert_eq!(SecretKey::from_env().unwrap_err(), KeyError::Missing);
    unsafe { std::env::set_var(SECRET_KEY_VAR, "dG9vIHNob3J0") };
    assert!(matches!(
        SecretKey::from_env().unwrap_err(),
        KeyError::Malformed { .. }
    ));
    let generated = SecretKey::generate();
    unsafe { std::env::set_var(SECRET_KEY_VAR, generated.to_base64()) };
    assert_eq!(SecretKey::from_env().unwrap().0, generated.0);
    unsafe { std::env::remove_var(SECRET_KEY_VAR) };
}

fn pending(state: &str, expires_at: &str, verifier: Option<&str>) -> PendingAuthorization {
    PendingAuthorization {
        state: state.to_owned(),
        provider: Provider::new("hubspot"),
        tenant: Tenant::new("acme"),
        group_id: GroupId::new("cld-1"),
        pkce_verifier: verifier.map(SecretString::new),
        redirect_uri: "http://localhost/callback".to_owned(),
        expires_at: ts(expires_at),
    }
}

#[tokio::test]
async fn states_are_taken_once_and_expire() {
    let dir = tempfile::tempdir().unwrap();
    let states = SqliteAuthorizationStateStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    let now = ts("2024-01-01T00:00:00Z");
    let first = pending(
        "state-ONE",
        "2024-01-01T00:10:00Z",
        Some("verifier-PLAINTEXT"),
    );
    states.put(&first, now).await.unwrap();
    states
        .put(&pending("state-TWO", "2024-01-01T00:10:00Z", None), now)
        .await
        .unwrap();
    states
        .put(&pending("state-OLD", "2023-12-31T23:59:00Z", None), now)
        .await
        .unwrap();

    let bytes = file_bytes(dir.path());
    assert!(!contains(&bytes, "verifier-PLAINTEXT"));
    assert!(!contains(&bytes, "state-ONE"));

    assert_eq!(states.take("state-ONE", now).await.unwrap(), Some(first));
    assert_eq!(states.take("state-ONE", now).await.unwrap(), None);
    assert_eq!(states.take("unknown", now).await.unwrap(), None);
    assert_eq!(states.take("state-OLD", now).await.unwrap(), None);
    // Expired at the injected instant: removed, not returned.
    let later = ts("2024-01-01T00:10:00Z");
    assert_eq!(states.take("state-TWO", later).await.unwrap(), None);
    assert_eq!(states.take("state-TWO", now).await.unwrap(), None);
}

#[tokio::test]
async fn concurrent_takes_of_one_state_let_one_win() {
    let dir = tempfile::tempdir().unwrap();
    let secret = SecretKey::generate();
    let states = SqliteAuthorizationStateStore::open(db_path(&dir), secret.clone()).unwrap();
    states
        .put(
            &pending("race", "2024-01-01T00:10:00Z", Some("v")),
            ts("2024-01-01T00:00:00Z"),
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let store = SqliteAuthorizationStateStore::open(db_path(&dir), secret.clone()).unwrap();
        tasks.push(tokio::spawn(async move {
            store
                .take("race", ts("2024-01-01T00:00:00Z"))
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for task in tasks {
        if task.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn one_file_for_the_sync_store_and_the_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let credentials: Arc<dyn CredentialStore> =
        Arc::new(EncryptedCredentialStore::open(&path, SecretKey::generate()).unwrap());
    credentials
        .save(&key(), &tokens("a", "r"), None)
        .await
        .unwrap();
    let store = EmbeddedStore::open(&path).unwrap();
    assert!(store.list_organizations().await.unwrap().is_empty());
    // Opening the sync store first creates the tables too.
    let other = tempfile::tempdir().unwrap();
    let fresh = EmbeddedStore::open(db_path(&other)).unwrap();
    drop(fresh);
    let conn = rusqlite::Connection::open(db_path(&other)).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.contains(&"credentials".to_owned()), "{tables:?}");
    assert!(
        tables.contains(&"authorization_states".to_owned()),
        "{tables:?}"
    );
    assert_eq!(
        entries(dir.path()),
        3,
        "one database (plus its WAL and shm files)"
    );
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("sync.db")
        })
        .count()
}

fn count(path: &Path, table: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| {
            row.get(0)
        })
        .unwrap()
}

#[tokio::test]
async fn a_put_purges_expired_states_and_refuses_oversized_ones() {
    let dir = tempfile::tempdir().unwrap();
    let states = SqliteAuthorizationStateStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    let now = ts("2024-01-01T00:00:00Z");
    for n in 0..5 {
        let state = format!("abandoned-{n}");
        states
            .put(&pending(&state, "2024-01-01T00:10:00Z", Some("v")), now)
            .await
            .unwrap();
    }
    assert_eq!(count(&db_path(&dir), "authorization_states"), 5);
    // Ten minutes later they have expired: the next start removes them, nobody took them.
    let later = ts("2024-01-01T00:10:00Z");
    states
        .put(&pending("fresh", "2024-01-01T00:20:00Z", Some("v")), later)
        .await
        .unwrap();
    assert_eq!(count(&db_path(&dir), "authorization_states"), 1);
    assert!(states.take("fresh", later).await.unwrap().is_some());

    let mut big = pending("big", "2024-01-01T00:20:00Z", Some("v"));
    big.group_id = GroupId::new("a".repeat(60_000));
    let error = states.put(&big, later).await.unwrap_err();
    let StoreError::TooLarge(message) = &error else {
        panic!("expected TooLarge, got {error:?}");
    };
    assert!(!message.contains("aaaa"), "{message}");
    assert_eq!(count(&db_path(&dir), "authorization_states"), 0);
    let bytes = file_bytes(dir.path());
    assert!(
        !contains(&bytes, &"a".repeat(1000)),
        "nothing of it is written"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_database_file_and_its_wal_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for opener in ["sync store", "credential store"] {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let credentials = match opener {
            "sync store" => {
                let store = EmbeddedStore::open(&path).unwrap();
                store.list_organizations().await.unwrap();
                EncryptedCredentialStore::open(&path, SecretKey::generate()).unwrap()
            }
            _ => EncryptedCredentialStore::open(&path, SecretKey::generate()).unwrap(),
        };
        credentials
            .save(&key(), &tokens("a", "r"), None)
            .await
            .unwrap();
        let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(files.len(), 3, "{files:?}");
        for file in files {
            assert_eq!(mode(&file), 0o600, "{opener}: {}", file.display());
        }
    }
    // An existing file keeps the mode its owner gave it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(db_path(&dir), b"").unwrap();
    std::fs::set_permissions(db_path(&dir), std::fs::Permissions::from_mode(0o640)).unwrap();
    EmbeddedStore::open(db_path(&dir)).unwrap();
    assert_eq!(mode(&db_path(&dir)), 0o640);
}
