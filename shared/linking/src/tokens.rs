//! Access tokens on demand: refreshed by expiry time, single-flight per account, with rotated
//! refresh tokens stored atomically ([`TokenManager`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sync_core::domain::Timestamp;

use crate::endpoint::{self, Failure, OAuthHttpClient};
use crate::error::TokenError;
use crate::oauth::OAuthApp;
use crate::ports::{
    AccountKey, CredentialStore, LinkStatus, SaveOutcome, StoredCredentials, TokenSet,
};
use crate::secret::SecretString;

/// Refresh when the access token expires within this margin, by default.
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(5 * 60);

/// After an `invalid_grant` with the refresh token still stored, how long to wait before
/// reading the store once more (another process that won the rotation may be saving), by
/// default.
pub const DEFAULT_ROTATION_GRACE: Duration = Duration::from_secs(1);

/// Hands out access tokens for linked accounts of one app, refreshing them when needed.
///
/// - A token that does not expire within the margin is returned as stored (one store read).
/// - Otherwise one refresh per account runs at a time in this process (a `tokio` mutex per
///   account); waiters re-read the store after it and use the fresh token.
/// - Across processes the store's conditional save decides: a refresh whose save finds a newer
///   version keeps the stored (newer) tokens and never overwrites a rotated refresh token.
/// - `invalid_grant`: the store is read once more; if someone rotated the refresh token in the
///   meantime, that one is used (retried once if it too is expiring). If it is unchanged, the
///   store is read again after a short grace (another process that won the race may still be
///   saving; see [`TokenManager::with_rotation_grace`]). Otherwise the link is
///   marked [`LinkStatus::NeedsReauthorization`] and every later call fails fast with
///   [`TokenError::NeedsReauthorization`] without calling the endpoint.
/// - Timeouts, 5xx and 429 are [`TokenError::Transient`]: the link is not marked.
///
/// Tokens are never logged; logs name the account key and the outcome.
pub struct TokenManager {
    credentials: Arc<dyn CredentialStore>,
    app: OAuthApp,
    http: OAuthHttpClient,
    margin: Duration,
    rotation_grace: Duration,
    locks: Mutex<HashMap<AccountKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("app", &self.app)
            .field("margin", &self.margin)
            .finish_non_exhaustive()
    }
}

/// How a refresh attempt ended, before deciding what to return.
enum Attempt {
    Fresh(SecretString),
    Failed(Failure),
}

impl TokenManager {
    /// A manager for accounts of `app`, with tokens in `credentials`, calling the token endpoint
    /// with `http` and refreshing tokens that expire within `margin` ([`DEFAULT_MARGIN`] is a
    /// good default).
    pub fn new(
        credentials: Arc<dyn CredentialStore>,
        app: OAuthApp,
        http: reqwest::Client,
        margin: Duration,
    ) -> Self {
        Self {
            credentials,
            app,
            http: OAuthHttpClient::new(http),
            margin,
            rotation_grace: DEFAULT_ROTATION_GRACE,
            locks: Mutex::new(HashMap::new()),
        }
    }

