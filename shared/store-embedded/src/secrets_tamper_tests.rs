//! Tests of what someone who can write the database file cannot do: reactivate a link, roll
//! back to an older token set, or open rows sealed for another account; and that rows sealed
//! before the associated data bound version and status still open.

use linking::{AccountKey, CredentialStore, LinkStatus};
use sync_core::error::StoreError;

use super::tests::{db_path, key, tokens};
use super::{EncryptedCredentialStore, SecretKey, seal, stores::legacy_credentials_aad};

fn sql(dir: &tempfile::TempDir, statement: &str) {
    let conn = rusqlite::Connection::open(db_path(dir)).unwrap();
    conn.execute(statement, []).unwrap();
}

#[tokio::test]
async fn editing_the_file_cannot_reactivate_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let store = EncryptedCredentialStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    store.save(&key(), &tokens("a1", "r1"), None).await.unwrap();
    store
        .mark_needs_reauth(&key(), "invalid_grant")
        .await
        .unwrap();
    sql(
        &dir,
        "UPDATE credentials SET status = 'active', reason = NULL",
    );
    let error = store.load(&key()).await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    // Nor change the reason shown.
    sql(
        &dir,
        "UPDATE credentials SET status = 'needs_reauthorization', reason = 'edited'",
    );
    assert!(matches!(
        store.load(&key()).await.unwrap_err(),
        StoreError::Corrupt(_)
    ));
    sql(&dir, "UPDATE credentials SET reason = 'invalid_grant'");
    assert_eq!(
        store.load(&key()).await.unwrap().unwrap().status,
        LinkStatus::NeedsReauthorization {
            reason: "invalid_grant".to_owned()
        }
    );
}

#[tokio::test]
async fn editing_the_file_cannot_roll_back_to_an_older_token_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = EncryptedCredentialStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    store.save(&key(), &tokens("a1", "r1"), None).await.unwrap();
    sql(
        &dir,
        "CREATE TABLE old AS SELECT nonce, sealed FROM credentials",
    );
    store
        .save(&key(), &tokens("a2", "r2"), Some(1))
        .await
        .unwrap();
    // Version 1's sealed tokens under version 2.
    sql(
        &dir,
        "UPDATE credentials SET nonce = (SELECT nonce FROM old), sealed = (SELECT sealed FROM old)",
    );
    let error = store.load(&key()).await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");
    // Nor a version bumped over the current sealed tokens.
    let dir = tempfile::tempdir().unwrap();
    let store = EncryptedCredentialStore::open(db_path(&dir), SecretKey::generate()).unwrap();
    store.save(&key(), &tokens("a1", "r1"), None).await.unwrap();
    sql(&dir, "UPDATE credentials SET version = 7");
    assert!(matches!(
        store.load(&key()).await.unwrap_err(),
        StoreError::Corrupt(_)
    ));
}

#[tokio::test]
async fn rows_sealed_before_version_and_status_were_bound_still_open_and_are_resealed() {
    let dir = tempfile::tempdir().unwrap();
    let secret = SecretKey::generate();
    let store = EncryptedCredentialStore::open(db_path(&dir), secret.clone()).unwrap();
    // A row as earlier builds wrote it: sealed with the account only as associated data.
    let plain =
        br#"{"access_token":"a-old","refresh_token":"r-old","expires_at":null,"scopes":[]}"#;
    let (nonce, sealed) = seal(&secret.cipher(), &legacy_credentials_aad(&key()), plain).unwrap();
    let conn = rusqlite::Connection::open(db_path(&dir)).unwrap();
    conn.execute(
        "INSERT INTO credentials (provider, account, version, status, reason, nonce, sealed, \
         updated_at) VALUES ('hubspot', '4242', 3, 'active', NULL, ?1, ?2, 0)",
        rusqlite::params![nonce, sealed],
    )
    .unwrap();
    let loaded = store.load(&key()).await.unwrap().unwrap();
    assert_eq!(loaded.tokens.access_token.expose(), "a-old");
    assert_eq!(loaded.version, 3);
    assert_eq!(loaded.status, LinkStatus::Active);

    // The next write (here a re-authorisation mark) reseals it: now the status is bound.
    store
        .mark_needs_reauth(&key(), "invalid_grant")
        .await
        .unwrap();
    let marked = store.load(&key()).await.unwrap().unwrap();
    assert_eq!(marked.tokens.refresh_token.unwrap().expose(), "r-old");
    assert_eq!(marked.version, 3);
    sql(
        &dir,
        "UPDATE credentials SET status = 'active', reason = NULL",
    );
    assert!(matches!(
        store.load(&key()).await.unwrap_err(),
        StoreError::Corrupt(_)
    ));

    // A save reseals too: a second legacy row, saved over, no longer opens the legacy way.
    let other = AccountKey::new("hubspot", "77");
    let (nonce, sealed) = seal(&secret.cipher(), &legacy_credentials_aad(&other), plain).unwrap();
    conn.execute(
        "INSERT INTO credentials (provider, account, version, status, reason, nonce, sealed, \
         updated_at) VALUES ('hubspot', '77', 1, 'active', NULL, ?1, ?2, 0)",
        rusqlite::params![nonce, sealed],
    )
    .unwrap();
    store
        .save(&other, &tokens("a2", "r2"), Some(1))
        .await
        .unwrap();
    let saved: Vec<u8> = conn
        .query_row(
            "SELECT sealed FROM credentials WHERE account = '77'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let nonce: Vec<u8> = conn
        .query_row(
            "SELECT nonce FROM credentials WHERE account = '77'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert!(
        secret
            .cipher()
            .open(&legacy_credentials_aad(&other), &nonce, &saved)
            .is_none()
    );
    assert_eq!(store.load(&other).await.unwrap().unwrap().version, 2);
}
