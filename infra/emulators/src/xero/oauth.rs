//! OAuth 2.0 state: authorization codes (PKCE S256 checked when a challenge was given),
//! access tokens (JWT-shaped, expiring on the emulator clock), refresh tokens (single use:
//! every refresh rotates them; unused ones expire), and the connections each consent made.
//!
//! Each consent is its own user session: its connections are the tenants consented to
//! ([`super::XeroEmulator::consent_as_tenant`]), and the tokens of that session (refreshed or
//! not) may call those tenants only.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::clock::iso_date;

/// An authorization code waiting for its exchange.
pub(super) struct Code {
    pub(super) tenants: Vec<String>,
    pub(super) redirect_uri: String,
    pub(super) challenge: Option<String>,
    pub(super) scopes: Vec<String>,
    pub(super) expires_ms: i64,
}

/// One tenant a session may call.
#[derive(Clone, Debug)]
pub(super) struct Connection {
    pub(super) id: String,
    pub(super) tenant_id: String,
    pub(super) auth_event_id: String,
    pub(super) created_ms: i64,
}

/// The outcome of one consent, shared by every token refreshed from it.
pub(super) struct Session {
    pub(super) user_id: String,
    pub(super) auth_event_id: String,
    pub(super) connections: Vec<Connection>,
}

pub(super) struct Access {
    pub(super) session: String,
    pub(super) expires_ms: i64,
}

pub(super) struct Refresh {
    pub(super) session: String,
    pub(super) scopes: Vec<String>,
    pub(super) expires_ms: i64,
}

/// Every code, session and token.
#[derive(Default)]
pub(super) struct OAuthState {
    pub(super) codes: HashMap<String, Code>,
    pub(super) sessions: HashMap<String, Session>,
    pub(super) access: HashMap<String, Access>,
    pub(super) refresh: HashMap<String, Refresh>,
    /// The tenants the next consents grant (`None`: the first configured tenant).
    pub(super) consent: Option<Vec<String>>,
    pub(super) token_requests: u64,
    pub(super) delay: Duration,
}

/// What a valid access token may do.
pub(super) enum TokenCheck {
    Valid { session: String },
    Expired { at_ms: i64 },
    Unknown,
}

impl OAuthState {
    pub(super) fn check(&self, token: &str, now_ms: i64) -> TokenCheck {
        match self.access.get(token) {
            Some(a) if now_ms < a.expires_ms => TokenCheck::Valid {
                session: a.session.clone(),
            },
            Some(a) => TokenCheck::Expired {
                at_ms: a.expires_ms,
            },
            None => TokenCheck::Unknown,
        }
    }

    /// Opens a session connected to `tenants`; its id.
    pub(super) fn open_session(&mut self, tenants: &[String], now_ms: i64) -> String {
        let auth_event_id = uuid::Uuid::new_v4().to_string();
        let id = uuid::Uuid::new_v4().to_string();
        let connections = tenants
            .iter()
            .map(|t| Connection {
                id: uuid::Uuid::new_v4().to_string(),
                tenant_id: t.clone(),
                auth_event_id: auth_event_id.clone(),
                created_ms: now_ms,
            })
            .collect();
        self.sessions.insert(
            id.clone(),
            Session {
                user_id: uuid::Uuid::new_v4().to_string(),
                auth_event_id,
                connections,
            },
        );
        id
    }

