//! Credentials and pending authorizations in the embedded SQLite file, encrypted.
//!
//! [`EncryptedCredentialStore`] implements [`linking::CredentialStore`] and
//! [`SqliteAuthorizationStateStore`] implements [`linking::AuthorizationStateStore`]. Both live in
//! the same database file as [`crate::EmbeddedStore`]: their tables (`credentials`,
//! `authorization_states`) are created by the store's schema migrations (version 2), whichever
//! of the three opens the file first. Each keeps its own connection (WAL mode, busy timeout).
//!
//! # Encryption
//!
//! Token sets and PKCE verifiers are sealed with AES-256-GCM under a [`SecretKey`] (from the
//! environment variable `CONNECTOR_SECRET_KEY`, base64 of 32 bytes): a fresh random 96-bit nonce
//! per write, and the account key (`provider`, `account`) as associated data, so a sealed row
//! copied onto another account does not decrypt. Only the provider, the account id, the version
//! and the link status are stored in clear. A `state` is stored as its SHA-256 hash. No token,
//! verifier or state is ever written to the file in clear, nor logged.
//!
//! A wrong key does not yield garbage: loading fails with a [`StoreError::Corrupt`] that says the
//! key is not the one the credentials were saved with.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Key, KeyInit, Nonce, Payload};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use linking::{
    AccountKey, AuthorizationStateStore, CredentialStore, LinkStatus, PendingAuthorization,
    SaveOutcome, SecretString, StoredCredentials, TokenSet,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sync_core::domain::{GroupId, Provider, Tenant, Timestamp};
use sync_core::error::StoreError;

use crate::{BUSY_TIMEOUT, Fail, corrupt, migrate, now_millis, opt_timestamp, timestamp};

/// The environment variable holding the encryption key.
pub const SECRET_KEY_VAR: &str = "CONNECTOR_SECRET_KEY";

const STATUS_ACTIVE: &str = "active";
const STATUS_NEEDS_REAUTH: &str = "needs_reauthorization";

/// Why the encryption key could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The variable is unset or empty.
    #[error(
        "CONNECTOR_SECRET_KEY is not set: generate one with `openssl rand -base64 32` and export \
         it"
    )]
    Missing,
    /// The variable is not base64 of exactly 32 bytes.
    #[error(
        "CONNECTOR_SECRET_KEY is not base64 of 32 bytes ({detail}): generate one with `openssl \
         rand -base64 32` and export it"
    )]
    Malformed {
        /// What is wrong with it (never the value).
        detail: String,
    },
}

