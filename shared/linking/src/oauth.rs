//! Linking an app account: OAuth2 authorization code with PKCE ([`Linker`]); then
//! [`complete_link`](crate::complete_link) (in `link`) creates or updates the organization.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::{CsrfToken, PkceCodeChallenge, Scope};
use sync_core::domain::{GroupId, Provider, Tenant, Timestamp};

use crate::endpoint::{self, Client, Failure, OAuthHttpClient};
use crate::error::LinkError;
use crate::ports::{AuthorizationStateStore, PendingAuthorization, TokenSet};
use crate::secret::SecretString;

/// How long a started authorization may wait for its callback.
pub const STATE_TTL: Duration = Duration::from_secs(10 * 60);

/// Random bytes in a `state` (256 bits).
const STATE_RANDOM_BYTES: usize = 32;

/// How the client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (HubSpot).
    #[default]
    RequestBody,
    /// HTTP Basic with the client id and secret (Xero and most RFC 6749 servers).
    BasicAuth,
}

/// One app's OAuth2 registration.
#[derive(Clone, Debug)]
pub struct OAuthApp {
    /// The app (`hubspot`), as in Connec! external ids.
    pub provider: Provider,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret (empty for a public client that relies on PKCE alone).
    pub client_secret: SecretString,
    /// The app's authorize endpoint.
    pub authorize_url: String,
    /// The app's token endpoint.
    pub token_url: String,
    /// Our callback URL, as registered with the app.
    pub redirect_uri: String,
    /// Scopes to request.
    pub scopes: Vec<String>,
    /// Send a PKCE S256 challenge (and the verifier with the code).
    pub pkce: bool,
    /// How the client authenticates at the token endpoint.
    pub client_auth: ClientAuth,
}

impl OAuthApp {
    /// An app with PKCE on, no scopes and the client credentials in the request body; set the
    /// other fields directly.
    pub fn new(
        provider: impl Into<Provider>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        authorize_url: impl Into<String>,
        token_url: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            provider: provider.into(),
            client_id: client_id.into(),
            client_secret,
            authorize_url: authorize_url.into(),
            token_url: token_url.into(),
            redirect_uri: redirect_uri.into(),
            scopes: Vec::new(),
            pkce: true,
            client_auth: ClientAuth::RequestBody,
        }
    }
}

/// Where to send the person's browser to approve access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizeRedirect {
    /// The app's authorize URL with our parameters.
    pub url: String,
    /// The one-time state in that URL.
    pub state: String,
}

/// A successful callback: tokens for an account that is not yet attached to an organization.
/// The caller discovers the account id (e.g. HubSpot's token info) and calls [`complete_link`].
#[derive(Clone, Debug)]
pub struct Authorized {
    /// The app.
    pub provider: Provider,
    /// Whose Connec! credentials apply.
    pub tenant: Tenant,
    /// The Connec! group being linked.
    pub group_id: GroupId,
    /// The tokens granted.
    pub tokens: TokenSet,
}

/// Runs the authorization-code flow of one app.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use linking::{Linker, OAuthApp, SecretString, memory::MemoryAuthorizationStateStore};
/// use sync_core::domain::{GroupId, Tenant, Timestamp};
///
/// let app = OAuthApp::new(
///     "hubspot",
///     "client-id",
///     SecretString::new("client-secret"),
///     "https://app.hubspot.com/oauth/authorize",
///     "https://api.hubapi.com/oauth/v1/token",
///     "https://connector.example.com/oauth/callback",
/// );
/// let linker = Linker::new(app, Arc::new(MemoryAuthorizationStateStore::new()), reqwest::Client::new())?;
/// let now = Timestamp::from_datetime(chrono::Utc::now());
/// let redirect = linker.start(Tenant::new("acme"), GroupId::new("cld-1"), now).await?;
/// // Send the browser to redirect.url; on the callback request:
/// let authorized = linker.callback(Some("code"), Some(&redirect.state), None, now).await?;
/// # let _ = authorized; Ok(()) }
/// ```
pub struct Linker {
    app: OAuthApp,
    client: Client,
    states: Arc<dyn AuthorizationStateStore>,
    http: OAuthHttpClient,
    state_ttl: Duration,
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker")
            .field("app", &self.app)
            .field("state_ttl", &self.state_ttl)
            .finish_non_exhaustive()
    }
}