    /// Changes the timeout of each token-endpoint request (default
    /// [`TOKEN_REQUEST_TIMEOUT`](crate::TOKEN_REQUEST_TIMEOUT)).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.http = self.http.with_timeout(timeout);
        self
    }

    /// Changes the grace before the last read that decides an `invalid_grant` is final
    /// (default [`DEFAULT_ROTATION_GRACE`]; zero reads once only).
    #[must_use]
    pub fn with_rotation_grace(mut self, grace: Duration) -> Self {
        self.rotation_grace = grace;
        self
    }

    /// A valid access token for `key`, refreshed first if it expires within the margin.
    ///
    /// # Errors
    ///
    /// [`TokenError::NotLinked`], [`TokenError::NeedsReauthorization`],
    /// [`TokenError::Transient`], [`TokenError::Rejected`], [`TokenError::Config`],
    /// [`TokenError::Store`].
    pub async fn access_token(
        &self,
        key: &AccountKey,
        now: Timestamp,
    ) -> Result<SecretString, TokenError> {
        let loaded = self.load_usable(key).await?;
        if !loaded.tokens.expires_within(now, self.margin) {
            return Ok(loaded.tokens.access_token);
        }
        self.refresh_single_flight(key, now, None).await
    }

    /// Refreshes now, whatever the expiry says (after the API answered 401, or in tests). If
    /// another caller refreshed while this one waited for the account's lock, its token is
    /// returned instead of refreshing twice.
    ///
    /// # Errors
    ///
    /// As [`TokenManager::access_token`]; an account without a refresh token (an API key) is
    /// marked as needing re-authorisation, since its credentials were rejected.
    pub async fn force_refresh(
        &self,
        key: &AccountKey,
        now: Timestamp,
    ) -> Result<SecretString, TokenError> {
        let loaded = self.load_usable(key).await?;
        self.refresh_single_flight(key, now, Some(loaded.version))
            .await
    }

    async fn load(&self, key: &AccountKey) -> Result<StoredCredentials, TokenError> {
        self.credentials
            .load(key)
            .await?
            .ok_or_else(|| TokenError::NotLinked {
                account: key.to_string(),
            })
    }

    async fn load_usable(&self, key: &AccountKey) -> Result<StoredCredentials, TokenError> {
        let loaded = self.load(key).await?;
        match &loaded.status {
            LinkStatus::Active => Ok(loaded),
            LinkStatus::NeedsReauthorization { reason } => Err(TokenError::NeedsReauthorization {
                account: key.to_string(),
                reason: reason.clone(),
            }),
        }
    }

    fn lock_for(&self, key: &AccountKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(locks.entry(key.clone()).or_default())
    }

    /// Drops the account's lock from the map when nobody else holds or waits for it.
    fn release_lock(&self, key: &AccountKey, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Ours and the map's: no other task can reach it without taking `locks` first.
        if Arc::strong_count(&lock) == 2 {
            locks.remove(key);
        }
    }

    /// `forced_from`: the version a forced refresh saw (refresh unless it changed meanwhile).
    async fn refresh_single_flight(
        &self,
        key: &AccountKey,
        now: Timestamp,
        forced_from: Option<u64>,
    ) -> Result<SecretString, TokenError> {
        let lock = self.lock_for(key);
        let result = {
            let _guard = lock.lock().await;
            self.refresh_locked(key, now, forced_from).await
        };
        self.release_lock(key, lock);
        result
    }

    async fn refresh_locked(
        &self,
        key: &AccountKey,
        now: Timestamp,
        forced_from: Option<u64>,
    ) -> Result<SecretString, TokenError> {
        // Someone (this process or another) may have refreshed while we waited.
        let current = self.load_usable(key).await?;
        let needed = match forced_from {
            Some(version) => current.version == version,
            None => current.tokens.expires_within(now, self.margin),
        };
        if !needed {
            tracing::debug!(account = %key, "token already refreshed by another caller");
            return Ok(current.tokens.access_token);
        }
        let Some(used) = current.tokens.refresh_token.clone() else {
            return self
                .no_refresh_token(key, current, now, forced_from.is_some())
                .await;
        };
        match self.attempt(key, &current, &used, now).await? {
            Attempt::Fresh(token) => Ok(token),
            Attempt::Failed(failure) if failure.is_invalid_grant() => {
                self.after_invalid_grant(key, &used, now).await
            }
            Attempt::Failed(failure) => Err(self.failure_error(key, failure)),
        }
    }

    /// One refresh with `refresh_token`, saved conditionally on `current.version`.
    async fn attempt(
        &self,
        key: &AccountKey,
        current: &StoredCredentials,
        refresh_token: &SecretString,
        now: Timestamp,
    ) -> Result<Attempt, TokenError> {
        let client = endpoint::client(&self.app).map_err(TokenError::Config)?;
        let granted = match endpoint::refresh(&client, &self.http, refresh_token).await {
            Ok(granted) => granted,
            Err(failure) => {
                tracing::warn!(account = %key, ?failure, "token refresh failed");
                return Ok(Attempt::Failed(failure));
            }
        };
        let tokens = TokenSet {
            access_token: granted.access_token,
            // Apps that do not rotate send no new refresh token: keep the one we have.
            refresh_token: granted
                .refresh_token
                .or_else(|| Some(refresh_token.clone())),
            expires_at: granted.expires_in.map(|after| now.plus(after)),
            scopes: granted
                .scopes
                .unwrap_or_else(|| current.tokens.scopes.clone()),
        };
        match self
            .credentials
            .save(key, &tokens, Some(current.version))
            .await?
        {
            SaveOutcome::Saved { version } => {
                tracing::info!(account = %key, version, "token refreshed");
                Ok(Attempt::Fresh(tokens.access_token))
            }
            SaveOutcome::Stale => {
                // Another process stored newer tokens first: theirs win (their refresh token is
                // the one the app now honours if it rotates).
                tracing::info!(account = %key, "token refreshed elsewhere first; using the stored one");
                let stored = self.load_usable(key).await?;
                Ok(Attempt::Fresh(stored.tokens.access_token))
            }
        }
    }

    async fn after_invalid_grant(
        &self,
        key: &AccountKey,
        used: &SecretString,
        now: Timestamp,
    ) -> Result<SecretString, TokenError> {
        let mut reread = self.load_usable(key).await?;
        if reread.tokens.refresh_token.as_ref() == Some(used) && !self.rotation_grace.is_zero() {
            tokio::time::sleep(self.rotation_grace).await;
            reread = self.load_usable(key).await?;
        }
        if let Some(stored) = reread.tokens.refresh_token.clone()
            && stored != *used
        {
            // Rotated by someone else since we read it.
            if !reread.tokens.expires_within(now, self.margin) {
                tracing::info!(account = %key, "refresh token was rotated elsewhere; using the stored tokens");
                return Ok(reread.tokens.access_token);
            }
            tracing::info!(account = %key, "refresh token was rotated elsewhere; retrying with it");
            match self.attempt(key, &reread, &stored, now).await? {
                Attempt::Fresh(token) => return Ok(token),
                Attempt::Failed(failure) if failure.is_invalid_grant() => {
                    return self
                        .mark(
                            key,
                            &stored,
                            "the app refused the refresh token (invalid_grant)",
                        )
                        .await;
                }
                Attempt::Failed(failure) => return Err(self.failure_error(key, failure)),
            }
        }
        self.mark(
            key,
            used,
            "the app refused the refresh token (invalid_grant)",
        )
        .await
    }

    /// Marks the link as needing re-authorisation after `refused` was refused. If another
    /// process saved a different token set between our last read and the mark, that set is
    /// working: it is re-saved (which makes the link active again) and returned.
    async fn mark(
        &self,
        key: &AccountKey,
        refused: &SecretString,
        reason: &str,
    ) -> Result<SecretString, TokenError> {
        self.credentials.mark_needs_reauth(key, reason).await?;
        let after = self.load(key).await?;
        if after.tokens.refresh_token.as_ref() != Some(refused) {
            if let SaveOutcome::Saved { .. } = self
                .credentials
                .save(key, &after.tokens, Some(after.version))
                .await?
            {
                tracing::info!(account = %key, "newer tokens were stored meanwhile; link kept active");
                return Ok(after.tokens.access_token);
            }
            // Changed again: whatever is stored now decides.
            return self
                .load_usable(key)
                .await
                .map(|stored| stored.tokens.access_token);
        }
        tracing::warn!(account = %key, reason, "link needs re-authorisation");
        Err(TokenError::NeedsReauthorization {
            account: key.to_string(),
            reason: reason.to_owned(),
        })
    }

    async fn no_refresh_token(
        &self,
        key: &AccountKey,
        current: StoredCredentials,
        now: Timestamp,
        forced: bool,
    ) -> Result<SecretString, TokenError> {
        let expired = current.tokens.expires_at.is_some_and(|at| at <= now);
        if !forced && !expired {
            // Expiring soon but still valid, and nothing to refresh it with: use it while it lasts.
            return Ok(current.tokens.access_token);
        }
        let reason = if forced {
            "the app rejected the credentials and there is no refresh token"
        } else {
            "the access token expired and there is no refresh token"
        };
        self.credentials.mark_needs_reauth(key, reason).await?;
        tracing::warn!(account = %key, reason, "link needs re-authorisation");
        Err(TokenError::NeedsReauthorization {
            account: key.to_string(),
            reason: reason.to_owned(),
        })
    }

    fn failure_error(&self, key: &AccountKey, failure: Failure) -> TokenError {
        match failure {
            Failure::Refused(error) => TokenError::Rejected {
                account: key.to_string(),
                error,
            },
            Failure::Transient(detail) => TokenError::Transient {
                account: key.to_string(),
                detail,
            },
        }
    }
}