/// A 256-bit AES key. Prints as `<redacted>`.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// Reads `CONNECTOR_SECRET_KEY` (base64 of 32 bytes; standard or URL-safe alphabet, padded or
    /// not).
    ///
    /// # Errors
    ///
    /// [`KeyError::Missing`] when it is unset or empty, [`KeyError::Malformed`] otherwise.
    pub fn from_env() -> Result<Self, KeyError> {
        match std::env::var(SECRET_KEY_VAR) {
            Ok(value) => Self::from_base64(&value),
            Err(std::env::VarError::NotPresent) => Err(KeyError::Missing),
            Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::Malformed {
                detail: "it is not valid UTF-8".to_owned(),
            }),
        }
    }

    /// Decodes base64 of 32 bytes.
    ///
    /// ```
    /// use store_embedded::secrets::{KeyError, SecretKey};
    /// assert!(SecretKey::from_base64("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").is_ok());
    /// assert_eq!(SecretKey::from_base64("").unwrap_err(), KeyError::Missing);
    /// assert!(matches!(SecretKey::from_base64("c2hvcnQ="), Err(KeyError::Malformed { .. })));
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeyError::Missing`] for an empty value, [`KeyError::Malformed`] otherwise.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(KeyError::Missing);
        }
        let decoded = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .ok_or_else(|| KeyError::Malformed {
                detail: "it is not base64".to_owned(),
            })?;
        let bytes: [u8; 32] = decoded
            .try_into()
            .map_err(|bytes: Vec<u8>| KeyError::Malformed {
                detail: format!("it decodes to {} bytes", bytes.len()),
            })?;
        Ok(Self(bytes))
    }

    /// A key from raw bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key (for tests, or to print one for a new installation).
    #[must_use]
    pub fn generate() -> Self {
        Self(rand::random())
    }

    /// The key as standard base64, the form `CONNECTOR_SECRET_KEY` takes. Never log it.
    #[must_use]
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.0))
    }
}

/// Seals `plaintext` with a fresh random nonce; returns (nonce, ciphertext with tag).
fn seal(cipher: &Aes256Gcm, aad: &[u8], plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Fail> {
    let nonce_bytes: [u8; 12] = rand::random();
    let nonce = Nonce::<Aes256Gcm>::from(nonce_bytes);
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| Fail::Store(StoreError::Backend("encryption failed".to_owned())))?;
    Ok((nonce_bytes.to_vec(), sealed))
}

/// Opens a sealed value; `None` when the key or the associated data does not match.
fn open_sealed(cipher: &Aes256Gcm, aad: &[u8], nonce: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    cipher
        .decrypt(
            &Nonce::<Aes256Gcm>::from(nonce),
            Payload { msg: sealed, aad },
        )
        .ok()
}

fn wrong_key(what: &str) -> Fail {
    corrupt(format!(
        "{what} cannot be decrypted with this CONNECTOR_SECRET_KEY: it is not the key they were \
         saved with (or the data is damaged); set the original key, or link the account again"
    ))
}

fn credentials_aad(key: &AccountKey) -> Vec<u8> {
    let mut aad = b"credentials\0".to_vec();
    aad.extend_from_slice(key.provider.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(key.account.as_bytes());
    aad
}

fn verifier_aad(state_hash: &str) -> Vec<u8> {
    let mut aad = b"pkce-verifier\0".to_vec();
    aad.extend_from_slice(state_hash.as_bytes());
    aad
}

fn state_hash(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn to_u64(version: i64) -> Result<u64, Fail> {
    u64::try_from(version)
        .map_err(|_| corrupt(format!("credentials.version: {version} is negative")))
}

fn to_i64(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

/// The sealed plaintext of a token set.
#[derive(Serialize, Deserialize)]
struct SealedTokens {
    access_token: String,
    refresh_token: Option<String>,
    expires_at: Option<i64>,
    scopes: Vec<String>,
}

/// One connection to the database file, used from Tokio's blocking pool.
#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(|e| {
            StoreError::Backend(format!("open: cannot open `{}`: {e}", path.display()))
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| Fail::from(e).into_store("open: busy_timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| Fail::from(e).into_store("open: journal_mode"))?;
        migrate(&mut conn).map_err(|e| e.into_store("open: migrate"))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub(crate) async fn call<T, F>(&self, op: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Fail> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let joined = tokio::task::spawn_blocking(move || {
            // A panic cannot leave a transaction open (dropping it rolls back): reuse the lock.
            let mut conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&mut conn)
        })
        .await;
        match joined {
            Ok(result) => result.map_err(|e| e.into_store(op)),
            Err(join) => Err(StoreError::Backend(format!(
                "{op}: store worker failed: {join}"
            ))),
        }
    }
}

/// [`CredentialStore`] in the embedded database file, token sets sealed with AES-256-GCM.
///
/// ```
/// use linking::{AccountKey, CredentialStore, SaveOutcome, SecretString, TokenSet};
/// use store_embedded::secrets::{EncryptedCredentialStore, SecretKey};
///
/// let dir = tempfile::tempdir()?;
/// let store = EncryptedCredentialStore::open(dir.path().join("sync.db"), SecretKey::generate())?;
/// let key = AccountKey::new("hubspot", "123");
/// let runtime = tokio::runtime::Runtime::new()?;
/// let saved = runtime.block_on(store.save(&key, &TokenSet::api_key(SecretString::new("k")), None))?;
/// assert_eq!(saved, SaveOutcome::Saved { version: 1 });
/// let loaded = runtime.block_on(store.load(&key))?.unwrap();
/// assert_eq!(loaded.tokens.access_token.expose(), "k");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct EncryptedCredentialStore {
    db: Db,
    cipher: Arc<Aes256Gcm>,
}

impl fmt::Debug for EncryptedCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedCredentialStore")
            .finish_non_exhaustive()
    }
}

impl EncryptedCredentialStore {
    /// Opens (creating and migrating it if needed) the database file at `path`, the same file as
    /// [`crate::EmbeddedStore::open`], sealing with `key`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the file cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>, key: SecretKey) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let db = Db::open(path)?;
        tracing::debug!(path = %path.display(), "encrypted credential store opened");
        Ok(Self {
            db,
            cipher: Arc::new(key.cipher()),
        })
    }
}

