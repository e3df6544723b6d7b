//! Emulator of the HubSpot CRM v3 objects API for `contacts` and `companies`
//! (`/crm/v3/objects/{objectType}`: list, get, create, update, archive,
//! search and the batch endpoints).
//!
//! Property values are stored as strings; `email` is unique per contact and
//! `associatedcompanyid` maps to the contact's primary company. Writes through
//! the API may only name defined properties: HubSpot's defaults and custom ones
//! created through the properties API (see [`properties`]).
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

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::common::{
    ApiError, CallFault, CallStats, ChangeEvent, ChangeHook, ChangeKind, Clock, FaultKind, Faults,
    MAX_BODY, RateLimit, RateLimiter, RecordFault, RunningServer, base_url, compare_scalars,
    empty_response, iso, json_response, lock, parse_date_like, query_get, query_pairs, query_with,
    raw_response, scalar_string, set_header,
};

mod oauth;
mod properties;
mod scheduled;
mod webhooks;

pub use oauth::OAuthApp;
pub use scheduled::ScheduledFault;
pub use webhooks::DeliveryRecord;

use crate::delivery::Pump;

const JSON: &str = "application/json;charset=utf-8";
const FIRST_ID: u64 = 1001;
/// Properties that are compared as instants in search.
const DATE_PROPS: [&str; 5] = [
    "createdate",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    "closedate",
    "hs_createdate",
];

/// Configuration of a [`HubSpotEmulator`].
#[derive(Clone, Debug)]
pub struct HubSpotConfig {
    /// Accepted private-app bearer tokens; they never expire. Tokens issued
    /// through [`HubSpotConfig::oauth`] are accepted in addition.
    pub access_tokens: Vec<String>,
    /// The default portal (hub): `access_tokens`, the in-process helpers and
    /// OAuth consents (unless [`HubSpotEmulator::consent_as_portal`]) belong
    /// to it. More portals share the emulator through
    /// [`HubSpotEmulator::add_private_app_token`] and OAuth; each portal has
    /// its own records, and a token only sees its own portal's.
    pub portal_id: u64,
    /// Optional rolling-window rate limit per token.
    pub rate_limit: Option<RateLimit>,
    /// Search paging cap (HubSpot: 10,000).
    pub search_cap: usize,
    /// Max inputs per batch call.
    pub max_batch: usize,
    /// Max `limit` of a search.
    pub max_search_limit: usize,
    /// Max `limit` of a list.
    pub max_list_limit: usize,
    /// The OAuth app (authorization server and webhooks). Default `None`:
    /// no OAuth and no webhooks, only the static tokens.
    pub oauth: Option<OAuthApp>,
    /// How often pending webhook events are sent. Default 50 ms.
    pub webhook_interval: Duration,
    /// Max events per webhook POST. Default 100 (as HubSpot).
    pub webhook_batch_size: usize,
    /// Attempts per webhook batch, the first included. Default 3.
    pub webhook_max_attempts: u32,
    /// Wait before the first retry, doubled for each further one. Default 100 ms.
    pub webhook_backoff: Duration,
    /// Per-request timeout of a webhook POST. Default 5 s.
    pub webhook_timeout: Duration,
    /// With a seed, batch answers (`batch/create|read|update|upsert`) list their results in a
    /// shuffled order (never the input order), and search results that tie on every sort key
    /// come in a shuffled order too: HubSpot promises neither order. Default `None`: input
    /// order, ties by id.
    pub shuffle_seed: Option<u64>,
}

impl Default for HubSpotConfig {
    fn default() -> Self {
        Self {
            access_tokens: vec!["demo-token".into()],
            portal_id: 62515,
            rate_limit: None,
            search_cap: 10_000,
            max_batch: 100,
            max_search_limit: 200,
            max_list_limit: 100,
            oauth: None,
            webhook_interval: Duration::from_millis(50),
            webhook_batch_size: 100,
            webhook_max_attempts: 3,
            webhook_backoff: Duration::from_millis(100),
            webhook_timeout: Duration::from_secs(5),
            shuffle_seed: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum ObjType {
    Contacts,
    Companies,
}

impl ObjType {
    fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "contacts" | "contact" | "0-1" => Some(Self::Contacts),
            "companies" | "company" | "0-2" => Some(Self::Companies),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Companies => "companies",
        }
    }
    fn upper(self) -> &'static str {
        match self {
            Self::Contacts => "CONTACT",
            Self::Companies => "COMPANY",
        }
    }
    fn lastmod(self) -> &'static str {
        match self {
            Self::Contacts => "lastmodifieddate",
            Self::Companies => "hs_lastmodifieddate",
        }
    }
    fn defaults(self) -> &'static [&'static str] {
        match self {
            Self::Contacts => &[
                "email",
                "firstname",
                "lastname",
                "createdate",
                "lastmodifieddate",
                "hs_object_id",
            ],
            Self::Companies => &[
                "name",
                "domain",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
        }
    }
    /// Properties usable as `idProperty`.
    fn unique_props(self) -> &'static [&'static str] {
        match self {
            Self::Contacts => &["email", "hs_object_id"],
            Self::Companies => &["hs_object_id"],
        }
    }
    fn read_only(self, prop: &str) -> bool {
        matches!(prop, "hs_object_id" | "createdate" | "hs_createdate") || prop == self.lastmod()
    }
}

#[derive(Clone, Debug)]
struct HsObject {
    id: u64,
    props: BTreeMap<String, String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    archived_at: Option<DateTime<Utc>>,
    /// Contacts only: primary associated company.
    primary_company: Option<u64>,
}

impl HsObject {
    fn archived(&self) -> bool {
        self.archived_at.is_some()
    }

    /// Stored plus system properties, as JSON strings.
    fn all_props(&self, t: ObjType) -> BTreeMap<String, Value> {
        let mut m: BTreeMap<String, Value> = self
            .props
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        m.insert("hs_object_id".into(), self.id.to_string().into());
        m.insert("createdate".into(), iso(&self.created_at).into());
        m.insert(t.lastmod().into(), iso(&self.updated_at).into());
        if t == ObjType::Contacts
            && let Some(c) = self.primary_company
        {
            m.insert("associatedcompanyid".into(), c.to_string().into());
        }
        m
    }

    fn render(&self, t: ObjType, names: Option<&[String]>, assoc: bool) -> Value {
        let all = self.all_props(t);
        let props: Map<String, Value> = match names {
            None => all.into_iter().collect(),
            Some(ns) => ns
                .iter()
                .map(|n| (n.clone(), all.get(n).cloned().unwrap_or(Value::Null)))
                .collect(),
        };
        let mut o = json!({
            "id": self.id.to_string(),
            "properties": props,
            "createdAt": iso(&self.created_at),
            "updatedAt": iso(&self.updated_at),
            "archived": self.archived(),
        });
        if let Some(a) = self.archived_at {
            o["archivedAt"] = iso(&a).into();
        }
        if assoc
            && t == ObjType::Contacts
            && let Some(c) = self.primary_company
        {
            o["associations"] = json!({ "companies": { "results": [
                { "id": c.to_string(), "type": "contact_to_company" }
            ]}});
        }
        o
    }
}

