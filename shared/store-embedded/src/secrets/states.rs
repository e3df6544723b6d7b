//! [`SqliteAuthorizationStateStore`]: pending OAuth authorizations in the
//! `authorization_states` table, states hashed and PKCE verifiers sealed.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use linking::{AuthorizationStateStore, PendingAuthorization, SealingKey, SecretString};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sha2::{Digest, Sha256};
use sync_core::domain::{GroupId, Provider, Tenant, Timestamp};
use sync_core::error::StoreError;

use super::{Db, SecretKey, open_sealed, seal, wrong_key};
use crate::error::corrupt;
use crate::rows::timestamp;

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

/// [`AuthorizationStateStore`] in the embedded database file. A state is stored as its SHA-256
/// hash and a PKCE verifier sealed with AES-256-GCM; [`AuthorizationStateStore::take`] removes
/// the row in an immediate transaction (so a state is taken once, even across processes); both
/// it and [`AuthorizationStateStore::put`] purge expired rows, and `put` refuses a state larger
/// than [`PendingAuthorization::MAX_STORED_BYTES`].
#[derive(Clone)]
pub struct SqliteAuthorizationStateStore {
    db: Db,
    cipher: Arc<SealingKey>,
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
    async fn put(&self, pending: &PendingAuthorization, now: Timestamp) -> Result<(), StoreError> {
        pending.check_size()?;
        let pending = pending.clone();
        let cipher = Arc::clone(&self.cipher);
        self.db
            .call("put_authorization_state", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                // Starts never completed do not pile up: every write purges the expired ones.
                tx.prepare_cached("DELETE FROM authorization_states WHERE expires_at <= ?1")?
                    .execute(params![now.epoch_millis()])?;
                let hash = state_hash(&pending.state);
                let sealed = pending
                    .pkce_verifier
                    .as_ref()
                    .map(|verifier| {
                        seal(&cipher, &verifier_aad(&hash), verifier.expose().as_bytes())
                    })
                    .transpose()?;
                let (nonce, verifier) = sealed.unzip();
                tx.prepare_cached(
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
                tx.commit()?;
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