#[async_trait]
impl CredentialStore for EncryptedCredentialStore {
    async fn load(&self, key: &AccountKey) -> Result<Option<StoredCredentials>, StoreError> {
        let key = key.clone();
        let cipher = Arc::clone(&self.cipher);
        self.db
            .call("load_credentials", move |conn| {
                let row: Option<(i64, String, Option<String>, Vec<u8>, Vec<u8>)> = conn
                    .prepare_cached(
                        "SELECT version, status, reason, nonce, sealed FROM credentials \
                         WHERE provider = ?1 AND account = ?2",
                    )?
                    .query_row(params![key.provider.as_str(), key.account], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                        ))
                    })
                    .optional()?;
                let Some((version, status, reason, nonce, sealed)) = row else {
                    return Ok(None);
                };
                let plain = open_sealed(&cipher, &credentials_aad(&key), &nonce, &sealed)
                    .ok_or_else(|| wrong_key(&format!("credentials of {key}")))?;
                let tokens: SealedTokens = serde_json::from_slice(&plain).map_err(|e| {
                    corrupt(format!("credentials of {key}: undecodable token set: {e}"))
                })?;
                let status = match status.as_str() {
                    STATUS_ACTIVE => LinkStatus::Active,
                    STATUS_NEEDS_REAUTH => LinkStatus::NeedsReauthorization {
                        reason: reason.unwrap_or_default(),
                    },
                    other => {
                        return Err(corrupt(format!(
                            "credentials of {key}: unknown status `{other}`"
                        )));
                    }
                };
                Ok(Some(StoredCredentials {
                    tokens: TokenSet {
                        access_token: SecretString::new(tokens.access_token),
                        refresh_token: tokens.refresh_token.map(SecretString::new),
                        expires_at: opt_timestamp("credentials.expires_at", tokens.expires_at)?,
                        scopes: tokens.scopes,
                    },
                    version: to_u64(version)?,
                    status,
                }))
            })
            .await
    }

    async fn save(
        &self,
        key: &AccountKey,
        tokens: &TokenSet,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, StoreError> {
        let key = key.clone();
        let plain = serde_json::to_vec(&SealedTokens {
            access_token: tokens.access_token.expose().to_owned(),
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|token| token.expose().to_owned()),
            expires_at: tokens.expires_at.as_ref().map(Timestamp::epoch_millis),
            scopes: tokens.scopes.clone(),
        })
        .map_err(|e| StoreError::Backend(format!("save_credentials: cannot encode: {e}")))?;
        let cipher = Arc::clone(&self.cipher);
        self.db
            .call("save_credentials", move |conn| {
                // Immediate: the version check and the write see the same row, even when another
                // process shares the file.
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let current: Option<i64> = tx
                    .prepare_cached(
                        "SELECT version FROM credentials WHERE provider = ?1 AND account = ?2",
                    )?
                    .query_row(params![key.provider.as_str(), key.account], |row| {
                        row.get(0)
                    })
                    .optional()?;
                let current = current.map(to_u64).transpose()?;
                let version = match (expected_version, current) {
                    (None, None) => 1,
                    (None, Some(version)) => version + 1,
                    (Some(expected), Some(version)) if expected == version => version + 1,
                    (Some(_), _) => return Ok(SaveOutcome::Stale),
                };
                let (nonce, sealed) = seal(&cipher, &credentials_aad(&key), &plain)?;
                tx.prepare_cached(
                    "INSERT INTO credentials (provider, account, version, status, reason, nonce, \
                     sealed, updated_at) VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7) \
                     ON CONFLICT (provider, account) DO UPDATE SET version = excluded.version, \
                     status = excluded.status, reason = NULL, nonce = excluded.nonce, \
                     sealed = excluded.sealed, updated_at = excluded.updated_at",
                )?
                .execute(params![
                    key.provider.as_str(),
                    key.account,
                    to_i64(version),
                    STATUS_ACTIVE,
                    nonce,
                    sealed,
                    now_millis(),
                ])?;
                tx.commit()?;
                Ok(SaveOutcome::Saved { version })
            })
            .await
    }

    async fn mark_needs_reauth(&self, key: &AccountKey, reason: &str) -> Result<(), StoreError> {
        let (key, reason) = (key.clone(), reason.to_owned());
        self.db
            .call("mark_needs_reauth", move |conn| {
                conn.prepare_cached(
                    "UPDATE credentials SET status = ?3, reason = ?4, updated_at = ?5 \
                     WHERE provider = ?1 AND account = ?2",
                )?
                .execute(params![
                    key.provider.as_str(),
                    key.account,
                    STATUS_NEEDS_REAUTH,
                    reason,
                    now_millis()
                ])?;
                Ok(())
            })
            .await
    }

    async fn delete(&self, key: &AccountKey) -> Result<(), StoreError> {
        let key = key.clone();
        self.db
            .call("delete_credentials", move |conn| {
                conn.prepare_cached(
                    "DELETE FROM credentials WHERE provider = ?1 AND account = ?2",
                )?
                .execute(params![key.provider.as_str(), key.account])?;
                Ok(())
            })
            .await
    }
}

