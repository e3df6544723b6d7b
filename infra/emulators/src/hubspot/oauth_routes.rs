//! The `/oauth/...` endpoints of the emulated app's authorization server (real HubSpot hosts
//! the consent page on `app.hubspot.com` and the rest on `api.hubapi.com`; here everything is
//! on the same loopback server). They need no credentials and are not counted.
//!
//! - `GET /oauth/authorize`: consent (or auto-approval), then `302` to the redirect URI;
//! - `POST /oauth/v1/token`: authorization code and refresh token grants;
//! - `GET /oauth/v1/access-tokens/{token}`, `GET|DELETE /oauth/v1/refresh-tokens/{token}`.
//!
//! Every other method or path under `/oauth` is `404 "No such OAuth route"`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::oauth::{Code, secret_eq};
use super::{Inner, JSON};
use crate::common::{
    PathParams, QueryPairs, basic_credentials, empty_response, json_response, lock, otherwise,
    raw_response, set_header, unmatched,
};

/// Lifetime of an authorization code.
const CODE_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// User reported by the token info endpoints.
const USER: &str = "demo@example.com";
const HTML: &str = "text/html; charset=utf-8";

/// The OAuth routes; other methods on them are unknown OAuth routes.
pub(super) fn routes() -> Router<Arc<Inner>> {
    let only = || otherwise(unmatched::<Inner>);
    Router::new()
        .route("/oauth/authorize", only().get(authorize))
        .route("/oauth/v1/token", only().post(token))
        .route("/oauth/v1/access-tokens/{token}", only().get(access_info))
        .route(
            "/oauth/v1/refresh-tokens/{token}",
            only().get(refresh_info).delete(revoke),
        )
}

/// The answer to any other `/oauth/...` request.
pub(super) fn no_such_route() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        JSON,
        &json!({
            "status": "error",
            "message": "No such OAuth route",
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "category": "OBJECT_NOT_FOUND",
        }),
    )
}

/// `DELETE /oauth/v1/refresh-tokens/{token}`.
async fn revoke(State(inner): State<Arc<Inner>>, params: PathParams) -> Response {
    if lock(&inner.oauth)
        .refresh
        .remove(params.get("token"))
        .is_some()
    {
        empty_response(StatusCode::NO_CONTENT)
    } else {
        not_found()
    }
}

/// An OAuth error: HubSpot's envelope plus the RFC 6749 fields.
fn oauth_error(status: &str, error: &str, message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        JSON,
        &json!({
            "status": status,
            "message": message,
            "error": error,
            "error_description": message,
            "correlationId": uuid::Uuid::new_v4().to_string(),
        }),
    )
}

fn html_page(status: StatusCode, title: &str, text: &str) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let body = format!(
        "<!doctype html><html><head><title>{t}</title></head><body><h1>{t}</h1><p>{x}</p></body></html>",
        t = esc(title),
        x = esc(text)
    );
    raw_response(status, HTML, body.into_bytes())
}

fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        JSON,
        &json!({
            "status": "error",
            "message": "Token not found",
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "category": "OBJECT_NOT_FOUND",
        }),
    )
}

