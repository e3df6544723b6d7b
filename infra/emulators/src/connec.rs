//! Emulator of the Connec! API v2 (`/api/v2/{group_id}/{collection}` and
//! `/batch`).
//!
//! Records live per group and collection. Writes are upserts keyed by
//! external ids (`CONNEC-EXTERNAL-IDS` triples), the Connec! uuid, or
//! `opts.matching_fields`; "deletion" is `status: INACTIVE`.
//!
//! # Matching, ids, paging
//!
//! - `opts.matching_fields` merges a `POST` into the first ACTIVE record equal
//!   on every listed field, compared like `$filter ... eq`: exactly and
//!   case-sensitively (numbers and instants as such); a missing, `null` or blank
//!   value never matches. The sources describe matching on "the same" values and
//!   never a case folding (see `connec::matching`).
//! - The triples of an `id` array are *added* to the record's ids, the others
//!   kept; a `PUT` whose body is only an id array is the id write-back. A new
//!   triple moves `updated_at` and is notified like any change; re-sending a
//!   known one changes nothing. A triple that already belongs to another record
//!   is refused with 409 (the sources do not say what Connec! does; refusing
//!   keeps the conflict visible instead of dropping or moving the link).
//! - `$filter` takes `eq ne gt ge/gte lt le/lte` joined with `and`. `$orderby`
//!   takes `field [asc|desc], ...`; records that tie on every key come back in
//!   natural order (last written last), so offset paging over a non-unique
//!   order shifts when records change between pages, as on a document store.
//!   [`ConnecEmulator::set_time`] pins timestamps to make such ties.
//!
//! # Notifications
//!
//! Connec! pushes changes to subscribed apps ("webhooks"). Register a
//! [`NotificationSubscriber`] with [`ConnecEmulator::subscribe`] (or
//! `POST /_emulator/subscribers`). Every committed create/update/merge,
//! through the API (including the subscriber's own writes: receivers must
//! suppress their echoes) or the in-process helpers, buffers the record in
//! the `CONNEC-EXTERNAL-IDS` shape (it carries its `group_id`). Every
//! [`ConnecConfig::notification_interval`] a background task sends ONE
//! `POST` per subscriber holding everything buffered for it, grouped by
//! collection (`{"people": [..], "organizations": [..]}`; records of several
//! groups may share a body), with HTTP Basic `api_id:api_key`, retrying
//! non-2xx answers and timeouts with doubling backoff. A record changed twice
//! in one interval appears twice, in commit order.

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
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::common::{
    ApiError, CallFault, CallStats, ChangeEvent, ChangeHook, ChangeKind, Clock, FaultKind, Faults,
    MAX_BODY, RateLimit, RateLimiter, RecordFault, RunningServer, base_url, compare_scalars,
    empty_response, iso, json_response, lock, lookup_path, query_get, query_pairs, query_with,
    raw_response, set_header,
};

mod notify;

pub use notify::{NotificationOrder, NotificationRecord, NotificationSubscriber};

use crate::delivery::Pump;

const JSONAPI: &str = "application/vnd.api+json";
const JSON: &str = "application/json";
/// Fields the server owns; ignored when sent by clients.
const READ_ONLY: [&str; 5] = [
    "group_id",
    "channel_id",
    "resource_type",
    "created_at",
    "updated_at",
];

/// Default channel naming: `org-<group_id>`.
pub fn default_channel(group_id: &str) -> String {
    format!("org-{group_id}")
}

/// Reference fields per collection: `(path, referenced collection)`.
/// `[]` marks "each element of this array".
fn ref_fields(collection: &str) -> &'static [(&'static str, &'static str)] {
    match collection {
        "people" => &[("organization_id", "organizations")],
        "invoices" | "quotes" | "sales_orders" => &[
            ("organization_id", "organizations"),
            ("person_id", "people"),
            ("lines[].item_id", "items"),
        ],
        _ => &[],
    }
}

/// Configuration of a [`ConnecEmulator`].
#[derive(Clone, Debug)]
pub struct ConnecConfig {
    /// Basic-auth user.
    pub api_id: String,
    /// Basic-auth password.
    pub api_key: String,
    /// Channel id (external-id realm of Connec! ids) for a group.
    pub channel_for_group: fn(&str) -> String,
    /// Largest accepted `$top`.
    pub max_page_size: usize,
    /// Largest number of ops in one `/batch`.
    pub max_batch_ops: usize,
    /// Optional per-credential rate limit (429 + `Retry-After`).
    pub rate_limit: Option<RateLimit>,
    /// How often buffered notifications are sent. Default 50 ms.
    pub notification_interval: Duration,
    /// Attempts per notification POST, the first included. Default 3.
    pub notification_max_attempts: u32,
    /// Wait before the first retry, doubled for each further one. Default 100 ms.
    pub notification_backoff: Duration,
    /// Per-request timeout of a notification POST. Default 5 s.
    pub notification_timeout: Duration,
}

impl Default for ConnecConfig {
    fn default() -> Self {
        Self {
            api_id: "demo-id".into(),
            api_key: "demo-key".into(),
            channel_for_group: default_channel,
            max_page_size: 100,
            max_batch_ops: 100,
            rate_limit: None,
            notification_interval: Duration::from_millis(50),
            notification_max_attempts: 3,
            notification_backoff: Duration::from_millis(100),
            notification_timeout: Duration::from_secs(5),
        }
    }
}

/// An external id triple as Connec! shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
struct Triple {
    id: String,
    provider: String,
    #[serde(default)]
    realm: String,
}

impl Triple {
    fn connec(id: &str, channel: &str) -> Self {
        Self {
            id: id.into(),
            provider: "connec".into(),
            realm: channel.into(),
        }
    }
    fn is_connec(&self) -> bool {
        self.provider.eq_ignore_ascii_case("connec")
    }
}

