//! Who may act for a group: launch tokens turned into sessions, the OAuth browser binding, and
//! the tenant's API credentials (for the hub and scripts). The HTTP edge calls these; the
//! secrets never leave the service.

use std::time::Duration;

use access::{BrowserBinding, LaunchClaims, LaunchError, LaunchToken, Session, SessionError};
use sync_core::domain::{GroupId, Tenant};
use sync_core::ports::{Clock, SystemClock};

use crate::ConnectorService;

/// Why a person or program may not act. `Display` says how to get in; it quotes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// No launch secret is configured: the page and linking are closed.
    #[error(
        "this connector has no launch secret configured, so its page and linking are closed; the operator sets one (see the README, \"The connector's page\")"
    )]
    Closed,
    /// No session, and no launch token.
    #[error(
        "open the connector from Connec! (or ask the operator for a launch link: `connector admin-url --group <group>`)"
    )]
    NoSession,
    /// The launch token was refused.
    #[error(transparent)]
    Launch(#[from] LaunchError),
    /// The session cookie was refused.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The session is for another group than the one asked for.
    #[error(
        "this session is for another Connec! group; open the connector from that group in Connec!"
    )]
    WrongGroup,
    /// A state-changing request without this session's CSRF token.
    #[error("this request is missing the page's security token; reload the page and try again")]
    Csrf,
}

impl ConnectorService {
    fn launch_secret(&self) -> Result<&access::LaunchSecret, AccessError> {
        self.settings
            .launch_secret
            .as_ref()
            .ok_or(AccessError::Closed)
    }

    /// Checks a launch token and opens a session for the group it names.
    pub fn launch(&self, token: &str) -> Result<Session, AccessError> {
        let secret = self.launch_secret()?;
        let now = SystemClock.now();
        let tenant = Tenant::new(self.settings.tenant.clone());
        let claims = LaunchToken::verify(secret, token, &tenant, now).inspect_err(|e| {
            tracing::warn!(error = %e, "launch token refused");
        })?;
        tracing::info!(group = %claims.group_id, user = %claims.sub, "connector page launched");
        Ok(Session::from_launch(&claims, now))
    }

    /// Reads a session cookie.
    pub fn session(&self, cookie: Option<&str>) -> Result<Session, AccessError> {
        let secret = self.launch_secret()?;
        let cookie = cookie
            .filter(|c| !c.is_empty())
            .ok_or(AccessError::NoSession)?;
        let tenant = Tenant::new(self.settings.tenant.clone());
        Ok(Session::open(secret, cookie, &tenant, SystemClock.now())?)
    }

    /// The cookie value of a session.
    pub fn seal_session(&self, session: &Session) -> Result<String, AccessError> {
        Ok(session.seal(self.launch_secret()?))
    }

    /// The value of the cookie binding an OAuth `state` to this browser.
    pub fn browser_binding(&self, state: &str) -> Result<String, AccessError> {
        Ok(BrowserBinding::for_state(self.launch_secret()?, state))
    }

    /// Whether `cookie` binds `state` to the browser that sent it.
    pub fn binding_matches(&self, state: &str, cookie: Option<&str>) -> bool {
        match (self.launch_secret(), cookie) {
            (Ok(secret), Some(cookie)) => BrowserBinding::matches(secret, state, cookie),
            _ => false,
        }
    }

    /// Whether `authorization` (an `Authorization` header value) carries the tenant's API
    /// credentials (HTTP Basic, the tenant's Connec! API id and key), compared in constant time.
    pub fn tenant_credentials_match(&self, authorization: Option<&str>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let headers = vec![("authorization".to_owned(), value.to_owned())];
        let request = webhooks::RawRequest {
            method: "GET",
            uri: "",
            headers: &headers,
            body: &[],
        };
        webhooks::Verifier::verify(&self.api_verifier, &request, chrono::Utc::now()).is_ok()
    }

    /// A launch URL for `user` on `group`, valid for `lifetime` (operators and local use).
    pub fn launch_url(
        &self,
        group: &GroupId,
        user: &str,
        lifetime: Duration,
    ) -> Result<String, AccessError> {
        let secret = self.launch_secret()?;
        let tenant = Tenant::new(self.settings.tenant.clone());
        let claims = LaunchClaims::new(&tenant, group, user, SystemClock.now(), lifetime);
        Ok(format!(
            "{}/connector/launch?token={}",
            self.settings.public_url,
            LaunchToken::mint(secret, &claims)
        ))
    }
}