/// Property names for a response: requested ones plus the system trio, or
/// the type's defaults.
fn selection(t: ObjType, requested: &[String]) -> Vec<String> {
    if requested.is_empty() {
        return t.defaults().iter().map(|s| s.to_string()).collect();
    }
    let mut v: Vec<String> = requested.to_vec();
    for s in ["hs_object_id", "createdate", t.lastmod()] {
        if !v.iter().any(|x| x == s) {
            v.push(s.into());
        }
    }
    v
}

/// Defaults plus the properties just written (create/update responses).
fn written_selection(t: ObjType, props: Option<&Map<String, Value>>) -> Vec<String> {
    let mut v: Vec<String> = t.defaults().iter().map(|s| s.to_string()).collect();
    for k in props.into_iter().flat_map(|p| p.keys()) {
        if !v.contains(k) {
            v.push(k.clone());
        }
    }
    v
}

/// Who made a change, as reported in webhook events.
#[derive(Clone, Debug, Default)]
struct Source {
    /// The portal whose records the change touches (that of the token).
    portal: u64,
    /// `changeSource`: `INTEGRATION` for API calls, `CRM_UI` for the
    /// in-process helpers and admin seeding.
    change_source: &'static str,
    /// `sourceId`: the app id for calls made with an OAuth token.
    source_id: Option<String>,
}

impl Source {
    fn ui(portal: u64) -> Self {
        Self {
            portal,
            change_source: "CRM_UI",
            source_id: None,
        }
    }
}

/// A committed change, with what webhooks need on top of the public event.
#[derive(Clone, Debug)]
struct Change {
    event: ChangeEvent,
    object: ObjType,
    object_id: u64,
    at_ms: i64,
    /// Updates only: `(property, new value)` of every property whose value
    /// changed (removed ones have `""`).
    props: Vec<(String, String)>,
    source: Source,
}

#[derive(Default)]
struct State {
    clock: Clock,
    /// Ids are unique across portals (as HubSpot's are).
    next_id: u64,
    /// Objects by portal and type.
    objects: HashMap<(u64, ObjType), BTreeMap<u64, HsObject>>,
    /// (portal, lower-cased email) -> contact id (non-archived contacts only).
    emails: HashMap<(u64, String), u64>,
    events: Vec<Change>,
    /// Source of the writes of the current `with_state` call; its portal is
    /// the one every read and write of the call works on.
    source: Source,
    /// Custom property definitions by portal and type (see [`properties`]).
    custom_properties: HashMap<(u64, ObjType), BTreeMap<String, Value>>,
}

/// Validated outcome of a write, ready to commit.
struct Prepared {
    props: BTreeMap<String, String>,
    primary: Option<u64>,
}

impl State {
    fn portal(&self) -> u64 {
        self.source.portal
    }

    fn objs(&self, t: ObjType) -> Option<&BTreeMap<u64, HsObject>> {
        self.objects.get(&(self.portal(), t))
    }

    fn obj(&self, t: ObjType, id: u64) -> Option<&HsObject> {
        self.objs(t)?.get(&id)
    }

    fn live(&self, t: ObjType, id: u64) -> Option<&HsObject> {
        self.obj(t, id).filter(|o| !o.archived())
    }

    /// Resolves an id (or unique property value) to an object id.
    fn resolve(&self, t: ObjType, id: &str, id_property: Option<&str>) -> Option<u64> {
        match id_property {
            Some("email") if t == ObjType::Contacts => self
                .emails
                .get(&(self.portal(), id.trim().to_lowercase()))
                .copied(),
            Some(p) if p != "hs_object_id" => self
                .objs(t)?
                .values()
                .find(|o| {
                    !o.archived() && o.props.get(p).is_some_and(|v| v.eq_ignore_ascii_case(id))
                })
                .map(|o| o.id),
            _ => id.trim().parse().ok(),
        }
    }

    /// Validates a property write against `existing` (None = create).
    fn prepare(
        &self,
        faults: Option<&Faults>,
        t: ObjType,
        existing: Option<u64>,
        props: Option<&Map<String, Value>>,
        associations: Option<&Value>,
    ) -> Result<Prepared, ApiError> {
        if faults.is_some() {
            // An API write (the in-process helpers pass no faults and accept any property).
            self.check_defined(t, props.into_iter().flat_map(|p| p.keys()))?;
        }
        let base = existing.and_then(|id| self.obj(t, id));
        let mut out = Prepared {
            props: base.map(|o| o.props.clone()).unwrap_or_default(),
            primary: base.and_then(|o| o.primary_company),
        };
        for (k, v) in props.into_iter().flatten() {
            let s = match v {
                Value::Null => String::new(),
                v => scalar_string(v).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "Property values were not valid: property \"{k}\" must be a string, number or boolean"
                    ))
                })?,
            };
            if t.read_only(k) {
                // HubSpot silently ignores writes to these system properties.
                continue;
            }
            match (t, k.as_str()) {
                (ObjType::Contacts, "associatedcompanyid") => {
                    out.primary = if s.trim().is_empty() {
                        None
                    } else {
                        Some(self.company_id(&s)?)
                    };
                }
                (ObjType::Contacts, "email") => {
                    let email = s.trim().to_lowercase();
                    if let Some(other) = self
                        .emails
                        .get(&(self.portal(), email.clone()))
                        .filter(|o| Some(**o) != existing)
                    {
                        return Err(ApiError::Conflict(format!(
                            "Contact already exists. Existing ID: {other}"
                        )));
                    }
                    out.props.insert(k.clone(), email);
                }
                _ => {
                    out.props.insert(k.clone(), s);
                }
            }
        }
        if t == ObjType::Contacts {
            for a in associations.and_then(Value::as_array).into_iter().flatten() {
                let to = a
                    .pointer("/to/id")
                    .and_then(scalar_string)
                    .unwrap_or_default();
                out.primary = Some(self.company_id(&to)?);
            }
        }
        if let Some(f) = faults {
            let primary = out.primary.map(|c| c.to_string());
            if let Some(hit) = f.record_hit(|name| match name {
                "associatedcompanyid" => primary.clone().map(Value::String),
                _ => out.props.get(name).cloned().map(Value::String),
            }) {
                return Err(ApiError::BadRequest(format!(
                    "Property values were not valid: [{{\"isValid\":false,\"message\":\"{} is invalid (injected fault)\",\"error\":\"INVALID_PROPERTY\",\"name\":\"{}\"}}]",
                    hit.value, hit.field
                )));
            }
        }
        Ok(out)
    }

    fn company_id(&self, s: &str) -> Result<u64, ApiError> {
        s.trim()
            .parse::<u64>()
            .ok()
            .filter(|id| self.live(ObjType::Companies, *id).is_some())
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Company {s} does not exist or is archived (associatedcompanyid)"
                ))
            })
    }

    /// Commits a prepared write; returns `(id, created)`.
    fn commit(&mut self, t: ObjType, existing: Option<u64>, p: Prepared) -> (u64, bool) {
        let Self {
            clock,
            next_id,
            objects,
            emails,
            events,
            source,
            ..
        } = self;
        let portal = source.portal;
        let objs = objects.entry((portal, t)).or_default();
        let mut diff = Vec::new();
        let (id, kind) = match existing.and_then(|id| objs.get_mut(&id)) {
            Some(o) => {
                if o.props == p.props && o.primary_company == p.primary {
                    // Idempotent re-send: timestamps untouched.
                    return (o.id, false);
                }
                if t == ObjType::Contacts
                    && let Some(old) = o.props.get("email")
                {
                    emails.remove(&(portal, old.clone()));
                }
                let before = o.all_props(t);
                o.props = p.props;
                o.primary_company = p.primary;
                o.updated_at = clock.now();
                diff = prop_diff(&before, &o.all_props(t));
                (o.id, ChangeKind::Updated)
            }
            None => {
                if *next_id < FIRST_ID {
                    *next_id = FIRST_ID;
                }
                let id = *next_id;
                *next_id += 1;
                let now = clock.now();
                let o = HsObject {
                    id,
                    props: p.props,
                    created_at: now,
                    updated_at: now,
                    archived_at: None,
                    primary_company: p.primary,
                };
                objs.insert(id, o);
                (id, ChangeKind::Created)
            }
        };
        let o = &objs[&id];
        if t == ObjType::Contacts
            && let Some(e) = o.props.get("email").filter(|e| !e.is_empty())
        {
            emails.insert((portal, e.clone()), id);
        }
        events.push(Change {
            event: ChangeEvent {
                kind,
                scope: String::new(),
                collection: t.name().into(),
                id: id.to_string(),
                at: iso(&o.updated_at),
            },
            object: t,
            object_id: id,
            at_ms: o.updated_at.timestamp_millis(),
            props: diff,
            source: source.clone(),
        });
        (id, kind == ChangeKind::Created)
    }

    fn archive(&mut self, t: ObjType, id: u64) -> bool {
        let Self {
            clock,
            objects,
            emails,
            events,
            source,
            ..
        } = self;
        let Some(o) = objects
            .get_mut(&(source.portal, t))
            .and_then(|m| m.get_mut(&id))
            .filter(|o| !o.archived())
        else {
            return false;
        };
        let now = clock.now();
        o.archived_at = Some(now);
        if let Some(e) = o.props.get("email") {
            emails.remove(&(source.portal, e.clone()));
        }
        events.push(Change {
            event: ChangeEvent {
                kind: ChangeKind::Archived,
                scope: String::new(),
                collection: t.name().into(),
                id: id.to_string(),
                at: iso(&now),
            },
            object: t,
            object_id: id,
            at_ms: now.timestamp_millis(),
            props: Vec::new(),
            source: source.clone(),
        });
        true
    }
}

