//! [`SecretsCredentialStore`]: linked accounts' tokens in Secrets Manager.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use linking::{
    AccountKey, CredentialStore, LinkStatus, SaveOutcome, SecretString, StoredCredentials, TokenSet,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sync_core::domain::Timestamp;
use sync_core::error::StoreError;

use crate::error::{describe, has_code};
use crate::requests::backoff;

/// How long [`SecretsCredentialStore::load`](CredentialStore::load) serves a cached value.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// The label a new secret version carries until it is made current.
const STAGE_NEW: &str = "CONNECTOR_NEW";
const STAGE_CURRENT: &str = "AWSCURRENT";
/// Attempts of an unconditional write (or a re-auth mark) that lost a race.
const ATTEMPTS: u32 = 5;

const STATUS_ACTIVE: &str = "active";
const STATUS_NEEDS_REAUTH: &str = "needs_reauthorization";

/// The secret's JSON. Token values only ever travel inside it.
#[derive(Serialize, Deserialize)]
struct Body {
    version: u64,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    tokens: Tokens,
}

#[derive(Serialize, Deserialize)]
struct Tokens {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    /// Epoch milliseconds.
    #[serde(default)]
    expires_at: Option<i64>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// The current secret version, as read.
struct Current {
    version_id: String,
    credentials: StoredCredentials,
}

/// [`CredentialStore`] on Secrets Manager: one secret per linked account, named
/// `<prefix>/tokens/<provider>/<account>`, holding JSON `{version, status, reason, tokens}`.
///
/// # Compare-and-set
///
/// Secrets Manager has no conditional `PutSecretValue`, but moving the `AWSCURRENT` label with
/// `UpdateSecretVersionStage` *is* conditional: it fails unless `RemoveFromVersionId` is the
/// version that holds the label. A save therefore
///
/// 1. reads the current version (`GetSecretValue`, never from the cache) and compares its
///    `version` with the expected one (different: [`SaveOutcome::Stale`]);
/// 2. writes the new JSON as a new secret version with `PutSecretValue`, labelled
///    `CONNECTOR_NEW` (not current yet), with a `ClientRequestToken` derived from the new
///    version number and a hash of the content (a retried call is idempotent; two writers with
///    different tokens create different versions);
/// 3. moves `AWSCURRENT` from the version read in 1 to the new one. If another writer moved it
///    in between, this fails and the save is `Stale`: of two concurrent refreshes from the same
///    version exactly one becomes current, and an older version never overwrites a newer one.
///
/// The loser's secret version stays behind without the `AWSCURRENT` label; Secrets Manager
/// deprecates unlabelled versions and removes them when a secret has more than 100.
/// [`CredentialStore::delete`] deletes the secret without a recovery window, so that the
/// account can be linked again at once.
///
/// # Cache
///
/// `load` answers from an in-memory cache for [`DEFAULT_CACHE_TTL`] (see
/// [`SecretsCredentialStore::with_cache_ttl`]); our own writes update it, and a `Stale` save or a
/// delete drops the entry, so that the next load reads the newer version.
pub struct SecretsCredentialStore {
    client: Client,
    prefix: String,
    cache_ttl: Duration,
    cache: Arc<Mutex<HashMap<AccountKey, (Instant, StoredCredentials)>>>,
}

impl std::fmt::Debug for SecretsCredentialStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsCredentialStore")
            .field("prefix", &self.prefix)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl SecretsCredentialStore {
    /// A store naming its secrets `<prefix>/tokens/<provider>/<account>`.
    pub fn new(client: Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into().trim_end_matches('/').to_owned(),
            cache_ttl: DEFAULT_CACHE_TTL,
            cache: Arc::default(),
        }
    }

    /// Changes how long loaded credentials are cached (`Duration::ZERO`: no cache).
    #[must_use]
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// The secret name of an account. Characters Secrets Manager does not allow in names (and
    /// `+`) are written `+HH` (hex of each UTF-8 byte).
    #[must_use]
    pub fn secret_name(&self, key: &AccountKey) -> String {
        format!(
            "{}/tokens/{}/{}",
            self.prefix,
            name_part(key.provider.as_str()),
            name_part(&key.account)
        )
    }

