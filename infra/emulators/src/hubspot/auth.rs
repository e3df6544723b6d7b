//! Who may call what, and the gate of the counted routes ([`Gatekeeper`] for the emulator):
//! the CRM API takes static private-app tokens (per portal) and OAuth access tokens, is rate
//! limited per token and fails by injected and scheduled faults; the webhooks API takes a
//! bearer token or a `hapikey`. Also the `401` answers and HubSpot's rate-limit headers.

use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::errors::error_response;
use super::state::Source;
use super::{Inner, JSON, scheduled, webhook_routes};
use crate::common::{
    ApiError, FaultKind, Gatekeeper, RateLimit, json_response, lock, query_pairs, set_header,
};

/// The families of gated routes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Family {
    /// `/crm/v3/...` and `/account-info/v3/details`.
    Crm,
    /// `/webhooks/v3/{appId}/...`: no rate limit, no call faults.
    Webhooks,
}

/// Why the gate refused a call: `401` either way.
pub(super) enum Refusal {
    /// No or unknown credentials.
    Unauthenticated,
    /// A known OAuth access token past its expiry.
    Expired,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthenticated => unauthorized_response(),
            Self::Expired => expired_response(),
        }
    }
}

impl Gatekeeper for Inner {
    type Family = Family;
    type Refusal = Refusal;

    /// CRM calls leave their [`Source`] (portal, OAuth app) for the handlers.
    fn admit(&self, family: Family, parts: &mut Parts) -> Result<Option<String>, Refusal> {
        if let Family::Webhooks = family {
            let query = query_pairs(parts.uri.query());
            let allowed = webhook_routes::allowed(self, &query, &parts.headers);
            return if allowed {
                Ok(None)
            } else {
                Err(Refusal::Unauthenticated)
            };
        }
        match authenticate(self, &parts.headers) {
            Auth::Valid {
                token,
                oauth,
                portal,
            } => {
                parts.extensions.insert(Source {
                    portal,
                    change_source: "INTEGRATION",
                    source_id: oauth
                        .then(|| self.config.oauth.as_ref().map(|a| a.app_id.to_string()))
                        .flatten(),
                });
                Ok(Some(token))
            }
            Auth::Expired => Err(Refusal::Expired),
            Auth::Missing => Err(Refusal::Unauthenticated),
        }
    }

    fn rate_limit(&self) -> Option<RateLimit> {
        self.config.rate_limit
    }

    fn too_many_requests(limit: RateLimit, retry_after_secs: u64) -> Response {
        let mut r = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            JSON,
            &json!({
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": uuid::Uuid::new_v4().to_string(),
                "policyName": "TEN_SECONDLY_ROLLING",
                "category": "RATE_LIMITS",
            }),
        );
        rate_headers(&mut r, limit, 0);
        set_header(&mut r, "retry-after", retry_after_secs);
        r
    }

    fn rate_headers(answer: &mut Response, limit: RateLimit, remaining: u32) {
        rate_headers(answer, limit, remaining);
    }

    /// A scheduled fault first, then the plain call faults.
    fn fault_before(&self, family: Family, method: &str, path: &str) -> Option<FaultKind> {
        match family {
            Family::Crm => scheduled::take(&mut lock(&self.scheduled), false, method, path)
                .or_else(|| self.instruments.faults.take_call(method, path)),
            Family::Webhooks => None,
        }
    }

    /// A scheduled fault after commit: the change happened, the answer is lost.
    fn fault_after(&self, family: Family, method: &str, path: &str) -> Option<FaultKind> {
        match family {
            Family::Crm => scheduled::take(&mut lock(&self.scheduled), true, method, path),
            Family::Webhooks => None,
        }
    }
}

/// The bearer token of a request, whatever it is.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty()).then_some(token)
}

/// Outcome of checking a request's credentials.
pub(super) enum Auth {
    /// A static token (`oauth = false`) or a live OAuth access token, of a portal.
    Valid {
        token: String,
        oauth: bool,
        portal: u64,
    },
    /// A known OAuth access token past its expiry.
    Expired,
    /// No or unknown credentials.
    Missing,
}

/// Checks the bearer token of a request.
pub(super) fn authenticate(inner: &Inner, headers: &HeaderMap) -> Auth {
    let Some(token) = bearer_token(headers) else {
        return Auth::Missing;
    };
    if inner.config.access_tokens.iter().any(|t| t == token) {
        return Auth::Valid {
            token: token.to_string(),
            oauth: false,
            portal: inner.default_portal(),
        };
    }
    if let Some(portal) = lock(&inner.portal_tokens).get(token) {
        return Auth::Valid {
            token: token.to_string(),
            oauth: false,
            portal: *portal,
        };
    }
    match lock(&inner.oauth).access_token(token) {
        Some((true, portal)) => Auth::Valid {
            token: token.to_string(),
            oauth: true,
            portal,
        },
        Some((false, _)) => Auth::Expired,
        None => Auth::Missing,
    }
}

/// `401 INVALID_AUTHENTICATION`.
fn unauthorized_response() -> Response {
    error_response(&ApiError::Unauthorized(
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview".into(),
    ))
}

/// `401 EXPIRED_AUTHENTICATION`, for a known OAuth token past its expiry.
fn expired_response() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        JSON,
        &json!({
            "status": "error",
            "message": "The OAuth token used to make this call expired. Please refresh the token and try again.",
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "category": "EXPIRED_AUTHENTICATION",
        }),
    )
}

/// HubSpot's `X-HubSpot-RateLimit-*` headers.
fn rate_headers(r: &mut Response, limit: RateLimit, remaining: u32) {
    set_header(r, "x-hubspot-ratelimit-max", limit.max);
    set_header(r, "x-hubspot-ratelimit-remaining", remaining);
    set_header(
        r,
        "x-hubspot-ratelimit-interval-milliseconds",
        limit.interval_ms,
    );
}
