//! A tiny OAuth2 token endpoint on 127.0.0.1 for the tests: counts calls, can delay refreshes,
//! rotates single-use refresh tokens, checks PKCE, and answers `invalid_grant`.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use linking::{OAuthApp, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use sync_core::domain::Timestamp;

pub const CLIENT_ID: &str = "client-123";
pub const CLIENT_SECRET: &str = "client-SECRET-value";
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";
pub const EXPIRES_IN: u64 = 1800;

#[derive(Default)]
pub struct Inner {
    /// Every POST to the token endpoint.
    pub calls: usize,
    /// Refresh-token grants among them.
    pub refresh_calls: usize,
    /// Authorization codes issued, with their PKCE challenge.
    pub codes: HashMap<String, Option<String>>,
    /// Refresh tokens the endpoint honours (each one once).
    pub valid_refresh: HashSet<String>,
    /// Refresh tokens are single-use (Xero); when false they stay valid and are re-sent.
    pub rotate: bool,
    /// Sleep before answering a refresh.
    pub refresh_delay: Duration,
    /// Answer every request with this status and no OAuth body.
    pub fail_status: Option<u16>,
    /// Answer every request with this OAuth error (400).
    pub fail_error: Option<String>,
    /// Tokens issued so far.
    pub issued: usize,
    /// The newest refresh token issued.
    pub newest_refresh: Option<String>,
}

#[derive(Clone)]
pub struct TokenServer {
    pub addr: SocketAddr,
    pub inner: Arc<Mutex<Inner>>,
}

impl TokenServer {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            rotate: true,
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/token", post(token))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, inner }
    }

    pub fn app(&self) -> OAuthApp {
        let mut app = OAuthApp::new(
            "hubspot",
            CLIENT_ID,
            SecretString::new(CLIENT_SECRET),
            format!("http://{}/authorize", self.addr),
            format!("http://{}/token", self.addr),
            REDIRECT_URI,
        );
        app.scopes = vec!["crm.objects.contacts.read".to_owned(), "oauth".to_owned()];
        app
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// What the browser would bring back after consent: a code bound to the PKCE challenge.
    pub fn issue_code(&self, challenge: Option<&str>) -> String {
        let mut inner = self.lock();
        let code = format!("code-{}", inner.codes.len() + 1);
        inner
            .codes
            .insert(code.clone(), challenge.map(str::to_owned));
        code
    }

    /// A refresh token the endpoint honours (as if issued at link time).
    pub fn seed_refresh_token(&self, token: &str) {
        let mut inner = self.lock();
        inner.valid_refresh.insert(token.to_owned());
        inner.newest_refresh = Some(token.to_owned());
    }

    /// Another process refreshing directly: consumes `refresh` and returns the new pair.
    pub fn rotate_now(&self, refresh: &str) -> Option<(String, String)> {
        let mut inner = self.lock();
        if !inner.valid_refresh.remove(refresh) {
            return None;
        }
        let (access, refresh) = issue(&mut inner);
        Some((access, refresh))
    }

    pub fn calls(&self) -> usize {
        self.lock().calls
    }

    pub fn refresh_calls(&self) -> usize {
        self.lock().refresh_calls
    }
}

fn issue(inner: &mut Inner) -> (String, String) {
    inner.issued += 1;
    let n = inner.issued;
    let access = format!("ACCESS-tok-{n:04}-q8x");
    let refresh = format!("REFRESH-tok-{n:04}-z3k");
    inner.valid_refresh.insert(refresh.clone());
    inner.newest_refresh = Some(refresh.clone());
    (access, refresh)
}

fn oauth_error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": code }))).into_response()
}

async fn token(State(inner): State<Arc<Mutex<Inner>>>, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let delay = {
        let mut state = inner.lock().unwrap();
        state.calls += 1;
        if form.get("grant_type").map(String::as_str) == Some("refresh_token") {
            state.refresh_calls += 1;
        }
        state.refresh_delay
    };
    if form.get("grant_type").map(String::as_str) == Some("refresh_token") && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut state = inner.lock().unwrap();
    if let Some(status) = state.fail_status {
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    if let Some(error) = state.fail_error.clone() {
        return oauth_error(&error);
    }
    if form.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(code) = form.get("code") else {
                return oauth_error("invalid_request");
            };
            let Some(challenge) = state.codes.remove(code) else {
                return oauth_error("invalid_grant");
            };
            if form.get("redirect_uri").map(String::as_str) != Some(REDIRECT_URI) {
                return oauth_error("invalid_grant");
            }
            if let Some(challenge) = challenge {
                let Some(verifier) = form.get("code_verifier") else {
                    return oauth_error("invalid_grant");
                };
                let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                if computed != challenge {
                    return oauth_error("invalid_grant");
                }
            }
            let (access, refresh) = issue(&mut state);
            Json(json!({
                "token_type": "bearer",
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": EXPIRES_IN,
            }))
            .into_response()
        }
        Some("refresh_token") => {
            let Some(presented) = form.get("refresh_token").cloned() else {
                return oauth_error("invalid_request");
            };
            if !state.valid_refresh.contains(&presented) {
                return oauth_error("invalid_grant");
            }
            if state.rotate {
                state.valid_refresh.remove(&presented);
                let (access, refresh) = issue(&mut state);
                Json(json!({
                    "token_type": "bearer",
                    "access_token": access,
                    "refresh_token": refresh,
                    "expires_in": EXPIRES_IN,
                }))
                .into_response()
            } else {
                state.issued += 1;
                let n = state.issued;
                Json(json!({
                    "token_type": "Bearer",
                    "access_token": format!("ACCESS-tok-{n:04}-q8x"),
                    "expires_in": EXPIRES_IN,
                }))
                .into_response()
            }
        }
        _ => oauth_error("unsupported_grant_type"),
    }
}

pub fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

/// Query parameters of a URL.
pub fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}
