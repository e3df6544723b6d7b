//! [`FakeHub`]: the [`Hub`] port over Connec!-shaped JSON, in memory, with misbehaviours.

mod port;
mod state;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use crate::record;
use sync_core::domain::{
    AppId, EntityName, GroupId, HubId, PageCursor, Provider, Realm, Timestamp,
};
use sync_core::entity::EntityPair;
use sync_core::error::{HttpError, HubError, RecordError};
use sync_core::ports::{
    ExternalId, Hub, HubChange, HubRecordMeta, HubWrite, HubWriteOutcome, Page,
};
use sync_core::testing::ManualClock;
use sync_core::testing::json::{deep_merge, lookup, values_match, walk_mut};
use sync_core::testing::{Failure, IndexMap, Order, Plan, WriteCounts};

const API: &str = "fake-connec";

/// Keys a write cannot set (Connec! computes them), plus the id array and options.
const READ_ONLY: [&str; 7] = [
    "id",
    "opts",
    "group_id",
    "channel_id",
    "resource_type",
    "created_at",
    "updated_at",
];

/// One operation of the [`Hub`] port, to plan failures and read counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HubOp {
    /// [`Hub::fetch_page`].
    FetchPage,
    /// [`Hub::fetch_by_ids`].
    FetchByIds,
    /// [`Hub::find_matches`].
    FindMatches,
    /// [`Hub::write`].
    Write,
}

/// How values at matching paths are compared ([`Hub::find_matches`] and the smart-merge of a
/// `POST` with `matching_fields`, which always agree).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MatchRule {
    /// Equal JSON values, both non-null: what the Connec! emulator's smart-merge does
    /// (`"Jane@X.com"` does not match `"jane@x.com"`).
    #[default]
    Exact,
    /// Strings compared trimmed and lower-cased (other values exactly): a hub that folds the
    /// case of e-mails and names.
    CaseInsensitive,
}

type Hook = Box<dyn FnOnce(&FakeHub) + Send>;

struct PageHook {
    group: GroupId,
    collection: EntityName,
    page: usize,
    hook: Hook,
}

/// A record as the fake keeps it (references as plain hub ids, like Connec!).
#[derive(Clone, Debug)]
struct Stored {
    id: HubId,
    created_at: Timestamp,
    updated_at: Timestamp,
    external_ids: Vec<ExternalId>,
    fields: Map<String, Value>,
}

impl Stored {
    fn active(&self) -> bool {
        !matches!(
            self.fields.get("status").and_then(Value::as_str),
            Some("INACTIVE" | "ARCHIVED")
        )
    }
}

/// The records of one collection in insertion order, with indexes so that a lookup by id or
/// external id costs the same with 100 records as with 100,000 (the engine benchmark runs on
/// this fake).
#[derive(Default)]
struct Collection {
    records: Vec<Stored>,
    /// Hub id -> position (ids never change, records are never removed).
    by_id: IndexMap<HubId, usize>,
    /// External id -> positions of the records holding it (the first one wins a lookup).
    by_external: IndexMap<ExternalId, BTreeSet<usize>>,
    /// Positions ordered by (`created_at`, id), computed when a page needs it; `None` after a
    /// record is added or its `created_at` changes.
    order: Option<Vec<usize>>,
}

#[derive(Default)]
struct HubState {
    /// Group -> collection -> records (nested, so that a lookup borrows its keys instead of
    /// building them).
    records: BTreeMap<GroupId, BTreeMap<EntityName, Collection>>,
    next_id: u64,
    /// (collection, path, referenced collection).
    references: Vec<(EntityName, String, EntityName)>,
    page_size: usize,
    match_rule: MatchRule,
    plan: Plan<HubOp>,
    commit_then_timeout: usize,
    rejected: HashSet<String>,
    by_ids_order: Order,
    repeat_in_page: HashSet<HubId>,
    hooks: Vec<PageHook>,
    counts: WriteCounts,
}

