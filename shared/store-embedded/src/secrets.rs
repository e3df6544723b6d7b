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
//! Token sets and PKCE verifiers are sealed with AES-256-GCM ([`linking::SealingKey`], the
//! primitive the DynamoDB state store uses too) under a [`SecretKey`] (from the environment
//! variable `CONNECTOR_SECRET_KEY`, base64 of 32 bytes): a fresh random 96-bit nonce per write.
//! A token set's associated data is its account key (`provider`, `account`) and its row's
//! version, status and reason, so a sealed row copied onto another account does not decrypt,
//! and neither does a row whose status was edited back to active or whose sealed tokens were
//! replaced by an older version's. Rows sealed by earlier builds (account only) still open, and
//! are resealed on their next write. Only the provider, the account id, the version and the link
//! status are stored in clear. A `state` is stored as its SHA-256 hash, its verifier sealed
//! with the hash as associated data. No token, verifier or state is ever written to the file
//! in clear, nor logged. The file is created readable by its owner only (0600).
//!
//! A wrong key does not yield garbage: loading fails with a [`StoreError::Corrupt`] that says the
//! key is not the one the credentials were saved with.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use linking::SealingKey;
use rusqlite::Connection;
use sync_core::error::StoreError;

use crate::connection::{BUSY_TIMEOUT, create_private};
use crate::error::{Fail, corrupt};
use crate::schema::migrate;

mod states;
mod stores;

pub use states::SqliteAuthorizationStateStore;
pub use stores::EncryptedCredentialStore;

/// The environment variable holding the encryption key.
pub const SECRET_KEY_VAR: &str = "CONNECTOR_SECRET_KEY";

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

    fn cipher(&self) -> SealingKey {
        SealingKey::new(self.0)
    }
}

/// Seals `plaintext` with a fresh random nonce; returns (nonce, ciphertext with tag).
fn seal(cipher: &SealingKey, aad: &[u8], plaintext: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Fail> {
    let sealed = cipher
        .seal(aad, plaintext)
        .map_err(|e| Fail::Store(StoreError::Backend(e.to_string())))?;
    Ok((sealed.nonce.to_vec(), sealed.ciphertext))
}

/// Opens a sealed value; `None` when the key or the associated data does not match.
fn open_sealed(cipher: &SealingKey, aad: &[u8], nonce: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    cipher.open(aad, nonce, sealed)
}

fn wrong_key(what: &str) -> Fail {
    corrupt(format!(
        "{what} cannot be decrypted with this CONNECTOR_SECRET_KEY: it is not the key they were \
         saved with (or the data is damaged); set the original key, or link the account again"
    ))
}

/// One connection to the database file, used from Tokio's blocking pool.
#[derive(Clone)]
pub(crate) struct Db {
    conn: Arc<Mutex<Connection>>,
}

impl Db {
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        create_private(path)?;
        let mut conn = Connection::open(path).map_err(|e| {
            StoreError::Backend(format!("open: cannot open `{}`: {e}", path.display()))
        })?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| Fail::from(e).into_store("open: busy_timeout"))?;
        crate::connection::enable_wal(&conn).map_err(|e| e.into_store("open: journal_mode"))?;
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

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "secrets_tamper_tests.rs"]
mod tamper_tests;
