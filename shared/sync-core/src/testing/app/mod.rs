//! [`FakeApp`]: an [`AppConnector`] over HubSpot-shaped JSON, in memory, with misbehaviours.

mod port;
mod state;
mod table;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use super::clock::ManualClock;
use super::faults::{Failure, Order, Plan, WriteCounts};
use super::json::{deep_merge, values_match};
use crate::domain::{AppEntityName, AppId, PageCursor, Provider, Timestamp};
use crate::entity::EntityPair;
use crate::error::{AppError, RecordError};
use crate::ports::{
    AppConnector, AppMatches, AppRecordMeta, AppWrite, AppWriteFailure, AppWriteKind,
    AppWriteOutcome, MatchQuery, Page,
};
use table::{Keys, Table};

const API: &str = "fake-app";

/// The property a [`FakeApp`] stamps with the hub id on `Create`, unless told otherwise.
pub const DEFAULT_MARKER: &str = "connec_id";

/// One operation of the [`AppConnector`] port, to plan failures and read counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppOp {
    /// [`AppConnector::fetch_page`].
    FetchPage,
    /// [`AppConnector::fetch_by_ids`].
    FetchByIds,
    /// [`AppConnector::find_matches`].
    FindMatches,
    /// [`AppConnector::write`].
    Write,
    /// [`AppConnector::archive`].
    Archive,
}

/// What a batch read (`fetch_by_ids`) does with archived records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArchivedInBatchRead {
    /// Left out, as HubSpot's `batch/read` (default `archived=false`) does.
    #[default]
    Absent,
    /// Returned, with `"archived": true`.
    PresentAsArchived,
}

type Hook = Box<dyn FnOnce(&FakeApp) + Send>;

struct PageHook {
    entity: AppEntityName,
    page: usize,
    hook: Hook,
}

#[derive(Clone, Debug)]
struct AppRecord {
    id: AppId,
    created_at: Timestamp,
    updated_at: Timestamp,
    archived: bool,
    properties: Map<String, Value>,
}

impl AppRecord {
    fn render(&self) -> Value {
        // Built as it is (`json!` would serialize a copy of the properties once more).
        let mut out = Map::new();
        out.insert("id".into(), self.id.as_str().into());
        out.insert("createdAt".into(), self.created_at.to_rfc3339().into());
        out.insert("updatedAt".into(), self.updated_at.to_rfc3339().into());
        out.insert("archived".into(), self.archived.into());
        out.insert("properties".into(), Value::Object(self.properties.clone()));
        Value::Object(out)
    }
}

struct AppState {
    /// Entity -> records in insertion order (deleted ones removed), indexed.
    records: BTreeMap<AppEntityName, Table>,
    next_id: u64,
    natural_keys: HashMap<AppEntityName, String>,
    marker: String,
    page_size: usize,
    batch_size: usize,
    archived_in_batch_read: ArchivedInBatchRead,
    by_ids_order: Order,
    result_order: Order,
    refuse_duplicate_ids: bool,
    archive_lies: bool,
    listing_shows_every_match: bool,
    plan: Plan<AppOp>,
    commit_then_timeout: HashMap<AppOp, usize>,
    rejected: HashSet<String>,
    hooks: Vec<PageHook>,
    counts: WriteCounts,
}

/// An app (HubSpot-like) in memory, for the entity pairs given at construction.
///
/// Records are `{ "id", "createdAt", "updatedAt", "archived", "properties": {...} }` with
/// numeric-string ids (`"1"`, `"2"`...) and RFC 3339 UTC times stamped by the shared
/// [`ManualClock`]. Writes take the app-shaped records the mappings produce
/// (`{"properties": {...}}`) and merge their properties.
///
/// - `fetch_page`: `updatedAt > since`, archived records included, keyset-paged on
///   (`updatedAt`, id): a record changed between two pages moves behind the cursor and comes
///   again in a later page, none is skipped. [`set_page_size`](Self::set_page_size) (100).
/// - `fetch_by_ids`: archived records absent by default, as HubSpot's batch read
///   ([`ArchivedInBatchRead`]); deleted ones always absent; in the order asked unless
///   [`Order`] says otherwise.
/// - `find_matches`: `marked` is the first unarchived record whose marker property
///   ([`DEFAULT_MARKER`] unless [`set_marker`](Self::set_marker)) holds the hub id;
///   `natural` are the unarchived records whose natural-key property
///   ([`set_natural_key`](Self::set_natural_key), none by default) equals the query's,
///   trimmed and case-insensitively (like HubSpot's search on e-mails and names), oldest
///   first. The marked record, if any, is among them when it shares the value.
/// - `write`: `Create` stamps the marker and answers `Created`; `Update` merges properties and
///   answers `Updated`, or `NotFound` when the record is archived or gone. Updates go in
///   batches of [`set_batch_size`](Self::set_batch_size) (100); by default a batch in which
///   two updates target one id is refused as a whole, as HubSpot does (400 "Duplicate IDs
///   found in batch input"): see [`refuse_duplicate_ids`](Self::refuse_duplicate_ids).
/// - `archive`: archives (stamped); an already archived record is fine; unknown or deleted
///   ones answer `NotFound`.
///
/// Cheap [`Clone`], shared state.
#[derive(Clone)]
pub struct FakeApp {
    inner: Arc<Mutex<AppState>>,
    clock: ManualClock,
    provider: Provider,
    entities: Arc<Vec<EntityPair>>,
}

