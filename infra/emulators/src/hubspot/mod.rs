//! Emulator of the HubSpot CRM v3 objects API for `contacts` and `companies`
//! (`/crm/v3/objects/{objectType}`: list, get, create, update, archive,
//! search and the batch endpoints).
//!
//! Property values are stored as strings; `email` is unique per contact and
//! `associatedcompanyid` maps to the contact's primary company. Writes through
//! the API may only name defined properties: HubSpot's defaults and custom ones
//! created through the properties API (`/crm/v3/properties/{objectType}`).
//!
//! Batch calls that name one id twice (`batch/read|update|upsert|archive`) are
//! refused as a whole, as HubSpot refuses them (`400`, "Duplicate IDs found in
//! batch input: [..]"; HubSpot documents this for update and upsert, the
//! emulator applies it to read and archive too). `batch/read` leaves archived
//! records out (listed under `errors`, as missing ones). With
//! [`HubSpotConfig::shuffle_seed`] batch results come in a shuffled order.
//! [`ScheduledFault`]s fail a call after some matching calls went through, or
//! after the call was processed (the change is committed, the answer lost).
//!
//! # OAuth 2.0
//!
//! With [`HubSpotConfig::oauth`] set, the emulator is also the authorization
//! server of one public app (real HubSpot hosts the consent page on
//! `app.hubspot.com` and the rest on `api.hubapi.com`; here everything is on
//! the same loopback server):
//!
//! - `GET /oauth/authorize?client_id&redirect_uri&scope&state[&code_challenge&code_challenge_method=S256]`
//!   answers `302` to `redirect_uri?code=..&state=..` (with
//!   [`OAuthApp::auto_approve`]; otherwise it shows a consent page whose links
//!   add `decision=approve|deny`). Codes are single-use and live 10 minutes.
//! - `POST /oauth/v1/token` (form-urlencoded) with
//!   `grant_type=authorization_code` (`code`, `redirect_uri`, `client_id`,
//!   `client_secret`, and `code_verifier` when a PKCE challenge was given) or
//!   `grant_type=refresh_token` (`refresh_token`, `client_id`,
//!   `client_secret`). Client credentials may also come as HTTP Basic.
//!   Errors are `400` with HubSpot's `status`/`message`/`correlationId` plus
//!   the RFC 6749 `error`/`error_description`.
//! - `GET /oauth/v1/access-tokens/{token}` and
//!   `GET|DELETE /oauth/v1/refresh-tokens/{token}` (token info, revocation).
//!
//! Issued access tokens are accepted by the CRM API until they expire
//! ([`OAuthApp::access_token_ttl`]); then the API answers `401` with category
//! `EXPIRED_AUTHENTICATION`. Static [`HubSpotConfig::access_tokens`] never
//! expire.
//!
//! # Webhooks
//!
//! The Webhooks API v3 of that app (`/webhooks/v3/{appId}/settings` and
//! `/webhooks/v3/{appId}/subscriptions[/{id}]`) is emulated. These routes
//! accept a bearer token (static or OAuth) or a `hapikey` query parameter
//! equal to the app's client secret (standing in for the developer API key)
//! or to a static access token.
//!
//! Every committed change (through the API or the in-process helpers) that
//! matches an active subscription becomes an event; a background task POSTs
//! them in batches of up to [`HubSpotConfig::webhook_batch_size`] to the
//! target URL with the v3 signature headers and retries failures with
//! doubling backoff. The signed URI is the target URL as configured (HubSpot
//! decodes `%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B` before signing,
//! and so does the emulator). Deliveries are sequential, whatever
//! `maxConcurrentRequests` says.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

use axum::Router;
use chrono::Utc;
use serde_json::{Value, json};

use crate::common::{
    ApiError, CallFault, CallStats, ChangeHook, Faults, Instruments, RecordFault, RunningServer,
    lock,
};
use crate::delivery::Pump;