fn get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `GET /oauth/authorize`.
async fn authorize(State(inner): State<Arc<Inner>>, QueryPairs(q): QueryPairs) -> Response {
    let portal = lock(&inner.oauth)
        .consenting_portal
        .unwrap_or(inner.config.portal_id);
    let Some(app) = inner
        .config
        .oauth
        .as_ref()
        .filter(|a| get(&q, "client_id") == Some(a.client_id.as_str()))
    else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "Unknown client_id: this app does not exist or is not installed.",
        );
    };
    let Some(redirect) = get(&q, "redirect_uri") else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "redirect_uri is required.",
        );
    };
    let Ok(mut target) = url::Url::parse(redirect) else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "redirect_uri is not a valid absolute URL.",
        );
    };
    let challenge = get(&q, "code_challenge").map(str::to_string);
    if challenge.is_some()
        && !get(&q, "code_challenge_method").is_some_and(|m| m.eq_ignore_ascii_case("S256"))
    {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "code_challenge_method must be S256.",
        );
    }
    let state = get(&q, "state");
    let decision = get(&q, "decision");
    if !app.auto_approve && decision.is_none() {
        let base: Vec<(String, String)> =
            q.iter().filter(|(k, _)| k != "decision").cloned().collect();
        let link = |d: &str| {
            let mut s = url::form_urlencoded::Serializer::new(String::new());
            s.extend_pairs(base.iter());
            s.append_pair("decision", d);
            format!("/oauth/authorize?{}", s.finish())
        };
        let body = format!(
            "<!doctype html><html><head><title>Connect app</title></head><body>\
             <h1>Connect app</h1><p>Grant access to portal {}?</p>\
             <p><a id=\"approve\" href=\"{}\">Approve</a> <a id=\"deny\" href=\"{}\">Deny</a></p>\
             </body></html>",
            portal,
            link("approve").replace('&', "&amp;"),
            link("deny").replace('&', "&amp;"),
        );
        return raw_response(StatusCode::OK, HTML, body.into_bytes());
    }
    {
        let mut pairs = target.query_pairs_mut();
        if decision.is_some_and(|d| d.eq_ignore_ascii_case("deny")) {
            pairs.append_pair("error", "access_denied");
            pairs.append_pair("error_description", "The user denied access");
        } else {
            let scopes: Vec<String> = ["scope", "optional_scope"]
                .iter()
                .filter_map(|k| get(&q, k))
                .flat_map(|s| s.split([' ', ',', '+']))
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let code = uuid::Uuid::new_v4().to_string();
            lock(&inner.oauth).codes.insert(
                code.clone(),
                Code {
                    portal,
                    redirect_uri: redirect.to_string(),
                    challenge,
                    scopes,
                    expires: Instant::now() + CODE_TTL,
                },
            );
            pairs.append_pair("code", &code);
        }
        if let Some(s) = state {
            pairs.append_pair("state", s);
        }
    }
    let mut r = empty_response(StatusCode::FOUND);
    set_header(&mut r, "location", target.as_str());
    r
}

