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
//! # Accounting records
//!
//! Invoices (and quotes, sales orders) and payments carry lines, each with its own id array;
//! lines are merged by line id, sparse unless `opts.sparse` is `false` (`connec::lines`).
//! Totals are completed from net prices and tax rates, payment totals from their lines, and
//! an invoice's `balance` follows the payments linked to it (`connec::accounting`, rules in
//! `connec::totals`).
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

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::common::{
    ApiError, CallFault, CallStats, ChangeHook, Faults, Instruments, RateLimit, RecordFault,
    RunningServer, lock,
};
use crate::delivery::Pump;

mod accounting;
mod admin;
mod batch;
mod eq_index;
mod errors;
mod lines;
mod notify;
mod query;
mod routes;
mod state;
mod totals;
mod upsert;
mod views;

pub use notify::{NotificationOrder, NotificationRecord, NotificationSubscriber};

use state::State;
use upsert::Target;

/// Content type of the API's answers.
const JSONAPI: &str = "application/vnd.api+json";
/// Content type of the admin routes' answers.
const JSON: &str = "application/json";

/// Default channel naming: `org-<group_id>`.
pub fn default_channel(group_id: &str) -> String {
    format!("org-{group_id}")
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

struct Inner {
    /// Weak self-reference, for spawning the notification worker.
    me: Weak<Inner>,
    config: ConnecConfig,
    state: Mutex<State>,
    instruments: Instruments,
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
                instruments: Instruments::default(),
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
        crate::common::app(&self.inner, routes::routes(&self.inner))
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
    /// Unpinned, timestamps are real time again (never going backwards; writes in one
    /// millisecond tie).
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
        &self.inner.instruments.faults
    }

    /// Shorthand for `faults().fail_record(rule)`.
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
        json!({ "groups": groups, "faults": self.inner.instruments.faults.to_json() })
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
            self.instruments.notify(&events);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