/// `(property, new value)` for every property that differs.
fn prop_diff(
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> Vec<(String, String)> {
    let text = |v: Option<&Value>| v.and_then(scalar_string).unwrap_or_default();
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| text(before.get(*k)) != text(after.get(*k)))
        .map(|k| (k.clone(), text(after.get(k))))
        .collect()
}

struct Inner {
    /// Weak self-reference, for spawning the webhook worker.
    me: Weak<Inner>,
    config: HubSpotConfig,
    state: Mutex<State>,
    faults: Faults,
    stats: Mutex<CallStats>,
    limiter: Mutex<RateLimiter>,
    hooks: Mutex<Vec<ChangeHook>>,
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
            let hooks = lock(&self.hooks).clone();
            for e in &events {
                for h in &hooks {
                    h(&e.event);
                }
            }
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
                faults: Faults::default(),
                stats: Mutex::new(CallStats::default()),
                limiter: Mutex::new(RateLimiter::default()),
                hooks: Mutex::new(Vec::new()),
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
        let router = Router::new()
            .fallback(handle)
            .with_state(self.inner.clone());
        crate::common::after_commit_layer(router, self.inner.faults.clone(), |kind| {
            Box::pin(fault_response(kind))
        })
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
        let t = obj_type(object_type);
        self.inner
            .with_state(Source::ui(portal), |st| {
                let p = st.prepare(None, t, None, properties.as_object(), None)?;
                let (id, _) = st.commit(t, None, p);
                Ok::<_, ApiError>(
                    st.obj(t, id)
                        .map(|o| o.render(t, None, true))
                        .unwrap_or_default(),
                )
            })
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
        &self.inner.faults
    }

    /// Shorthand for `faults().fail_record(rule)` (`field` = property name).
    pub fn fail_record(&self, rule: RecordFault) {
        self.inner.faults.fail_record(rule);
    }

    /// Shorthand for `faults().fail_calls(rule)`.
    pub fn fail_calls(&self, rule: CallFault) {
        self.inner.faults.fail_calls(rule);
    }

    /// Removes all faults.
    pub fn clear_faults(&self) {
        self.inner.faults.clear();
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
        match st
            .objects
            .get_mut(&(portal, t))
            .and_then(|m| m.get_mut(&id))
        {
            Some(o) => {
                o.updated_at = at;
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
        lock(&self.inner.stats).clone()
    }

    /// Zeroes call counters.
    pub fn reset_stats(&self) {
        *lock(&self.inner.stats) = CallStats::default();
    }

    /// Registers a change observer, called after each committed change
    /// (webhooks/notifications are generated at the same point).
    pub fn on_change(&self, hook: ChangeHook) {
        lock(&self.inner.hooks).push(hook);
    }

    /// Whole state as JSON: `{"portalId", "contacts": [..], "companies": [..], "faults"}`.
    pub fn dump(&self) -> Value {
        json!({
            "portalId": self.inner.config.portal_id,
            "contacts": self.all_objects_including_archived("contacts"),
            "companies": self.all_objects_including_archived("companies"),
            "faults": self.inner.faults.to_json(),
        })
    }
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

fn category(e: &ApiError) -> &'static str {
    match e {
        ApiError::BadRequest(_) | ApiError::MethodNotAllowed(_) => "VALIDATION_ERROR",
        ApiError::Unauthorized(_) => "INVALID_AUTHENTICATION",
        ApiError::NotFound(_) => "OBJECT_NOT_FOUND",
        ApiError::Conflict(_) => "CONFLICT",
        ApiError::Status { status: 429, .. } => "RATE_LIMITS",
        ApiError::Status {
            status: 400..500, ..
        } => "VALIDATION_ERROR",
        ApiError::Status { .. } => "INTERNAL_ERROR",
    }
}

fn error_body(e: &ApiError) -> Value {
    json!({
        "status": "error",
        "message": e.to_string(),
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "category": category(e),
    })
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.status(), JSON, &error_body(e))
}

/// One error entry of a batch (multi-status) response.
fn batch_error(e: &ApiError, context: Value) -> Value {
    // `errors` and `links` are required by HubSpot's generated client models.
    json!({
        "status": "error",
        "category": category(e),
        "message": e.to_string(),
        "context": context,
        "errors": [],
        "links": {},
    })
}

/// `{"objectWriteTraceId": [t]}` or `{"index": ["i"]}`, plus extra keys.
fn write_context(input: &Value, index: usize, extra: Option<(&str, Value)>) -> Value {
    let mut ctx = match input.get("objectWriteTraceId").and_then(scalar_string) {
        Some(t) => json!({ "objectWriteTraceId": [t] }),
        None => json!({ "index": [index.to_string()] }),
    };
    if let Some((k, v)) = extra {
        ctx[k] = v;
    }
    ctx
}

fn batch_envelope(
    results: Vec<Value>,
    errors: Vec<Value>,
    started: &str,
    ok: StatusCode,
) -> (StatusCode, Value) {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso(&Utc::now()),
    });
    if errors.is_empty() {
        (ok, body)
    } else {
        body["numErrors"] = errors.len().into();
        body["errors"] = Value::Array(errors);
        (StatusCode::MULTI_STATUS, body)
    }
}