mod admin;
mod auth;
mod batch;
mod config;
mod errors;
mod index;
mod oauth;
mod oauth_routes;
mod objects;
mod plan;
mod properties;
mod routes;
mod scheduled;
mod search;
mod state;
mod webhook_routes;
mod webhooks;

pub use config::HubSpotConfig;
pub use oauth::OAuthApp;
pub use scheduled::ScheduledFault;
pub use webhooks::DeliveryRecord;

use objects::ObjType;
use state::{Change, Source, State};

/// Content type of every JSON answer.
const JSON: &str = "application/json;charset=utf-8";

struct Inner {
    /// Weak self-reference, for spawning the webhook worker.
    me: Weak<Inner>,
    config: HubSpotConfig,
    state: Mutex<State>,
    instruments: Instruments,
    oauth: Mutex<oauth::OAuthState>,
    webhooks: Mutex<webhooks::HookState>,
    pump: Pump,
    /// Private-app tokens of portals other than the default one.
    portal_tokens: Mutex<HashMap<String, u64>>,
    /// Faults with a schedule (see [`ScheduledFault`]).
    scheduled: Mutex<Vec<ScheduledFault>>,
    /// The shuffler, when [`HubSpotConfig::shuffle_seed`] is set.
    rng: Mutex<Option<scheduled::Rng>>,
}

impl Inner {
    /// The state, locked, reading and writing `portal`'s records.
    fn state_at(&self, portal: u64) -> std::sync::MutexGuard<'_, State> {
        let mut st = lock(&self.state);
        st.source = Source::ui(portal);
        st
    }

    fn default_portal(&self) -> u64 {
        self.config.portal_id
    }

    /// `items` shuffled when [`HubSpotConfig::shuffle_seed`] is set, else as they are.
    fn shuffled<T>(&self, items: Vec<T>) -> Vec<T> {
        match lock(&self.rng).as_mut() {
            Some(rng) => rng.shuffled(items),
            None => items,
        }
    }

    /// A random tie-break key per call when shuffling, `None` otherwise.
    fn tie_key(&self) -> Option<u64> {
        lock(&self.rng).as_mut().map(scheduled::Rng::next)
    }

    /// Creates an object of `portal` as a third party would (no faults, any property);
    /// returns it with all properties.
    fn seed(
        &self,
        portal: u64,
        t: ObjType,
        properties: Option<&serde_json::Map<String, Value>>,
    ) -> Result<Value, ApiError> {
        self.with_state(Source::ui(portal), |st| {
            let p = st.prepare(None, t, None, properties, None)?;
            let (id, _) = st.commit(t, None, p);
            Ok(st
                .obj(t, id)
                .map(|o| o.render(t, None, true))
                .unwrap_or_default())
        })
    }

    /// Runs `f` under the state lock with writes attributed to `source`,
    /// then delivers change events (hooks, webhooks) outside it.
    fn with_state<R>(&self, source: Source, f: impl FnOnce(&mut State) -> R) -> R {
        let (out, events) = {
            let mut st = lock(&self.state);
            st.source = source;
            let out = f(&mut st);
            (out, std::mem::take(&mut st.events))
        };
        if !events.is_empty() {
            self.instruments.notify(events.iter().map(|e| &e.event));
            self.enqueue_webhooks(&events);
        }
        out
    }
}

/// In-memory HubSpot CRM v3 emulator. Cheap to clone (shared state).
#[derive(Clone)]
pub struct HubSpotEmulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HubSpotEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotEmulator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for HubSpotEmulator {
    fn default() -> Self {
        Self::new(HubSpotConfig::default())
    }
}

fn obj_type(s: &str) -> ObjType {
    ObjType::parse(s).unwrap_or_else(|| {
        panic!("unsupported HubSpot object type '{s}' (use contacts or companies)")
    })
}