#[derive(Clone, Debug)]
struct Record {
    id: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    ext: Vec<Triple>,
    /// Body fields incl. `status`; references stored as uuid strings or, when
    /// unresolved, as the triples given.
    fields: Map<String, Value>,
    /// Sequence number of the record's last write: the "natural order" in
    /// which a document store returns records whose sort keys tie.
    seq: u64,
}

#[derive(Debug, Default)]
struct Collection {
    records: Vec<Record>,
    by_id: HashMap<String, usize>,
    by_ext: HashMap<Triple, usize>,
}

impl Collection {
    fn get(&self, id: &str) -> Option<&Record> {
        self.by_id.get(id).map(|i| &self.records[*i])
    }
    fn find_ext(&self, t: &Triple) -> Option<&Record> {
        self.by_ext.get(t).map(|i| &self.records[*i])
    }
}

#[derive(Debug)]
struct Group {
    channel: String,
    collections: HashMap<String, Collection>,
}

impl Group {
    fn record(&self, coll: &str, id: &str) -> Option<&Record> {
        self.collections.get(coll)?.get(id)
    }
    fn find_ext(&self, coll: &str, t: &Triple) -> Option<&Record> {
        self.collections.get(coll)?.find_ext(t)
    }
    /// Resolves reference triples to a Connec! uuid.
    fn resolve(&self, coll: &str, triples: &[Triple]) -> Option<String> {
        triples
            .iter()
            .find(|t| t.is_connec())
            .map(|t| t.id.clone())
            .or_else(|| {
                triples
                    .iter()
                    .find_map(|t| self.find_ext(coll, t).map(|r| r.id.clone()))
            })
    }
}

#[derive(Default)]
struct State {
    clock: Clock,
    /// Timestamp every write gets while set ([`ConnecEmulator::set_time`]).
    pinned_time: Option<DateTime<Utc>>,
    /// Last write sequence number handed out.
    seq: u64,
    groups: BTreeMap<String, Group>,
    /// Changes not yet delivered to hooks.
    events: Vec<ChangeEvent>,
}

/// Where a write goes.
enum Target {
    /// POST: find by external id / uuid / matching fields, else create.
    Upsert,
    /// PUT on a known uuid.
    Id(String),
}

struct Inner {
    /// Weak self-reference, for spawning the notification worker.
    me: Weak<Inner>,
    config: ConnecConfig,
    state: Mutex<State>,
    faults: Faults,
    stats: Mutex<CallStats>,
    limiter: Mutex<RateLimiter>,
    hooks: Mutex<Vec<ChangeHook>>,
    notify: Mutex<notify::NotifyState>,
    pump: Pump,
}

/// In-memory Connec! API emulator. Cheap to clone (shared state).
#[derive(Clone)]
pub struct ConnecEmulator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ConnecEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnecEmulator")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for ConnecEmulator {
    fn default() -> Self {
        Self::new(ConnecConfig::default())
    }
}