/// `properties` from query params: repeated and/or comma-separated.
fn query_list(q: &[(String, String)], key: &str) -> Vec<String> {
    q.iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn body_list(body: &Value, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(scalar_string).collect())
        .unwrap_or_default()
}

fn parse_json(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("Invalid input JSON on line 1: {e}")))
}

/// The bearer token of a request, whatever it is.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty()).then_some(token)
}

/// Outcome of checking a request's credentials.
enum Auth {
    /// A static token (`oauth = false`) or a live OAuth access token, of a portal.
    Valid {
        token: String,
        oauth: bool,
        portal: u64,
    },
    /// A known OAuth access token past its expiry.
    Expired,
    /// No or unknown credentials.
    Missing,
}

fn authenticate(inner: &Inner, headers: &HeaderMap) -> Auth {
    let Some(token) = bearer_token(headers) else {
        return Auth::Missing;
    };
    if inner.config.access_tokens.iter().any(|t| t == token) {
        return Auth::Valid {
            token: token.to_string(),
            oauth: false,
            portal: inner.default_portal(),
        };
    }
    if let Some(portal) = lock(&inner.portal_tokens).get(token) {
        return Auth::Valid {
            token: token.to_string(),
            oauth: false,
            portal: *portal,
        };
    }
    match lock(&inner.oauth).access_token(token) {
        Some((true, portal)) => Auth::Valid {
            token: token.to_string(),
            oauth: true,
            portal,
        },
        Some((false, _)) => Auth::Expired,
        None => Auth::Missing,
    }
}

fn unauthorized_response() -> Response {
    error_response(&ApiError::Unauthorized(
        "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview".into(),
    ))
}

fn expired_response() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        JSON,
        &json!({
            "status": "error",
            "message": "The OAuth token used to make this call expired. Please refresh the token and try again.",
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "category": "EXPIRED_AUTHENTICATION",
        }),
    )
}

fn inputs(body: &Value, max: usize) -> Result<Vec<Value>, ApiError> {
    let items = body
        .get("inputs")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError::BadRequest("Invalid input JSON: 'inputs' must be an array".into())
        })?;
    if items.len() > max {
        return Err(ApiError::BadRequest(format!(
            "Batch input must contain at most {max} inputs, got {}",
            items.len()
        )));
    }
    Ok(items.clone())
}

/// HubSpot's answer to a batch naming one id twice: `400` for the whole batch.
fn duplicate_ids(items: &[Value], id_of: impl Fn(&Value) -> Option<String>) -> Option<Value> {
    let mut seen = std::collections::HashSet::new();
    let mut dups: Vec<String> = Vec::new();
    for id in items.iter().filter_map(id_of) {
        if !seen.insert(id.clone()) && !dups.contains(&id) {
            dups.push(id);
        }
    }
    if dups.is_empty() {
        return None;
    }
    Some(json!({
        "status": "error",
        "message": format!("Duplicate IDs found in batch input: [{}]. IDs must be unique", dups.join(", ")),
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "context": { "ids": dups },
        "category": "VALIDATION_ERROR",
    }))
}

/// The `id` of a batch input.
fn input_id(input: &Value) -> Option<String> {
    input.get("id").and_then(scalar_string)
}

struct Ctx<'a> {
    inner: &'a Inner,
    source: Source,
    t: ObjType,
    q: Vec<(String, String)>,
    base: String,
    path: String,
}

async fn handle(AxState(inner): AxState<Arc<Inner>>, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_string();
    let q = query_pairs(parts.uri.query());
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return error_response(&ApiError::BadRequest(format!("Unreadable body: {e}"))),
    };
    if let Some(rest) = path.strip_prefix("/_emulator") {
        return admin(&inner, &method, rest, &bytes);
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segs.first() == Some(&"oauth") {
        return oauth::handle(&inner, &method, &segs, &q, &parts.headers, &bytes).await;
    }
    if let ["webhooks", "v3", app, rest @ ..] = segs.as_slice() {
        return webhooks::handle(&inner, &method, app, rest, &q, &parts.headers, &bytes);
    }
    // Account details let clients learn the portal id (used as external-id realm).
    let account_info = method == Method::GET && segs == ["account-info", "v3", "details"];
    let mut properties_api = false;
    let (type_seg, rest): (&str, &[&str]) = match segs.as_slice() {
        _ if account_info => ("", &[]),
        ["crm", "v3", "objects", type_seg, rest @ ..] => (type_seg, rest),
        ["crm", "v3", "properties", type_seg, rest @ ..] if rest.len() <= 1 => {
            properties_api = true;
            (type_seg, rest)
        }
        _ => {
            return error_response(&ApiError::NotFound(format!("No route for {method} {path}")));
        }
    };
    let (route, read) = match (&method, rest) {
        _ if account_info => ("GET /account-info/v3/details".to_string(), true),
        (m, []) if properties_api => (
            format!("{m} /crm/v3/properties/{{objectType}}"),
            m == Method::GET,
        ),
        (m, [_]) if properties_api => (
            format!("{m} /crm/v3/properties/{{objectType}}/{{propertyName}}"),
            m == Method::GET,
        ),
        (m, []) => (
            format!("{m} /crm/v3/objects/{{objectType}}"),
            m == Method::GET,
        ),
        (m, ["search"]) => (format!("{m} /crm/v3/objects/{{objectType}}/search"), true),
        (m, ["batch", op]) => (
            format!("{m} /crm/v3/objects/{{objectType}}/batch/{op}"),
            *op == "read",
        ),
        (m, [_]) => (
            format!("{m} /crm/v3/objects/{{objectType}}/{{objectId}}"),
            m == Method::GET,
        ),
        _ => return error_response(&ApiError::NotFound(format!("No route for {method} {path}"))),
    };
    lock(&inner.stats).count(&route, read);

    let (token, via_oauth, portal) = match authenticate(&inner, &parts.headers) {
        Auth::Valid {
            token,
            oauth,
            portal,
        } => (token, oauth, portal),
        Auth::Expired => {
            lock(&inner.stats).rejected += 1;
            return expired_response();
        }
        Auth::Missing => {
            lock(&inner.stats).rejected += 1;
            return unauthorized_response();
        }
    };
    let source = Source {
        portal,
        change_source: "INTEGRATION",
        source_id: via_oauth
            .then(|| inner.config.oauth.as_ref().map(|a| a.app_id.to_string()))
            .flatten(),
    };
    let mut remaining = None;
    if let Some(limit) = inner.config.rate_limit {
        match lock(&inner.limiter).check(&token, limit) {
            Ok(r) => remaining = Some(r),
            Err(secs) => {
                lock(&inner.stats).rejected += 1;
                let mut r = json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    JSON,
                    &json!({
                        "status": "error",
                        "message": "You have reached your ten_secondly_rolling limit.",
                        "errorType": "RATE_LIMIT",
                        "correlationId": uuid::Uuid::new_v4().to_string(),
                        "policyName": "TEN_SECONDLY_ROLLING",
                        "category": "RATE_LIMITS",
                    }),
                );
                rate_headers(&mut r, limit, 0);
                set_header(&mut r, "retry-after", secs);
                return r;
            }
        }
    }
    let scheduled = scheduled::take(&mut lock(&inner.scheduled), false, method.as_str(), &path);
    let mut resp =
        if let Some(kind) = scheduled.or_else(|| inner.faults.take_call(method.as_str(), &path)) {
            lock(&inner.stats).rejected += 1;
            fault_response(kind).await
        } else if account_info {
            json_response(
                StatusCode::OK,
                JSON,
                &json!({
                    "portalId": portal,
                    "accountType": "STANDARD",
                    "timeZone": "Etc/UTC",
                    "companyCurrency": "USD",
                    "additionalCurrencies": [],
                    "utcOffset": "+00:00",
                    "utcOffsetMilliseconds": 0,
                    "uiDomain": "app.hubspot.com",
                    "dataHostingLocation": "na1",
                }),
            )
        } else {
            match ObjType::parse(type_seg) {
                None => error_response(&ApiError::NotFound(format!(
                    "Unable to infer object type from: {type_seg}"
                ))),
                Some(t) if properties_api => {
                    let answer = parse_json(&bytes).and_then(|body| {
                        inner.with_state(source.clone(), |st| {
                            properties::dispatch(st, t, &method, rest, &body)
                        })
                    });
                    match answer {
                        Ok((status, v)) => json_response(status, JSON, &v),
                        Err(e) => properties::error(&e),
                    }
                }
                Some(t) => {
                    let ctx = Ctx {
                        inner: &inner,
                        source,
                        t,
                        q,
                        base: base_url(&parts.headers),
                        path: path.clone(),
                    };
                    match dispatch(&ctx, &method, rest, &bytes) {
                        Ok((status, Some(v))) => json_response(status, JSON, &v),
                        Ok((status, None)) => empty_response(status),
                        Err(e) => error_response(&e),
                    }
                }
            }
        };
    // A lost answer: the call was processed, the client sees a failure.
    let lost = scheduled::take(&mut lock(&inner.scheduled), true, method.as_str(), &path);
    if let Some(kind) = lost {
        lock(&inner.stats).rejected += 1;
        resp = fault_response(kind).await;
    }
    if let (Some(limit), Some(rem)) = (inner.config.rate_limit, remaining) {
        rate_headers(&mut resp, limit, rem);
    }
    resp
}