    fn cached(&self, key: &AccountKey) -> Option<StoredCredentials> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.cache_ttl)
            .map(|(_, credentials)| credentials.clone())
    }

    fn remember(&self, key: &AccountKey, credentials: StoredCredentials) {
        if self.cache_ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(key.clone(), (Instant::now(), credentials));
    }

    fn forget(&self, key: &AccountKey) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.remove(key);
    }

    fn error(op: &str, name: &str, detail: String) -> StoreError {
        StoreError::Backend(format!("{op} of secret {name}: {detail}"))
    }

    /// The current version, fresh from Secrets Manager.
    async fn read(&self, op: &str, key: &AccountKey) -> Result<Option<Current>, StoreError> {
        let name = self.secret_name(key);
        let out = match self
            .client
            .get_secret_value()
            .secret_id(&name)
            .version_stage(STAGE_CURRENT)
            .send()
            .await
        {
            Ok(out) => out,
            Err(err) if has_code(&err, "ResourceNotFoundException") => return Ok(None),
            Err(err) => return Err(Self::error(op, &name, describe(&err))),
        };
        let (Some(text), Some(version_id)) = (out.secret_string(), out.version_id()) else {
            return Err(StoreError::Corrupt(format!(
                "credentials of {key}: secret {name} has no string value"
            )));
        };
        let body: Body = serde_json::from_str(text).map_err(|e| {
            // Never the serde message: it may quote the content.
            StoreError::Corrupt(format!(
                "credentials of {key}: secret {name} is not valid credentials JSON ({:?} error \
                 at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        let status = match body.status.as_str() {
            STATUS_ACTIVE => LinkStatus::Active,
            STATUS_NEEDS_REAUTH => LinkStatus::NeedsReauthorization {
                reason: body.reason.clone().unwrap_or_default(),
            },
            other => {
                return Err(StoreError::Corrupt(format!(
                    "credentials of {key}: unknown status `{other}`"
                )));
            }
        };
        let expires_at = body
            .tokens
            .expires_at
            .map(|ms| {
                chrono::DateTime::from_timestamp_millis(ms)
                    .map(Timestamp::from_datetime)
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("credentials of {key}: invalid expiry {ms}"))
                    })
            })
            .transpose()?;
        Ok(Some(Current {
            version_id: version_id.to_owned(),
            credentials: StoredCredentials {
                tokens: TokenSet {
                    access_token: SecretString::new(body.tokens.access_token),
                    refresh_token: body.tokens.refresh_token.map(SecretString::new),
                    expires_at,
                    scopes: body.tokens.scopes,
                },
                version: body.version,
                status,
            },
        }))
    }

    /// Writes `credentials` as a new version and makes it current if the current version is
    /// still `current` (see the type docs). `Ok(false)`: someone else changed the secret first.
    async fn write(
        &self,
        op: &str,
        key: &AccountKey,
        current: Option<&Current>,
        credentials: &StoredCredentials,
    ) -> Result<bool, StoreError> {
        let name = self.secret_name(key);
        let body = encode(credentials)?;
        let token = request_token(credentials.version, &body);
        let Some(current) = current else {
            return match self
                .client
                .create_secret()
                .name(&name)
                .secret_string(body)
                .client_request_token(&token)
                .description("OAuth tokens of a linked account (connector)")
                .send()
                .await
            {
                Ok(_) => Ok(true),
                Err(err) if has_code(&err, "ResourceExistsException") => Ok(false),
                Err(err) => Err(Self::error(op, &name, describe(&err))),
            };
        };
        match self
            .client
            .put_secret_value()
            .secret_id(&name)
            .secret_string(body)
            .client_request_token(&token)
            .version_stages(STAGE_NEW)
            .send()
            .await
        {
            Ok(_) => {}
            // The same token with another content: another writer's version (cannot happen
            // with content-derived tokens, but is a lost race if it does).
            Err(err) if has_code(&err, "ResourceExistsException") => return Ok(false),
            Err(err) if has_code(&err, "ResourceNotFoundException") => return Ok(false),
            Err(err) => return Err(Self::error(op, &name, describe(&err))),
        }
        match self
            .client
            .update_secret_version_stage()
            .secret_id(&name)
            .version_stage(STAGE_CURRENT)
            .remove_from_version_id(&current.version_id)
            .move_to_version_id(&token)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err)
                if has_code(&err, "InvalidParameterException")
                    || has_code(&err, "InvalidRequestException")
                    || has_code(&err, "ResourceNotFoundException") =>
            {
                Ok(false)
            }
            Err(err) => Err(Self::error(op, &name, describe(&err))),
        }
    }
}

fn name_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"_=.@-".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("+{byte:02X}"));
        }
    }
    out
}

