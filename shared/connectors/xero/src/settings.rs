//! Xero's settings: the `apps.xero` section of `connector.yaml`, or `XERO_*` variables and the
//! `xero` secret on AWS (read by the default `build_from_environment`: `XERO_CLIENT_ID` is
//! `client_id`, `XERO_PAGE_SIZE` is `page_size`, the secret's `client_secret` and
//! `webhook_key` are merged in).
//!
//! ```yaml
//! apps:
//!   xero:
//!     client_id: 0123456789ABCDEF          # the Xero app (OAuth 2, PKCE, offline_access)
//!     client_secret: ...                   # from the secret store, never in the file
//!     webhook_key: ...                     # webhooks are off without it
//!     payment_account_code: "090"          # the bank account payments are made to
//!     # Defaults: Xero's own URLs, the scopes below, pages of 100, writes of 50, 60 s overlap.
//!     # base_url: https://api.xero.com/api.xro/2.0
//!     # connections_url: https://api.xero.com/connections
//!     # authorize_url, token_url, revocation_url, scopes, page_size, batch_size,
//!     # overlap_seconds, mappings_dir
//! ```
//!
//! Against an emulator or with a custom connection, `access_token` and `tenant_id` give a fixed
//! account instead of OAuth.

use std::path::PathBuf;

use serde::de::{Error as _, Unexpected};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::config::{DEFAULT_BASE_URL, DEFAULT_BATCH_SIZE, DEFAULT_PAGE_SIZE};

/// Xero's authorize endpoint.
pub const DEFAULT_AUTHORIZE_URL: &str = "https://login.xero.com/identity/connect/authorize";
/// Xero's token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://identity.xero.com/connect/token";
/// Xero's connections (tenants of a token).
pub const DEFAULT_CONNECTIONS_URL: &str = "https://api.xero.com/connections";
/// The scopes asked for: `offline_access` for a refresh token, and what the pairs read and write.
pub const DEFAULT_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "offline_access",
    "accounting.contacts",
    "accounting.transactions",
    "accounting.settings",
];
/// Largest page Xero serves.
pub const MAX_PAGE_SIZE: usize = 1000;
/// Largest write batch the connector sends.
pub const MAX_BATCH_SIZE: usize = 50;

/// The settings (unknown keys are refused; errors name keys, never values).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XeroSettings {
    /// Accounting API base URL.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// OAuth authorize URL.
    #[serde(default = "default_authorize_url")]
    pub authorize_url: String,
    /// OAuth token (identity) URL.
    #[serde(default = "default_token_url")]
    pub token_url: String,
    /// Token revocation URL (default: the token URL's `…/revocation`).
    #[serde(default)]
    pub revocation_url: Option<String>,
    /// Connections URL.
    #[serde(default = "default_connections_url")]
    pub connections_url: String,
    /// OAuth client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// OAuth client secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Scopes: a list, or one string separated by spaces or commas.
    #[serde(default = "default_scopes", deserialize_with = "scopes")]
    pub scopes: Vec<String>,
    /// The webhook key of the Xero app (webhooks are off without it).
    #[serde(default)]
    pub webhook_key: Option<String>,
    /// Records per page (1 to 1,000).
    #[serde(default = "default_page_size", deserialize_with = "count")]
    pub page_size: usize,
    /// Records per write call (1 to 50).
    #[serde(default = "default_batch_size", deserialize_with = "count")]
    pub batch_size: usize,
    /// The code of the bank account payments are made to.
    #[serde(default)]
    pub payment_account_code: Option<String>,
    /// Seconds `If-Modified-Since` asks behind the watermark.
    #[serde(default = "default_overlap", deserialize_with = "count")]
    pub overlap_seconds: usize,
    /// Folder of mapping files replacing the built-in ones.
    #[serde(default)]
    pub mappings_dir: Option<PathBuf>,
    /// A fixed access token (a custom connection, or an emulator), with `tenant_id`.
    #[serde(default)]
    pub access_token: Option<String>,
    /// The tenant of `access_token`.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

impl std::fmt::Debug for XeroSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XeroSettings")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "webhook_key",
                &self.webhook_key.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

impl XeroSettings {
    /// Settings for a fixed token and tenant at `base_url` (an emulator, a custom connection).
    pub fn fixed_token(base_url: &str, access_token: &str, tenant_id: &str) -> Self {
        let mut settings: Self =
            serde_json::from_value(serde_json::json!({})).expect("every field has a default");
        settings.base_url = base_url.to_owned();
        settings.access_token = Some(access_token.to_owned());
        settings.tenant_id = Some(tenant_id.to_owned());
        settings
    }

    /// The checks serde cannot make: `(key, what is expected)` of the first problem.
    pub(crate) fn problem(&self) -> Option<(&'static str, &'static str)> {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.trim().is_empty());
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Some(("page_size", "expected 1 to 1000"));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.batch_size) {
            return Some(("batch_size", "expected 1 to 50"));
        }
        let oauth = given(&self.client_id) || given(&self.client_secret);
        if oauth && !given(&self.client_id) {
            return Some((
                "client_id",
                "missing (the OAuth app needs it with `client_secret`)",
            ));
        }
        if oauth && !given(&self.client_secret) {
            return Some((
                "client_secret",
                "missing (the OAuth app needs it with `client_id`)",
            ));
        }
        if given(&self.access_token) != given(&self.tenant_id) {
            return Some(if given(&self.access_token) {
                (
                    "tenant_id",
                    "missing (a fixed `access_token` needs its tenant)",
                )
            } else {
                (
                    "access_token",
                    "missing (a fixed `tenant_id` needs its token)",
                )
            });
        }
        if !oauth && !given(&self.access_token) {
            return Some((
                "client_id",
                "missing: give `client_id` and `client_secret` (OAuth), or `access_token` and `tenant_id`",
            ));
        }
        None
    }
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}
fn default_authorize_url() -> String {
    DEFAULT_AUTHORIZE_URL.to_owned()
}
fn default_token_url() -> String {
    DEFAULT_TOKEN_URL.to_owned()
}
fn default_connections_url() -> String {
    DEFAULT_CONNECTIONS_URL.to_owned()
}
fn default_scopes() -> Vec<String> {
    DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect()
}
fn default_page_size() -> usize {
    DEFAULT_PAGE_SIZE
}
fn default_batch_size() -> usize {
    DEFAULT_BATCH_SIZE
}
fn default_overlap() -> usize {
    crate::config::DEFAULT_OVERLAP.as_secs() as usize
}

/// A count given as a number or as text (environment variables are text); the error never
/// shows the value.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    let expected = &"a positive integer";
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| D::Error::invalid_type(Unexpected::Other("number"), expected)),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| D::Error::invalid_type(Unexpected::Other("text"), expected)),
        _ => Err(D::Error::invalid_type(Unexpected::Other("value"), expected)),
    }
}

fn scopes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let expected = &"scopes as a list or a space-separated string";
    let split = |s: &str| {
        s.split([' ', ','])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    match Value::deserialize(d)? {
        Value::String(s) => Ok(split(&s)),
        Value::Array(items) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| D::Error::invalid_type(Unexpected::Other("value"), expected))
            })
            .collect(),
        _ => Err(D::Error::invalid_type(Unexpected::Other("value"), expected)),
    }
}