/// The Connec! hub in memory, per group and collection.
///
/// Records are Connec!-shaped as the real client sees them (`CONNEC-EXTERNAL-IDS: true`):
/// `id` is an array `[{id, provider: "connec", realm: "org-<group>"}, {id, provider, realm}...]`
/// (the hub id first, then the app ids it knows), `created_at`/`updated_at` are RFC 3339 UTC,
/// `status` is `ACTIVE` unless archived (`INACTIVE`), with `group_id` and `channel_id`.
/// Reference fields (declared with [`with_references`](Self::with_references) or
/// [`add_reference`](Self::add_reference)) are stored as hub ids and rendered as id arrays that
/// carry the referenced record's external ids; a reference written with only an app's triple is
/// resolved through the external ids (or kept as written until the target exists).
///
/// - `fetch_page`: `updated_at > since`, ordered by (`created_at`, id), offset cursor
///   (`offset:N`), [`set_page_size`](Self::set_page_size) per page (100 by default).
/// - `fetch_by_ids`: every status; in the order asked unless [`Order`] says otherwise.
/// - `find_matches`: ACTIVE records whose values at *every* given dotted path equal the
///   query's (non-null), by [`MatchRule`] ([`MatchRule::Exact`] by default, as the emulator),
///   ordered by (`created_at`, id). A query missing a path matches nothing.
/// - `write` follows Connec!'s `/batch`: `PUT` (`hub_id` set) deep-merges the fields into the
///   record (404 when unknown), `Archive` sets `status: INACTIVE`, `LinkOnly` only attaches the
///   `source` external id; `POST` (`hub_id: None`) upserts on the `source` external id, else
///   smart-merges into the first ACTIVE record matching `matching_fields`, else creates (201).
///   The `source` external id is attached unless another record has it already. A write that
///   changes nothing leaves `updated_at` alone (counted as `unchanged`). Outcomes describe
///   the stored record with [`record::describe`].
///
/// Timestamps come from the shared [`ManualClock::stamp`]. Cheap [`Clone`], shared state.
#[derive(Clone)]
pub struct FakeHub {
    inner: Arc<Mutex<HubState>>,
    clock: ManualClock,
}

impl fmt::Debug for FakeHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("FakeHub")
            .field(
                "collections",
                &state.records.values().map(BTreeMap::len).sum::<usize>(),
            )
            .field("counts", &state.counts)
            .finish_non_exhaustive()
    }
}

use crate::record::channel;

fn malformed(operation: &str, detail: String) -> HubError {
    HttpError::Malformed {
        api: API,
        method: "GET".into(),
        path: format!("/{operation}"),
        detail,
    }
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The triples of an id array (or one triple): (provider, realm, id).
fn triples(value: &Value) -> Option<Vec<(String, String, String)>> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![value],
        _ => return None,
    };
    items
        .into_iter()
        .map(|t| {
            Some((
                t.get("provider")?.as_str()?.to_owned(),
                t.get("realm")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                id_text(t.get("id")?)?,
            ))
        })
        .collect()
}

fn external(provider: &str, realm: &str, id: &str) -> ExternalId {
    ExternalId {
        provider: Provider::new(provider),
        realm: Realm::new(realm),
        id: AppId::new(id),
    }
}

fn triple(ext: &ExternalId) -> Value {
    json!({ "id": ext.id.as_str(), "provider": ext.provider.as_str(), "realm": ext.realm.as_str() })
}

impl FakeHub {
    /// An empty hub whose writes are stamped by `clock`; no reference fields.
    pub fn new(clock: ManualClock) -> Self {
        let state = HubState {
            page_size: 100,
            ..HubState::default()
        };
        Self {
            inner: Arc::new(Mutex::new(state)),
            clock,
        }
    }

    /// Declares the reference fields of these entity pairs' mappings (hub side).
    pub fn with_references(self, entities: &[EntityPair]) -> Self {
        for pair in entities {
            for reference in pair.mapping.references() {
                self.add_reference(&pair.hub, reference.hub.as_str(), &reference.entity);
            }
        }
        self
    }

