//! Who may call what ([`Gatekeeper`] for the emulator): every Accounting API call needs a
//! live bearer token (`401` otherwise: `AuthenticationUnsuccessful`, or `TokenExpired`) and an
//! `xero-tenant-id` header naming a tenant that token's consent connected (`403`
//! `AuthorizationUnsuccessful` otherwise); the connections endpoints need the token only.
//! Call limits are not checked here but inside the gate, in [`super::limits`].

use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Inner;
use super::clock::iso_date;
use super::errors::problem;
use super::oauth::TokenCheck;
use crate::common::{Gatekeeper, RateLimit, lock};

/// The families of gated routes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Family {
    /// `/api.xro/2.0/...`: token, tenant, limits, faults.
    Accounting,
    /// `/connections`: token only.
    Identity,
}

/// The caller the gate admitted, for the handlers.
#[derive(Clone, Debug)]
pub(super) struct Caller {
    /// The consent session of the token.
    pub(super) session: String,
    /// The tenant of the call (Accounting API calls only).
    pub(super) tenant_id: String,
}

/// Why the gate refused a call.
pub(super) enum Refusal {
    Unauthenticated,
    Expired(i64),
    Forbidden,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthenticated => {
                let mut r = problem(StatusCode::UNAUTHORIZED, "AuthenticationUnsuccessful");
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
                r
            }
            Self::Expired(at) => {
                let mut r = problem(
                    StatusCode::UNAUTHORIZED,
                    &format!("TokenExpired: token expired at {}", iso_date(at)),
                );
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static(
                        "Bearer error=\"invalid_token\", error_description=\"The token expired\"",
                    ),
                );
                r
            }
            Self::Forbidden => problem(StatusCode::FORBIDDEN, "AuthorizationUnsuccessful"),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let t = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?
        .trim();
    (!t.is_empty()).then_some(t)
}

impl Gatekeeper for Inner {
    type Family = Family;
    type Refusal = Refusal;

    fn admit(&self, family: Family, parts: &mut Parts) -> Result<Option<String>, Refusal> {
        let token = bearer(&parts.headers).ok_or(Refusal::Unauthenticated)?;
        let o = lock(&self.oauth);
        let session = match o.check(token, self.clock.peek_ms()) {
            TokenCheck::Valid { session } => session,
            TokenCheck::Expired { at_ms } => return Err(Refusal::Expired(at_ms)),
            TokenCheck::Unknown => return Err(Refusal::Unauthenticated),
        };
        let tenant_id = match family {
            Family::Identity => String::new(),
            Family::Accounting => {
                let asked = parts
                    .headers
                    .get("xero-tenant-id")
                    .and_then(|v| v.to_str().ok())
                    .ok_or(Refusal::Forbidden)?;
                o.tenant_of(&session, asked).ok_or(Refusal::Forbidden)?
            }
        };
        parts.extensions.insert(Caller { session, tenant_id });
        Ok(None)
    }

    /// The common per-credential limiter is not used: see [`super::limits`].
    fn rate_limit(&self) -> Option<RateLimit> {
        None
    }

    fn too_many_requests(_limit: RateLimit, retry_after_secs: u64) -> Response {
        let mut r = problem(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        crate::common::set_header(&mut r, "retry-after", retry_after_secs);
        r
    }

    fn fault_before(&self, family: Family, method: &str, path: &str) -> Option<crate::FaultKind> {
        match family {
            Family::Accounting => self.instruments.faults.take_call(method, path),
            Family::Identity => None,
        }
    }
}