impl ConnecEmulator {
    /// Creates an empty emulator.
    pub fn new(config: ConnecConfig) -> Self {
        Self {
            inner: Arc::new_cyclic(|me| Inner {
                me: me.clone(),
                config,
                state: Mutex::new(State::default()),
                faults: Faults::default(),
                stats: Mutex::new(CallStats::default()),
                limiter: Mutex::new(RateLimiter::default()),
                hooks: Mutex::new(Vec::new()),
                notify: Mutex::new(notify::NotifyState::default()),
                pump: Pump::default(),
            }),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ConnecConfig {
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

    /// Inserts a record as a third party would (no faults applied); returns
    /// it in external-ids shape. `record` may carry `id` triples and
    /// reference triples like an API body.
    ///
    /// # Panics
    /// If `record` is not a JSON object.
    pub fn seed(&self, group_id: &str, collection: &str, record: Value) -> Value {
        self.inner
            .with_state(|st| {
                let (_, id) = st.write(
                    &self.inner,
                    group_id,
                    collection,
                    Target::Upsert,
                    &record,
                    false,
                )?;
                Ok::<_, ApiError>(
                    st.render(group_id, collection, &id, true)
                        .unwrap_or(Value::Null),
                )
            })
            .unwrap_or_else(|e| panic!("seed({group_id}, {collection}) failed: {e}"))
    }

    /// Third-party edit: deep-merges `patch` and bumps `updated_at` if
    /// anything changed. `None` if the record does not exist.
    pub fn update(
        &self,
        group_id: &str,
        collection: &str,
        connec_id: &str,
        patch: Value,
    ) -> Option<Value> {
        self.inner.with_state(|st| {
            let (_, id) = st
                .write(
                    &self.inner,
                    group_id,
                    collection,
                    Target::Id(connec_id.into()),
                    &patch,
                    false,
                )
                .ok()?;
            st.render(group_id, collection, &id, true)
        })
    }

    /// Pins the clock: until `set_time(None)`, every write (seeding, third-party edits and API
    /// writes) gets exactly `at` as its `created_at`/`updated_at`, as when a bulk import lands
    /// in one second of Connec!'s second-precision timestamps. Records whose sort keys tie are
    /// listed in natural order (last written last) unless `$orderby` holds a unique key (`id`).
    /// Unpinned, timestamps are real time again, strictly increasing.
    pub fn set_time(&self, at: Option<DateTime<Utc>>) {
        lock(&self.inner.state).pinned_time = at;
    }

    /// All records of a collection (external-ids shape), by `created_at`.
    pub fn records(&self, group_id: &str, collection: &str) -> Vec<Value> {
        let st = lock(&self.inner.state);
        let Some(c) = st
            .groups
            .get(group_id)
            .and_then(|g| g.collections.get(collection))
        else {
            return Vec::new();
        };
        c.records
            .iter()
            .filter_map(|r| st.render(group_id, collection, &r.id, true))
            .collect()
    }

    /// One record (external-ids shape).
    pub fn get(&self, group_id: &str, collection: &str, connec_id: &str) -> Option<Value> {
        lock(&self.inner.state).render(group_id, collection, connec_id, true)
    }

    /// The fault registry (shared with the HTTP admin routes).
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Shorthand for `faults().fail_record(rule)`.
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

    /// Whole state as JSON: `{"groups": {group: {collection: [records]}}, "faults": ..}`.
    pub fn dump(&self) -> Value {
        let st = lock(&self.inner.state);
        let mut groups = Map::new();
        for (gid, g) in &st.groups {
            let mut colls = Map::new();
            for (cname, c) in &g.collections {
                let recs: Vec<Value> = c
                    .records
                    .iter()
                    .filter_map(|r| st.render(gid, cname, &r.id, true))
                    .collect();
                colls.insert(cname.clone(), Value::Array(recs));
            }
            groups.insert(gid.clone(), Value::Object(colls));
        }
        json!({ "groups": groups, "faults": self.inner.faults.to_json() })
    }
}

impl Inner {
    /// Runs `f` under the state lock, then delivers change events outside it.
    /// Changed records are rendered for notifications while still locked, so
    /// each notification shows the record as committed.
    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let (out, events) = {
            let mut st = lock(&self.state);
            let out = f(&mut st);
            let events = std::mem::take(&mut st.events);
            self.buffer_notifications(&st, &events);
            (out, events)
        };
        if !events.is_empty() {
            let hooks = lock(&self.hooks).clone();
            for e in &events {
                for h in &hooks {
                    h(e);
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------
// Core operations
// ---------------------------------------------------------------------------

/// Splits a dotted ref path and applies `f` to every value it reaches.
fn for_each_ref(v: &mut Value, path: &str, f: &mut dyn FnMut(&mut Value)) {
    let segs: Vec<&str> = path.split('.').collect();
    walk(v, &segs, f);
}

fn walk(v: &mut Value, segs: &[&str], f: &mut dyn FnMut(&mut Value)) {
    let Some((first, rest)) = segs.split_first() else {
        f(v);
        return;
    };
    let Value::Object(m) = v else { return };
    if let Some(name) = first.strip_suffix("[]") {
        if let Some(Value::Array(items)) = m.get_mut(name) {
            for it in items {
                walk(it, rest, f);
            }
        }
    } else if let Some(child) = m.get_mut(*first) {
        walk(child, rest, f);
    }
}

/// Parses one triple or an array of triples.
fn parse_triples(v: &Value) -> Result<Vec<Triple>, String> {
    let items = match v {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![v.clone()],
        _ => return Err("expected an id triple or an array of triples".into()),
    };
    items
        .into_iter()
        .map(|t| serde_json::from_value::<Triple>(t).map_err(|e| format!("invalid id triple: {e}")))
        .collect()
}

fn deep_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(tv) if tv.is_object() && v.is_object() => deep_merge(tv, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// How Connec! compares a `matching_fields` value, the same way as `$filter ... eq`: exact
/// (case-sensitive) equality of two scalars, numbers and instants compared as such. A missing,
/// `null` or blank value never matches: it identifies nothing.
fn match_eq(stored: Option<&Value>, incoming: Option<&Value>) -> bool {
    fn usable(v: Option<&Value>) -> Option<&Value> {
        v.filter(|v| match v {
            Value::String(s) => !s.trim().is_empty(),
            Value::Number(_) | Value::Bool(_) => true,
            _ => false,
        })
    }
    match (usable(stored), usable(incoming)) {
        (Some(a), Some(b)) => compare_scalars(a, b, false).is_some_and(|o| o.is_eq()),
        _ => false,
    }
}

/// The record a `POST` with `opts.matching_fields` merges into: the first ACTIVE record (in
/// creation order) equal to `incoming` on every field ([`match_eq`]).
fn smart_merge_target(c: &Collection, matching: &[String], incoming: &Value) -> Option<usize> {
    if matching.is_empty() {
        return None;
    }
    c.records.iter().position(|r| {
        r.fields
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("ACTIVE")
            == "ACTIVE"
            && matching
                .iter()
                .all(|p| match_eq(stored_path(r, p), lookup_path(incoming, p)))
    })
}

/// A dotted path in a stored record's fields (no rendering).
fn stored_path<'a>(r: &'a Record, path: &str) -> Option<&'a Value> {
    let (first, rest) = path.split_once('.').unwrap_or((path, ""));
    r.fields.get(first).and_then(|v| {
        if rest.is_empty() {
            Some(v)
        } else {
            lookup_path(v, rest)
        }
    })
}

fn render_ref(g: &Group, target: &str, v: &Value, ext: bool) -> Value {
    match v {
        Value::String(id) if ext => {
            let mut arr =
                vec![serde_json::to_value(Triple::connec(id, &g.channel)).unwrap_or_default()];
            if let Some(r) = g.record(target, id) {
                arr.extend(r.ext.iter().filter_map(|t| serde_json::to_value(t).ok()));
            }
            Value::Array(arr)
        }
        // Pending external reference: resolve lazily once the target exists.
        Value::Array(_) | Value::Object(_) => {
            match parse_triples(v).ok().and_then(|ts| g.resolve(target, &ts)) {
                Some(id) => render_ref(g, target, &Value::String(id), ext),
                None => v.clone(),
            }
        }
        _ => v.clone(),
    }
}

impl State {
    fn group_mut(&mut self, cfg: &ConnecConfig, group_id: &str) -> &mut Group {
        self.groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group {
                channel: (cfg.channel_for_group)(group_id),
                collections: HashMap::new(),
            })
    }

    /// Renders one record in the plain or external-ids shape.
    fn render(&self, group_id: &str, coll: &str, id: &str, ext: bool) -> Option<Value> {
        let g = self.groups.get(group_id)?;
        let r = g.record(coll, id)?;
        Some(render_record(g, group_id, coll, r, ext))
    }

    /// Upsert / update. Returns the status (200/201) and the record uuid.
    /// `strict` applies API validation and record faults (off for seeding).
    fn write(
        &mut self,
        inner: &Inner,
        group_id: &str,
        coll: &str,
        target: Target,
        body: &Value,
        strict: bool,
    ) -> Result<(StatusCode, String), ApiError> {
        let Some(obj) = body.as_object() else {
            return Err(ApiError::BadRequest(format!(
                "The {coll} record must be a JSON object"
            )));
        };
        let mut fields = obj.clone();
        let matching: Vec<String> = fields
            .remove("opts")
            .and_then(|o| o.get("matching_fields").cloned())
            .and_then(|m| m.as_array().cloned())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let id_val = fields.remove("id");
        for k in READ_ONLY {
            fields.remove(k);
        }
        let id_only = fields.is_empty();
        let (connec_id, externals) = match id_val {
            None | Some(Value::Null) => (None, Vec::new()),
            Some(Value::String(s)) => (Some(s), Vec::new()),
            Some(v) => {
                let ts = parse_triples(&v)
                    .map_err(|e| ApiError::BadRequest(format!("Invalid id: {e}")))?;
                let cid = ts.iter().find(|t| t.is_connec()).map(|t| t.id.clone());
                (
                    cid,
                    ts.into_iter()
                        .filter(|t| !t.is_connec())
                        .collect::<Vec<_>>(),
                )
            }
        };

        self.group_mut(&inner.config, group_id);
        let g = &self.groups[group_id];
        // Resolve reference fields to uuids where possible.
        let mut incoming = Value::Object(fields);
        for (path, tcoll) in ref_fields(coll) {
            for_each_ref(&mut incoming, path, &mut |v| {
                if let Value::Array(_) | Value::Object(_) = v
                    && let Ok(ts) = parse_triples(v)
                {
                    *v = match g.resolve(tcoll, &ts) {
                        Some(id) => Value::String(id),
                        None => serde_json::to_value(&ts).unwrap_or_default(),
                    };
                }
            });
        }

        let c = g.collections.get(coll);
        let existing: Option<usize> = match target {
            Target::Id(id) => Some(
                *c.and_then(|c| c.by_id.get(&id))
                    .ok_or_else(|| ApiError::NotFound(format!("No {coll} record with id {id}")))?,
            ),
            Target::Upsert => c.and_then(|c| {
                externals
                    .iter()
                    .find_map(|t| c.by_ext.get(t).copied())
                    .or_else(|| connec_id.as_ref().and_then(|id| c.by_id.get(id).copied()))
                    .or_else(|| smart_merge_target(c, &matching, &incoming))
            }),
        };
        // A body with only an id array is an id write-back: it needs a record to write to.
        if strict && id_only && (externals.is_empty() || existing.is_none()) {
            return Err(ApiError::BadRequest(format!(
                "The {coll} record has no fields"
            )));
        }
        // An external id names one record: refuse to attach it to a second one rather than
        // silently dropping (or moving) the link.
        if let Some(c) = c {
            for t in &externals {
                if let Some(&owner) = c.by_ext.get(t)
                    && Some(owner) != existing
                {
                    return Err(ApiError::Conflict(format!(
                        "The external id {}/{} {} already belongs to another {coll} record",
                        t.provider, t.realm, t.id
                    )));
                }
            }
        }

        let candidate = match existing {
            Some(i) => {
                let mut v =
                    Value::Object(c.map(|c| c.records[i].fields.clone()).unwrap_or_default());
                deep_merge(&mut v, &incoming);
                v
            }
            None => {
                let mut v = incoming;
                if let Value::Object(m) = &mut v {
                    m.entry("status").or_insert_with(|| "ACTIVE".into());
                }
                v
            }
        };
        if strict
            && let Some(hit) = inner
                .faults
                .record_hit(|p| lookup_path(&candidate, p).cloned())
        {
            return Err(ApiError::BadRequest(format!(
                "Record rejected: {} {} is invalid (injected fault)",
                hit.field, hit.value
            )));
        }
        let Value::Object(new_fields) = candidate else {
            unreachable!("records are objects")
        };

        let Self {
            clock,
            pinned_time,
            seq,
            groups,
            events,
        } = self;
        let coll_mut = groups
            .get_mut(group_id)
            .map(|g| g.collections.entry(coll.to_string()).or_default());
        let Some(coll_mut) = coll_mut else {
            unreachable!("group created above")
        };
        let mut now = || pinned_time.unwrap_or_else(|| clock.now());
        let (status, idx, kind) = match existing {
            Some(i) => {
                let changed_fields = coll_mut.records[i].fields != new_fields;
                let mut attached = false;
                for t in externals {
                    if !coll_mut.by_ext.contains_key(&t) {
                        coll_mut.records[i].ext.push(t.clone());
                        coll_mut.by_ext.insert(t, i);
                        attached = true;
                    }
                }
                if !(changed_fields || attached) {
                    // Idempotent re-send: nothing to do, timestamps untouched.
                    return Ok((StatusCode::OK, coll_mut.records[i].id.clone()));
                }
                // A new id in the id array is a change of the record like any other: it moves
                // `updated_at` and is notified (the write-back's echo reaches subscribers).
                let at = now();
                *seq += 1;
                let r = &mut coll_mut.records[i];
                r.fields = new_fields;
                r.updated_at = at;
                r.seq = *seq;
                (StatusCode::OK, i, ChangeKind::Updated)
            }
            None => {
                let at = now();
                *seq += 1;
                let id = uuid::Uuid::new_v4().to_string();
                let i = coll_mut.records.len();
                let mut ext = Vec::new();
                for t in externals {
                    if !coll_mut.by_ext.contains_key(&t) && !ext.contains(&t) {
                        coll_mut.by_ext.insert(t.clone(), i);
                        ext.push(t);
                    }
                }
                coll_mut.by_id.insert(id.clone(), i);
                coll_mut.records.push(Record {
                    id,
                    created_at: at,
                    updated_at: at,
                    ext,
                    fields: new_fields,
                    seq: *seq,
                });
                (StatusCode::CREATED, i, ChangeKind::Created)
            }
        };
        let r = &coll_mut.records[idx];
        events.push(ChangeEvent {
            kind,
            scope: group_id.to_string(),
            collection: coll.to_string(),
            id: r.id.clone(),
            at: iso(&r.updated_at),
        });
        Ok((status, r.id.clone()))
    }

    /// `GET /api/v2/{group}/{collection}`.
    fn list(
        &self,
        cfg: &ConnecConfig,
        group_id: &str,
        coll: &str,
        q: &[(String, String)],
        ext: bool,
        self_url: &str,
    ) -> Result<Value, ApiError> {
        let num = |key: &str, default: usize| -> Result<usize, ApiError> {
            match query_get(q, key) {
                None => Ok(default),
                Some(s) => s.trim().parse::<usize>().map_err(|_| {
                    ApiError::BadRequest(format!("{key} must be a non-negative integer, got '{s}'"))
                }),
            }
        };
        let top = num("$top", cfg.max_page_size.min(100))?;
        if top > cfg.max_page_size {
            return Err(ApiError::BadRequest(format!(
                "$top must be at most {}, got {top}",
                cfg.max_page_size
            )));
        }
        let skip = num("$skip", 0)?;
        let clauses = match query_get(q, "$filter") {
            Some(f) if !f.trim().is_empty() => parse_filter(f)
                .map_err(|e| ApiError::BadRequest(format!("Invalid $filter: {e}")))?,
            _ => Vec::new(),
        };
        let order = parse_orderby(query_get(q, "$orderby").unwrap_or(""))
            .map_err(|e| ApiError::BadRequest(format!("Invalid $orderby: {e}")))?;

        let Some((g, c)) = self
            .groups
            .get(group_id)
            .and_then(|g| g.collections.get(coll).map(|c| (g, c)))
        else {
            return Ok(list_body(coll, Vec::new(), skip, top, 0, q, self_url));
        };
        // Filter and sort the stored records; render only the page.
        let meta = [
            ("group_id", group_id),
            ("channel_id", g.channel.as_str()),
            ("resource_type", coll),
        ];
        let mut rows: Vec<&Record> = c
            .records
            .iter()
            .filter(|r| clauses.iter().all(|cl| cl.matches_record(r, &meta)))
            .collect();
        rows.sort_by(|a, b| {
            for (path, desc) in &order {
                let o = compare_key(a, b, path);
                let o = if *desc { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            // Ties on every requested key come back in "natural order" (last written last),
            // as a document store returns them when the sort holds no unique field: a record
            // written between two page requests moves, and offset paging over the tie shifts.
            // A unique key in `$orderby` (`id`) makes the order total.
            a.seq.cmp(&b.seq)
        });
        let total = rows.len();
        let page: Vec<Value> = rows
            .into_iter()
            .skip(skip)
            .take(top)
            .map(|r| render_record(g, group_id, coll, r, ext))
            .collect();
        Ok(list_body(coll, page, skip, top, total, q, self_url))
    }
}

/// A listing's body with its `pagination`.
fn list_body(
    coll: &str,
    page: Vec<Value>,
    skip: usize,
    top: usize,
    total: usize,
    q: &[(String, String)],
    self_url: &str,
) -> Value {
    let mut pagination = json!({ "skip": skip, "top": top, "total": total });
    if top > 0 && skip + top < total {
        pagination["next"] = format!(
            "{self_url}?{}",
            query_with(q, "$skip", &(skip + top).to_string())
        )
        .into();
    }
    let mut out = Map::new();
    out.insert(coll.to_string(), Value::Array(page));
    out.insert("pagination".into(), pagination);
    Value::Object(out)
}

/// Orders two stored records on one `$orderby` key (records lacking it last).
fn compare_key(a: &Record, b: &Record, path: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match path {
        "created_at" => a.created_at.cmp(&b.created_at),
        "updated_at" => a.updated_at.cmp(&b.updated_at),
        "id" => a.id.cmp(&b.id),
        path => match (
            stored_path(a, path).filter(|v| !v.is_null()),
            stored_path(b, path).filter(|v| !v.is_null()),
        ) {
            (Some(x), Some(y)) => compare_scalars(x, y, false).unwrap_or(Ordering::Equal),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
    }
}

fn render_record(g: &Group, group_id: &str, coll: &str, r: &Record, ext: bool) -> Value {
    let mut m = r.fields.clone();
    let id = if ext {
        let mut ids = vec![Triple::connec(&r.id, &g.channel)];
        ids.extend(r.ext.iter().cloned());
        serde_json::to_value(ids).unwrap_or_default()
    } else {
        Value::String(r.id.clone())
    };
    m.insert("id".into(), id);
    m.insert("group_id".into(), group_id.into());
    m.insert("channel_id".into(), g.channel.clone().into());
    m.insert("resource_type".into(), coll.into());
    m.insert("created_at".into(), iso(&r.created_at).into());
    m.insert("updated_at".into(), iso(&r.updated_at).into());
    let mut v = Value::Object(m);
    for (path, target) in ref_fields(coll) {
        for_each_ref(&mut v, path, &mut |x| *x = render_ref(g, target, x, ext));
    }
    v
}

// ---------------------------------------------------------------------------
// $filter / $orderby
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone)]
struct Clause {
    path: String,
    op: Op,
    value: Value,
}

impl Clause {
    /// Whether a stored record passes the clause (no rendering); `meta` holds the rendered
    /// fields that are not stored (`group_id`, `channel_id`, `resource_type`).
    fn matches_record(&self, r: &Record, meta: &[(&str, &str)]) -> bool {
        let owned;
        let actual = match self.path.as_str() {
            path if meta.iter().any(|(k, _)| *k == path) => {
                let value = meta.iter().find(|(k, _)| *k == path).map(|(_, v)| *v);
                owned = Value::String(value.unwrap_or_default().to_owned());
                Some(&owned)
            }
            "created_at" => {
                owned = Value::String(iso(&r.created_at));
                Some(&owned)
            }
            "updated_at" => {
                owned = Value::String(iso(&r.updated_at));
                Some(&owned)
            }
            "id" => {
                owned = Value::String(r.id.clone());
                Some(&owned)
            }
            path => stored_path(r, path),
        };
        self.matches_value(actual)
    }

    fn matches_value(&self, actual: Option<&Value>) -> bool {
        let actual = actual.filter(|v| !v.is_null());
        let ord = match actual {
            None => {
                return match self.op {
                    Op::Eq => self.value.is_null(),
                    Op::Ne => !self.value.is_null(),
                    _ => false,
                };
            }
            Some(a) if self.value.is_null() => return self.op == Op::Ne && !a.is_null(),
            Some(a) => compare_scalars(a, &self.value, false),
        };
        let Some(ord) = ord else {
            return self.op == Op::Ne;
        };
        match self.op {
            Op::Eq => ord.is_eq(),
            Op::Ne => ord.is_ne(),
            Op::Gt => ord.is_gt(),
            Op::Ge => ord.is_ge(),
            Op::Lt => ord.is_lt(),
            Op::Le => ord.is_le(),
        }
    }
}

/// Parses `field op 'value' [and field op value ...]`.
fn parse_filter(s: &str) -> Result<Vec<Clause>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    let word = |i: &mut usize| {
        let start = *i;
        while *i < chars.len() && !chars[*i].is_whitespace() {
            *i += 1;
        }
        chars[start..*i].iter().collect::<String>()
    };
    let mut out = Vec::new();
    loop {
        skip_ws(&mut i);
        let field = word(&mut i);
        if field.is_empty() {
            return Err("expected a field name".into());
        }
        skip_ws(&mut i);
        let op_s = word(&mut i);
        let op = match op_s.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            // `gte`/`lte` as Connec!'s own data browser sends them.
            "ge" | "gte" => Op::Ge,
            "lt" => Op::Lt,
            "le" | "lte" => Op::Le,
            "" => return Err(format!("missing operator after '{field}'")),
            other => {
                return Err(format!(
                    "unsupported operator '{other}' (expected eq, ne, gt, ge/gte, lt or le/lte)"
                ));
            }
        };
        skip_ws(&mut i);
        let value = if chars.get(i) == Some(&'\'') {
            i += 1;
            let mut v = String::new();
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated quoted value for '{field}'")),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        v.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        v.push(*c);
                        i += 1;
                    }
                }
            }
            Value::String(v)
        } else {
            let w = word(&mut i);
            match w.as_str() {
                "" => return Err(format!("missing value for '{field} {op_s}'")),
                "null" => Value::Null,
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => match w.parse::<f64>() {
                    Ok(_) => serde_json::from_str(&w).unwrap_or(Value::String(w)),
                    Err(_) => return Err(format!("value '{w}' must be quoted")),
                },
            }
        };
        out.push(Clause {
            path: field,
            op,
            value,
        });
        skip_ws(&mut i);
        if i >= chars.len() {
            return Ok(out);
        }
        let conj = word(&mut i);
        if !conj.eq_ignore_ascii_case("and") {
            return Err(format!("expected 'and' between clauses, found '{conj}'"));
        }
    }
}

/// Parses `field [asc|desc][, ...]`; defaults to `created_at asc`.
fn parse_orderby(s: &str) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = part.split_whitespace();
        let field = it.next().unwrap_or_default().to_string();
        let desc = match it.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(o) => return Err(format!("unknown direction '{o}' (expected asc or desc)")),
        };
        if it.next().is_some() {
            return Err(format!("unexpected tokens in '{part}'"));
        }
        out.push((field, desc));
    }
    if out.is_empty() {
        out.push(("created_at".into(), false));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

fn error_body(status: StatusCode, detail: &str) -> Value {
    let code = status.as_u16().to_string();
    json!({ "errors": [{
        "id": uuid::Uuid::new_v4().to_string(),
        "status": code,
        "code": code,
        "title": status.canonical_reason().unwrap_or("Error"),
        "detail": detail,
    }]})
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.status(), JSONAPI, &error_body(e.status(), &e.to_string()))
}

