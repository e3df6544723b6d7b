//! Sessions (the cookie a launch turns into), their CSRF tokens, and the OAuth browser binding.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use sync_core::domain::{GroupId, Tenant, Timestamp};

use crate::jws::{self, JwsError};
use crate::keys::LaunchSecret;
use crate::launch::LaunchClaims;

/// How long a session lasts after its launch; then the user opens the connector again from the hub.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// A signed-in user of one tenant, on one Connec! group's page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The tenant.
    pub tenant: String,
    /// The one group this session may see and change.
    pub group_id: String,
    /// The user.
    pub sub: String,
    /// The user's name, if the launch said it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Expires at (seconds since the epoch).
    pub exp: i64,
    /// The token every state-changing request of this session carries (a form field or the
    /// `x-csrf-token` header).
    pub csrf: String,
}

/// Why a session cookie was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Malformed or not signed by us.
    #[error("the session is not valid ({0}); open the connector again from Connec!")]
    Invalid(#[from] JwsError),
    /// Past its expiry.
    #[error("the session has expired; open the connector again from Connec!")]
    Expired,
    /// For another tenant than this connector's.
    #[error("the session is for another connector")]
    WrongTenant,
}

impl Session {
    /// The session a checked launch opens at `now`, with a fresh random CSRF token.
    pub fn from_launch(claims: &LaunchClaims, now: Timestamp) -> Self {
        let csrf: [u8; 24] = rand::random();
        Self {
            tenant: claims.tenant.clone(),
            group_id: claims.group_id.clone(),
            sub: claims.sub.clone(),
            name: claims.name.clone(),
            exp: now.epoch_millis() / 1000 + i64::try_from(SESSION_LIFETIME.as_secs()).unwrap_or(0),
            csrf: URL_SAFE_NO_PAD.encode(csrf),
        }
    }

    /// The cookie value.
    pub fn seal(&self, secret: &LaunchSecret) -> String {
        jws::sign(secret.session_key(), self)
    }

    /// Reads a cookie value for this connector's `tenant` at `now`.
    ///
    /// # Errors
    ///
    /// A [`SessionError`].
    pub fn open(
        secret: &LaunchSecret,
        cookie: &str,
        tenant: &Tenant,
        now: Timestamp,
    ) -> Result<Self, SessionError> {
        let session: Session = jws::verify(secret.session_key(), cookie)?;
        if session.exp <= now.epoch_millis() / 1000 {
            return Err(SessionError::Expired);
        }
        if session.tenant != tenant.as_str() {
            return Err(SessionError::WrongTenant);
        }
        Ok(session)
    }

    /// The group, typed.
    pub fn group(&self) -> GroupId {
        GroupId::new(self.group_id.clone())
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        !presented.is_empty() && bool::from(self.csrf.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// Seconds left at `now` (for the cookie's `Max-Age`).
    pub fn seconds_left(&self, now: Timestamp) -> i64 {
        (self.exp - now.epoch_millis() / 1000).max(0)
    }
}

/// The value of the cookie that binds an OAuth `state` to the browser that started the flow: a
/// MAC of the state, so nothing has to be stored, and a callback opened in another browser (a
/// link sent to a victim, a forged callback) is refused before the state is consumed.
pub struct BrowserBinding;

impl BrowserBinding {
    /// The cookie value for `state`.
    pub fn for_state(secret: &LaunchSecret, state: &str) -> String {
        URL_SAFE_NO_PAD.encode(jws::mac(secret.binding_key(), state.as_bytes()))
    }

    /// Whether `cookie` was set for `state` by this connector.
    pub fn matches(secret: &LaunchSecret, state: &str, cookie: &str) -> bool {
        let expected = Self::for_state(secret, state);
        !cookie.is_empty() && bool::from(expected.as_bytes().ct_eq(cookie.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> LaunchSecret {
        LaunchSecret::new("a-launch-secret-of-at-least-32-bytes!").unwrap()
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::parse(&(secs * 1000).to_string()).unwrap()
    }

    fn launch() -> LaunchClaims {
        LaunchClaims {
            tenant: "acme".into(),
            group_id: "cld-abc".into(),
            sub: "usr-1".into(),
            name: None,
            iat: 1000,
            exp: 1300,
        }
    }

    #[test]
    fn sessions_round_trip_expire_and_stay_with_their_tenant() {
        let tenant = Tenant::new("acme");
        let session = Session::from_launch(&launch(), at(1000));
        let cookie = session.seal(&secret());
        assert_eq!(
            Session::open(&secret(), &cookie, &tenant, at(1001)),
            Ok(session.clone())
        );
        assert_eq!(
            Session::open(&secret(), &cookie, &tenant, at(1000 + 30 * 60)),
            Err(SessionError::Expired)
        );
        assert_eq!(
            Session::open(&secret(), &cookie, &Tenant::new("other"), at(1001)),
            Err(SessionError::WrongTenant)
        );
        let other = LaunchSecret::new(&"o".repeat(32)).unwrap();
        assert_eq!(
            Session::open(&other, &cookie, &tenant, at(1001)),
            Err(SessionError::Invalid(JwsError::BadSignature))
        );
        // A launch token is not a session (different keys), and the other way round.
        let token = crate::LaunchToken::mint(&secret(), &launch());
        assert!(Session::open(&secret(), &token, &tenant, at(1001)).is_err());
        assert!(crate::LaunchToken::verify(&secret(), &cookie, &tenant, at(1001)).is_err());
    }

    #[test]
    fn csrf_tokens_are_random_and_checked() {
        let a = Session::from_launch(&launch(), at(1000));
        let b = Session::from_launch(&launch(), at(1000));
        assert_ne!(a.csrf, b.csrf);
        assert!(a.csrf_matches(&a.csrf.clone()));
        assert!(!a.csrf_matches(&b.csrf));
        assert!(!a.csrf_matches(""));
    }

    #[test]
    fn bindings_match_their_state_only() {
        let cookie = BrowserBinding::for_state(&secret(), "state-1");
        assert!(BrowserBinding::matches(&secret(), "state-1", &cookie));
        assert!(!BrowserBinding::matches(&secret(), "state-2", &cookie));
        assert!(!BrowserBinding::matches(&secret(), "state-1", ""));
        let other = LaunchSecret::new(&"o".repeat(32)).unwrap();
        assert!(!BrowserBinding::matches(&other, "state-1", &cookie));
    }
}
