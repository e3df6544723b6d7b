//! Ports of the linking flow: where credentials and pending authorizations are kept.
//!
//! Backends implement them: an encrypted table in the embedded SQLite file locally
//! (`store_embedded::secrets`), Secrets Manager and DynamoDB on AWS, and
//! [`crate::memory`] for tests.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use sync_core::domain::{GroupId, Provider, Tenant, Timestamp};
use sync_core::error::StoreError;

use crate::secret::SecretString;

/// Identifies one linked app account: the app and the account id inside it (HubSpot portal id,
/// Xero tenant id). It is the key of stored credentials and what logs name (never a token).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountKey {
    /// The app (`hubspot`).
    pub provider: Provider,
    /// The account id in the app (the organization's realm).
    pub account: String,
}

impl AccountKey {
    /// A key for `account` of `provider`.
    pub fn new(provider: impl Into<Provider>, account: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            account: account.into(),
        }
    }
}

impl fmt::Display for AccountKey {
    /// `provider/account`, e.g. `hubspot/1234567`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.account)
    }
}

/// Credentials of one account: an OAuth2 token set, or an API key as `access_token` with no
/// refresh token and no expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenSet {
    /// Sent as `Authorization: Bearer ...` (or as the API key).
    pub access_token: SecretString,
    /// Trades for a new access token; may rotate on every use (Xero's are single-use).
    pub refresh_token: Option<SecretString>,
    /// When the access token stops working; `None` when it does not expire.
    pub expires_at: Option<Timestamp>,
    /// Scopes granted.
    pub scopes: Vec<String>,
}

impl TokenSet {
    /// Credentials of an API-key app: the key, no refresh token, no expiry.
    pub fn api_key(key: SecretString) -> Self {
        Self {
            access_token: key,
            refresh_token: None,
            expires_at: None,
            scopes: Vec::new(),
        }
    }

    /// Whether the access token expires at or before `now + margin` (never, without an expiry).
    ///
    /// ```
    /// use std::time::Duration;
    /// use linking::{SecretString, TokenSet};
    /// use sync_core::domain::Timestamp;
    ///
    /// let now = Timestamp::parse("2024-01-01T00:00:00Z").unwrap();
    /// let mut tokens = TokenSet::api_key(SecretString::new("k"));
    /// assert!(!tokens.expires_within(now, Duration::from_secs(300)));
    /// tokens.expires_at = Some(now.plus(Duration::from_secs(299)));
    /// assert!(tokens.expires_within(now, Duration::from_secs(300)));
    /// ```
    #[must_use]
    pub fn expires_within(&self, now: Timestamp, margin: Duration) -> bool {
        self.expires_at
            .is_some_and(|expires_at| expires_at <= now.plus(margin))
    }
}

/// Whether a link can be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkStatus {
    /// The credentials work (as far as we know).
    Active,
    /// Refreshing failed for good (the grant was revoked or expired): a person must link the
    /// account again. Nothing retries until then.
    NeedsReauthorization {
        /// What happened, for status screens (no secrets).
        reason: String,
    },
}

/// Credentials as stored, with their version for conditional saves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCredentials {
    /// The tokens.
    pub tokens: TokenSet,
    /// Increases by one on every successful [`CredentialStore::save`]; starts at 1.
    pub version: u64,
    /// Whether the link works.
    pub status: LinkStatus,
}

/// How a conditional save ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaveOutcome {
    /// Stored, under this new version.
    Saved {
        /// The version now stored.
        version: u64,
    },
    /// Not stored: the stored version is no longer the expected one (someone saved newer
    /// credentials, or the link was removed).
    Stale,
}