fn rate_headers(r: &mut Response, limit: RateLimit, remaining: u32) {
    set_header(r, "x-hubspot-ratelimit-max", limit.max);
    set_header(r, "x-hubspot-ratelimit-remaining", remaining);
    set_header(
        r,
        "x-hubspot-ratelimit-interval-milliseconds",
        limit.interval_ms,
    );
}

type Outcome = Result<(StatusCode, Option<Value>), ApiError>;

fn dispatch(c: &Ctx<'_>, method: &Method, rest: &[&str], bytes: &Bytes) -> Outcome {
    match (method, rest) {
        (&Method::GET, []) => list(c),
        (&Method::POST, []) => create(c, &parse_json(bytes)?),
        (&Method::POST, ["search"]) => search(c, &parse_json(bytes)?),
        (&Method::POST, ["batch", "read"]) => batch_read(c, &parse_json(bytes)?),
        (&Method::POST, ["batch", "create"]) => batch_create(c, &parse_json(bytes)?),
        (&Method::POST, ["batch", "update"]) => batch_update(c, &parse_json(bytes)?),
        (&Method::POST, ["batch", "upsert"]) => batch_upsert(c, &parse_json(bytes)?),
        (&Method::POST, ["batch", "archive"]) => batch_archive(c, &parse_json(bytes)?),
        (_, ["batch", op])
            if !matches!(*op, "read" | "create" | "update" | "upsert" | "archive") =>
        {
            Err(ApiError::NotFound(format!(
                "Unknown batch operation '{op}'"
            )))
        }
        (&Method::GET, [id]) => get_one(c, id),
        (&Method::PATCH, [id]) => patch_one(c, id, &parse_json(bytes)?),
        (&Method::DELETE, [id]) => {
            let id_prop = query_get(&c.q, "idProperty").map(str::to_string);
            c.inner.with_state(c.source.clone(), |st| {
                if let Some(id) = st.resolve(c.t, id, id_prop.as_deref()) {
                    st.archive(c.t, id);
                }
            });
            Ok((StatusCode::NO_CONTENT, None))
        }
        _ => Err(ApiError::MethodNotAllowed(format!(
            "{method} is not supported on {}",
            c.path
        ))),
    }
}

fn wants_assoc(c: &Ctx<'_>) -> bool {
    query_list(&c.q, "associations")
        .iter()
        .any(|a| ObjType::parse(a) == Some(ObjType::Companies))
}

fn list(c: &Ctx<'_>) -> Outcome {
    let max = c.inner.config.max_list_limit;
    let limit = match query_get(&c.q, "limit") {
        None => 10,
        Some(s) => s
            .trim()
            .parse::<usize>()
            .map_err(|_| ApiError::BadRequest(format!("limit must be an integer, got '{s}'")))?,
    };
    if limit == 0 || limit > max {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {max}, got {limit}"
        )));
    }
    let after = match query_get(&c.q, "after") {
        None | Some("") => 0,
        Some(s) => s
            .trim()
            .parse::<u64>()
            .map_err(|_| ApiError::BadRequest(format!("Invalid paging cursor after='{s}'")))?,
    };
    let archived = query_get(&c.q, "archived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let names = selection(c.t, &query_list(&c.q, "properties"));
    let assoc = wants_assoc(c);
    let st = c.inner.state_at(c.source.portal);
    let mut page: Vec<&HsObject> = st
        .objs(c.t)
        .into_iter()
        .flat_map(|m| m.range(after..).map(|(_, o)| o))
        .filter(|o| o.archived() == archived)
        .take(limit + 1)
        .collect();
    let next = (page.len() > limit).then(|| page[limit].id);
    page.truncate(limit);
    let mut body = json!({ "results": page.iter().map(|o| o.render(c.t, Some(&names), assoc)).collect::<Vec<_>>() });
    if let Some(n) = next {
        let after = n.to_string();
        body["paging"] = json!({ "next": {
            "after": after,
            "link": format!("{}{}?{}", c.base, c.path, query_with(&c.q, "after", &after)),
        }});
    }
    Ok((StatusCode::OK, Some(body)))
}

