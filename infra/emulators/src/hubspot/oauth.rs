//! OAuth 2.0 authorization server of the emulated HubSpot app:
//! authorization code (with optional PKCE S256), refresh tokens (optionally
//! single-use), token info and revocation.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{HubSpotEmulator, Inner, JSON};
use crate::common::{empty_response, json_response, lock, raw_response, set_header};

/// Lifetime of an authorization code.
const CODE_TTL: Duration = Duration::from_secs(600);
/// User reported by the token info endpoint.
const USER: &str = "demo@example.com";
const HTML: &str = "text/html; charset=utf-8";

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

struct Code {
    portal: u64,
    redirect_uri: String,
    challenge: Option<String>,
    scopes: Vec<String>,
    expires: Instant,
}

struct Access {
    portal: u64,
    scopes: Vec<String>,
    expires: Instant,
}

struct Refresh {
    portal: u64,
    scopes: Vec<String>,
}

/// Issued codes and tokens.
#[derive(Default)]
pub(super) struct OAuthState {
    codes: HashMap<String, Code>,
    access: HashMap<String, Access>,
    refresh: HashMap<String, Refresh>,
    token_requests: u64,
    delay: Duration,
    /// The portal the next consents grant (`None`: the default portal).
    consenting_portal: Option<u64>,
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
    fn issue(
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

/// Constant-time string equality for secrets.
pub(super) fn secret_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// `/oauth/...` routes (not counted in [`crate::CallStats`]).
pub(super) async fn handle(
    inner: &Arc<Inner>,
    method: &Method,
    segs: &[&str],
    q: &[(String, String)],
    headers: &HeaderMap,
    bytes: &Bytes,
) -> Response {
    match (method, segs) {
        (&Method::GET, ["oauth", "authorize"]) => authorize(inner, q),
        (&Method::POST, ["oauth", "v1", "token"]) => token(inner, headers, bytes).await,
        (&Method::GET, ["oauth", "v1", "access-tokens", token]) => access_info(inner, token),
        (&Method::GET, ["oauth", "v1", "refresh-tokens", token]) => refresh_info(inner, token),
        (&Method::DELETE, ["oauth", "v1", "refresh-tokens", token]) => {
            if lock(&inner.oauth).refresh.remove(*token).is_some() {
                empty_response(StatusCode::NO_CONTENT)
            } else {
                not_found()
            }
        }
        _ => json_response(
            StatusCode::NOT_FOUND,
            JSON,
            &json!({
                "status": "error",
                "message": "No such OAuth route",
                "correlationId": uuid::Uuid::new_v4().to_string(),
                "category": "OBJECT_NOT_FOUND",
            }),
        ),
    }
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
fn authorize(inner: &Inner, q: &[(String, String)]) -> Response {
    let portal = lock(&inner.oauth)
        .consenting_portal
        .unwrap_or(inner.config.portal_id);
    let Some(app) = inner
        .config
        .oauth
        .as_ref()
        .filter(|a| get(q, "client_id") == Some(a.client_id.as_str()))
    else {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "Unknown client_id: this app does not exist or is not installed.",
        );
    };
    let Some(redirect) = get(q, "redirect_uri") else {
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
    let challenge = get(q, "code_challenge").map(str::to_string);
    if challenge.is_some()
        && !get(q, "code_challenge_method").is_some_and(|m| m.eq_ignore_ascii_case("S256"))
    {
        return html_page(
            StatusCode::BAD_REQUEST,
            "Authorization failed",
            "code_challenge_method must be S256.",
        );
    }
    let state = get(q, "state");
    let decision = get(q, "decision");
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
                .filter_map(|k| get(q, k))
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
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .and_then(|b| STANDARD.decode(b.trim()).ok())
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
async fn token(inner: &Arc<Inner>, headers: &HeaderMap, bytes: &Bytes) -> Response {
    let delay = {
        let mut o = lock(&inner.oauth);
        o.token_requests += 1;
        o.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(bytes).into_owned().collect();
    let (client_id, client_secret) = client_credentials(&form, headers);
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
fn access_info(inner: &Inner, token: &str) -> Response {
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
fn refresh_info(inner: &Inner, token: &str) -> Response {
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
