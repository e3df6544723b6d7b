//! Emulator of Xero: the identity service (OAuth 2.0, connections) and the Accounting API
//! (`/api.xro/2.0`: Contacts, Items, Invoices, Payments) of several organisations (tenants)
//! on one loopback server, plus Xero's webhooks and their intent-to-receive check. Paths,
//! envelopes, field names and examples follow Xero's OpenAPI files
//! (`xero_accounting.yaml`, `xero-identity.yaml`, `xero-webhooks.yaml`).
//!
//! # Hosts
//!
//! | Xero | here |
//! |---|---|
//! | `https://login.xero.com/identity/connect/authorize` | `GET /identity/connect/authorize` |
//! | `https://identity.xero.com/connect/token`, `/connect/revocation` | `POST /connect/token`, `POST /connect/revocation` |
//! | `https://api.xero.com/connections` | `GET /connections`, `DELETE /connections/{id}` |
//! | `https://api.xero.com/api.xro/2.0/...` | `/api.xro/2.0/...` |
//!
//! # Faithful
//!
//! - OAuth: authorization code with PKCE S256 checked, `offline_access` giving a refresh
//!   token, access tokens of 1800 s on the emulator clock, refresh tokens that rotate and are
//!   single-use (`400 {"error":"invalid_grant"}` on reuse; of two concurrent refreshes with
//!   one token exactly one wins), client authentication by HTTP Basic or in the form,
//!   connections per consent, revocation. See `oauth_routes`.
//! - Every Accounting call needs a live bearer token (`401`) and `xero-tenant-id` naming a
//!   tenant of that token (`403`); see `auth`. Limits per tenant and per app with Xero's
//!   headers and `429`s; see `limits`.
//! - Envelope `{Id, Status, ProviderName, DateTimeUTC, <Collection>, pagination}`, dates as
//!   `/Date(ms+0000)/`, inverted verbs (`PUT` creates, `POST` creates or updates),
//!   `summarizeErrors`, `Idempotency-Key`, `If-Modified-Since`, paging (not for Items), the
//!   validation rules named in `contacts`, `items`, `invoices`, `payments` with
//!   Xero's messages where the OpenAPI file gives them.
//! - Webhooks for contacts and invoices, ids only, signed; intent-to-receive. See `webhooks`.
//! - `Idempotency-Key`: per tenant, kept 24 hours; the same key and request replays the first
//!   answer; the same key with another request is refused with `400` (Xero's files only say
//!   the key makes retries safe; refusing a reuse is the emulator's choice). See `routes`.
//!
//! # Simplified
//!
//! - One user: each consent is its own session whose connections are the consented tenants;
//!   access tokens are JWT-shaped but not signed by anything a client could verify.
//! - Only Contacts, Items, Invoices (ACCREC/ACCPAY) and Payments, plus the `Organisation`
//!   and a fixed, read-only chart of `Accounts`; `where` supports a subset
//!   (`query`); `summaryOnly`, `unitdp` and attachments are ignored.
//! - Without `page`, lists return every record (no `pagination`); with it, `pageSize`
//!   defaults to 100 (at most [`XeroConfig::max_page_size`]).
//! - Taxes: the rates of a New Zealand organisation (`OUTPUT2`/`INPUT2` 15 %, the zero
//!   rates); a line without `TaxType` is `NONE`. Accounts are not checked on lines; payments
//!   need one of the two bank accounts (`090`, `091`).
//! - `IsCustomer`/`IsSupplier` are set by a contact's first sales invoice or bill; the
//!   contact counts as modified then (new `UpdatedDateUTC`, a CONTACT UPDATE webhook), an
//!   assumption (Xero's documents do not say), so that a poll sees the flag change.
//! - Error bodies other than validation errors are problem-style JSON
//!   (`{Title, Status, Detail}`); messages Xero's files do not give are the emulator's own.
//! - Webhooks are delivered whether or not an intent-to-receive check passed.
//! - Answers are always JSON (Xero answers XML unless asked for JSON with `Accept`).
//! - `If-Modified-Since` selects records with `UpdatedDateUTC` at or after the instant; it
//!   takes RFC 3339 (with or without offset), HTTP dates and `/Date(ms)/`.
//!
//! # Test knobs
//!
//! The clock is real UTC time plus an offset that [`XeroEmulator::advance`] moves (tokens
//! expire, limit windows roll, records are stamped later: tests advance instead of sleeping).
//! [`XeroEmulator::grant`] issues tokens without the HTTP flow,
//! [`XeroEmulator::consent_as_tenant`] picks the organisations of the next consents,
//! [`XeroEmulator::hold_calls`] keeps calls in progress, [`XeroEmulator::intent_to_receive`]
//! runs Xero's webhook check; seeding, faults and statistics are as for the other emulators,
//! and the admin routes under `/_emulator` do the same over HTTP (see `admin`).
//!
//! Nothing is logged about tokens, codes, secrets, bodies or signatures.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::common::{ChangeEvent, ChangeKind, Instruments, RunningServer, lock};
use crate::delivery::Pump;

