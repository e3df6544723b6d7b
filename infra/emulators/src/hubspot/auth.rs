//! Who may call the CRM API: static private-app tokens (per portal) and OAuth access tokens,
//! the `401` answers for missing and expired credentials, and HubSpot's rate-limit headers.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::json;

use super::errors::error_response;
use super::{Inner, JSON};
use crate::common::{ApiError, RateLimit, json_response, lock, set_header};

/// The bearer token of a request, whatever it is.
pub(super) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
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

pub(super) fn unauthorized_response() -> Response {
    error_response(&ApiError::Unauthorized(
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview".into(),
    ))
}

pub(super) fn expired_response() -> Response {
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

pub(super) fn rate_headers(r: &mut Response, limit: RateLimit, remaining: u32) {
    set_header(r, "x-hubspot-ratelimit-max", limit.max);
    set_header(r, "x-hubspot-ratelimit-remaining", remaining);
    set_header(
        r,
        "x-hubspot-ratelimit-interval-milliseconds",
        limit.interval_ms,
    );
}
