//! In-memory implementations of the ports, for tests and single-process tools.
//!
//! Nothing is encrypted and nothing survives the process: use `store_embedded::secrets` (or the
//! AWS adapters) for anything real.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use sync_core::domain::Timestamp;
use sync_core::error::StoreError;

use crate::ports::{
    AccountKey, AuthorizationStateStore, CredentialStore, LinkStatus, PendingAuthorization,
    SaveOutcome, StoredCredentials, TokenSet,
};

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every update below is a single assignment, so a poisoned lock holds consistent data.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A [`CredentialStore`] in a map.
#[derive(Debug, Default)]
pub struct MemoryCredentialStore {
    entries: Mutex<HashMap<AccountKey, StoredCredentials>>,
}

impl MemoryCredentialStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl CredentialStore for MemoryCredentialStore {
    async fn load(&self, key: &AccountKey) -> Result<Option<StoredCredentials>, StoreError> {
        Ok(lock(&self.entries).get(key).cloned())
    }

    async fn save(
        &self,
        key: &AccountKey,
        tokens: &TokenSet,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, StoreError> {
        let mut entries = lock(&self.entries);
        let current = entries.get(key).map(|stored| stored.version);
        let version = match (expected_version, current) {
            (None, None) => 1,
            (None, Some(version)) => version + 1,
            (Some(expected), Some(version)) if expected == version => version + 1,
            (Some(_), _) => return Ok(SaveOutcome::Stale),
        };
        entries.insert(
            key.clone(),
            StoredCredentials {
                tokens: tokens.clone(),
                version,
                status: LinkStatus::Active,
            },
        );
        Ok(SaveOutcome::Saved { version })
    }

    async fn mark_needs_reauth(&self, key: &AccountKey, reason: &str) -> Result<(), StoreError> {
        if let Some(stored) = lock(&self.entries).get_mut(key) {
            stored.status = LinkStatus::NeedsReauthorization {
                reason: reason.to_owned(),
            };
        }
        Ok(())
    }

    async fn delete(&self, key: &AccountKey) -> Result<(), StoreError> {
        lock(&self.entries).remove(key);
        Ok(())
    }
}

/// An [`AuthorizationStateStore`] in a map.
#[derive(Debug, Default)]
pub struct MemoryAuthorizationStateStore {
    pending: Mutex<HashMap<String, PendingAuthorization>>,
}

impl MemoryAuthorizationStateStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl AuthorizationStateStore for MemoryAuthorizationStateStore {
    async fn put(&self, pending: &PendingAuthorization) -> Result<(), StoreError> {
        lock(&self.pending).insert(pending.state.clone(), pending.clone());
        Ok(())
    }

    async fn take(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let mut pending = lock(&self.pending);
        let taken = pending.remove(state);
        pending.retain(|_, entry| entry.expires_at > now);
        Ok(taken.filter(|entry| entry.expires_at > now))
    }
}