impl HubSpotEmulator {
    /// Creates an empty emulator.
    pub fn new(config: HubSpotConfig) -> Self {
        Self {
            inner: Arc::new_cyclic(|me| Inner {
                me: me.clone(),
                state: Mutex::new(State::default()),
                instruments: Instruments::default(),
                oauth: Mutex::new(oauth::OAuthState::default()),
                webhooks: Mutex::new(webhooks::HookState::default()),
                pump: Pump::default(),
                portal_tokens: Mutex::new(HashMap::new()),
                scheduled: Mutex::new(Vec::new()),
                rng: Mutex::new(config.shuffle_seed.map(scheduled::Rng::new)),
                config,
            }),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &HubSpotConfig {
        &self.inner.config
    }

    /// Serves on `127.0.0.1:0` in the background.
    pub async fn start(&self) -> std::io::Result<RunningServer> {
        self.start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves on `addr` in the background.
    pub async fn start_on(&self, addr: SocketAddr) -> std::io::Result<RunningServer> {
        crate::common::start_router(self.router(), addr).await
    }

    /// Serves on `addr` until `shutdown` resolves (for the CLI).
    pub async fn serve(
        &self,
        addr: SocketAddr,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        crate::common::serve_until(self.router(), addr, shutdown).await
    }

    /// The axum router (API + `/_emulator` admin routes).
    pub fn router(&self) -> Router {
        crate::common::app(&self.inner, routes::routes(&self.inner))
    }

    /// Creates an object as a third party would (no faults applied) and
    /// returns it with all properties. Values may be any JSON scalar.
    ///
    /// # Panics
    /// On an unknown object type or invalid properties (e.g. duplicate email).
    pub fn seed(&self, object_type: &str, properties: Value) -> Value {
        self.seed_in(self.inner.default_portal(), object_type, properties)
    }

    /// [`Self::seed`] in another portal.
    ///
    /// # Panics
    /// As [`Self::seed`].
    pub fn seed_in(&self, portal: u64, object_type: &str, properties: Value) -> Value {
        self.inner
            .seed(portal, obj_type(object_type), properties.as_object())
            .unwrap_or_else(|e| panic!("seed({object_type}) failed: {e}"))
    }

    /// Third-party edit; bumps the last-modified date if anything changed.
    /// `None` if the object does not exist, is archived, or the edit is invalid.
    pub fn update(&self, object_type: &str, id: &str, properties: Value) -> Option<Value> {
        let t = obj_type(object_type);
        let id: u64 = id.parse().ok()?;
        self.inner
            .with_state(Source::ui(self.inner.default_portal()), |st| {
                st.live(t, id)?;
                let p = st
                    .prepare(None, t, Some(id), properties.as_object(), None)
                    .ok()?;
                st.commit(t, Some(id), p);
                st.obj(t, id).map(|o| o.render(t, None, true))
            })
    }

    /// Archives an object; `false` if unknown or already archived.
    pub fn archive(&self, object_type: &str, id: &str) -> bool {
        let t = obj_type(object_type);
        id.parse().is_ok_and(|id| {
            self.inner
                .with_state(Source::ui(self.inner.default_portal()), |st| {
                    st.archive(t, id)
                })
        })
    }

    /// Non-archived objects with all properties, by id.
    pub fn objects(&self, object_type: &str) -> Vec<Value> {
        self.collect(self.inner.default_portal(), object_type, false)
    }

    /// Non-archived objects of another portal, by id.
    pub fn objects_in(&self, portal: u64, object_type: &str) -> Vec<Value> {
        self.collect(portal, object_type, false)
    }

    /// All objects, archived ones included, by id.
    pub fn all_objects_including_archived(&self, object_type: &str) -> Vec<Value> {
        self.collect(self.inner.default_portal(), object_type, true)
    }

    /// Accepts `token` as a private-app token of `portal` (a second HubSpot
    /// account on the same emulator: its own records, its own webhooks'
    /// `portalId`).
    pub fn add_private_app_token(&self, portal: u64, token: impl Into<String>) {
        lock(&self.inner.portal_tokens).insert(token.into(), portal);
    }

    fn collect(&self, portal: u64, object_type: &str, archived: bool) -> Vec<Value> {
        let t = obj_type(object_type);
        let st = self.inner.state_at(portal);
        st.objs(t)
            .into_iter()
            .flat_map(|m| m.values())
            .filter(|o| archived || !o.archived())
            .map(|o| o.render(t, None, true))
            .collect()
    }

    /// One object (archived or not) with all properties.
    pub fn get(&self, object_type: &str, id: &str) -> Option<Value> {
        let t = obj_type(object_type);
        let id: u64 = id.parse().ok()?;
        self.inner
            .state_at(self.inner.default_portal())
            .obj(t, id)
            .map(|o| o.render(t, None, true))
    }

    /// The contact's primary company id.
    pub fn primary_company_of(&self, contact_id: &str) -> Option<String> {
        let id: u64 = contact_id.parse().ok()?;
        self.inner
            .state_at(self.inner.default_portal())
            .obj(ObjType::Contacts, id)?
            .primary_company
            .map(|c| c.to_string())
    }

    /// The fault registry (shared with the HTTP admin routes).
    pub fn faults(&self) -> &Faults {
        &self.inner.instruments.faults
    }

    /// Shorthand for `faults().fail_record(rule)` (`field` = property name).
    pub fn fail_record(&self, rule: RecordFault) {
        self.inner.instruments.faults.fail_record(rule);
    }

    /// Shorthand for `faults().fail_calls(rule)`.
    pub fn fail_calls(&self, rule: CallFault) {
        self.inner.instruments.faults.fail_calls(rule);
    }

    /// Removes all faults.
    pub fn clear_faults(&self) {
        self.inner.instruments.faults.clear();
        lock(&self.inner.scheduled).clear();
    }

    /// Adds a fault with a schedule: after some matching calls, and/or after the call was
    /// processed (see [`ScheduledFault`]).
    pub fn schedule_fault(&self, fault: ScheduledFault) {
        lock(&self.inner.scheduled).push(fault);
    }

    /// Sets an object's last-modified time (as a bulk import does, many records can share one
    /// millisecond); no change event. `false` if the object does not exist.
    pub fn set_last_modified(&self, object_type: &str, id: &str, epoch_ms: i64) -> bool {
        let t = obj_type(object_type);
        let (Ok(id), Some(at)) = (
            id.parse::<u64>(),
            chrono::TimeZone::timestamp_millis_opt(&Utc, epoch_ms).single(),
        ) else {
            return false;
        };
        let mut st = self.inner.state_at(self.inner.default_portal());
        let portal = st.portal();
        let State {
            objects, indexes, ..
        } = &mut *st;
        match objects.get_mut(&(portal, t)).and_then(|m| m.get_mut(&id)) {
            Some(o) => {
                let index = indexes.entry((portal, t)).or_default();
                index.remove(o);
                o.updated_at = at;
                index.add(o);
                true
            }
            None => false,
        }
    }

    /// A property's definition (default or custom), as `GET /crm/v3/properties/{type}/{name}`
    /// answers it.
    pub fn property(&self, object_type: &str, name: &str) -> Option<Value> {
        let t = obj_type(object_type);
        self.inner
            .state_at(self.inner.default_portal())
            .property(t, name)
    }

    /// Snapshot of call counters.
    pub fn stats(&self) -> CallStats {
        self.inner.instruments.stats()
    }

    /// Zeroes call counters.
    pub fn reset_stats(&self) {
        self.inner.instruments.reset_stats();
    }

    /// Registers a change observer, called after each committed change
    /// (webhooks/notifications are generated at the same point).
    pub fn on_change(&self, hook: ChangeHook) {
        self.inner.instruments.on_change(hook);
    }

    /// Whole state as JSON: `{"portalId", "contacts": [..], "companies": [..], "faults"}`.
    pub fn dump(&self) -> Value {
        json!({
            "portalId": self.inner.config.portal_id,
            "contacts": self.all_objects_including_archived("contacts"),
            "companies": self.all_objects_including_archived("companies"),
            "faults": self.inner.instruments.faults.to_json(),
        })
    }
}