fn get_one(c: &Ctx<'_>, id: &str) -> Outcome {
    let archived = query_get(&c.q, "archived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let names = selection(c.t, &query_list(&c.q, "properties"));
    let st = c.inner.state_at(c.source.portal);
    let found = if archived {
        id.parse()
            .ok()
            .and_then(|n| st.obj(c.t, n))
            .filter(|o| o.archived())
    } else {
        st.resolve(c.t, id, query_get(&c.q, "idProperty"))
            .and_then(|n| st.live(c.t, n))
    };
    match found {
        Some(o) => Ok((
            StatusCode::OK,
            Some(o.render(c.t, Some(&names), wants_assoc(c))),
        )),
        None => Err(ApiError::NotFound(format!(
            "Object not found.  objectId are usually numeric. ({id})"
        ))),
    }
}

fn create(c: &Ctx<'_>, body: &Value) -> Outcome {
    let props = body.get("properties").and_then(Value::as_object);
    let names = written_selection(c.t, props);
    c.inner.with_state(c.source.clone(), |st| {
        let p = st.prepare(
            Some(&c.inner.faults),
            c.t,
            None,
            props,
            body.get("associations"),
        )?;
        let (id, _) = st.commit(c.t, None, p);
        Ok((
            StatusCode::CREATED,
            st.obj(c.t, id).map(|o| o.render(c.t, Some(&names), false)),
        ))
    })
}

fn patch_one(c: &Ctx<'_>, id: &str, body: &Value) -> Outcome {
    let props = body.get("properties").and_then(Value::as_object);
    let names = written_selection(c.t, props);
    let id_prop = query_get(&c.q, "idProperty").map(str::to_string);
    c.inner.with_state(c.source.clone(), |st| {
        let oid = st
            .resolve(c.t, id, id_prop.as_deref())
            .filter(|n| st.live(c.t, *n).is_some())
            .ok_or_else(|| {
                ApiError::NotFound(format!("resource not found: {} {id}", c.t.upper()))
            })?;
        let p = st.prepare(Some(&c.inner.faults), c.t, Some(oid), props, None)?;
        st.commit(c.t, Some(oid), p);
        Ok((
            StatusCode::OK,
            st.obj(c.t, oid).map(|o| o.render(c.t, Some(&names), false)),
        ))
    })
}

// --- search ------------------------------------------------------------------

fn hs_cmp(prop: &str, a: &str, b: &str) -> std::cmp::Ordering {
    let dates = DATE_PROPS.contains(&prop);
    if dates && let (Some(x), Some(y)) = (parse_date_like(a), parse_date_like(b)) {
        return x.cmp(&y);
    }
    if let (Ok(x), Ok(y)) = (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        return x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal);
    }
    compare_scalars(
        &Value::String(a.to_lowercase()),
        &Value::String(b.to_lowercase()),
        false,
    )
    .unwrap_or(std::cmp::Ordering::Equal)
}

fn eval_filter(f: &Value, props: &BTreeMap<String, Value>) -> Result<bool, ApiError> {
    let name = f
        .get("propertyName")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::BadRequest("Invalid input JSON: filter is missing propertyName".into())
        })?;
    let op = f
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or("EQ")
        .to_ascii_uppercase();
    let actual = props
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let value = || {
        f.get("value").and_then(scalar_string).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Filter on '{name}' with operator {op} requires a value"
            ))
        })
    };
    let values = || -> Result<Vec<String>, ApiError> {
        f.get("values")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(scalar_string).collect())
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Filter on '{name}' with operator {op} requires values"
                ))
            })
    };
    let eq = |a: &str, b: &str| hs_cmp(name, a, b).is_eq();
    Ok(match op.as_str() {
        "HAS_PROPERTY" => actual.is_some(),
        "NOT_HAS_PROPERTY" => actual.is_none(),
        "EQ" => {
            let v = value()?;
            actual.is_some_and(|a| eq(a, &v))
        }
        "NEQ" => {
            let v = value()?;
            !actual.is_some_and(|a| eq(a, &v))
        }
        "LT" | "LTE" | "GT" | "GTE" => {
            let v = value()?;
            actual.is_some_and(|a| {
                let o = hs_cmp(name, a, &v);
                match op.as_str() {
                    "LT" => o.is_lt(),
                    "LTE" => o.is_le(),
                    "GT" => o.is_gt(),
                    _ => o.is_ge(),
                }
            })
        }
        "BETWEEN" => {
            let lo = value()?;
            let hi = f.get("highValue").and_then(scalar_string).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Filter on '{name}' with operator BETWEEN requires highValue"
                ))
            })?;
            actual.is_some_and(|a| hs_cmp(name, a, &lo).is_ge() && hs_cmp(name, a, &hi).is_le())
        }
        "IN" => {
            let vs = values()?;
            actual.is_some_and(|a| vs.iter().any(|v| eq(a, v)))
        }
        "NOT_IN" => {
            let vs = values()?;
            !actual.is_some_and(|a| vs.iter().any(|v| eq(a, v)))
        }
        "CONTAINS_TOKEN" | "NOT_CONTAINS_TOKEN" => {
            let token = value()?.replace('*', "").to_lowercase();
            let hit = actual.is_some_and(|a| a.to_lowercase().contains(&token));
            if op == "CONTAINS_TOKEN" { hit } else { !hit }
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "Unsupported filter operator '{other}'"
            )));
        }
    })
}

fn parse_sorts(body: &Value) -> Result<Vec<(String, bool)>, ApiError> {
    let mut out = Vec::new();
    for s in body
        .get("sorts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match s {
            Value::String(s) => match s.strip_prefix('-') {
                Some(p) => out.push((p.to_string(), true)),
                None => out.push((s.clone(), false)),
            },
            Value::Object(o) => {
                let p = o
                    .get("propertyName")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ApiError::BadRequest(
                            "Invalid input JSON: sort is missing propertyName".into(),
                        )
                    })?;
                let desc = match o
                    .get("direction")
                    .and_then(Value::as_str)
                    .unwrap_or("ASCENDING")
                {
                    d if d.eq_ignore_ascii_case("ASCENDING") => false,
                    d if d.eq_ignore_ascii_case("DESCENDING") => true,
                    d => {
                        return Err(ApiError::BadRequest(format!(
                            "Invalid sort direction '{d}'"
                        )));
                    }
                };
                out.push((p.to_string(), desc));
            }
            _ => {
                return Err(ApiError::BadRequest(
                    "Invalid input JSON: invalid sort".into(),
                ));
            }
        }
    }
    Ok(out)
}

