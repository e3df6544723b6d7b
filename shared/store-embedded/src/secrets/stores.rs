//! [`EncryptedCredentialStore`]: linked accounts' token sets in the sealed `credentials` table.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use linking::{
    AccountKey, CredentialStore, LinkStatus, SaveOutcome, SealingKey, SecretString,
    StoredCredentials, TokenSet,
};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use sync_core::domain::Timestamp;
use sync_core::error::StoreError;

use super::{Db, SecretKey, open_sealed, seal, wrong_key};
use crate::error::{Fail, corrupt};
use crate::rows::{now_millis, opt_timestamp};

const STATUS_ACTIVE: &str = "active";
const STATUS_NEEDS_REAUTH: &str = "needs_reauthorization";

/// The associated data of a sealed token set: the account, and the row's version, status and
/// reason, so that editing the file cannot flip a link back to active, nor put an older sealed
/// token set under a newer version (a whole older row, version included, still opens: only
/// something outside the file could tell).
fn credentials_aad(key: &AccountKey, version: i64, status: &str, reason: Option<&str>) -> Vec<u8> {
    let mut aad = b"credentials-v2\0".to_vec();
    for part in [
        key.provider.as_str(),
        key.account.as_str(),
        &version.to_string(),
        status,
    ] {
        aad.extend_from_slice(part.as_bytes());
        aad.push(0);
    }
    // `None` and `Some("")` differ.
    if let Some(reason) = reason {
        aad.push(b'+');
        aad.extend_from_slice(reason.as_bytes());
    }
    aad
}

/// The associated data rows were sealed with before version and status were bound: still
/// opened (so existing files keep working), and resealed with [`credentials_aad`] on the next
/// write (a save, or a re-authorisation mark).
pub(super) fn legacy_credentials_aad(key: &AccountKey) -> Vec<u8> {
    let mut aad = b"credentials\0".to_vec();
    aad.extend_from_slice(key.provider.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(key.account.as_bytes());
    aad
}

/// One row of `credentials`.
struct CredentialRow {
    version: i64,
    status: String,
    reason: Option<String>,
    nonce: Vec<u8>,
    sealed: Vec<u8>,
}

impl CredentialRow {
    fn read(conn: &rusqlite::Connection, key: &AccountKey) -> Result<Option<Self>, Fail> {
        Ok(conn
            .prepare_cached(
                "SELECT version, status, reason, nonce, sealed FROM credentials \
                 WHERE provider = ?1 AND account = ?2",
            )?
            .query_row(params![key.provider.as_str(), key.account], |row| {
                Ok(Self {
                    version: row.get(0)?,
                    status: row.get(1)?,
                    reason: row.get(2)?,
                    nonce: row.get(3)?,
                    sealed: row.get(4)?,
                })
            })
            .optional()?)
    }

    /// The sealed token set's plaintext, under the current associated data or else the legacy
    /// one.
    fn open(&self, cipher: &SealingKey, key: &AccountKey) -> Result<Vec<u8>, Fail> {
        let aad = credentials_aad(key, self.version, &self.status, self.reason.as_deref());
        open_sealed(cipher, &aad, &self.nonce, &self.sealed)
            .or_else(|| {
                open_sealed(
                    cipher,
                    &legacy_credentials_aad(key),
                    &self.nonce,
                    &self.sealed,
                )
            })
            .ok_or_else(|| wrong_key(&format!("credentials of {key}")))
    }
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
    cipher: Arc<SealingKey>,
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
                let Some(row) = CredentialRow::read(conn, &key)? else {
                    return Ok(None);
                };
                let plain = row.open(&cipher, &key)?;
                let CredentialRow {
                    version,
                    status,
                    reason,
                    ..
                } = row;
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
                let aad = credentials_aad(&key, to_i64(version), STATUS_ACTIVE, None);
                let (nonce, sealed) = seal(&cipher, &aad, &plain)?;
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
        let cipher = Arc::clone(&self.cipher);
        self.db
            .call("mark_needs_reauth", move |conn| {
                // The status is bound into the seal: open and reseal in one transaction.
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let Some(row) = CredentialRow::read(&tx, &key)? else {
                    return Ok(());
                };
                let plain = row.open(&cipher, &key)?;
                let aad = credentials_aad(&key, row.version, STATUS_NEEDS_REAUTH, Some(&reason));
                let (nonce, sealed) = seal(&cipher, &aad, &plain)?;
                tx.prepare_cached(
                    "UPDATE credentials SET status = ?3, reason = ?4, nonce = ?5, sealed = ?6, \
                     updated_at = ?7 WHERE provider = ?1 AND account = ?2",
                )?
                .execute(params![
                    key.provider.as_str(),
                    key.account,
                    STATUS_NEEDS_REAUTH,
                    reason,
                    nonce,
                    sealed,
                    now_millis()
                ])?;
                tx.commit()?;
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