impl Linker {
    /// A linker for `app`, keeping pending authorizations in `states` and calling the token
    /// endpoint with `http`.
    ///
    /// # Errors
    ///
    /// [`LinkError::Config`] when a URL of `app` does not parse.
    pub fn new(
        app: OAuthApp,
        states: Arc<dyn AuthorizationStateStore>,
        http: reqwest::Client,
    ) -> Result<Self, LinkError> {
        let client = endpoint::client(&app).map_err(|detail| LinkError::Config {
            provider: app.provider.clone(),
            detail,
        })?;
        Ok(Self {
            app,
            client,
            states,
            http: OAuthHttpClient::new(http),
            state_ttl: STATE_TTL,
        })
    }

    /// Changes the timeout of each token-endpoint request (default
    /// [`TOKEN_REQUEST_TIMEOUT`](crate::TOKEN_REQUEST_TIMEOUT)).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.http = self.http.with_timeout(timeout);
        self
    }

    /// Changes how long a started authorization stays valid (default [`STATE_TTL`]).
    #[must_use]
    pub fn with_state_ttl(mut self, ttl: Duration) -> Self {
        self.state_ttl = ttl;
        self
    }

    /// The app.
    #[must_use]
    pub fn app(&self) -> &OAuthApp {
        &self.app
    }

    /// Starts linking `group_id`: stores a one-time state (with the PKCE verifier) that expires
    /// after 10 minutes and returns the authorize URL to send the browser to.
    ///
    /// The state is `<expiry in epoch ms>.<256 random bits, base64url>`: URL-safe, unguessable,
    /// and it lets the callback tell an expired link from one that was already used.
    ///
    /// # Errors
    ///
    /// [`LinkError::Store`] when the state cannot be stored.
    pub async fn start(
        &self,
        tenant: Tenant,
        group_id: GroupId,
        now: Timestamp,
    ) -> Result<AuthorizeRedirect, LinkError> {
        let expires_at = now.plus(self.state_ttl);
        let random: [u8; STATE_RANDOM_BYTES] = rand::random();
        let state = format!(
            "{}.{}",
            expires_at.epoch_millis(),
            URL_SAFE_NO_PAD.encode(random)
        );
        let mut request = self
            .client
            .authorize_url(|| CsrfToken::new(state.clone()))
            .add_scopes(self.app.scopes.iter().cloned().map(Scope::new));
        let mut verifier = None;
        if self.app.pkce {
            let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            verifier = Some(SecretString::new(pkce_verifier.secret().clone()));
        }
        let (url, _) = request.url();
        self.states
            .put(
                &PendingAuthorization {
                    state: state.clone(),
                    provider: self.app.provider.clone(),
                    tenant,
                    group_id: group_id.clone(),
                    pkce_verifier: verifier,
                    redirect_uri: self.app.redirect_uri.clone(),
                    expires_at,
                },
                now,
            )
            .await?;
        tracing::info!(provider = %self.app.provider, group = %group_id, "linking started");
        Ok(AuthorizeRedirect {
            url: url.to_string(),
            state,
        })
    }

    /// Handles the callback's query parameters: checks and consumes the state, maps an `error`,
    /// and exchanges the code (with the PKCE verifier) for tokens; `expires_at = now +
    /// expires_in`.
    ///
    /// # Errors
    ///
    /// - [`LinkError::MissingState`], [`LinkError::UnknownState`], [`LinkError::StateExpired`],
    ///   [`LinkError::StateAlreadyUsed`]: the state does not allow this callback;
    /// - [`LinkError::Denied`] for `error=access_denied`, [`LinkError::AuthorizationFailed`] for
    ///   another `error` (the state, if valid, is consumed either way);
    /// - [`LinkError::MissingCode`]; [`LinkError::TokenEndpoint`] with the OAuth error code when
    ///   the exchange is refused; [`LinkError::Transient`] when the endpoint is unreachable or
    ///   failing; [`LinkError::Store`].
    pub async fn callback(
        &self,
        code: Option<&str>,
        state: Option<&str>,
        error: Option<&str>,
        now: Timestamp,
    ) -> Result<Authorized, LinkError> {
        let provider = &self.app.provider;
        let state = state.map(str::trim).filter(|s| !s.is_empty());
        let pending = match state {
            Some(state) => Some(self.take_state(state, now).await),
            None => None,
        };
        if let Some(error) = error.map(str::trim).filter(|e| !e.is_empty()) {
            let error = endpoint::sanitise_code(error);
            tracing::info!(%provider, error = %error, "linking refused at the consent screen");
            return Err(if error == "access_denied" {
                LinkError::Denied {
                    provider: provider.clone(),
                }
            } else {
                LinkError::AuthorizationFailed {
                    provider: provider.clone(),
                    error,
                }
            });
        }
        let pending = match pending {
            Some(result) => result?,
            None => {
                tracing::info!(%provider, "linking callback without state");
                return Err(LinkError::MissingState);
            }
        };
        let group = pending.group_id.clone();
        let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
            tracing::info!(%provider, %group, "linking callback without code");
            return Err(LinkError::MissingCode);
        };
        let granted = endpoint::exchange_code(
            &self.client,
            &self.http,
            code,
            pending.pkce_verifier.as_ref(),
            &pending.redirect_uri,
        )
        .await
        .map_err(|failure| {
            tracing::warn!(%provider, %group, ?failure, "code exchange failed");
            match failure {
                Failure::Refused(error) => LinkError::TokenEndpoint {
                    provider: provider.clone(),
                    error,
                },
                Failure::Transient(detail) => LinkError::Transient {
                    provider: provider.clone(),
                    detail,
                },
            }
        })?;
        tracing::info!(%provider, %group, "linking callback: tokens obtained");
        Ok(Authorized {
            provider: provider.clone(),
            tenant: pending.tenant,
            group_id: pending.group_id,
            tokens: TokenSet {
                access_token: granted.access_token,
                refresh_token: granted.refresh_token,
                expires_at: granted.expires_in.map(|after| now.plus(after)),
                scopes: granted.scopes.unwrap_or_else(|| self.app.scopes.clone()),
            },
        })
    }

    async fn take_state(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<PendingAuthorization, LinkError> {
        let provider = &self.app.provider;
        match self.states.take(state, now).await? {
            Some(pending) if pending.expires_at <= now => {
                tracing::info!(%provider, "linking callback with an expired state");
                Err(LinkError::StateExpired)
            }
            Some(pending) if pending.provider != *provider => {
                tracing::info!(%provider, other = %pending.provider, "linking callback with another app's state");
                Err(LinkError::UnknownState)
            }
            Some(pending) => Ok(pending),
            None => {
                let error = classify_missing_state(state, now);
                tracing::info!(%provider, outcome = ?error, "linking callback with a state that is not pending");
                Err(error)
            }
        }
    }
}