/// Accepts `{"<collection>": {...}}` or the bare record.
fn unwrap_record<'a>(body: &'a Value, coll: &str) -> &'a Value {
    body.get(coll).filter(|v| v.is_object()).unwrap_or(body)
}

fn wrap(coll: &str, rec: Value) -> Value {
    let mut m = Map::new();
    m.insert(coll.to_string(), rec);
    Value::Object(m)
}

/// One API operation (used by direct routes and by `/batch`).
enum ApiOp<'a> {
    List { q: Vec<(String, String)> },
    Get { id: &'a str },
    Post { body: &'a Value },
    Put { id: &'a str, body: &'a Value },
}

fn exec(
    inner: &Inner,
    st: &mut State,
    group: &str,
    coll: &str,
    op: ApiOp<'_>,
    ext: bool,
    base: &str,
) -> Result<(StatusCode, Value), ApiError> {
    match op {
        ApiOp::List { q } => {
            let url = format!("{base}/api/v2/{group}/{coll}");
            st.list(&inner.config, group, coll, &q, ext, &url)
                .map(|v| (StatusCode::OK, v))
        }
        ApiOp::Get { id } => st
            .render(group, coll, id, ext)
            .map(|r| (StatusCode::OK, wrap(coll, r)))
            .ok_or_else(|| ApiError::NotFound(format!("No {coll} record with id {id}"))),
        ApiOp::Post { body } => {
            let (status, id) = st.write(
                inner,
                group,
                coll,
                Target::Upsert,
                unwrap_record(body, coll),
                true,
            )?;
            Ok((
                status,
                wrap(coll, st.render(group, coll, &id, ext).unwrap_or_default()),
            ))
        }
        ApiOp::Put { id, body } => {
            let (_, id) = st.write(
                inner,
                group,
                coll,
                Target::Id(id.into()),
                unwrap_record(body, coll),
                true,
            )?;
            Ok((
                StatusCode::OK,
                wrap(coll, st.render(group, coll, &id, ext).unwrap_or_default()),
            ))
        }
    }
}

fn parse_json(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("Malformed JSON body: {e}")))
}