impl fmt::Debug for FakeApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("FakeApp")
            .field("provider", &self.provider)
            .field("entities", &state.records.len())
            .field("counts", &state.counts)
            .finish_non_exhaustive()
    }
}

fn rejected(message: impl Into<String>) -> AppWriteFailure {
    AppWriteFailure::Rejected(RecordError::new(Some(400), message))
}

/// The properties of an app-shaped record: its `properties` object (other keys ignored).
fn properties_of(record: &Value) -> Map<String, Value> {
    record
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// [`properties_of`] a record the app takes over.
fn into_properties(record: Value) -> Map<String, Value> {
    match record {
        Value::Object(mut fields) => match fields.remove("properties") {
            Some(Value::Object(properties)) => properties,
            _ => Map::new(),
        },
        _ => Map::new(),
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl FakeApp {
    /// An empty app named `provider` (the `provider` of Connec! external ids) for these entity
    /// pairs (in sync order), stamped by `clock`; no natural keys, marker [`DEFAULT_MARKER`].
    pub fn new(provider: &str, entities: Vec<EntityPair>, clock: ManualClock) -> Self {
        let state = AppState {
            records: BTreeMap::new(),
            next_id: 0,
            natural_keys: HashMap::new(),
            marker: DEFAULT_MARKER.to_owned(),
            page_size: 100,
            batch_size: 100,
            archived_in_batch_read: ArchivedInBatchRead::default(),
            by_ids_order: Order::AsAsked,
            result_order: Order::AsAsked,
            refuse_duplicate_ids: true,
            archive_lies: false,
            listing_shows_every_match: false,
            plan: Plan::default(),
            commit_then_timeout: HashMap::new(),
            rejected: HashSet::new(),
            hooks: Vec::new(),
            counts: WriteCounts::default(),
        };
        Self {
            inner: Arc::new(Mutex::new(state)),
            clock,
            provider: Provider::new(provider),
            entities: Arc::new(entities),
        }
    }

    /// The app of [`super::sample_entities`]: provider [`super::SAMPLE_PROVIDER`], natural keys
    /// `companies.name` and `contacts.email`.
    pub fn sample(clock: ManualClock) -> Self {
        let app = Self::new(super::SAMPLE_PROVIDER, super::sample_entities(), clock);
        app.set_natural_key("companies", "name");
        app.set_natural_key("contacts", "email");
        app
    }

    /// The app of [`super::sample_accounting_entities`]: provider [`super::SAMPLE_PROVIDER`],
    /// natural keys `companies.name`, `products.sku` and `bills.number`.
    pub fn sample_accounting(clock: ManualClock) -> Self {
        let app = Self::new(
            super::SAMPLE_PROVIDER,
            super::sample_accounting_entities(),
            clock,
        );
        app.set_natural_key("companies", "name");
        app.set_natural_key("products", "sku");
        app.set_natural_key("bills", "number");
        app
    }

    fn lock(&self) -> MutexGuard<'_, AppState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The clock stamping this app's writes.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// `find_matches` matches `entity` naturally on this property (e-mail, name).
    pub fn set_natural_key(&self, entity: &str, property: &str) {
        let mut state = self.lock();
        state
            .natural_keys
            .insert(AppEntityName::new(entity), property.to_owned());
        state.reindex();
    }

    /// The property stamped with the hub id on `Create`.
    pub fn set_marker(&self, property: &str) {
        let mut state = self.lock();
        property.clone_into(&mut state.marker);
        state.reindex();
    }

    /// The marker property.
    pub fn marker(&self) -> String {
        self.lock().marker.clone()
    }

    /// Records per page of `fetch_page` (at least 1).
    pub fn set_page_size(&self, size: usize) {
        self.lock().page_size = size.max(1);
    }

    /// Whether the fake vouches that a full listing shows every record a match query could
    /// find ([`AppConnector::listing_shows_every_match`]; off by default, as for a connector
    /// that does not say).
    pub fn set_listing_shows_every_match(&self, shows: bool) {
        self.lock().listing_shows_every_match = shows;
    }

    /// Updates per batch (for the duplicate-id rule; at least 1).
    pub fn set_batch_size(&self, size: usize) {
        self.lock().batch_size = size.max(1);
    }

    fn entity(&self, entity: &AppEntityName) -> Result<(), AppError> {
        if self.entities.iter().any(|pair| &pair.app == entity) {
            Ok(())
        } else {
            Err(AppError::UnknownEntity {
                app: API,
                entity: entity.to_string(),
            })
        }
    }

    fn check(&self, op: AppOp, entity: &AppEntityName) -> Result<(), AppError> {
        self.entity(entity)?;
        match self.lock().plan.call(op) {
            Some(failure) => Err(AppError::Http(failure.to_http(API, &format!("{op:?}")))),
            None => Ok(()),
        }
    }

    // ----- test helpers: records -----

    /// Adds a record as if a user created it in the app, and returns its id.
    ///
    /// `record` may carry `id`, `createdAt`, `updatedAt` (else stamped), `archived` and a
    /// `properties` object; any other key is taken as a property too, so
    /// `json!({"email": "a@b.c"})` works. Counted as no write.
    ///
    /// # Panics
    /// If `record` is not an object, or the id exists already.
    pub fn seed(&self, entity: &str, record: Value) -> AppId {
        let entity = AppEntityName::new(entity);
        let Value::Object(mut fields) = record else {
            panic!("FakeApp::seed: a record must be a JSON object");
        };
        let mut state = self.lock();
        let id = match fields.remove("id") {
            Some(value) => AppId::new(text(&value).expect("FakeApp::seed: `id` is a string")),
            None => state.new_id(),
        };
        assert!(
            state.find(&entity, &id).is_none(),
            "FakeApp::seed: {entity} {id} exists already"
        );
        let mut time = |key: &str| {
            fields.remove(key).map(|v| {
                v.as_str()
                    .and_then(Timestamp::parse)
                    .unwrap_or_else(|| panic!("FakeApp::seed: bad `{key}`"))
            })
        };
        let updated_at = time("updatedAt").unwrap_or_else(|| self.clock.stamp());
        let created_at = time("createdAt").unwrap_or(updated_at);
        let archived = fields
            .remove("archived")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let mut properties = match fields.remove("properties") {
            Some(Value::Object(properties)) => properties,
            _ => Map::new(),
        };
        properties.extend(fields);
        let (table, keys) = state.table_mut(&entity);
        table.push(
            AppRecord {
                id: id.clone(),
                created_at,
                updated_at,
                archived,
                properties,
            },
            keys,
        );
        id
    }

    /// Changes a record as an app user would, and returns it.
    ///
    /// `change` gets the whole record (`id`, `createdAt`, `updatedAt`, `archived`,
    /// `properties`); `properties` and `archived` are kept from it, and `updatedAt` is stamped
    /// unless `change` set it.
    ///
    /// # Panics
    /// If the record does not exist (deleted ones included).
    pub fn edit(&self, entity: &str, id: &str, change: impl FnOnce(&mut Value)) -> Value {
        let (entity, id) = (AppEntityName::new(entity), AppId::new(id));
        let mut state = self.lock();
        let (table, keys) = state.table_mut(&entity);
        table
            .change(&id, keys, |stored| {
                let mut value = stored.render();
                let before = value["updatedAt"].clone();
                change(&mut value);
                stored.properties = properties_of(&value);
                stored.archived = value["archived"].as_bool().unwrap_or(false);
                stored.updated_at = if value["updatedAt"] == before {
                    self.clock.stamp()
                } else {
                    value["updatedAt"]
                        .as_str()
                        .and_then(Timestamp::parse)
                        .expect("FakeApp::edit: bad `updatedAt`")
                };
                stored.render()
            })
            .unwrap_or_else(|| panic!("FakeApp::edit: no {entity} {id}"))
    }

    /// Archives a record as a user would (stamped).
    ///
    /// # Panics
    /// If the record does not exist.
    pub fn archive_record(&self, entity: &str, id: &str) {
        self.edit(entity, id, |r| r["archived"] = json!(true));
    }

    /// Deletes a record for good: gone from pages, batch reads and matches.
    ///
    /// # Panics
    /// If the record does not exist.
    pub fn delete(&self, entity: &str, id: &str) {
        let (entity, id) = (AppEntityName::new(entity), AppId::new(id));
        let mut state = self.lock();
        let (table, keys) = state.table_mut(&entity);
        assert!(table.remove(&id, keys), "FakeApp::delete: no {entity} {id}");
    }

    /// A record, archived or not (`None` once deleted).
    pub fn get(&self, entity: &str, id: &str) -> Option<Value> {
        let state = self.lock();
        state
            .find(&AppEntityName::new(entity), &AppId::new(id))
            .map(AppRecord::render)
    }

    /// Every record of an entity, archived ones included, ordered by (`createdAt`, id).
    pub fn all(&self, entity: &str) -> Vec<Value> {
        let state = self.lock();
        let mut records: Vec<&AppRecord> =
            state.records(&AppEntityName::new(entity)).iter().collect();
        records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        records.into_iter().map(AppRecord::render).collect()
    }

    // ----- test helpers: counters -----

    /// Writes and archives received so far, per kind.
    pub fn counts(&self) -> WriteCounts {
        self.lock().counts
    }

    /// Zeroes the write counters.
    pub fn reset_counts(&self) {
        self.lock().counts = WriteCounts::default();
    }

    /// Calls of `op` so far (failed ones included).
    pub fn calls(&self, op: AppOp) -> u64 {
        self.lock().plan.calls(op)
    }

    // ----- misbehaviours -----

    /// The next `n` calls of `op` fail with `failure` before doing anything.
    pub fn fail_next(&self, op: AppOp, n: usize, failure: Failure) {
        self.lock().plan.fail_next(op, n, failure);
    }

    /// The next `n` calls of `op` ([`AppOp::Write`] or [`AppOp::Archive`]) apply everything,
    /// then answer a timeout.
    pub fn commit_then_timeout(&self, op: AppOp, n: usize) {
        *self.lock().commit_then_timeout.entry(op).or_default() += n;
    }

    /// Writes to this app id (`Update`, `archive`) or from this hub id (`Create`) are refused
    /// with a per-record 400 until [`accept`](Self::accept).
    pub fn reject(&self, id: &str) {
        self.lock().rejected.insert(id.to_owned());
    }

    /// Undoes [`reject`](Self::reject).
    pub fn accept(&self, id: &str) {
        self.lock().rejected.remove(id);
    }

    /// What batch reads do with archived records.
    pub fn set_archived_in_batch_read(&self, mode: ArchivedInBatchRead) {
        self.lock().archived_in_batch_read = mode;
    }

    /// The order of `fetch_by_ids` results.
    pub fn set_by_ids_order(&self, order: Order) {
        self.lock().by_ids_order = order;
    }

    /// The order of `write` and `archive` results (anything but [`Order::AsAsked`] breaks the
    /// port's "one result per write, in order": to test that callers check ids).
    pub fn set_result_order(&self, order: Order) {
        self.lock().result_order = order;
    }

    /// Whether a batch with two updates of one id is refused as a whole (default `true`, as
    /// HubSpot); `false` applies them in turn.
    pub fn refuse_duplicate_ids(&self, refuse: bool) {
        self.lock().refuse_duplicate_ids = refuse;
    }

    /// When `true`, `archive` answers success for every id without archiving anything.
    pub fn archive_lies(&self, lies: bool) {
        self.lock().archive_lies = lies;
    }

    /// Runs `hook` (once) just before page `page` (0: the first) of a `fetch_page` of
    /// `entity` is served: to change records between two pages.
    pub fn before_page(
        &self,
        entity: &str,
        page: usize,
        hook: impl FnOnce(&FakeApp) + Send + 'static,
    ) {
        self.lock().hooks.push(PageHook {
            entity: AppEntityName::new(entity),
            page,
            hook: Box::new(hook),
        });
    }

    /// Forgets every planned failure, rejection, hook and odd ordering; restores the defaults
    /// (archived absent from batch reads, duplicate ids refused, honest archive).
    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.plan.clear();
        state.commit_then_timeout.clear();
        state.rejected.clear();
        state.hooks.clear();
        state.by_ids_order = Order::AsAsked;
        state.result_order = Order::AsAsked;
        state.archived_in_batch_read = ArchivedInBatchRead::Absent;
        state.refuse_duplicate_ids = true;
        state.archive_lies = false;
    }
}