fn search(c: &Ctx<'_>, body: &Value) -> Outcome {
    let cfg = &c.inner.config;
    let limit = match body.get("limit") {
        None | Some(Value::Null) => 10,
        Some(v) => scalar_string(v)
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| ApiError::BadRequest(format!("Invalid limit {v}")))?,
    };
    if limit > cfg.max_search_limit {
        return Err(ApiError::BadRequest(format!(
            "limit must be less than or equal to {}, got {limit}",
            cfg.max_search_limit
        )));
    }
    let after = match body.get("after") {
        None | Some(Value::Null) => 0,
        Some(v) => scalar_string(v)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<usize>()
                    .map_err(|_| ApiError::BadRequest(format!("Invalid paging cursor after={s}")))
            })
            .transpose()?
            .unwrap_or(0),
    };
    if after + limit > cfg.search_cap {
        return Err(ApiError::BadRequest(format!(
            "Paging beyond the search limit: after={after} plus limit={limit} exceeds {}",
            cfg.search_cap
        )));
    }
    let groups: Vec<Vec<Value>> = body
        .get("filterGroups")
        .and_then(Value::as_array)
        .map(|gs| {
            gs.iter()
                .map(|g| {
                    g.get("filters")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default();
    // HubSpot's limits: 5 filter groups, 10 filters per group, 25 filters in all.
    let total_filters: usize = groups.iter().map(Vec::len).sum();
    if groups.len() > 5 || groups.iter().any(|g| g.len() > 10) || total_filters > 25 {
        return Err(ApiError::BadRequest(format!(
            "Too many filters: {} filter groups ({total_filters} filters); at most 5 groups of at most 10 filters, 25 in all",
            groups.len()
        )));
    }
    let sorts = parse_sorts(body)?;
    let query = body
        .get("query")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let names = selection(c.t, &body_list(body, "properties"));

    let st = c.inner.state_at(c.source.portal);
    let mut hits: Vec<(&HsObject, BTreeMap<String, Value>)> = Vec::new();
    for o in st
        .objs(c.t)
        .into_iter()
        .flat_map(|m| m.values())
        .filter(|o| !o.archived())
    {
        let props = o.all_props(c.t);
        let mut ok = groups.is_empty();
        for g in &groups {
            let mut all = true;
            for f in g {
                if !eval_filter(f, &props)? {
                    all = false;
                    break;
                }
            }
            if all {
                ok = true;
                break;
            }
        }
        if ok && let Some(q) = &query {
            ok = c.t.defaults().iter().any(|p| {
                props
                    .get(*p)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.to_lowercase().contains(q.as_str()))
            });
        }
        if ok {
            hits.push((o, props));
        }
    }
    // Ties on every sort key: by id, or in a random order when shuffling.
    let salt = c.inner.tie_key();
    let tie = |o: &HsObject| {
        salt.map_or(o.id, |salt| {
            let mut r = scheduled::Rng::new(salt ^ o.id.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            r.next()
        })
    };
    hits.sort_by(|(a, pa), (b, pb)| {
        for (p, desc) in &sorts {
            let o = match (
                pa.get(p).and_then(Value::as_str),
                pb.get(p).and_then(Value::as_str),
            ) {
                (Some(x), Some(y)) => hs_cmp(p, x, y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            let o = if *desc { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        tie(a).cmp(&tie(b)).then(a.id.cmp(&b.id))
    });
    let total = hits.len();
    let results: Vec<Value> = hits
        .iter()
        .skip(after)
        .take(limit)
        .map(|(o, _)| o.render(c.t, Some(&names), false))
        .collect();
    let mut out = json!({ "total": total, "results": results });
    let end = after + limit;
    if limit > 0 && end < total && end < cfg.search_cap {
        out["paging"] = json!({ "next": { "after": end.to_string() } });
    }
    Ok((StatusCode::OK, Some(out)))
}

// --- batch -------------------------------------------------------------------

fn batch_read(c: &Ctx<'_>, body: &Value) -> Outcome {
    let started = iso(&Utc::now());
    let items = inputs(body, c.inner.config.max_batch)?;
    let archived = query_get(&c.q, "archived").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let id_prop = body.get("idProperty").and_then(Value::as_str);
    if let Some(p) = id_prop.filter(|p| !c.t.unique_props().contains(p)) {
        return Err(ApiError::BadRequest(format!(
            "{p} is not a unique property of {}",
            c.t.name()
        )));
    }
    if let Some(dups) = duplicate_ids(&items, input_id) {
        return Ok((StatusCode::BAD_REQUEST, Some(dups)));
    }
    let names = selection(c.t, &body_list(body, "properties"));
    let st = c.inner.state_at(c.source.portal);
    let (mut results, mut missing) = (Vec::new(), Vec::new());
    for input in &items {
        let id = input.get("id").and_then(scalar_string).unwrap_or_default();
        let found = if archived {
            id.parse()
                .ok()
                .and_then(|n| st.obj(c.t, n))
                .filter(|o| o.archived())
        } else {
            st.resolve(c.t, &id, id_prop).and_then(|n| st.live(c.t, n))
        };
        match found {
            Some(o) => results.push(o.render(c.t, Some(&names), false)),
            None => missing.push(id),
        }
    }
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        let e = ApiError::NotFound(format!(
            "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
            c.t.upper()
        ));
        vec![batch_error(&e, json!({ "ids": missing }))]
    };
    drop(st);
    let results = c.inner.shuffled(results);
    let (status, v) = batch_envelope(results, errors, &started, StatusCode::OK);
    Ok((status, Some(v)))
}

fn batch_create(c: &Ctx<'_>, body: &Value) -> Outcome {
    let started = iso(&Utc::now());
    let items = inputs(body, c.inner.config.max_batch)?;
    let (results, errors) = c.inner.with_state(c.source.clone(), |st| {
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        for (i, input) in items.iter().enumerate() {
            let props = input.get("properties").and_then(Value::as_object);
            match st.prepare(
                Some(&c.inner.faults),
                c.t,
                None,
                props,
                input.get("associations"),
            ) {
                Ok(p) => {
                    let (id, _) = st.commit(c.t, None, p);
                    let names = written_selection(c.t, props);
                    results.extend(st.obj(c.t, id).map(|o| o.render(c.t, Some(&names), false)));
                }
                Err(e) => errors.push(batch_error(&e, write_context(input, i, None))),
            }
        }
        (results, errors)
    });
    let results = c.inner.shuffled(results);
    let (status, v) = batch_envelope(results, errors, &started, StatusCode::CREATED);
    Ok((status, Some(v)))
}

fn batch_update(c: &Ctx<'_>, body: &Value) -> Outcome {
    let started = iso(&Utc::now());
    let items = inputs(body, c.inner.config.max_batch)?;
    if let Some(dups) = duplicate_ids(&items, input_id) {
        return Ok((StatusCode::BAD_REQUEST, Some(dups)));
    }
    let (results, errors) = c.inner.with_state(c.source.clone(), |st| {
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        for (i, input) in items.iter().enumerate() {
            let id = input.get("id").and_then(scalar_string).unwrap_or_default();
            let id_prop = input.get("idProperty").and_then(Value::as_str);
            let props = input.get("properties").and_then(Value::as_object);
            let Some(oid) = st
                .resolve(c.t, &id, id_prop)
                .filter(|n| st.live(c.t, *n).is_some())
            else {
                let e = ApiError::NotFound(format!("Could not find {} with id {id}", c.t.upper()));
                errors.push(batch_error(
                    &e,
                    write_context(input, i, Some(("ids", json!([id])))),
                ));
                continue;
            };
            match st.prepare(Some(&c.inner.faults), c.t, Some(oid), props, None) {
                Ok(p) => {
                    st.commit(c.t, Some(oid), p);
                    let names = written_selection(c.t, props);
                    results.extend(st.obj(c.t, oid).map(|o| o.render(c.t, Some(&names), false)));
                }
                Err(e) => errors.push(batch_error(&e, write_context(input, i, None))),
            }
        }
        (results, errors)
    });
    let results = c.inner.shuffled(results);
    let (status, v) = batch_envelope(results, errors, &started, StatusCode::OK);
    Ok((status, Some(v)))
}

fn batch_upsert(c: &Ctx<'_>, body: &Value) -> Outcome {
    let started = iso(&Utc::now());
    let items = inputs(body, c.inner.config.max_batch)?;
    for input in &items {
        let p = input
            .get("idProperty")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !c.t.unique_props().contains(&p) {
            return Err(ApiError::BadRequest(format!(
                "idProperty '{p}' is not a unique property of {}; use one of {:?}",
                c.t.name(),
                c.t.unique_props()
            )));
        }
    }
    let upsert_key = |input: &Value| {
        let id = input_id(input)?;
        Some(match input.get("idProperty").and_then(Value::as_str) {
            Some("email") => id.trim().to_lowercase(),
            _ => id,
        })
    };
    if let Some(dups) = duplicate_ids(&items, upsert_key) {
        return Ok((StatusCode::BAD_REQUEST, Some(dups)));
    }
    let (results, errors) = c.inner.with_state(c.source.clone(), |st| {
        let (mut results, mut errors) = (Vec::new(), Vec::new());
        for (i, input) in items.iter().enumerate() {
            let id_prop = input
                .get("idProperty")
                .and_then(Value::as_str)
                .unwrap_or("");
            let id = input.get("id").and_then(scalar_string).unwrap_or_default();
            let mut props = input
                .get("properties")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            let existing = st
                .resolve(c.t, &id, Some(id_prop))
                .filter(|n| st.live(c.t, *n).is_some());
            if existing.is_none() {
                if id_prop == "hs_object_id" {
                    let e =
                        ApiError::NotFound(format!("Could not find {} with id {id}", c.t.upper()));
                    errors.push(batch_error(
                        &e,
                        write_context(input, i, Some(("ids", json!([id])))),
                    ));
                    continue;
                }
                props
                    .entry(id_prop.to_string())
                    .or_insert_with(|| Value::String(id.clone()));
            }
            match st.prepare(
                Some(&c.inner.faults),
                c.t,
                existing,
                Some(&props),
                input.get("associations"),
            ) {
                Ok(p) => {
                    let (oid, created) = st.commit(c.t, existing, p);
                    let names = written_selection(c.t, Some(&props));
                    if let Some(mut o) =
                        st.obj(c.t, oid).map(|o| o.render(c.t, Some(&names), false))
                    {
                        o["new"] = Value::Bool(created);
                        results.push(o);
                    }
                }
                Err(e) => errors.push(batch_error(&e, write_context(input, i, None))),
            }
        }
        (results, errors)
    });
    let results = c.inner.shuffled(results);
    let (status, v) = batch_envelope(results, errors, &started, StatusCode::OK);
    Ok((status, Some(v)))
}

fn batch_archive(c: &Ctx<'_>, body: &Value) -> Outcome {
    let items = inputs(body, c.inner.config.max_batch)?;
    if let Some(dups) = duplicate_ids(&items, input_id) {
        return Ok((StatusCode::BAD_REQUEST, Some(dups)));
    }
    c.inner.with_state(c.source.clone(), |st| {
        for input in &items {
            if let Some(id) = input
                .get("id")
                .and_then(scalar_string)
                .and_then(|s| s.parse().ok())
            {
                st.archive(c.t, id);
            }
        }
    });
    Ok((StatusCode::NO_CONTENT, None))
}

/// Renders an injected call fault.
async fn fault_response(kind: FaultKind) -> Response {
    match kind {
        FaultKind::Status {
            status,
            retry_after_secs,
        } => {
            let e = ApiError::Status {
                status,
                message: format!("Injected fault: HTTP {status}"),
            };
            let mut r = error_response(&e);
            if let Some(s) = retry_after_secs {
                set_header(&mut r, "retry-after", s);
            }
            r
        }
        FaultKind::Timeout { delay_ms } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            error_response(&ApiError::Status {
                status: 504,
                message: "Injected fault: gateway timeout".into(),
            })
        }
        FaultKind::Malformed => {
            raw_response(StatusCode::OK, JSON, b"{\"unexpected\": true".to_vec())
        }
        FaultKind::WrongShape => json_response(StatusCode::OK, JSON, &json!({ "data": [] })),
        FaultKind::Reset => crate::common::reset_response(),
        FaultKind::AfterCommit { then } => Box::pin(fault_response(*then)).await,
    }
}

/// `/_emulator/...` admin routes: no auth, not counted.
fn admin(inner: &Arc<Inner>, method: &Method, rest: &str, bytes: &Bytes) -> Response {
    let emu = HubSpotEmulator {
        inner: inner.clone(),
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (method, segs.as_slice()) {
        (&Method::POST, ["faults", "scheduled"]) => {
            return match serde_json::from_slice::<ScheduledFault>(bytes) {
                Ok(fault) => {
                    emu.schedule_fault(fault);
                    json_response(StatusCode::OK, JSON, &json!({ "ok": true }))
                }
                Err(e) => json_response(
                    StatusCode::BAD_REQUEST,
                    JSON,
                    &json!({ "error": format!("invalid scheduled fault: {e}") }),
                ),
            };
        }
        // The shared handler clears the other faults.
        (&Method::DELETE, ["faults"]) => lock(&inner.scheduled).clear(),
        _ => {}
    }
    if let Some(answer) = crate::common::faults_and_stats_admin(
        JSON,
        &inner.faults,
        &inner.stats,
        method,
        &segs,
        bytes,
    ) {
        return answer;
    }
    let ok = |v: Value| json_response(StatusCode::OK, JSON, &v);
    let bad = |m: String| json_response(StatusCode::BAD_REQUEST, JSON, &json!({ "error": m }));
    match (method, segs.as_slice()) {
        (&Method::POST, ["seed", type_seg, ..]) => {
            let Some(t) = ObjType::parse(type_seg) else {
                return bad(format!("unknown object type '{type_seg}'"));
            };
            let items = match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Array(a)) => a,
                Ok(v) => vec![v],
                Err(e) => return bad(format!("invalid JSON: {e}")),
            };
            let mut out = Vec::new();
            for item in items {
                // Accept `{"properties": {...}}` or a bare property map.
                let props = item.get("properties").cloned().unwrap_or(item);
                let res = inner.with_state(Source::ui(inner.default_portal()), |st| {
                    let p = st.prepare(None, t, None, props.as_object(), None)?;
                    let (id, _) = st.commit(t, None, p);
                    Ok::<_, ApiError>(
                        st.obj(t, id)
                            .map(|o| o.render(t, None, true))
                            .unwrap_or_default(),
                    )
                });
                match res {
                    Ok(v) => out.push(v),
                    Err(e) => return bad(e.to_string()),
                }
            }
            json_response(StatusCode::CREATED, JSON, &Value::Array(out))
        }
        (&Method::GET, ["state"]) => ok(emu.dump()),
        _ => json_response(
            StatusCode::NOT_FOUND,
            JSON,
            &json!({ "error": "unknown admin route" }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_update_archive() {
        let emu = HubSpotEmulator::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        emu.on_change(Arc::new(move |e: &ChangeEvent| lock(&sink).push(e.kind)));
        let co = emu.seed("companies", json!({"name": "Acme", "employees": 12}));
        assert_eq!(co["properties"]["employees"], json!("12"));
        let co_id = co["id"].as_str().unwrap().to_string();
        let ct = emu.seed(
            "contacts",
            json!({"email": "A@X.io", "associatedcompanyid": co_id}),
        );
        let id = ct["id"].as_str().unwrap().to_string();
        assert_eq!(ct["properties"]["email"], json!("a@x.io"));
        assert_eq!(emu.primary_company_of(&id), Some(co_id));
        let before = ct["updatedAt"].clone();
        let same = emu
            .update("contacts", &id, json!({"email": "a@x.io"}))
            .unwrap();
        assert_eq!(same["updatedAt"], before);
        let changed = emu
            .update("contacts", &id, json!({"firstname": "Ann"}))
            .unwrap();
        assert_ne!(changed["updatedAt"], before);
        assert_eq!(
            changed["properties"]["lastmodifieddate"],
            changed["updatedAt"]
        );
        assert!(emu.archive("contacts", &id));
        assert!(emu.objects("contacts").is_empty());
        assert_eq!(emu.all_objects_including_archived("contacts").len(), 1);
        let kinds = lock(&seen).clone();
        assert_eq!(
            kinds,
            [
                ChangeKind::Created,
                ChangeKind::Created,
                ChangeKind::Updated,
                ChangeKind::Archived
            ]
        );
    }

    #[test]
    fn date_comparison_accepts_epoch_millis() {
        assert!(hs_cmp("createdate", "2024-01-01T00:00:00.000Z", "1704067200001").is_lt());
        assert!(hs_cmp("amount", "9", "10").is_lt());
        assert!(hs_cmp("name", "abc", "ABC").is_eq());
    }
}