fn authorized(cfg: &ConnecConfig, headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(b64) = v
        .strip_prefix("Basic ")
        .or_else(|| v.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return false;
    };
    raw == format!("{}:{}", cfg.api_id, cfg.api_key).as_bytes()
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
    let route = match (&method, segs.as_slice()) {
        (&Method::POST, ["batch"]) => "POST /batch".to_string(),
        (m, ["api", "v2", _, _]) => format!("{m} /api/v2/{{group_id}}/{{collection}}"),
        (m, ["api", "v2", _, _, _]) => format!("{m} /api/v2/{{group_id}}/{{collection}}/{{id}}"),
        _ => {
            return error_response(&ApiError::NotFound(format!("No route for {method} {path}")));
        }
    };
    let read = method == Method::GET;
    lock(&inner.stats).count(&route, read);

    if !authorized(&inner.config, &parts.headers) {
        lock(&inner.stats).rejected += 1;
        return error_response(&ApiError::Unauthorized("Invalid API credentials".into()));
    }
    if let Some(limit) = inner.config.rate_limit
        && let Err(secs) = lock(&inner.limiter).check(&inner.config.api_id, limit)
    {
        lock(&inner.stats).rejected += 1;
        let mut r = error_response(&ApiError::Status {
            status: 429,
            message: "Rate limit exceeded".into(),
        });
        set_header(&mut r, "retry-after", secs);
        return r;
    }
    if let Some(kind) = inner.faults.take_call(method.as_str(), &path) {
        lock(&inner.stats).rejected += 1;
        return fault_response(kind).await;
    }

    let ext = parts
        .headers
        .get("connec-external-ids")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let base = base_url(&parts.headers);
    let result = match segs.as_slice() {
        ["batch"] => batch(&inner, &bytes, ext, &base),
        ["api", "v2", group, coll, rest @ ..] => {
            let op_body = parse_json(&bytes);
            let op = match (&method, rest) {
                (&Method::GET, []) => Ok(ApiOp::List { q }),
                (&Method::GET, [id]) => Ok(ApiOp::Get { id }),
                (&Method::POST, []) => op_body
                    .as_ref()
                    .map(|body| ApiOp::Post { body })
                    .map_err(Clone::clone),
                (&Method::PUT | &Method::PATCH, [id]) => op_body
                    .as_ref()
                    .map(|body| ApiOp::Put { id, body })
                    .map_err(Clone::clone),
                (&Method::DELETE, _) => Err(ApiError::MethodNotAllowed(
                    "Records cannot be deleted; set status to INACTIVE instead".into(),
                )),
                _ => Err(ApiError::MethodNotAllowed(format!(
                    "{method} is not supported on {path}"
                ))),
            };
            op.and_then(|op| inner.with_state(|st| exec(&inner, st, group, coll, op, ext, &base)))
        }
        _ => Err(ApiError::NotFound(format!("No route for {method} {path}"))),
    };
    match result {
        Ok((status, v)) => json_response(status, JSONAPI, &v),
        Err(e) => error_response(&e),
    }
}