    /// Issues an access token for `session` (and a refresh token when `offline_access` is
    /// among the scopes); the token endpoint's answer.
    pub(super) fn issue(
        &mut self,
        session: &str,
        scopes: &[String],
        client_id: &str,
        now_ms: i64,
        access_ttl: Duration,
        refresh_ttl: Duration,
    ) -> Value {
        let ttl = access_ttl.as_secs();
        let (user, event) = self
            .sessions
            .get(session)
            .map(|s| (s.user_id.clone(), s.auth_event_id.clone()))
            .unwrap_or_default();
        let claims = json!({
            "nbf": now_ms / 1000,
            "exp": now_ms / 1000 + ttl as i64,
            "iss": "https://identity.xero.com",
            "aud": "https://identity.xero.com/resources",
            "client_id": client_id,
            "sub": user,
            "auth_time": now_ms / 1000,
            "xero_userid": user,
            "global_session_id": session,
            "jti": uuid::Uuid::new_v4().simple().to_string(),
            "authentication_event_id": event,
            "scope": scopes,
        });
        let access = jwt(&claims);
        self.access.insert(
            access.clone(),
            Access {
                session: session.to_owned(),
                expires_ms: now_ms + access_ttl.as_millis() as i64,
            },
        );
        let mut answer = json!({
            "access_token": access,
            "expires_in": ttl,
            "token_type": "Bearer",
            "scope": scopes.join(" "),
        });
        if scopes.iter().any(|s| s == "openid") {
            answer["id_token"] = jwt(&json!({
                "sub": user,
                "iss": "https://identity.xero.com",
                "aud": client_id,
                "iat": now_ms / 1000,
                "exp": now_ms / 1000 + 300,
                "auth_time": now_ms / 1000,
                "xero_userid": user,
                "global_session_id": session,
                "email": "demo.user@example.com",
                "given_name": "Demo",
                "family_name": "User",
            }))
            .into();
        }
        if scopes.iter().any(|s| s == "offline_access") {
            let refresh = uuid::Uuid::new_v4().simple().to_string()
                + &uuid::Uuid::new_v4().simple().to_string();
            self.refresh.insert(
                refresh.clone(),
                Refresh {
                    session: session.to_owned(),
                    scopes: scopes.to_vec(),
                    expires_ms: now_ms + refresh_ttl.as_millis() as i64,
                },
            );
            answer["refresh_token"] = refresh.into();
        }
        answer
    }

    /// The connections of a session, as `GET /connections` lists them.
    pub(super) fn connections(&self, session: &str, names: &HashMap<String, String>) -> Value {
        let list: Vec<Value> = self
            .sessions
            .get(session)
            .map(|s| s.connections.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|c| {
                json!({
                    "id": c.id,
                    "authEventId": c.auth_event_id,
                    "tenantId": c.tenant_id,
                    "tenantType": "ORGANISATION",
                    "tenantName": names.get(&c.tenant_id).cloned().unwrap_or_default(),
                    "createdDateUtc": iso_date(c.created_ms),
                    "updatedDateUtc": iso_date(c.created_ms),
                })
            })
            .collect();
        Value::Array(list)
    }

    /// Whether `session` is connected to `tenant` (case-insensitive); its canonical id.
    pub(super) fn tenant_of(&self, session: &str, tenant: &str) -> Option<String> {
        self.sessions
            .get(session)?
            .connections
            .iter()
            .find(|c| c.tenant_id.eq_ignore_ascii_case(tenant.trim()))
            .map(|c| c.tenant_id.clone())
    }

    /// Revokes a refresh token, every token of its session and the session's connections.
    pub(super) fn revoke(&mut self, refresh: &str) -> bool {
        let Some(r) = self.refresh.remove(refresh) else {
            return false;
        };
        self.access.retain(|_, a| a.session != r.session);
        self.refresh.retain(|_, x| x.session != r.session);
        if let Some(s) = self.sessions.get_mut(&r.session) {
            s.connections.clear();
        }
        true
    }
}

/// An unsigned-looking JWT (`header.claims.signature`, base64url); the signature is random:
/// nothing verifies it, clients only decode the claims.
fn jwt(claims: &Value) -> String {
    let header = json!({ "alg": "RS256", "kid": "emulator", "typ": "JWT" });
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap_or_default());
    let sig = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes());
    format!("{}.{}.{sig}", part(&header), part(claims))
}

/// Constant-time string equality for secrets.
pub(super) fn secret_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
