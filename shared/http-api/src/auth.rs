//! Cookies and callers: the session cookie, the OAuth browser-binding cookie, and who is
//! calling the JSON API (a session for the group, or the tenant's API credentials).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use service::{AccessError, ConnectorService, Session};

use crate::respond::{ApiError, PageError};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "connector_session";
/// The header a session's state-changing API requests carry their CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The cookie binding an OAuth flow of `provider` to this browser.
pub fn binding_cookie_name(provider: &str) -> String {
    format!("connector_oauth_{provider}")
}

/// The value of the cookie `name`, if the request has it.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, `Secure` when served over https.
pub fn set_cookie(
    service: &ConnectorService,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if service.settings().public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("connector_invalid=; Max-Age=0"))
}

/// The session of a page request (the cookie); refused with the reason.
pub struct PageSession(pub Session);

impl FromRequestParts<Arc<ConnectorService>> for PageSession {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<ConnectorService>,
    ) -> Result<Self, Self::Rejection> {
        service
            .session(cookie(&parts.headers, SESSION_COOKIE))
            .map(PageSession)
            .map_err(PageError::Access)
    }
}

/// Who calls the JSON API.
pub enum ApiCaller {
    /// A person, through the page's session (one group; CSRF-checked for changes).
    Session(Session),
    /// The hub or a script, with the tenant's API credentials (any group of the tenant).
    Tenant,
}

impl ApiCaller {
    /// Refused unless the caller may act for `group`.
    pub fn may_act_for(&self, group: &str) -> Result<(), AccessError> {
        match self {
            ApiCaller::Tenant => Ok(()),
            ApiCaller::Session(session) if session.group_id == group => Ok(()),
            ApiCaller::Session(_) => Err(AccessError::WrongGroup),
        }
    }
}

impl FromRequestParts<Arc<ConnectorService>> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Arc<ConnectorService>,
    ) -> Result<Self, Self::Rejection> {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if authorization.is_some() {
            // Credentials given: they must be right (no falling back to a cookie).
            return if service.tenant_credentials_match(authorization) {
                Ok(ApiCaller::Tenant)
            } else {
                tracing::warn!("JSON API call with wrong tenant credentials refused");
                Err(ApiError::Access(AccessError::NoSession))
            };
        }
        let session = service.session(cookie(&parts.headers, SESSION_COOKIE))?;
        if parts.method != Method::GET && parts.method != Method::HEAD {
            let presented = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !session.csrf_matches(presented) {
                return Err(ApiError::Access(AccessError::Csrf));
            }
        }
        Ok(ApiCaller::Session(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cookies_among_many() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; connector_session=xyz"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=\"2\""));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "connector"), None);
    }
}
