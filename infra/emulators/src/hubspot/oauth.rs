//! OAuth 2.0 of the emulated HubSpot app: the app ([`OAuthApp`]), the codes and tokens it
//! issued (authorization codes with optional PKCE S256, expiring access tokens, refresh
//! tokens, optionally single-use), and the test knobs on [`HubSpotEmulator`]. The
//! `/oauth/...` endpoints are in [`super::oauth_routes`].

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::HubSpotEmulator;
use crate::common::lock;

/// The OAuth app the emulator knows (see [`super::HubSpotConfig::oauth`]).
///
/// `Debug` redacts the client secret.
#[derive(Clone)]
pub struct OAuthApp {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret; also signs webhooks (`X-HubSpot-Signature-v3`)
    /// and is accepted as `hapikey` on the webhooks management API.
    pub client_secret: String,
    /// App id (the `{appId}` of `/webhooks/v3/{appId}/...`, `appId` of events).
    pub app_id: u64,
    /// Lifetime of issued access tokens. Default 1800 s (HubSpot's).
    pub access_token_ttl: Duration,
    /// `true`: every refresh returns a new refresh token and invalidates the
    /// old one (single-use refresh tokens, as Xero does). Default `false`
    /// (HubSpot: the refresh token stays the same).
    pub rotate_refresh_tokens: bool,
    /// `true`: `/oauth/authorize` redirects with a code at once. `false`: it
    /// shows a consent page first. Default `true`.
    pub auto_approve: bool,
}

impl OAuthApp {
    /// An app with the given credentials and default behaviour.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        app_id: u64,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            app_id,
            access_token_ttl: Duration::from_secs(1800),
            rotate_refresh_tokens: false,
            auto_approve: true,
        }
    }
}

impl Default for OAuthApp {
    /// `demo-client-id` / `demo-client-secret`, app id 424242.
    fn default() -> Self {
        Self::new("demo-client-id", "demo-client-secret", 424_242)
    }
}

impl std::fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("app_id", &self.app_id)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("rotate_refresh_tokens", &self.rotate_refresh_tokens)
            .field("auto_approve", &self.auto_approve)
            .finish()
    }
}

pub(super) struct Code {
    pub(super) portal: u64,
    pub(super) redirect_uri: String,
    pub(super) challenge: Option<String>,
    pub(super) scopes: Vec<String>,
    pub(super) expires: Instant,
}

pub(super) struct Access {
    pub(super) portal: u64,
    pub(super) scopes: Vec<String>,
    pub(super) expires: Instant,
}

pub(super) struct Refresh {
    pub(super) portal: u64,
    pub(super) scopes: Vec<String>,
}

/// Issued codes and tokens.
#[derive(Default)]
pub(super) struct OAuthState {
    pub(super) codes: HashMap<String, Code>,
    pub(super) access: HashMap<String, Access>,
    pub(super) refresh: HashMap<String, Refresh>,
    pub(super) token_requests: u64,
    pub(super) delay: Duration,
    /// The portal the next consents grant (`None`: the default portal).
    pub(super) consenting_portal: Option<u64>,
}

impl OAuthState {
    /// `Some((live, portal))` for a known access token, `None` when unknown.
    pub(super) fn access_token(&self, token: &str) -> Option<(bool, u64)> {
        self.access
            .get(token)
            .map(|a| (Instant::now() < a.expires, a.portal))
    }

    /// Issues an access token of `portal` (and a refresh token unless
    /// `refresh` is given).
    pub(super) fn issue(
        &mut self,
        app: &OAuthApp,
        portal: u64,
        scopes: Vec<String>,
        refresh: Option<String>,
    ) -> Value {
        let access = format!(
            "CO{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let refresh = refresh.unwrap_or_else(|| {
            let r = format!("na1-{}", uuid::Uuid::new_v4());
            self.refresh.insert(
                r.clone(),
                Refresh {
                    portal,
                    scopes: scopes.clone(),
                },
            );
            r
        });
        self.access.insert(
            access.clone(),
            Access {
                portal,
                scopes,
                expires: Instant::now() + app.access_token_ttl,
            },
        );
        json!({
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": app.access_token_ttl.as_secs(),
        })
    }
}

impl HubSpotEmulator {
    /// Makes the following OAuth consents grant access to `portal` instead
    /// of the default one, as if the user picked that account on HubSpot's
    /// account chooser.
    pub fn consent_as_portal(&self, portal: u64) {
        lock(&self.inner.oauth).consenting_portal = Some(portal);
    }

    /// Number of `POST /oauth/v1/token` requests received (any outcome).
    pub fn token_requests(&self) -> u64 {
        lock(&self.inner.oauth).token_requests
    }

    /// Makes every access token issued so far expired now (the API then
    /// answers 401 `EXPIRED_AUTHENTICATION`). Static tokens are unaffected.
    pub fn expire_access_tokens(&self) {
        let now = Instant::now();
        for a in lock(&self.inner.oauth).access.values_mut() {
            a.expires = now;
        }
    }

    /// Invalidates every refresh token issued so far: refreshing with one
    /// then fails with `invalid_grant` (`BAD_REFRESH_TOKEN`), as after the
    /// user uninstalled the app.
    pub fn revoke_refresh_tokens(&self) {
        lock(&self.inner.oauth).refresh.clear();
    }

    /// Makes `POST /oauth/v1/token` sleep `delay` before handling the request
    /// (after counting it), so tests can race two refreshes. Zero disables.
    pub fn set_token_delay(&self, delay: Duration) {
        lock(&self.inner.oauth).delay = delay;
    }
}

/// Constant-time string equality for secrets.
pub(super) fn secret_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