/// Client credentials from the form body or an HTTP Basic header.
fn client_credentials(form: &[(String, String)], headers: &HeaderMap) -> (String, String) {
    let basic = basic_credentials(headers)
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            s.split_once(':').map(|(id, secret)| {
                let dec = |x: &str| {
                    url::form_urlencoded::parse(format!("v={x}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                (dec(id), dec(secret))
            })
        });
    let id = get(form, "client_id").map(str::to_string);
    let secret = get(form, "client_secret").map(str::to_string);
    match (id, secret, basic) {
        (Some(i), Some(s), _) => (i, s),
        (i, s, Some((bi, bs))) => (i.unwrap_or(bi), s.unwrap_or(bs)),
        (i, s, None) => (i.unwrap_or_default(), s.unwrap_or_default()),
    }
}

/// `POST /oauth/v1/token`.
async fn token(State(inner): State<Arc<Inner>>, headers: HeaderMap, bytes: Bytes) -> Response {
    let delay = {
        let mut o = lock(&inner.oauth);
        o.token_requests += 1;
        o.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let (client_id, client_secret) = client_credentials(&form, &headers);
    let Some(app) = inner
        .config
        .oauth
        .as_ref()
        .filter(|a| a.client_id == client_id)
    else {
        return oauth_error(
            "BAD_CLIENT_ID",
            "invalid_client",
            "missing or unknown client id",
        );
    };
    if !secret_eq(&client_secret, &app.client_secret) {
        return oauth_error(
            "BAD_CLIENT_SECRET",
            "invalid_client",
            "missing or invalid client secret",
        );
    }
    match get(&form, "grant_type") {
        Some("authorization_code") => {
            let (Some(code), Some(redirect)) = (get(&form, "code"), get(&form, "redirect_uri"))
            else {
                return oauth_error(
                    "BAD_REQUEST",
                    "invalid_request",
                    "code and redirect_uri are required",
                );
            };
            let mut o = lock(&inner.oauth);
            // Single use: the code is consumed whatever happens next.
            let Some(c) = o.codes.remove(code) else {
                return oauth_error(
                    "BAD_AUTH_CODE",
                    "invalid_grant",
                    "missing or unknown auth code (codes are single-use)",
                );
            };
            if Instant::now() >= c.expires {
                return oauth_error("BAD_AUTH_CODE", "invalid_grant", "auth code expired");
            }
            if c.redirect_uri != redirect {
                return oauth_error(
                    "BAD_REDIRECT_URI",
                    "invalid_grant",
                    "redirect_uri does not match the one used to get the code",
                );
            }
            if let Some(challenge) = &c.challenge {
                let ok = get(&form, "code_verifier").is_some_and(|v| {
                    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
                    secret_eq(&computed, challenge)
                });
                if !ok {
                    return oauth_error(
                        "BAD_AUTH_CODE",
                        "invalid_grant",
                        "code_verifier does not match the code_challenge",
                    );
                }
            }
            let body = o.issue(app, c.portal, c.scopes, None);
            json_response(StatusCode::OK, JSON, &body)
        }
        Some("refresh_token") => {
            let Some(refresh) = get(&form, "refresh_token") else {
                return oauth_error(
                    "BAD_REQUEST",
                    "invalid_request",
                    "refresh_token is required",
                );
            };
            let mut o = lock(&inner.oauth);
            let (portal, scopes) = match o.refresh.get(refresh) {
                Some(r) => (r.portal, r.scopes.clone()),
                None => {
                    return oauth_error(
                        "BAD_REFRESH_TOKEN",
                        "invalid_grant",
                        "missing or unknown refresh token",
                    );
                }
            };
            let keep = if app.rotate_refresh_tokens {
                o.refresh.remove(refresh);
                None
            } else {
                Some(refresh.to_string())
            };
            let body = o.issue(app, portal, scopes, keep);
            json_response(StatusCode::OK, JSON, &body)
        }
        Some(_) => oauth_error(
            "BAD_GRANT_TYPE",
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        ),
        None => oauth_error(
            "BAD_GRANT_TYPE",
            "invalid_request",
            "grant_type is required",
        ),
    }
}

/// `GET /oauth/v1/access-tokens/{token}`.
async fn access_info(State(inner): State<Arc<Inner>>, params: PathParams) -> Response {
    let token = params.get("token");
    let (Some(app), Some(info)) = (inner.config.oauth.as_ref(), {
        let o = lock(&inner.oauth);
        o.access.get(token).map(|a| {
            (
                a.portal,
                a.scopes.clone(),
                a.expires
                    .saturating_duration_since(Instant::now())
                    .as_secs(),
            )
        })
    }) else {
        return not_found();
    };
    let (portal, scopes, expires_in) = info;
    json_response(
        StatusCode::OK,
        JSON,
        &json!({
            "token": token,
            "user": USER,
            "hub_domain": format!("demo-{portal}.hubspot.com"),
            "scopes": scopes,
            "hub_id": portal,
            "app_id": app.app_id,
            "expires_in": expires_in,
            "user_id": 1,
            "token_type": "access",
        }),
    )
}

/// `GET /oauth/v1/refresh-tokens/{token}`.
async fn refresh_info(State(inner): State<Arc<Inner>>, params: PathParams) -> Response {
    let token = params.get("token");
    let (Some(app), Some((portal, scopes))) = (
        inner.config.oauth.as_ref(),
        lock(&inner.oauth)
            .refresh
            .get(token)
            .map(|r| (r.portal, r.scopes.clone())),
    ) else {
        return not_found();
    };
    json_response(
        StatusCode::OK,
        JSON,
        &json!({
            "token": token,
            "user": USER,
            "hub_domain": format!("demo-{portal}.hubspot.com"),
            "scopes": scopes,
            "hub_id": portal,
            "client_id": app.client_id,
            "user_id": 1,
            "token_type": "refresh",
        }),
    )
}