mod admin;
mod auth;
mod clock;
mod config;
mod contacts;
mod errors;
mod fields;
mod invoices;
mod items;
mod limits;
mod lines;
mod oauth;
mod oauth_routes;
mod organisation;
mod payments;
mod query;
mod records;
mod routes;
mod state;
mod webhooks;
mod write;

pub use config::{DEMO_TENANT_ID, TenantConfig, WebhookTarget, XeroApp, XeroConfig, XeroLimits};
pub use webhooks::{IntentProbe, IntentToReceive, XeroDeliveryRecord};

use state::{Change, Kind, State, Tenant};

/// Content type of every JSON answer.
const JSON: &str = "application/json; charset=utf-8";

struct Inner {
    me: Weak<Inner>,
    config: XeroConfig,
    clock: clock::XeroClock,
    state: Mutex<State>,
    instruments: Instruments,
    oauth: Mutex<oauth::OAuthState>,
    limiter: Mutex<limits::Limiter>,
    webhooks: Mutex<webhooks::HookState>,
    pump: Pump,
    /// The base URL of the running server (for webhook `resourceUrl`s).
    base_url: Mutex<Option<String>>,
    /// Whether Accounting calls are held (see [`XeroEmulator::hold_calls`]).
    hold: tokio::sync::watch::Sender<bool>,
}

impl Inner {
    /// The first configured tenant (else the first one added).
    fn default_tenant(&self) -> Option<String> {
        self.config
            .tenants
            .first()
            .map(|t| t.tenant_id.clone())
            .or_else(|| lock(&self.state).tenants.keys().next().cloned())
    }

    fn tenant_names(&self) -> HashMap<String, String> {
        lock(&self.state)
            .tenants
            .iter()
            .map(|(id, t)| (id.clone(), t.config.name.clone()))
            .collect()
    }

    /// Tells observers and webhooks about committed changes.
    fn publish(&self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let events: Vec<ChangeEvent> = changes
            .iter()
            .map(|c| ChangeEvent {
                kind: if c.created {
                    ChangeKind::Created
                } else {
                    ChangeKind::Updated
                },
                scope: c.tenant_id.clone(),
                collection: c.kind.collection().into(),
                id: c.id.clone(),
                at: clock::iso_date(c.at_ms),
            })
            .collect();
        self.instruments.notify(events.iter());
        self.enqueue_webhooks(changes);
    }
}

/// Why a seed was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    /// No tenant has this id.
    #[error("unknown tenant '{0}'")]
    UnknownTenant(String),
    /// Not one of Contacts, Items, Invoices, Payments.
    #[error("unknown collection '{0}' (use Contacts, Items, Invoices or Payments)")]
    UnknownCollection(String),
    /// A record failed Xero's validation.
    #[error("invalid record: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// Tokens as the token endpoint issues them (see [`XeroEmulator::grant`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XeroTokens {
    /// Bearer token for the API.
    pub access_token: String,
    /// Single-use refresh token.
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

/// In-memory Xero emulator. Cheap to clone (shared state).
#[derive(Clone)]
pub struct XeroEmulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for XeroEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XeroEmulator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for XeroEmulator {
    fn default() -> Self {
        Self::new(XeroConfig::default())
    }
}