/// [`AuthorizationStateStore`] in the embedded database file. A state is stored as its SHA-256
/// hash and a PKCE verifier sealed with AES-256-GCM; [`AuthorizationStateStore::take`] removes
/// the row in an immediate transaction (so a state is taken once, even across processes) and
/// purges expired rows.
#[derive(Clone)]
pub struct SqliteAuthorizationStateStore {
    db: Db,
    cipher: Arc<Aes256Gcm>,
}

impl fmt::Debug for SqliteAuthorizationStateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteAuthorizationStateStore")
            .finish_non_exhaustive()
    }
}

impl SqliteAuthorizationStateStore {
    /// Opens (creating and migrating it if needed) the database file at `path`, sealing PKCE
    /// verifiers with `key`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the file cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>, key: SecretKey) -> Result<Self, StoreError> {
        let db = Db::open(path.as_ref())?;
        Ok(Self {
            db,
            cipher: Arc::new(key.cipher()),
        })
    }
}

#[async_trait]
impl AuthorizationStateStore for SqliteAuthorizationStateStore {
    async fn put(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        let pending = pending.clone();
        let cipher = Arc::clone(&self.cipher);
        self.db
            .call("put_authorization_state", move |conn| {
                let hash = state_hash(&pending.state);
                let sealed = pending
                    .pkce_verifier
                    .as_ref()
                    .map(|verifier| {
                        seal(&cipher, &verifier_aad(&hash), verifier.expose().as_bytes())
                    })
                    .transpose()?;
                let (nonce, verifier) = sealed.unzip();
                conn.prepare_cached(
                    "INSERT INTO authorization_states (state_hash, provider, tenant, group_id, \
                     redirect_uri, expires_at, nonce, sealed_verifier) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (state_hash) DO UPDATE SET provider = excluded.provider, \
                     tenant = excluded.tenant, group_id = excluded.group_id, \
                     redirect_uri = excluded.redirect_uri, expires_at = excluded.expires_at, \
                     nonce = excluded.nonce, sealed_verifier = excluded.sealed_verifier",
                )?
                .execute(params![
                    hash,
                    pending.provider.as_str(),
                    pending.tenant.as_str(),
                    pending.group_id.as_str(),
                    pending.redirect_uri,
                    pending.expires_at.epoch_millis(),
                    nonce,
                    verifier,
                ])?;
                Ok(())
            })
            .await
    }

    async fn take(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let state = state.to_owned();
        let cipher = Arc::clone(&self.cipher);
        self.db
            .call("take_authorization_state", move |conn| {
                let hash = state_hash(&state);
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                type Row = (
                    String,
                    String,
                    String,
                    String,
                    i64,
                    Option<Vec<u8>>,
                    Option<Vec<u8>>,
                );
                let row: Option<Row> = tx
                    .prepare_cached(
                        "SELECT provider, tenant, group_id, redirect_uri, expires_at, nonce, \
                         sealed_verifier FROM authorization_states WHERE state_hash = ?1",
                    )?
                    .query_row(params![hash], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                            row.get(6)?,
                        ))
                    })
                    .optional()?;
                tx.prepare_cached("DELETE FROM authorization_states WHERE state_hash = ?1")?
                    .execute(params![hash])?;
                tx.prepare_cached("DELETE FROM authorization_states WHERE expires_at <= ?1")?
                    .execute(params![now.epoch_millis()])?;
                tx.commit()?;
                let Some((provider, tenant, group_id, redirect_uri, expires_at, nonce, sealed)) =
                    row
                else {
                    return Ok(None);
                };
                let expires_at = timestamp("authorization_states.expires_at", expires_at)?;
                if expires_at <= now {
                    return Ok(None);
                }
                let pkce_verifier = match (nonce, sealed) {
                    (Some(nonce), Some(sealed)) => {
                        let plain = open_sealed(&cipher, &verifier_aad(&hash), &nonce, &sealed)
                            .ok_or_else(|| wrong_key("a pending authorization's PKCE verifier"))?;
                        let text = String::from_utf8(plain).map_err(|_| {
                            corrupt(
                                "a pending authorization's PKCE verifier is not UTF-8".to_owned(),
                            )
                        })?;
                        Some(SecretString::new(text))
                    }
                    _ => None,
                };
                Ok(Some(PendingAuthorization {
                    state,
                    provider: Provider::new(provider),
                    tenant: Tenant::new(tenant),
                    group_id: GroupId::new(group_id),
                    pkce_verifier,
                    redirect_uri,
                    expires_at,
                }))
            })
            .await
    }
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