    /// Declares that `path` (dotted, `[]` for each element: `lines[].item_id`) of `collection`
    /// references a record of `target`.
    pub fn add_reference(&self, collection: &EntityName, path: &str, target: &str) {
        self.lock()
            .references
            .push((collection.clone(), path.to_owned(), EntityName::new(target)));
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The clock stamping this hub's writes.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// Records per page of `fetch_page` (at least 1).
    pub fn set_page_size(&self, size: usize) {
        self.lock().page_size = size.max(1);
    }

    /// How matching values compare.
    pub fn set_match_rule(&self, rule: MatchRule) {
        self.lock().match_rule = rule;
    }

    // ----- test helpers: records -----

    /// Adds a record as if someone created it in Connec! and returns its hub id.
    ///
    /// `record` holds fields; it may carry `id` (a string, or an id array whose `connec` entry
    /// is the hub id and whose other entries are external ids), `created_at` and `updated_at`
    /// (else stamped), `status` (else `ACTIVE`). Counted as no write.
    ///
    /// # Panics
    /// If `record` is not an object, or its hub id exists already.
    pub fn seed(&self, group: &str, collection: &str, record: Value) -> HubId {
        let (group, collection) = (GroupId::new(group), EntityName::new(collection));
        let Value::Object(mut fields) = record else {
            panic!("FakeHub::seed: a record must be a JSON object");
        };
        let mut state = self.lock();
        let (id, external_ids) = match fields.get("id") {
            Some(Value::String(id)) => (Some(HubId::new(id.clone())), Vec::new()),
            Some(value) => {
                let all = triples(value).expect("FakeHub::seed: `id` is a string or an id array");
                let id = all
                    .iter()
                    .find(|(p, _, _)| p == "connec")
                    .map(|(_, _, id)| HubId::new(id.clone()));
                let ext = all
                    .iter()
                    .filter(|(p, _, _)| p != "connec")
                    .map(|(p, r, id)| external(p, r, id))
                    .collect();
                (id, ext)
            }
            None => (None, Vec::new()),
        };
        let id = id.unwrap_or_else(|| state.new_id(&collection));
        assert!(
            state.find(&group, &collection, &id).is_none(),
            "FakeHub::seed: {collection} {id} exists already"
        );
        let time = |fields: &Map<String, Value>, key: &str| {
            fields.get(key).and_then(Value::as_str).map(|t| {
                Timestamp::parse(t).unwrap_or_else(|| panic!("FakeHub::seed: bad `{key}`"))
            })
        };
        let updated_at = time(&fields, "updated_at").unwrap_or_else(|| self.clock.stamp());
        let created_at = time(&fields, "created_at").unwrap_or(updated_at);
        for key in READ_ONLY {
            fields.remove(key);
        }
        fields
            .entry("status")
            .or_insert_with(|| Value::String("ACTIVE".into()));
        let mut value = Value::Object(fields);
        state.normalize(&group, &collection, &mut value);
        let Value::Object(fields) = value else {
            unreachable!("records are objects")
        };
        state.push(
            &group,
            &collection,
            Stored {
                id: id.clone(),
                created_at,
                updated_at,
                external_ids,
                fields,
            },
        );
        id
    }

    /// Changes a record as a Connec! user would, and returns it as rendered.
    ///
    /// `change` gets the record's fields with `created_at` and `updated_at` (no `id`); unless
    /// it sets `updated_at` itself, `updated_at` is stamped. References may be written as hub
    /// ids or id arrays.
    ///
    /// # Panics
    /// If the record does not exist.
    pub fn edit(
        &self,
        group: &str,
        collection: &str,
        id: &str,
        change: impl FnOnce(&mut Value),
    ) -> Value {
        let (group, collection, id) = (
            GroupId::new(group),
            EntityName::new(collection),
            HubId::new(id),
        );
        let mut state = self.lock();
        let stored = state
            .find(&group, &collection, &id)
            .unwrap_or_else(|| panic!("FakeHub::edit: no {collection} {id}"))
            .clone();
        let before_updated = stored.updated_at.to_rfc3339();
        let mut fields = stored.fields.clone();
        fields.insert("created_at".into(), stored.created_at.to_rfc3339().into());
        fields.insert("updated_at".into(), before_updated.clone().into());
        let mut value = Value::Object(fields);
        change(&mut value);
        state.normalize(&group, &collection, &mut value);
        let Value::Object(mut fields) = value else {
            panic!("FakeHub::edit: the record must stay an object");
        };
        let time = |key: &str| {
            fields
                .get(key)
                .and_then(Value::as_str)
                .and_then(Timestamp::parse)
        };
        let created_at = time("created_at").unwrap_or(stored.created_at);
        let updated_at = match fields.get("updated_at").and_then(Value::as_str) {
            Some(t) if t != before_updated => {
                Timestamp::parse(t).expect("FakeHub::edit: bad `updated_at`")
            }
            _ => self.clock.stamp(),
        };
        for key in READ_ONLY {
            fields.remove(key);
        }
        let target = state
            .find_mut(&group, &collection, &id)
            .expect("found just above");
        target.fields = fields;
        let moved = target.created_at != created_at;
        target.created_at = created_at;
        target.updated_at = updated_at;
        let target = target.clone();
        if moved {
            state.collection_mut(&group, &collection).order = None;
        }
        state.render(&group, &collection, &target)
    }

    /// Archives a record Connec!'s way (`status: INACTIVE`, stamped).
    ///
    /// # Panics
    /// If the record does not exist.
    pub fn archive_record(&self, group: &str, collection: &str, id: &str) {
        self.edit(group, collection, id, |r| r["status"] = json!("INACTIVE"));
    }

    /// Attaches an app id to a record (as another app or an id write-back would), stamped.
    ///
    /// # Panics
    /// If the record does not exist.
    pub fn link(&self, group: &str, collection: &str, id: &str, ext: ExternalId) {
        let (group, collection, id) = (
            GroupId::new(group),
            EntityName::new(collection),
            HubId::new(id),
        );
        let stamp = self.clock.stamp();
        let mut state = self.lock();
        let stored = state
            .find_mut(&group, &collection, &id)
            .unwrap_or_else(|| panic!("FakeHub::link: no {collection} {id}"));
        if !stored.external_ids.contains(&ext) {
            stored.updated_at = stamp;
            state.attach(&group, &collection, &id, ext);
        }
    }

    /// Sets a record's `updated_at` without changing anything else (clock skew, old versions).
    ///
    /// # Panics
    /// If the record does not exist.
    pub fn set_updated_at(&self, group: &str, collection: &str, id: &str, at: Timestamp) {
        let (group, collection, id) = (
            GroupId::new(group),
            EntityName::new(collection),
            HubId::new(id),
        );
        let mut state = self.lock();
        let stored = state
            .find_mut(&group, &collection, &id)
            .unwrap_or_else(|| panic!("FakeHub::set_updated_at: no {collection} {id}"));
        stored.updated_at = at;
    }

    /// A record as Connec! would answer it, any status.
    pub fn get(&self, group: &str, collection: &str, id: &str) -> Option<Value> {
        let (group, collection, id) = (
            GroupId::new(group),
            EntityName::new(collection),
            HubId::new(id),
        );
        let state = self.lock();
        let stored = state.find(&group, &collection, &id)?;
        Some(state.render(&group, &collection, stored))
    }

    /// Every record of a collection, any status, ordered by (`created_at`, id).
    pub fn all(&self, group: &str, collection: &str) -> Vec<Value> {
        let (group, collection) = (GroupId::new(group), EntityName::new(collection));
        let state = self.lock();
        let mut records: Vec<&Stored> = state.collection(&group, &collection).iter().collect();
        records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        records
            .into_iter()
            .map(|r| state.render(&group, &collection, r))
            .collect()
    }

    /// The record holding this external id, as rendered.
    pub fn find_by_external(
        &self,
        group: &str,
        collection: &str,
        ext: &ExternalId,
    ) -> Option<Value> {
        let (group, collection) = (GroupId::new(group), EntityName::new(collection));
        let state = self.lock();
        let stored = state.by_external(&group, &collection, ext)?;
        Some(state.render(&group, &collection, stored))
    }

    // ----- test helpers: counters -----

    /// Writes received so far, per kind.
    pub fn counts(&self) -> WriteCounts {
        self.lock().counts
    }

    /// Zeroes the write counters (say, after the first sync).
    pub fn reset_counts(&self) {
        self.lock().counts = WriteCounts::default();
    }

    /// Calls of `op` so far (failed ones included).
    pub fn calls(&self, op: HubOp) -> u64 {
        self.lock().plan.calls(op)
    }

    // ----- misbehaviours -----

    /// The next `n` calls of `op` fail with `failure` before doing anything.
    pub fn fail_next(&self, op: HubOp, n: usize, failure: Failure) {
        self.lock().plan.fail_next(op, n, failure);
    }

    /// The next `n` `write` calls apply every write, then answer a timeout (commit, then the
    /// answer is lost).
    pub fn commit_then_timeout(&self, n: usize) {
        self.lock().commit_then_timeout += n;
    }

    /// Writes to this hub id, or from this app id (`source`), are refused with a per-record
    /// 400 until [`accept`](Self::accept).
    pub fn reject(&self, id: &str) {
        self.lock().rejected.insert(id.to_owned());
    }

    /// Undoes [`reject`](Self::reject).
    pub fn accept(&self, id: &str) {
        self.lock().rejected.remove(id);
    }

    /// The order of `fetch_by_ids` results.
    pub fn set_by_ids_order(&self, order: Order) {
        self.lock().by_ids_order = order;
    }

    /// The next page that holds this record carries it twice, one after the other.
    pub fn repeat_in_next_page(&self, id: &str) {
        self.lock().repeat_in_page.insert(HubId::new(id));
    }

    /// Runs `hook` (once) just before page `page` (0: the first) of a `fetch_page` of
    /// `collection` in `group` is served: to change records between two pages.
    pub fn before_page(
        &self,
        group: &str,
        collection: &str,
        page: usize,
        hook: impl FnOnce(&FakeHub) + Send + 'static,
    ) {
        self.lock().hooks.push(PageHook {
            group: GroupId::new(group),
            collection: EntityName::new(collection),
            page,
            hook: Box::new(hook),
        });
    }

    /// Forgets every planned failure, rejection, repeat, hook and commit-then-timeout.
    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.plan.clear();
        state.commit_then_timeout = 0;
        state.rejected.clear();
        state.repeat_in_page.clear();
        state.hooks.clear();
        state.by_ids_order = Order::AsAsked;
    }

    fn check(&self, op: HubOp) -> Result<(), HubError> {
        match self.lock().plan.call(op) {
            Some(failure) => Err(failure.to_http(API, &format!("{op:?}"))),
            None => Ok(()),
        }
    }
}