fn encode(credentials: &StoredCredentials) -> Result<String, StoreError> {
    let (status, reason) = match &credentials.status {
        LinkStatus::Active => (STATUS_ACTIVE, None),
        LinkStatus::NeedsReauthorization { reason } => (STATUS_NEEDS_REAUTH, Some(reason.clone())),
    };
    let tokens = &credentials.tokens;
    serde_json::to_string(&Body {
        version: credentials.version,
        status: status.to_owned(),
        reason,
        tokens: Tokens {
            access_token: tokens.access_token.expose().to_owned(),
            refresh_token: tokens.refresh_token.as_ref().map(|t| t.expose().to_owned()),
            expires_at: tokens.expires_at.as_ref().map(Timestamp::epoch_millis),
            scopes: tokens.scopes.clone(),
        },
    })
    .map_err(|_| StoreError::Backend("cannot encode credentials".to_owned()))
}

/// `v<version, 12 digits>-<40 hex of sha256(content)>`: 54 characters (the API wants 32-64).
fn request_token(version: u64, body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
    format!("v{version:012}-{hex}")
}

#[async_trait]
impl CredentialStore for SecretsCredentialStore {
    async fn load(&self, key: &AccountKey) -> Result<Option<StoredCredentials>, StoreError> {
        if let Some(credentials) = self.cached(key) {
            return Ok(Some(credentials));
        }
        let current = self.read("load_credentials", key).await?;
        Ok(current.map(|current| {
            self.remember(key, current.credentials.clone());
            current.credentials
        }))
    }

    async fn save(
        &self,
        key: &AccountKey,
        tokens: &TokenSet,
        expected_version: Option<u64>,
    ) -> Result<SaveOutcome, StoreError> {
        const OP: &str = "save_credentials";
        for attempt in 0..ATTEMPTS {
            let current = self.read(OP, key).await?;
            let stored = current.as_ref().map(|c| c.credentials.version);
            let version = match (expected_version, stored) {
                (None, None) => 1,
                (None, Some(version)) => version + 1,
                (Some(expected), Some(version)) if expected == version => version + 1,
                (Some(_), _) => {
                    self.forget(key);
                    return Ok(SaveOutcome::Stale);
                }
            };
            let credentials = StoredCredentials {
                tokens: tokens.clone(),
                version,
                status: LinkStatus::Active,
            };
            if self.write(OP, key, current.as_ref(), &credentials).await? {
                self.remember(key, credentials);
                tracing::debug!(account = %key, version, "credentials saved");
                return Ok(SaveOutcome::Saved { version });
            }
            if expected_version.is_some() {
                // Someone else moved the secret on from the version we compared.
                self.forget(key);
                return Ok(SaveOutcome::Stale);
            }
            backoff(attempt).await;
        }
        self.forget(key);
        Err(StoreError::Conflict(format!(
            "credentials of {key}: concurrent writers kept replacing the secret; retry"
        )))
    }

    async fn mark_needs_reauth(&self, key: &AccountKey, reason: &str) -> Result<(), StoreError> {
        const OP: &str = "mark_needs_reauth";
        for attempt in 0..ATTEMPTS {
            let Some(current) = self.read(OP, key).await? else {
                self.forget(key);
                return Ok(());
            };
            let status = LinkStatus::NeedsReauthorization {
                reason: reason.to_owned(),
            };
            if current.credentials.status == status {
                self.remember(key, current.credentials);
                return Ok(());
            }
            let credentials = StoredCredentials {
                status,
                ..current.credentials.clone()
            };
            if self.write(OP, key, Some(&current), &credentials).await? {
                self.remember(key, credentials);
                tracing::info!(account = %key, "link marked as needing re-authorisation");
                return Ok(());
            }
            backoff(attempt).await;
        }
        self.forget(key);
        Err(StoreError::Conflict(format!(
            "credentials of {key}: concurrent writers kept replacing the secret; retry"
        )))
    }

    async fn delete(&self, key: &AccountKey) -> Result<(), StoreError> {
        let name = self.secret_name(key);
        self.forget(key);
        match self
            .client
            .delete_secret()
            .secret_id(&name)
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if has_code(&err, "ResourceNotFoundException") => Ok(()),
            Err(err) => Err(Self::error("delete_credentials", &name, describe(&err))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_injective_and_allowed() {
        assert_eq!(name_part("hubspot"), "hubspot");
        assert_eq!(name_part("a b+c"), "a+20b+2Bc");
        assert_ne!(name_part("a+20"), name_part("a "));
    }

    #[test]
    fn request_tokens_fit_the_api() {
        let token = request_token(u64::MAX, "{}");
        assert!((32..=64).contains(&token.len()), "{}", token.len());
        assert_ne!(request_token(2, "a"), request_token(2, "b"));
    }
}
