//! Launch tokens: the hub's signed "this user of this tenant may open this group's page".

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sync_core::domain::{GroupId, Tenant, Timestamp};

use crate::jws::{self, JwsError};
use crate::keys::LaunchSecret;

/// The longest a launch token may live (from `iat` to `exp`); longer tokens are refused, so that
/// a token that leaks (a browser history, a log) is useless within minutes.
pub const MAX_LAUNCH_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How far a token's `iat` may be ahead of our clock (the hub's clock may run fast).
const CLOCK_SKEW_SECS: i64 = 60;

/// What a launch token says (JWT claims; times in seconds since the epoch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchClaims {
    /// The tenant (the hub's customer account) the page belongs to.
    pub tenant: String,
    /// The Connec! group the user may manage.
    pub group_id: String,
    /// The user (an id; shown on the page).
    pub sub: String,
    /// The user's name, if the hub sends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
}

impl LaunchClaims {
    /// Claims for `user` of `tenant` on `group`, issued `now` and valid for `lifetime`.
    pub fn new(
        tenant: &Tenant,
        group: &GroupId,
        user: &str,
        now: Timestamp,
        lifetime: Duration,
    ) -> Self {
        let iat = now.epoch_millis() / 1000;
        Self {
            tenant: tenant.to_string(),
            group_id: group.to_string(),
            sub: user.to_owned(),
            name: None,
            iat,
            exp: iat + i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2),
        }
    }
}

/// Why a launch token was refused. The messages say what to do and never quote the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// Malformed, wrong algorithm or bad signature.
    #[error("this launch link is not valid ({0}); open the connector again from Connec!")]
    Invalid(#[from] JwsError),
    /// Past its `exp`.
    #[error("this launch link has expired; open the connector again from Connec!")]
    Expired,
    /// Issued in the future, or valid for longer than the connector accepts.
    #[error("this launch link's validity is not acceptable (issued in the future, or valid for more than {} minutes)", MAX_LAUNCH_LIFETIME.as_secs() / 60)]
    Lifetime,
    /// For another tenant than this connector's.
    #[error("this launch link is for another connector")]
    WrongTenant,
    /// The group id is not a Connec! group id, or the user is empty.
    #[error("this launch link does not name a valid Connec! group and user")]
    BadClaims,
}

/// Minting and checking launch tokens.
pub struct LaunchToken;

impl LaunchToken {
    /// Signs `claims` (for the hub's side, `connector admin-url` and tests).
    pub fn mint(secret: &LaunchSecret, claims: &LaunchClaims) -> String {
        jws::sign(secret.launch_key(), claims)
    }

    /// Checks `token` for this connector's `tenant` at `now`: signature, expiry, lifetime,
    /// tenant, group id format.
    ///
    /// # Errors
    ///
    /// A [`LaunchError`] saying which check failed.
    pub fn verify(
        secret: &LaunchSecret,
        token: &str,
        tenant: &Tenant,
        now: Timestamp,
    ) -> Result<LaunchClaims, LaunchError> {
        let claims: LaunchClaims = jws::verify(secret.launch_key(), token.trim())?;
        let now = now.epoch_millis() / 1000;
        if claims.exp <= now {
            return Err(LaunchError::Expired);
        }
        let lifetime = i64::try_from(MAX_LAUNCH_LIFETIME.as_secs()).unwrap_or(i64::MAX);
        if claims.iat > now + CLOCK_SKEW_SECS || claims.exp - claims.iat > lifetime {
            return Err(LaunchError::Lifetime);
        }
        if claims.tenant != tenant.as_str() {
            return Err(LaunchError::WrongTenant);
        }
        if !valid_group(&claims.group_id) || claims.sub.trim().is_empty() || claims.sub.len() > 256
        {
            return Err(LaunchError::BadClaims);
        }
        Ok(claims)
    }
}

fn valid_group(group: &str) -> bool {
    GroupId::parse(group).is_ok()
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

    fn claims(iat: i64, exp: i64) -> LaunchClaims {
        LaunchClaims {
            tenant: "acme".into(),
            group_id: "cld-abc".into(),
            sub: "usr-1".into(),
            name: Some("Ada".into()),
            iat,
            exp,
        }
    }

    #[test]
    fn verifies_by_table() {
        let t = Tenant::new("acme");
        let now = 1_800_000_000;
        let ok = claims(now - 10, now + 290);
        let other_key = LaunchSecret::new(&"x".repeat(40)).unwrap();
        let cases: Vec<(&str, String, Result<(), LaunchError>)> = vec![
            ("valid", LaunchToken::mint(&secret(), &ok), Ok(())),
            (
                "another key",
                LaunchToken::mint(&other_key, &ok),
                Err(LaunchError::Invalid(JwsError::BadSignature)),
            ),
            (
                "expired",
                LaunchToken::mint(&secret(), &claims(now - 600, now - 1)),
                Err(LaunchError::Expired),
            ),
            (
                "valid too long",
                LaunchToken::mint(&secret(), &claims(now, now + 16 * 60)),
                Err(LaunchError::Lifetime),
            ),
            (
                "issued in the future",
                LaunchToken::mint(&secret(), &claims(now + 120, now + 300)),
                Err(LaunchError::Lifetime),
            ),
            (
                "another tenant",
                LaunchToken::mint(
                    &secret(),
                    &LaunchClaims {
                        tenant: "other".into(),
                        ..ok.clone()
                    },
                ),
                Err(LaunchError::WrongTenant),
            ),
            (
                "path in the group",
                LaunchToken::mint(
                    &secret(),
                    &LaunchClaims {
                        group_id: "x/../cld-victim".into(),
                        ..ok.clone()
                    },
                ),
                Err(LaunchError::BadClaims),
            ),
            (
                "no user",
                LaunchToken::mint(
                    &secret(),
                    &LaunchClaims {
                        sub: " ".into(),
                        ..ok.clone()
                    },
                ),
                Err(LaunchError::BadClaims),
            ),
            (
                "garbage",
                "not-a-token".into(),
                Err(LaunchError::Invalid(JwsError::Malformed)),
            ),
        ];
        for (name, token, expected) in cases {
            let got = LaunchToken::verify(&secret(), &token, &t, at(now)).map(|_| ());
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn messages_never_quote_the_token() {
        let token = LaunchToken::mint(&secret(), &claims(0, 1));
        let error = LaunchToken::verify(&secret(), &token, &Tenant::new("acme"), at(100))
            .unwrap_err()
            .to_string();
        assert!(!error.contains(&token[..20]), "{error}");
    }
}
