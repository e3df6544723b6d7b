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

    /// How many pending authorizations are kept, expired ones not purged yet included.
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.pending).len()
    }

    /// Whether none is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl AuthorizationStateStore for MemoryAuthorizationStateStore {
    async fn put(&self, pending: &PendingAuthorization, now: Timestamp) -> Result<(), StoreError> {
        pending.check_size()?;
        let mut entries = lock(&self.pending);
        entries.retain(|_, entry| entry.expires_at > now);
        entries.insert(pending.state.clone(), pending.clone());
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

#[cfg(test)]
mod tests {
    use sync_core::domain::{GroupId, Provider, Tenant};

    use super::*;
    use crate::SecretString;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    fn pending(state: &str, expires_at: &str) -> PendingAuthorization {
        PendingAuthorization {
            state: state.to_owned(),
            provider: Provider::new("hubspot"),
            tenant: Tenant::new("acme"),
            group_id: GroupId::new("cld-1"),
            pkce_verifier: Some(SecretString::new("verifier")),
            redirect_uri: "http://localhost/callback".to_owned(),
            expires_at: ts(expires_at),
        }
    }

    #[tokio::test]
    async fn a_put_purges_the_expired_states() {
        let states = MemoryAuthorizationStateStore::new();
        let now = ts("2024-01-01T00:00:00Z");
        states
            .put(&pending("old", "2024-01-01T00:05:00Z"), now)
            .await
            .unwrap();
        states
            .put(&pending("live", "2024-01-01T00:20:00Z"), now)
            .await
            .unwrap();
        assert_eq!(states.len(), 2);
        // Ten minutes later "old" has expired: the next put removes it, nobody took it.
        let later = ts("2024-01-01T00:10:00Z");
        states
            .put(&pending("new", "2024-01-01T00:20:00Z"), later)
            .await
            .unwrap();
        assert_eq!(states.len(), 2);
        assert_eq!(states.take("old", now).await.unwrap(), None);
        assert!(states.take("live", later).await.unwrap().is_some());
        assert!(states.take("new", later).await.unwrap().is_some());
        assert!(states.is_empty());
    }

    #[tokio::test]
    async fn an_oversized_state_is_refused_and_not_kept() {
        let states = MemoryAuthorizationStateStore::new();
        let now = ts("2024-01-01T00:00:00Z");
        let mut big = pending("big", "2024-01-01T00:10:00Z");
        big.group_id = GroupId::new("a".repeat(60_000));
        let error = states.put(&big, now).await.unwrap_err();
        let StoreError::TooLarge(message) = &error else {
            panic!("expected TooLarge, got {error:?}");
        };
        assert!(message.contains("4096"), "{message}");
        assert!(
            !message.contains("aaaa"),
            "the value is never echoed: {message}"
        );
        assert!(states.is_empty());
        // At the limit it is kept.
        let mut fits = pending("fits", "2024-01-01T00:10:00Z");
        let room = PendingAuthorization::MAX_STORED_BYTES - fits.stored_bytes() + 5;
        fits.group_id = GroupId::new("a".repeat(room));
        assert_eq!(fits.stored_bytes(), PendingAuthorization::MAX_STORED_BYTES);
        states.put(&fits, now).await.unwrap();
        assert_eq!(states.len(), 1);
    }
}
