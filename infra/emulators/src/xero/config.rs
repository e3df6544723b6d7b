//! The emulator's configuration ([`XeroConfig`]): the OAuth app, the organisations
//! (tenants), the call limits and webhook delivery.

use std::time::Duration;

#[cfg(doc)]
use super::XeroEmulator;

/// The OAuth 2.0 app the emulator knows. `Debug` redacts the secret.
#[derive(Clone)]
pub struct XeroApp {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret. Empty: a PKCE-only public client (no secret is checked).
    pub client_secret: String,
    /// Redirect URIs registered for the app; empty accepts any absolute URI.
    pub redirect_uris: Vec<String>,
    /// The `ProviderName` of every envelope (the app's name in Xero).
    pub name: String,
}

impl XeroApp {
    /// An app with these credentials, any redirect URI.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uris: Vec::new(),
            name: "Xero API Partner".into(),
        }
    }
}

impl Default for XeroApp {
    /// `demo-client-id` / `demo-client-secret`.
    fn default() -> Self {
        Self::new("demo-client-id", "demo-client-secret")
    }
}

impl std::fmt::Debug for XeroApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XeroApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uris", &self.redirect_uris)
            .field("name", &self.name)
            .finish()
    }
}

/// One organisation (tenant) of the emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantConfig {
    /// The `tenantId` (a UUID).
    pub tenant_id: String,
    /// The `tenantName`.
    pub name: String,
    /// Base currency (`CurrencyCode` of invoices that name none). Default `NZD`.
    pub base_currency: String,
}

impl TenantConfig {
    /// A tenant with this id and name, currency `NZD`.
    pub fn new(tenant_id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            name: name.into(),
            base_currency: "NZD".into(),
        }
    }
}

/// Xero's call limits (defaults: Xero's published ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XeroLimits {
    /// Calls per tenant per rolling minute. Default 60.
    pub per_minute: u32,
    /// Calls per tenant per rolling day. Default 5,000.
    pub per_day: u32,
    /// Calls of one tenant in progress at once. Default 5.
    pub concurrent: u32,
    /// Calls of the app, all tenants together, per rolling minute. Default 10,000.
    pub app_per_minute: u32,
}

impl Default for XeroLimits {
    fn default() -> Self {
        Self {
            per_minute: 60,
            per_day: 5_000,
            concurrent: 5,
            app_per_minute: 10_000,
        }
    }
}

/// Where webhooks go and the key that signs them.
#[derive(Clone)]
pub struct WebhookTarget {
    /// The delivery URL (one per app, as in Xero's developer portal).
    pub url: String,
    /// The webhook key (`x-xero-signature` = base64(HMAC-SHA256(key, body))).
    pub key: String,
}

impl WebhookTarget {
    /// A target with this URL and key.
    pub fn new(url: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key: key.into(),
        }
    }
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// Configuration of a [`XeroEmulator`].
#[derive(Clone, Debug)]
pub struct XeroConfig {
    /// The OAuth app.
    pub app: XeroApp,
    /// The organisations; the first one is the default consent
    /// (see [`XeroEmulator::consent_as_tenant`]).
    pub tenants: Vec<TenantConfig>,
    /// Call limits.
    pub limits: XeroLimits,
    /// Lifetime of access tokens. Default 1800 s.
    pub access_token_ttl: Duration,
    /// Lifetime of an unused refresh token. Default 60 days.
    pub refresh_token_ttl: Duration,
    /// Webhook delivery; `None`: no events are kept.
    pub webhook: Option<WebhookTarget>,
    /// How often pending webhook events are sent. Default 50 ms.
    pub webhook_interval: Duration,
    /// Max events per webhook POST. Default 100.
    pub webhook_batch_size: usize,
    /// Attempts per webhook POST, the first included. Default 3.
    pub webhook_max_attempts: u32,
    /// Wait before the first retry, doubled for each further one. Default 100 ms.
    pub webhook_backoff: Duration,
    /// Per-request timeout of webhook POSTs and intent-to-receive probes. Default 5 s.
    pub webhook_timeout: Duration,
    /// Largest `pageSize`. Default 1,000.
    pub max_page_size: usize,
}

/// The default tenant's id.
pub const DEMO_TENANT_ID: &str = "fe79f7dd-b6d4-4a92-ba7b-538af6289c58";

impl Default for XeroConfig {
    fn default() -> Self {
        Self {
            app: XeroApp::default(),
            tenants: vec![TenantConfig::new(DEMO_TENANT_ID, "Demo Company (NZ)")],
            limits: XeroLimits::default(),
            access_token_ttl: Duration::from_secs(1800),
            refresh_token_ttl: Duration::from_secs(60 * 24 * 3600),
            webhook: None,
            webhook_interval: Duration::from_millis(50),
            webhook_batch_size: 100,
            webhook_max_attempts: 3,
            webhook_backoff: Duration::from_millis(100),
            webhook_timeout: Duration::from_secs(5),
            max_page_size: 1_000,
        }
    }
}