/// Where tokens live, encrypted at rest. Implementations must make [`CredentialStore::save`]
/// atomic (compare the version and write in one step) and must never log token values.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// The stored credentials of `key`, if any.
    async fn load(&self, key: &AccountKey) -> Result<Option<StoredCredentials>, StoreError>;

    /// Saves `tokens` and marks the link [`LinkStatus::Active`].
    ///
    /// - `expected_version: None` (a new link, or a re-link): creates or overwrites whatever is
    ///   stored.
    /// - `Some(v)` (a refresh): saves only if the stored version is still `v`; otherwise nothing
    ///   changes and [`SaveOutcome::Stale`] is returned (also when nothing is stored any more).
    ///
    /// The stored version becomes the previous one plus one (1 for a new row).
    async fn save(
        &self,
        key: &AccountKey,
        tokens: &TokenSet,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, StoreError>;

    /// Marks the link as needing re-authorisation, keeping the tokens and the version (so that a
    /// concurrent refresh that did succeed can still save its newer tokens). No-op when nothing
    /// is stored.
    async fn mark_needs_reauth(&self, key: &AccountKey, reason: &str) -> Result<(), StoreError>;

    /// Forgets the credentials of `key` (no-op when absent).
    async fn delete(&self, key: &AccountKey) -> Result<(), StoreError>;
}

/// An authorization in progress: created by [`crate::Linker::start`], consumed once by
/// [`crate::Linker::callback`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// The one-time `state` sent to the authorize endpoint.
    pub state: String,
    /// The app being linked.
    pub provider: Provider,
    /// Whose Connec! credentials apply.
    pub tenant: Tenant,
    /// The Connec! group being linked.
    pub group_id: GroupId,
    /// PKCE code verifier, when the app uses PKCE.
    pub pkce_verifier: Option<SecretString>,
    /// The redirect URI sent with the authorize request (the code exchange repeats it).
    pub redirect_uri: String,
    /// After this instant the state is refused.
    pub expires_at: Timestamp,
}

impl PendingAuthorization {
    /// The most bytes the stored fields of one pending authorization may take together (state,
    /// provider, tenant, group id, redirect URI, PKCE verifier): stores refuse a larger one with
    /// [`StoreError::TooLarge`], so that unauthenticated starts cannot fill the storage.
    pub const MAX_STORED_BYTES: usize = 4096;

    /// Bytes of the fields a store keeps.
    #[must_use]
    pub fn stored_bytes(&self) -> usize {
        self.state.len()
            + self.provider.as_str().len()
            + self.tenant.as_str().len()
            + self.group_id.as_str().len()
            + self.redirect_uri.len()
            + self.pkce_verifier.as_ref().map_or(0, |v| v.expose().len())
    }

    /// `Ok` when [`PendingAuthorization::stored_bytes`] is within
    /// [`PendingAuthorization::MAX_STORED_BYTES`].
    ///
    /// # Errors
    ///
    /// [`StoreError::TooLarge`] naming the size and the limit (never a value).
    pub fn check_size(&self) -> Result<(), StoreError> {
        let bytes = self.stored_bytes();
        if bytes > Self::MAX_STORED_BYTES {
            return Err(StoreError::TooLarge(format!(
                "a pending authorization of {bytes} bytes (at most {} are kept)",
                Self::MAX_STORED_BYTES
            )));
        }
        Ok(())
    }
}

/// Where pending authorizations wait for their callback.
#[async_trait]
pub trait AuthorizationStateStore: Send + Sync {
    /// Stores a pending authorization under its `state`, and purges the entries expired at
    /// `now` (so that starts never completed do not pile up). Refuses one larger than
    /// [`PendingAuthorization::MAX_STORED_BYTES`] with [`StoreError::TooLarge`].
    async fn put(&self, pending: &PendingAuthorization, now: Timestamp) -> Result<(), StoreError>;

    /// Removes and returns the pending authorization of `state`, atomically: of two concurrent
    /// takes of one state at most one gets it. An expired one (`expires_at <= now`) is removed
    /// too and `None` is returned. Implementations may also purge other expired entries.
    async fn take(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<PendingAuthorization>, StoreError>;
}