impl XeroEmulator {
    /// An emulator with the configured tenants, no records.
    pub fn new(config: XeroConfig) -> Self {
        let mut st = State::default();
        for t in &config.tenants {
            st.tenants
                .insert(t.tenant_id.clone(), Tenant::new(t.clone()));
        }
        let hooks = webhooks::HookState {
            target: config.webhook.clone(),
            ..Default::default()
        };
        Self {
            inner: Arc::new_cyclic(|me| Inner {
                me: me.clone(),
                clock: clock::XeroClock::default(),
                state: Mutex::new(st),
                instruments: Instruments::default(),
                oauth: Mutex::new(oauth::OAuthState::default()),
                limiter: Mutex::new(limits::Limiter::default()),
                webhooks: Mutex::new(hooks),
                pump: Pump::default(),
                base_url: Mutex::new(None),
                hold: tokio::sync::watch::Sender::new(false),
                config,
            }),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &XeroConfig {
        &self.inner.config
    }

    /// Serves on `127.0.0.1:0` in the background.
    pub async fn start(&self) -> std::io::Result<RunningServer> {
        self.start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves on `addr` in the background.
    pub async fn start_on(&self, addr: SocketAddr) -> std::io::Result<RunningServer> {
        let srv = crate::common::start_router(self.router(), addr).await?;
        *lock(&self.inner.base_url) = Some(srv.base_url.clone());
        Ok(srv)
    }

    /// Serves on `addr` until `shutdown` resolves (for the CLI).
    pub async fn serve(
        &self,
        addr: SocketAddr,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        *lock(&self.inner.base_url) = Some(format!("http://{addr}"));
        crate::common::serve_until(self.router(), addr, shutdown).await
    }

    /// The axum router (API, identity and `/_emulator` admin routes).
    pub fn router(&self) -> Router {
        crate::common::app(&self.inner, routes::routes(&self.inner))
    }

    // --- tenants, consent, tokens, clock -------------------------------------------------

    /// The tenant ids, in order.
    pub fn tenants(&self) -> Vec<String> {
        lock(&self.inner.state).tenants.keys().cloned().collect()
    }

    /// Adds an organisation.
    pub fn add_tenant(&self, tenant: TenantConfig) {
        lock(&self.inner.state)
            .tenants
            .insert(tenant.tenant_id.clone(), Tenant::new(tenant));
    }

    /// Makes the following consents connect `tenant` (as if the user picked that
    /// organisation on Xero's consent page). Default: the first configured tenant.
    pub fn consent_as_tenant(&self, tenant: &str) {
        self.consent_as_tenants(&[tenant]);
    }

    /// Makes the following consents connect all of `tenants`.
    pub fn consent_as_tenants(&self, tenants: &[&str]) {
        lock(&self.inner.oauth).consent = Some(tenants.iter().map(|t| (*t).to_owned()).collect());
    }

    /// Tokens as after a consent to `tenants` with `offline_access`, without the HTTP flow.
    pub fn grant(&self, tenants: &[&str]) -> XeroTokens {
        let now = self.inner.clock.peek_ms();
        let cfg = &self.inner.config;
        let scopes: Vec<String> = [
            "openid",
            "profile",
            "email",
            "accounting.transactions",
            "accounting.contacts",
            "accounting.settings",
            "offline_access",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let ids: Vec<String> = tenants.iter().map(|t| (*t).to_owned()).collect();
        let mut o = lock(&self.inner.oauth);
        let session = o.open_session(&ids, now);
        let v = o.issue(
            &session,
            &scopes,
            &cfg.app.client_id,
            now,
            cfg.access_token_ttl,
            cfg.refresh_token_ttl,
        );
        XeroTokens {
            access_token: v["access_token"].as_str().unwrap_or_default().to_owned(),
            refresh_token: v["refresh_token"].as_str().unwrap_or_default().to_owned(),
            expires_in: v["expires_in"].as_u64().unwrap_or_default(),
        }
    }

    /// Number of `POST /connect/token` requests received (any outcome).
    pub fn token_requests(&self) -> u64 {
        lock(&self.inner.oauth).token_requests
    }

    /// Makes `POST /connect/token` wait `delay` before handling a request, so tests can race
    /// two refreshes. Zero disables.
    pub fn set_token_delay(&self, delay: Duration) {
        lock(&self.inner.oauth).delay = delay;
    }

    /// Moves the emulator clock forward: tokens expire, limit windows roll, and new records
    /// are stamped later.
    pub fn advance(&self, by: Duration) {
        self.inner.clock.advance(by.as_millis() as i64);
    }

    /// Now on the emulator clock, in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.peek_ms()
    }

    /// The whole state: `{"tenants": [{tenantId, tenantName, Contacts, Items, Invoices,
    /// Payments}], "faults"}`.
    pub fn dump(&self) -> Value {
        let tenants: Vec<Value> = self
            .tenants()
            .iter()
            .map(|id| {
                let mut v = json!({ "tenantId": id });
                let names = self.inner.tenant_names();
                v["tenantName"] = names.get(id).cloned().unwrap_or_default().into();
                for k in Kind::ALL {
                    v[k.collection()] = Value::Array(self.records_in(id, k.collection()));
                }
                v
            })
            .collect();
        json!({
            "tenants": tenants,
            "faults": self.inner.instruments.faults.to_json(),
        })
    }
}
