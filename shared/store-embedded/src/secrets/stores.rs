//! The two stores of linking on the sealed tables: [`EncryptedCredentialStore`] (token sets)
//! and [`SqliteAuthorizationStateStore`] (pending OAuth authorizations).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use aes_gcm::Aes256Gcm;
use async_trait::async_trait;
use linking::{
    AccountKey, AuthorizationStateStore, CredentialStore, LinkStatus, PendingAuthorization,
    SaveOutcome, SecretString, StoredCredentials, TokenSet,
};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sync_core::domain::{GroupId, Provider, Tenant, Timestamp};
use sync_core::error::StoreError;

use super::{Db, SecretKey, open_sealed, seal, wrong_key};
use crate::error::{Fail, corrupt};
use crate::rows::{now_millis, opt_timestamp, timestamp};

const STATUS_ACTIVE: &str = "active";
const STATUS_NEEDS_REAUTH: &str = "needs_reauthorization";

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
