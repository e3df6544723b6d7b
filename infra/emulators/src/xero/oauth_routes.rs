//! The identity endpoints, on the emulator's one server (Xero's hosts in brackets):
//!
//! - `GET /identity/connect/authorize` (login.xero.com): consent, auto-approved, for the
//!   tenants of [`super::XeroEmulator::consent_as_tenant`]; `302` to
//!   `redirect_uri?code=..&scope=..&state=..`. Codes live 5 minutes and are single-use.
//! - `POST /connect/token` (identity.xero.com): `authorization_code` (with `code_verifier`
//!   when a challenge was given) and `refresh_token` grants; client credentials by HTTP Basic
//!   or in the form. Errors are `400 {"error": "invalid_grant" | "invalid_client" | ...}`.
//! - `POST /connect/revocation` (identity.xero.com): revokes a refresh token, its session's
//!   tokens and connections.
//! - `GET /connections`, `DELETE /connections/{id}` (api.xero.com), with a bearer token;
//!   `/Connections` as the OpenAPI file spells it works too. These are gated (counted, 401
//!   without a valid token) in [`super::routes`].

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::auth::Caller;
use super::errors::problem;
use super::oauth::{Code, secret_eq};
use super::{Inner, JSON};
use crate::common::{
    PathParams, QueryPairs, basic_credentials, empty_response, json_response, lock, otherwise,
    raw_response, set_header, unmatched,
};

/// Lifetime of an authorization code (Xero: 5 minutes).
const CODE_TTL_MS: i64 = 300_000;

/// The ungated identity routes.
pub(super) fn routes() -> Router<Arc<Inner>> {
    let only = || otherwise(unmatched::<Inner>);
    Router::new()
        .route("/identity/connect/authorize", only().get(authorize))
        .route("/connect/token", only().post(token))
        .route("/connect/revocation", only().post(revocation))
}

fn get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn page(status: StatusCode, error: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><title>Error</title></head><body><h1>Sorry, something went wrong</h1><p>Error: {error}</p></body></html>"
    );
    raw_response(status, "text/html; charset=utf-8", body.into_bytes())
}

/// `GET /identity/connect/authorize`.
async fn authorize(State(inner): State<Arc<Inner>>, QueryPairs(q): QueryPairs) -> Response {
    let app = &inner.config.app;
    if get(&q, "client_id") != Some(app.client_id.as_str()) {
        return page(StatusCode::BAD_REQUEST, "unauthorized_client");
    }
    let Some(redirect) = get(&q, "redirect_uri") else {
        return page(StatusCode::BAD_REQUEST, "invalid_request");
    };
    let registered =
        app.redirect_uris.is_empty() || app.redirect_uris.iter().any(|u| u == redirect);
    let Ok(mut target) = url::Url::parse(redirect) else {
        return page(StatusCode::BAD_REQUEST, "invalid_request");
    };
    if !registered {
        return page(StatusCode::BAD_REQUEST, "invalid_request");
    }
    if get(&q, "response_type") != Some("code") {
        return page(StatusCode::BAD_REQUEST, "unsupported_response_type");
    }
    let challenge = get(&q, "code_challenge").map(str::to_owned);
    if challenge.is_some() && get(&q, "code_challenge_method") != Some("S256") {
        return page(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let scopes: Vec<String> = get(&q, "scope")
        .unwrap_or_default()
        .split([' ', '+'])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let code = URL_SAFE_NO_PAD.encode(Sha256::digest(uuid::Uuid::new_v4().as_bytes()));
    let now = inner.clock.peek_ms();
    {
        let mut o = lock(&inner.oauth);
        let tenants = o
            .consent
            .clone()
            .unwrap_or_else(|| inner.default_tenant().into_iter().collect());
        o.codes.insert(
            code.clone(),
            Code {
                tenants,
                redirect_uri: redirect.to_owned(),
                challenge,
                scopes: scopes.clone(),
                expires_ms: now + CODE_TTL_MS,
            },
        );
    }
    {
        let mut pairs = target.query_pairs_mut();
        pairs.append_pair("code", &code);
        pairs.append_pair("scope", &scopes.join(" "));
        if let Some(s) = get(&q, "state") {
            pairs.append_pair("state", s);
        }
        pairs.append_pair("session_state", &uuid::Uuid::new_v4().simple().to_string());
    }
    let mut r = empty_response(StatusCode::FOUND);
    set_header(&mut r, "location", target.as_str());
    r
}

fn oauth_error(error: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, JSON, &json!({ "error": error }))
}

/// Client credentials from an HTTP Basic header or the form.
fn client_credentials(form: &[(String, String)], headers: &HeaderMap) -> (String, String) {
    let basic = basic_credentials(headers)
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.split_once(':').map(|(a, b)| (a.to_owned(), b.to_owned())));
    match basic {
        Some(pair) => pair,
        None => (
            get(form, "client_id").unwrap_or_default().to_owned(),
            get(form, "client_secret").unwrap_or_default().to_owned(),
        ),
    }
}