fn batch(
    inner: &Inner,
    bytes: &Bytes,
    ext: bool,
    base: &str,
) -> Result<(StatusCode, Value), ApiError> {
    let body = parse_json(bytes)?;
    let Some(ops) = body.get("ops").and_then(Value::as_array) else {
        return Err(ApiError::BadRequest(
            "Batch body must contain an 'ops' array".into(),
        ));
    };
    if ops.len() > inner.config.max_batch_ops {
        return Err(ApiError::BadRequest(format!(
            "Too many operations in batch: {} (max {})",
            ops.len(),
            inner.config.max_batch_ops
        )));
    }
    lock(&inner.stats).add("batch-ops", ops.len() as u64);
    let results: Vec<Value> = inner.with_state(|st| {
        ops.iter()
            .map(|op| {
                let (status, body) = match batch_op(inner, st, op, ext, base) {
                    Ok(x) => x,
                    Err(e) => (e.status(), error_body(e.status(), &e.to_string())),
                };
                json!({ "status": status.as_u16(), "body": body })
            })
            .collect()
    });
    Ok((StatusCode::OK, json!({ "results": results })))
}

fn batch_op(
    inner: &Inner,
    st: &mut State,
    op: &Value,
    ext: bool,
    base: &str,
) -> Result<(StatusCode, Value), ApiError> {
    let method = op
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("get")
        .to_ascii_lowercase();
    let url = op
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::BadRequest("Op has no url".into()))?;
    // Accept absolute URLs too: keep only the path and query.
    let rel = match url.find("://") {
        Some(i) => url[i + 3..]
            .find('/')
            .map(|j| &url[i + 3 + j..])
            .unwrap_or("/"),
        None => url,
    };
    let (path, query) = rel
        .split_once('?')
        .map(|(p, q)| (p, Some(q)))
        .unwrap_or((rel, None));
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ["api", "v2", group, coll, rest @ ..] = segs.as_slice() else {
        return Err(ApiError::NotFound(format!("No route for {url}")));
    };
    let null = Value::Null;
    let params = op.get("params").unwrap_or(&null);
    let api_op = match (method.as_str(), rest) {
        ("get", []) => ApiOp::List {
            q: query_pairs(query),
        },
        ("get", [id]) => ApiOp::Get { id },
        ("post", []) => ApiOp::Post { body: params },
        ("put" | "patch", [id]) => ApiOp::Put { id, body: params },
        ("delete", _) => {
            return Err(ApiError::MethodNotAllowed(
                "Records cannot be deleted; set status to INACTIVE instead".into(),
            ));
        }
        _ => {
            return Err(ApiError::MethodNotAllowed(format!(
                "{method} is not supported on {url}"
            )));
        }
    };
    exec(inner, st, group, coll, api_op, ext, base)
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
            raw_response(StatusCode::OK, JSONAPI, b"{\"unexpected\": true".to_vec())
        }
        FaultKind::WrongShape => json_response(StatusCode::OK, JSONAPI, &json!({ "data": [] })),
        FaultKind::Reset => crate::common::reset_response(),
        FaultKind::AfterCommit { then } => Box::pin(fault_response(*then)).await,
    }
}