/// A state the store does not hold: not ours, expired, or already used.
fn classify_missing_state(state: &str, now: Timestamp) -> LinkError {
    let Some((expiry, random)) = state.split_once('.') else {
        return LinkError::UnknownState;
    };
    let well_formed = URL_SAFE_NO_PAD
        .decode(random)
        .is_ok_and(|bytes| bytes.len() == STATE_RANDOM_BYTES);
    match expiry.parse::<i64>() {
        Ok(expiry) if well_formed && expiry <= now.epoch_millis() => LinkError::StateExpired,
        Ok(_) if well_formed => LinkError::StateAlreadyUsed,
        _ => LinkError::UnknownState,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    #[test]
    fn missing_states_are_classified() {
        let now = ts("2024-01-01T00:00:00Z");
        let random = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let past = format!("{}.{random}", now.epoch_millis() - 1);
        let future = format!("{}.{random}", now.epoch_millis() + 1);
        assert!(matches!(
            classify_missing_state(&past, now),
            LinkError::StateExpired
        ));
        assert!(matches!(
            classify_missing_state(&future, now),
            LinkError::StateAlreadyUsed
        ));
        assert!(matches!(
            classify_missing_state("nope", now),
            LinkError::UnknownState
        ));
        assert!(matches!(
            classify_missing_state("12.short", now),
            LinkError::UnknownState
        ));
        assert!(matches!(
            classify_missing_state(&format!("x.{random}"), now),
            LinkError::UnknownState
        ));
    }
}