/// Whether the request authenticates the app (public clients need no secret).
fn client_ok(inner: &Inner, form: &[(String, String)], headers: &HeaderMap) -> bool {
    let app = &inner.config.app;
    let (id, secret) = client_credentials(form, headers);
    id == app.client_id && (app.client_secret.is_empty() || secret_eq(&secret, &app.client_secret))
}

/// `POST /connect/token`.
async fn token(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let delay = {
        let mut o = lock(&inner.oauth);
        o.token_requests += 1;
        o.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    if !client_ok(&inner, &form, &headers) {
        return oauth_error("invalid_client");
    }
    let cfg = &inner.config;
    let now = inner.clock.peek_ms();
    let mut o = lock(&inner.oauth);
    match get(&form, "grant_type") {
        Some("authorization_code") => {
            let Some(code) = get(&form, "code") else {
                return oauth_error("invalid_request");
            };
            // Single use: consumed whatever happens next.
            let Some(c) = o.codes.remove(code) else {
                return oauth_error("invalid_grant");
            };
            if now >= c.expires_ms || get(&form, "redirect_uri") != Some(c.redirect_uri.as_str()) {
                return oauth_error("invalid_grant");
            }
            if let Some(challenge) = &c.challenge {
                let ok = get(&form, "code_verifier").is_some_and(|v| {
                    secret_eq(
                        &URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())),
                        challenge,
                    )
                });
                if !ok {
                    return oauth_error("invalid_grant");
                }
            }
            let session = o.open_session(&c.tenants, now);
            let answer = o.issue(
                &session,
                &c.scopes,
                &cfg.app.client_id,
                now,
                cfg.access_token_ttl,
                cfg.refresh_token_ttl,
            );
            json_response(StatusCode::OK, JSON, &answer)
        }
        Some("refresh_token") => {
            let Some(refresh) = get(&form, "refresh_token") else {
                return oauth_error("invalid_request");
            };
            // Single use: the old token is gone once this answer is made.
            let Some(r) = o.refresh.remove(refresh) else {
                return oauth_error("invalid_grant");
            };
            if now >= r.expires_ms {
                return oauth_error("invalid_grant");
            }
            let answer = o.issue(
                &r.session,
                &r.scopes,
                &cfg.app.client_id,
                now,
                cfg.access_token_ttl,
                cfg.refresh_token_ttl,
            );
            json_response(StatusCode::OK, JSON, &answer)
        }
        Some(_) => oauth_error("unsupported_grant_type"),
        None => oauth_error("invalid_request"),
    }
}

/// `POST /connect/revocation` (`token` = a refresh token).
async fn revocation(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    if !client_ok(&inner, &form, &headers) {
        return oauth_error("invalid_client");
    }
    let Some(token) = get(&form, "token") else {
        return oauth_error("invalid_request");
    };
    // RFC 7009: an unknown token is no error.
    lock(&inner.oauth).revoke(token);
    empty_response(StatusCode::OK)
}

/// `GET /connections[?authEventId=..]`.
pub(super) async fn connections(
    State(inner): State<Arc<Inner>>,
    Extension(caller): Extension<Caller>,
    QueryPairs(q): QueryPairs,
) -> Response {
    let names = inner.tenant_names();
    let mut list = lock(&inner.oauth).connections(&caller.session, &names);
    if let (Some(event), Some(items)) = (get(&q, "authEventId"), list.as_array_mut()) {
        items.retain(|c| {
            c["authEventId"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(event))
        });
    }
    json_response(StatusCode::OK, JSON, &list)
}

/// `DELETE /connections/{id}`.
pub(super) async fn delete_connection(
    State(inner): State<Arc<Inner>>,
    Extension(caller): Extension<Caller>,
    params: PathParams,
) -> Response {
    let id = params.get("id");
    let mut o = lock(&inner.oauth);
    let removed = o.sessions.get_mut(&caller.session).is_some_and(|s| {
        let before = s.connections.len();
        s.connections.retain(|c| !c.id.eq_ignore_ascii_case(id));
        s.connections.len() < before
    });
    if removed {
        empty_response(StatusCode::NO_CONTENT)
    } else {
        problem(StatusCode::NOT_FOUND, "Connection not found")
    }
}