/// `/_emulator/...` admin routes: no auth, not counted.
fn admin(inner: &Arc<Inner>, method: &Method, rest: &str, bytes: &Bytes) -> Response {
    let emu = ConnecEmulator {
        inner: inner.clone(),
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
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
        (&Method::POST, ["seed", group, coll]) => {
            let body: Value = match serde_json::from_slice(bytes) {
                Ok(v) => v,
                Err(e) => return bad(format!("invalid JSON: {e}")),
            };
            let items = match body {
                Value::Array(a) => a,
                v => vec![v],
            };
            if items.iter().any(|v| !v.is_object()) {
                return bad("records must be JSON objects".into());
            }
            let out: Vec<Value> = items
                .into_iter()
                .map(|r| emu.seed(group, coll, r))
                .collect();
            json_response(StatusCode::CREATED, JSON, &Value::Array(out))
        }
        (&Method::POST, ["subscribers"]) => {
            match serde_json::from_slice::<NotificationSubscriber>(bytes) {
                Ok(sub) => {
                    emu.subscribe(sub);
                    json_response(StatusCode::CREATED, JSON, &json!({ "ok": true }))
                }
                Err(e) => bad(format!("invalid subscriber: {e}")),
            }
        }
        (&Method::GET, ["subscribers"]) => {
            // Never echo the api_key.
            let subs: Vec<Value> = emu
                .subscribers()
                .into_iter()
                .map(|s| json!({ "url": s.url, "api_id": s.api_id, "groups": s.groups }))
                .collect();
            ok(Value::Array(subs))
        }
        (&Method::DELETE, ["subscribers"]) => {
            emu.clear_subscribers();
            empty_response(StatusCode::NO_CONTENT)
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
    fn filter_parsing() {
        let c =
            parse_filter("updated_at gt '2024-01-01T00:00:00Z' and status eq 'ACTIVE'").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].op, Op::Gt);
        assert!(
            parse_filter("name like 'x'")
                .unwrap_err()
                .contains("unsupported operator")
        );
        assert!(
            parse_filter("name eq 'x")
                .unwrap_err()
                .contains("unterminated")
        );
        assert!(parse_filter("name eq x").unwrap_err().contains("quoted"));
        assert!(
            parse_filter("a eq 1 or b eq 2")
                .unwrap_err()
                .contains("'and'")
        );
        assert_eq!(
            parse_filter("n eq 'it''s'").unwrap()[0].value,
            json!("it's")
        );
    }

    #[test]
    fn merge_is_deep() {
        let mut a = json!({"a": {"b": 1, "c": 2}, "l": [1]});
        deep_merge(&mut a, &json!({"a": {"b": 3}, "l": [2], "n": null}));
        assert_eq!(a, json!({"a": {"b": 3, "c": 2}, "l": [2], "n": null}));
    }

    #[test]
    fn refs_render_with_external_ids() {
        let emu = ConnecEmulator::default();
        let org = emu.seed(
            "g",
            "organizations",
            json!({"name": "Acme", "id": [{"id": "c1", "provider": "hs", "realm": "p"}]}),
        );
        let org_id = org["id"][0]["id"].as_str().unwrap().to_string();
        let p = emu.seed("g", "people", json!({"first_name": "A", "organization_id": [{"id": "c1", "provider": "hs", "realm": "p"}]}));
        assert_eq!(p["organization_id"][0]["id"], json!(org_id));
        assert_eq!(p["organization_id"][1]["id"], json!("c1"));
        // Pending reference resolves lazily once the target appears.
        let p2 = emu.seed("g", "people", json!({"first_name": "B", "organization_id": [{"id": "c2", "provider": "hs", "realm": "p"}]}));
        assert_eq!(
            p2["organization_id"],
            json!([{"id": "c2", "provider": "hs", "realm": "p"}])
        );
        emu.seed(
            "g",
            "organizations",
            json!({"name": "B", "id": [{"id": "c2", "provider": "hs", "realm": "p"}]}),
        );
        let id = p2["id"][0]["id"].as_str().unwrap();
        let p2 = emu.get("g", "people", id).unwrap();
        assert_eq!(p2["organization_id"][0]["provider"], json!("connec"));
    }
}
