//! The embedded store: the local default implementation of [`SyncStore`], kept in one SQLite
//! database file.
//!
//! Everything the sync engine must remember between runs (linked organizations, the id-maps that
//! link hub records to app records, watermarks and page checkpoints, records parked for the next
//! run, run history and the per-organization sync lease) lives in a single file next to the
//! connector. No server to run, nothing to configure.
//!
//! # Why SQLite
//!
//! - **One file**: easy to back up, move or delete; the whole state of a connector in one place.
//! - **ACID**: a batch of id-maps is saved in one transaction, so a crash or an error never
//!   leaves half a batch behind, and a committed write survives a crash.
//! - **Uniqueness enforced by the database**: `(org, entity, hub id)` and `(org, entity, app id)`
//!   are unique indexes, so two concurrent writers (tasks, or even processes sharing the file)
//!   can never link one record twice. SQLite lets a unique index hold many `NULL`s, which is
//!   exactly what half-known id-maps (only one side known yet) need.
//!
//! The file is opened in WAL mode with a busy timeout so that readers do not block the writer
//! and several processes may share it. The schema is versioned with `PRAGMA user_version` and
//! migrated forward on [`EmbeddedStore::open`].
//!
//! Linked accounts' credentials (encrypted) and pending OAuth authorizations live in the same
//! file, in tables of their own: see [`secrets`].
//!
//! # Semantics worth knowing
//!
//! - [`SyncStore::save_idmaps`] finds the stored row of each map by hub id, then by app id. A
//!   save may fill in a side that is not known yet (a half-known map gets its other id), but it
//!   never replaces or clears an id a stored row already has: that would silently re-link a
//!   record, so it fails with [`StoreError::Conflict`] naming the rule (for example "app id 17 of
//!   entity people (organization acme) is already mapped to hub id h-1"), and the whole batch is
//!   rolled back. The one exception: two half-known rows (hub id only, app id only) that a save
//!   links are the same record seen from both sides, and become one row. A map with neither a hub id nor an app id cannot be identified and is also
//!   refused with [`StoreError::Conflict`] (retrying cannot help, the data itself is wrong).
//! - Timestamps are stored as epoch milliseconds so that they sort correctly.
//! - Personal data: the id-map `name` is stored (status screens need it) but never logged, and no
//!   record content is ever logged or put into an error message.

mod dedupe;
pub mod secrets;

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use sync_core::domain::{
    AppId, ContentHash, EntityName, GroupId, HubId, IdMap, OrgId, Organization, PageCursor,
    PendingReason, PendingRecord, Provider, Realm, Run, RunId, Side, Tenant, Timestamp, Watermark,
};
use sync_core::error::StoreError;
use sync_core::ports::{LeaseHolder, SyncStore};

pub use dedupe::SqliteDedupe;
pub use secrets::{EncryptedCredentialStore, KeyError, SecretKey, SqliteAuthorizationStateStore};

/// How long a statement waits for a lock held by another connection before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many ids are bound in one `IN (...)` list.
const IN_CHUNK: usize = 500;

/// Runs kept per organization.
const RUNS_KEPT: i64 = 100;

/// Schema migrations; migration `i` brings the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1: the initial schema.
    r"
    CREATE TABLE organizations (
        id            TEXT PRIMARY KEY NOT NULL,
        tenant        TEXT NOT NULL,
        group_id      TEXT NOT NULL,
        provider      TEXT NOT NULL,
        realm         TEXT NOT NULL,
        name          TEXT NOT NULL,
        sync_enabled  INTEGER NOT NULL,
        entity_flags  TEXT NOT NULL,
        history_from  INTEGER,
        linked_at     INTEGER NOT NULL
    );

    CREATE TABLE idmaps (
        rowid             INTEGER PRIMARY KEY,
        org               TEXT NOT NULL,
        entity            TEXT NOT NULL,
        hub_id            TEXT,
        app_id            TEXT,
        hash              TEXT,
        last_push_to_hub  INTEGER,
        last_push_to_app  INTEGER,
        hub_updated_at    INTEGER,
        app_updated_at    INTEGER,
        to_hub            INTEGER NOT NULL,
        to_app            INTEGER NOT NULL,
        inactive          INTEGER NOT NULL,
        last_error        TEXT,
        name              TEXT,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX idmaps_hub ON idmaps (org, entity, hub_id);
    CREATE UNIQUE INDEX idmaps_app ON idmaps (org, entity, app_id);

    CREATE TABLE watermarks (
        org     TEXT NOT NULL,
        entity  TEXT NOT NULL,
        side    TEXT NOT NULL,
        mark    INTEGER NOT NULL,
        PRIMARY KEY (org, entity, side)
    );

    CREATE TABLE checkpoints (
        org          TEXT NOT NULL,
        entity       TEXT NOT NULL,
        side         TEXT NOT NULL,
        cursor       TEXT NOT NULL,
        fetch_start  INTEGER NOT NULL,
        PRIMARY KEY (org, entity, side)
    );

    CREATE TABLE pending (
        org        TEXT NOT NULL,
        entity     TEXT NOT NULL,
        source     TEXT NOT NULL,
        source_id  TEXT NOT NULL,
        reason     TEXT NOT NULL,
        error      TEXT NOT NULL,
        attempts   INTEGER NOT NULL,
        since      INTEGER NOT NULL,
        PRIMARY KEY (org, entity, source, source_id)
    );

    CREATE TABLE runs (
        id          TEXT PRIMARY KEY NOT NULL,
        org         TEXT NOT NULL,
        started_at  INTEGER NOT NULL,
        status      TEXT NOT NULL,
        body        TEXT NOT NULL
    );
    CREATE INDEX runs_org_started ON runs (org, started_at);

    CREATE TABLE leases (
        org         TEXT PRIMARY KEY NOT NULL,
        owner       TEXT NOT NULL,
        expires_at  INTEGER NOT NULL
    );
    ",
    // Version 2: linking (see `secrets`): credentials sealed with AES-256-GCM, and pending
    // OAuth authorizations keyed by the SHA-256 of their state.
    r"
    CREATE TABLE credentials (
        provider    TEXT NOT NULL,
        account     TEXT NOT NULL,
        version     INTEGER NOT NULL,
        status      TEXT NOT NULL,
        reason      TEXT,
        nonce       BLOB NOT NULL,
        sealed      BLOB NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (provider, account)
    );

    CREATE TABLE authorization_states (
        state_hash       TEXT PRIMARY KEY NOT NULL,
        provider         TEXT NOT NULL,
        tenant           TEXT NOT NULL,
        group_id         TEXT NOT NULL,
        redirect_uri     TEXT NOT NULL,
        expires_at       INTEGER NOT NULL,
        nonce            BLOB,
        sealed_verifier  BLOB
    );
    CREATE INDEX authorization_states_expiry ON authorization_states (expires_at);
    ",
    // Version 2: webhook dedupe keys, so a redelivered event is still recognised after a restart.
    r"
    CREATE TABLE webhook_dedupe (
        key         TEXT PRIMARY KEY NOT NULL,
        expires_at  INTEGER NOT NULL
    );
    CREATE INDEX webhook_dedupe_expiry ON webhook_dedupe (expires_at);
    ",
    // v3: writes in flight, `side:hash;side:hash` (the engine's write-ahead).
    "ALTER TABLE idmaps ADD COLUMN pending_hash TEXT;",
];

/// Columns of an id-map, in the order [`read_idmap`] expects.
const IDMAP_COLUMNS: &str = "org, entity, hub_id, app_id, hash, last_push_to_hub, \
     last_push_to_app, hub_updated_at, app_updated_at, to_hub, to_app, inactive, last_error, name, \
     pending_hash";

/// Columns of an organization, in the order [`read_organization`] expects.
const ORG_COLUMNS: &str = "id, tenant, group_id, provider, realm, name, sync_enabled, \
     entity_flags, history_from, linked_at";

/// The embedded [`SyncStore`]: one SQLite file (or an in-memory database for tests).
///
/// Cheap to clone: clones share one connection (behind a mutex) and one operation counter. All
/// database work runs on Tokio's blocking thread pool, so async callers are never blocked; the
/// port methods must therefore be called from within a Tokio runtime.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    operations: AtomicU64,
}

impl fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("operations", &self.operations())
            .finish_non_exhaustive()
    }
}

impl EmbeddedStore {
    /// Opens (creating it if needed) the store file at `path`, migrates its schema to the current
    /// version and switches it to WAL mode with a busy timeout.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the file cannot be opened or migrated, including when it was
    /// written by a newer build with a schema version this one does not know.
    ///
    /// ```
    /// use store_embedded::EmbeddedStore;
    /// use sync_core::ports::SyncStore;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = EmbeddedStore::open(dir.path().join("sync.db"))?;
    /// let runtime = tokio::runtime::Runtime::new()?;
    /// let orgs = runtime.block_on(store.list_organizations())?;
    /// assert!(orgs.is_empty());
    /// assert_eq!(store.operations(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let conn = Connection::open(path).map_err(|e| {
            StoreError::Backend(format!("open: cannot open `{}`: {e}", path.display()))
        })?;
        let store = Self::init(conn, true)?;
        tracing::debug!(path = %path.display(), "embedded store opened");
        Ok(store)
    }

    /// A private in-memory database, gone when the last clone is dropped. For tests.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if SQLite cannot create the database.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| StoreError::Backend(format!("open: in-memory database: {e}")))?;
        Self::init(conn, false)
    }

    /// How many port operations ([`SyncStore`] method calls) this store (all clones together)
    /// has performed, failed ones included. Benchmarks divide it by records synced.
    #[must_use]
    pub fn operations(&self) -> u64 {
        self.inner.operations.load(Ordering::Relaxed)
    }

    fn init(mut conn: Connection, wal: bool) -> Result<Self, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| Fail::from(e).into_store("open: busy_timeout"))?;
        if wal {
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(|e| Fail::from(e).into_store("open: journal_mode"))?;
        }
        migrate(&mut conn).map_err(|e| e.into_store("open: migrate"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                operations: AtomicU64::new(0),
            }),
        })
    }

    /// Counts one port operation and runs `work` on the blocking pool with the connection.
    async fn call<T, F>(&self, op: &'static str, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Fail> + Send + 'static,
    {
        self.inner.operations.fetch_add(1, Ordering::Relaxed);
        let inner = Arc::clone(&self.inner);
        let joined = tokio::task::spawn_blocking(move || {
            // A panic while holding the lock cannot leave a transaction open (dropping a
            // `Transaction` rolls it back), so a poisoned lock is safe to reuse.
            let mut conn = inner
                .conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            work(&mut conn)
        })
        .await;
        match joined {
            Ok(result) => result.map_err(|e| e.into_store(op)),
            Err(join) => Err(StoreError::Backend(format!(
                "{op}: store worker failed: {join}"
            ))),
        }
    }
}

/// Applies pending migrations, each in its own immediate transaction (so that two processes
/// opening a fresh file at once do not both migrate it).
fn migrate(conn: &mut Connection) -> Result<(), Fail> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        let known = to_i64(MIGRATIONS.len());
        if version > known {
            return Err(Fail::Store(StoreError::Backend(format!(
                "schema version {version} is newer than this build supports ({known}); \
                 upgrade the connector"
            ))));
        }
        if version == known {
            return Ok(());
        }
        // Non-negative and below `known`, checked above.
        let index = usize::try_from(version).unwrap_or(0);
        tx.execute_batch(MIGRATIONS[index])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::debug!(version = version + 1, "embedded store schema migrated");
    }
}

/// An error inside a store operation, turned into a [`StoreError`] with the operation's name.
#[derive(Debug)]
enum Fail {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for Fail {
    fn from(value: rusqlite::Error) -> Self {
        Fail::Sql(value)
    }
}

impl From<StoreError> for Fail {
    fn from(value: StoreError) -> Self {
        Fail::Store(value)
    }
}

impl Fail {
    fn into_store(self, op: &str) -> StoreError {
        match self {
            Fail::Store(StoreError::Corrupt(message)) => {
                StoreError::Corrupt(format!("{op}: {message}"))
            }
            Fail::Store(StoreError::Backend(message)) => {
                StoreError::Backend(format!("{op}: {message}"))
            }
            Fail::Store(conflict @ StoreError::Conflict(_)) => conflict,
            Fail::Sql(error) => sql_error(op, error),
        }
    }
}

/// Classifies a rusqlite error: uniqueness -> conflict, undecodable value -> corrupt, else backend.
fn sql_error(op: &str, error: rusqlite::Error) -> StoreError {
    use rusqlite::Error as E;
    use rusqlite::ffi;
    match &error {
        E::SqliteFailure(failure, _)
            if failure.extended_code == ffi::SQLITE_CONSTRAINT_UNIQUE
                || failure.extended_code == ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict(format!("{op}: uniqueness rule broken: {error}"))
        }
        E::FromSqlConversionFailure(..)
        | E::IntegralValueOutOfRange(..)
        | E::Utf8Error(..)
        | E::InvalidColumnType(..) => {
            StoreError::Corrupt(format!("{op}: undecodable stored value: {error}"))
        }
        _ => StoreError::Backend(format!("{op}: {error}")),
    }
}

fn corrupt(message: String) -> Fail {
    Fail::Store(StoreError::Corrupt(message))
}

fn timestamp(column: &str, millis: i64) -> Result<Timestamp, Fail> {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(Timestamp::from_datetime)
        .ok_or_else(|| {
            corrupt(format!(
                "{column}: {millis} is not a valid epoch-ms timestamp"
            ))
        })
}

fn opt_timestamp(column: &str, millis: Option<i64>) -> Result<Option<Timestamp>, Fail> {
    millis.map(|m| timestamp(column, m)).transpose()
}

fn millis(value: Option<Timestamp>) -> Option<i64> {
    value.as_ref().map(Timestamp::epoch_millis)
}

fn duration_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn side(column: &str, text: &str) -> Result<Side, Fail> {
    Side::parse(text).ok_or_else(|| corrupt(format!("{column}: unknown side `{text}`")))
}

fn to_i64(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn read_organization(row: &Row<'_>) -> Result<Organization, Fail> {
    let flags: String = row.get(7)?;
    let entity_flags = serde_json::from_str(&flags)
        .map_err(|e| corrupt(format!("organizations.entity_flags: {e}")))?;
    Ok(Organization {
        id: OrgId::new(row.get::<_, String>(0)?),
        tenant: Tenant::new(row.get::<_, String>(1)?),
        group_id: GroupId::new(row.get::<_, String>(2)?),
        provider: Provider::new(row.get::<_, String>(3)?),
        realm: Realm::new(row.get::<_, String>(4)?),
        name: row.get(5)?,
        sync_enabled: row.get(6)?,
        entity_flags,
        history_from: opt_timestamp("organizations.history_from", row.get(8)?)?,
        linked_at: timestamp("organizations.linked_at", row.get(9)?)?,
    })
}

fn read_idmap(row: &Row<'_>) -> Result<IdMap, Fail> {
    Ok(IdMap {
        org: OrgId::new(row.get::<_, String>(0)?),
        entity: EntityName::new(row.get::<_, String>(1)?),
        hub_id: row.get::<_, Option<String>>(2)?.map(HubId::new),
        app_id: row.get::<_, Option<String>>(3)?.map(AppId::new),
        hash: row.get::<_, Option<String>>(4)?.map(ContentHash::from_hex),
        last_push_to_hub: opt_timestamp("idmaps.last_push_to_hub", row.get(5)?)?,
        last_push_to_app: opt_timestamp("idmaps.last_push_to_app", row.get(6)?)?,
        hub_updated_at: opt_timestamp("idmaps.hub_updated_at", row.get(7)?)?,
        app_updated_at: opt_timestamp("idmaps.app_updated_at", row.get(8)?)?,
        to_hub: row.get(9)?,
        to_app: row.get(10)?,
        inactive: row.get(11)?,
        last_error: row.get(12)?,
        name: row.get(13)?,
        pending_writes: match row.get::<_, Option<String>>(14)? {
            None => Vec::new(),
            Some(text) => text
                .split(';')
                .filter(|entry| !entry.is_empty())
                .map(|entry| {
                    entry
                        .split_once(':')
                        .and_then(|(side, hash)| {
                            Some((Side::parse(side)?, ContentHash::from_hex(hash)))
                        })
                        .ok_or_else(|| corrupt(format!("idmaps.pending_hash: `{text}`")))
                })
                .collect::<Result<_, _>>()?,
        },
    })
}

fn read_pending(row: &Row<'_>) -> Result<PendingRecord, Fail> {
    let source: String = row.get(2)?;
    let reason: String = row.get(4)?;
    let attempts: i64 = row.get(6)?;
    Ok(PendingRecord {
        org: OrgId::new(row.get::<_, String>(0)?),
        entity: EntityName::new(row.get::<_, String>(1)?),
        source: side("pending.source", &source)?,
        source_id: row.get(3)?,
        reason: PendingReason::parse(&reason)
            .ok_or_else(|| corrupt(format!("pending.reason: unknown reason `{reason}`")))?,
        error: row.get(5)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| corrupt(format!("pending.attempts: {attempts} is out of range")))?,
        since: timestamp("pending.since", row.get(7)?)?,
    })
}

fn read_run(body: &str) -> Result<Run, Fail> {
    serde_json::from_str(body).map_err(|e| corrupt(format!("runs.body: {e}")))
}

/// The identity of a stored id-map row.
struct StoredIds {
    rowid: i64,
    hub_id: Option<String>,
    app_id: Option<String>,
}

fn find_idmap(
    tx: &Transaction<'_>,
    org: &str,
    entity: &str,
    column: &'static str,
    id: &str,
) -> Result<Option<StoredIds>, Fail> {
    let sql = format!(
        "SELECT rowid, hub_id, app_id FROM idmaps WHERE org = ?1 AND entity = ?2 AND {column} = ?3"
    );
    let found = tx
        .prepare_cached(&sql)?
        .query_row(params![org, entity, id], |row| {
            Ok(StoredIds {
                rowid: row.get(0)?,
                hub_id: row.get(1)?,
                app_id: row.get(2)?,
            })
        })
        .optional()?;
    Ok(found)
}

fn conflict(message: String) -> Fail {
    Fail::Store(StoreError::Conflict(message))
}

/// Saves one id-map inside the batch transaction (see the crate docs for the rules).
fn save_idmap(tx: &Transaction<'_>, map: &IdMap, now: i64) -> Result<(), Fail> {
    let org = map.org.as_str();
    let entity = map.entity.as_str();
    let hub = map.hub_id.as_ref().map(HubId::as_str);
    let app = map.app_id.as_ref().map(AppId::as_str);
    if hub.is_none() && app.is_none() {
        return Err(conflict(format!(
            "an id-map of entity {entity} (organization {org}) has neither a hub id nor an app \
             id, so nothing identifies it"
        )));
    }
    let by_hub = match hub {
        Some(id) => find_idmap(tx, org, entity, "hub_id", id)?,
        None => None,
    };
    let by_app = match app {
        Some(id) => find_idmap(tx, org, entity, "app_id", id)?,
        None => None,
    };
    // Two different rows hold our hub id and our app id. Two half-known maps (a hub record
    // whose create failed, an app record whose push failed) that turn out to be the same record
    // are merged into the hub-side row; anything else would re-link a known pair: refused.
    let mut by_app = by_app;
    if let (Some(h), Some(a)) = (&by_hub, &by_app)
        && h.rowid != a.rowid
        && h.app_id.is_none()
        && a.hub_id.is_none()
    {
        tx.prepare_cached("DELETE FROM idmaps WHERE rowid = ?1")?
            .execute(params![a.rowid])?;
        by_app = None;
    }
    if let (Some(h), Some(a), Some(hub), Some(app)) = (&by_hub, &by_app, hub, app)
        && h.rowid != a.rowid
    {
        return Err(conflict(match &a.hub_id {
            Some(other) => format!(
                "app id {app} of entity {entity} (organization {org}) is already mapped to hub \
                 id {other}"
            ),
            None => format!(
                "app id {app} of entity {entity} (organization {org}) already has its own \
                 id-map, and hub id {hub} has another one"
            ),
        }));
    }
    let target = by_hub.or(by_app);
    if let Some(stored) = &target {
        if let Some(stored_hub) = &stored.hub_id
            && hub != Some(stored_hub.as_str())
        {
            return Err(conflict(format!(
                "app id {} of entity {entity} (organization {org}) is already mapped to hub id \
                 {stored_hub}",
                app.unwrap_or("?")
            )));
        }
        if let Some(stored_app) = &stored.app_id
            && app != Some(stored_app.as_str())
        {
            return Err(conflict(format!(
                "hub id {} of entity {entity} (organization {org}) is already mapped to app id \
                 {stored_app}",
                hub.unwrap_or("?")
            )));
        }
    }
    let hash = map.hash.as_ref().map(ContentHash::as_str);
    let pending = (!map.pending_writes.is_empty()).then(|| {
        map.pending_writes
            .iter()
            .map(|(side, hash)| format!("{}:{}", side.as_str(), hash.as_str()))
            .collect::<Vec<_>>()
            .join(";")
    });
    match target {
        Some(stored) => {
            tx.prepare_cached(
                "UPDATE idmaps SET hub_id = ?2, app_id = ?3, hash = ?4, last_push_to_hub = ?5, \
                 last_push_to_app = ?6, hub_updated_at = ?7, app_updated_at = ?8, to_hub = ?9, \
                 to_app = ?10, inactive = ?11, last_error = ?12, name = ?13, updated_at = ?14, \
                 pending_hash = ?15 WHERE rowid = ?1",
            )?
            .execute(params![
                stored.rowid,
                hub,
                app,
                hash,
                millis(map.last_push_to_hub),
                millis(map.last_push_to_app),
                millis(map.hub_updated_at),
                millis(map.app_updated_at),
                map.to_hub,
                map.to_app,
                map.inactive,
                map.last_error,
                map.name,
                now,
                pending,
            ])?;
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO idmaps (org, entity, hub_id, app_id, hash, last_push_to_hub, \
                 last_push_to_app, hub_updated_at, app_updated_at, to_hub, to_app, inactive, \
                 last_error, name, created_at, updated_at, pending_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16)",
            )?
            .execute(params![
                org,
                entity,
                hub,
                app,
                hash,
                millis(map.last_push_to_hub),
                millis(map.last_push_to_app),
                millis(map.hub_updated_at),
                millis(map.app_updated_at),
                map.to_hub,
                map.to_app,
                map.inactive,
                map.last_error,
                map.name,
                now,
                pending,
            ])?;
        }
    }
    Ok(())
}

/// Id-maps whose `column` is one of `ids`, one `IN (...)` query per chunk of [`IN_CHUNK`] ids.
fn idmaps_by(
    conn: &Connection,
    org: &str,
    entity: &str,
    column: &'static str,
    ids: &[String],
) -> Result<Vec<IdMap>, Fail> {
    let mut found = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let placeholders = (3..3 + chunk.len())
            .map(|n| format!("?{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {IDMAP_COLUMNS} FROM idmaps WHERE org = ?1 AND entity = ?2 \
             AND {column} IN ({placeholders}) ORDER BY rowid"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let values = [org, entity]
            .into_iter()
            .chain(chunk.iter().map(String::as_str));
        let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
        while let Some(row) = rows.next()? {
            found.push(read_idmap(row)?);
        }
    }
    Ok(found)
}

#[async_trait]
impl SyncStore for EmbeddedStore {
    async fn put_organization(&self, org: &Organization) -> Result<(), StoreError> {
        let org = org.clone();
        let flags = serde_json::to_string(&org.entity_flags).map_err(|e| {
            StoreError::Backend(format!("put_organization: cannot encode entity flags: {e}"))
        })?;
        self.call("put_organization", move |conn| {
            conn.prepare_cached(
                "INSERT INTO organizations (id, tenant, group_id, provider, realm, name, \
                 sync_enabled, entity_flags, history_from, linked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, \
                 group_id = excluded.group_id, provider = excluded.provider, \
                 realm = excluded.realm, name = excluded.name, \
                 sync_enabled = excluded.sync_enabled, entity_flags = excluded.entity_flags, \
                 history_from = excluded.history_from, linked_at = excluded.linked_at",
            )?
            .execute(params![
                org.id.as_str(),
                org.tenant.as_str(),
                org.group_id.as_str(),
                org.provider.as_str(),
                org.realm.as_str(),
                org.name,
                org.sync_enabled,
                flags,
                millis(org.history_from),
                org.linked_at.epoch_millis(),
            ])?;
            Ok(())
        })
        .await
    }

    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
        let id = id.clone();
        self.call("get_organization", move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ORG_COLUMNS} FROM organizations WHERE id = ?1"
            ))?;
            let mut rows = stmt.query(params![id.as_str()])?;
            match rows.next()? {
                Some(row) => Ok(Some(read_organization(row)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError> {
        self.call("list_organizations", move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ORG_COLUMNS} FROM organizations ORDER BY id"
            ))?;
            let mut rows = stmt.query([])?;
            let mut orgs = Vec::new();
            while let Some(row) = rows.next()? {
                orgs.push(read_organization(row)?);
            }
            Ok(orgs)
        })
        .await
    }

    async fn idmaps_by_hub_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<IdMap>, StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        self.call("idmaps_by_hub_ids", move |conn| {
            idmaps_by(conn, org.as_str(), entity.as_str(), "hub_id", &ids)
        })
        .await
    }

    async fn idmaps_by_app_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[AppId],
    ) -> Result<Vec<IdMap>, StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        self.call("idmaps_by_app_ids", move |conn| {
            idmaps_by(conn, org.as_str(), entity.as_str(), "app_id", &ids)
        })
        .await
    }

    async fn save_idmaps(&self, maps: &[IdMap]) -> Result<(), StoreError> {
        let maps = maps.to_vec();
        self.call("save_idmaps", move |conn| {
            if maps.is_empty() {
                return Ok(());
            }
            // Immediate: take the write lock first, so that the look-ups and the writes see the
            // same data even when another process shares the file.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_millis();
            for map in &maps {
                save_idmap(&tx, map, now)?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn list_idmaps(
        &self,
        org: &OrgId,
        entity: Option<&EntityName>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<IdMap>, StoreError> {
        let org = org.clone();
        let entity = entity.cloned();
        self.call("list_idmaps", move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {IDMAP_COLUMNS} FROM idmaps \
                 WHERE org = ?1 AND (?2 IS NULL OR entity = ?2) \
                 ORDER BY entity, rowid LIMIT ?3 OFFSET ?4"
            ))?;
            let mut rows = stmt.query(params![
                org.as_str(),
                entity.as_ref().map(EntityName::as_str),
                to_i64(limit),
                to_i64(offset),
            ])?;
            let mut maps = Vec::new();
            while let Some(row) = rows.next()? {
                maps.push(read_idmap(row)?);
            }
            Ok(maps)
        })
        .await
    }

    async fn get_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<Watermark>, StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        self.call("get_watermark", move |conn| {
            let mark: Option<i64> = conn
                .prepare_cached(
                    "SELECT mark FROM watermarks WHERE org = ?1 AND entity = ?2 AND side = ?3",
                )?
                .query_row(
                    params![org.as_str(), entity.as_str(), side.as_str()],
                    |row| row.get(0),
                )
                .optional()?;
            Ok(opt_timestamp("watermarks.mark", mark)?.map(Watermark))
        })
        .await
    }

    async fn set_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        mark: Watermark,
    ) -> Result<(), StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        self.call("set_watermark", move |conn| {
            conn.prepare_cached(
                "INSERT INTO watermarks (org, entity, side, mark) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (org, entity, side) DO UPDATE SET mark = excluded.mark",
            )?
            .execute(params![
                org.as_str(),
                entity.as_str(),
                side.as_str(),
                mark.0.epoch_millis()
            ])?;
            Ok(())
        })
        .await
    }

    async fn get_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<(PageCursor, Timestamp)>, StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        self.call("get_checkpoint", move |conn| {
            let found: Option<(String, i64)> = conn
                .prepare_cached(
                    "SELECT cursor, fetch_start FROM checkpoints \
                     WHERE org = ?1 AND entity = ?2 AND side = ?3",
                )?
                .query_row(
                    params![org.as_str(), entity.as_str(), side.as_str()],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            match found {
                Some((cursor, start)) => Ok(Some((
                    PageCursor::new(cursor),
                    timestamp("checkpoints.fetch_start", start)?,
                ))),
                None => Ok(None),
            }
        })
        .await
    }

    async fn set_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        checkpoint: Option<(PageCursor, Timestamp)>,
    ) -> Result<(), StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        self.call("set_checkpoint", move |conn| {
            match checkpoint {
                Some((cursor, start)) => {
                    conn.prepare_cached(
                        "INSERT INTO checkpoints (org, entity, side, cursor, fetch_start) \
                         VALUES (?1, ?2, ?3, ?4, ?5) \
                         ON CONFLICT (org, entity, side) DO UPDATE \
                         SET cursor = excluded.cursor, fetch_start = excluded.fetch_start",
                    )?
                    .execute(params![
                        org.as_str(),
                        entity.as_str(),
                        side.as_str(),
                        cursor.as_str(),
                        start.epoch_millis()
                    ])?;
                }
                None => {
                    conn.prepare_cached(
                        "DELETE FROM checkpoints WHERE org = ?1 AND entity = ?2 AND side = ?3",
                    )?
                    .execute(params![
                        org.as_str(),
                        entity.as_str(),
                        side.as_str()
                    ])?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
    ) -> Result<Vec<PendingRecord>, StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        self.call("pending", move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT org, entity, source, source_id, reason, error, attempts, since \
                 FROM pending WHERE org = ?1 AND entity = ?2 AND source = ?3 \
                 ORDER BY since, source_id",
            )?;
            let mut rows = stmt.query(params![org.as_str(), entity.as_str(), source.as_str()])?;
            let mut records = Vec::new();
            while let Some(row) = rows.next()? {
                records.push(read_pending(row)?);
            }
            Ok(records)
        })
        .await
    }

    async fn put_pending(&self, records: &[PendingRecord]) -> Result<(), StoreError> {
        let records = records.to_vec();
        self.call("put_pending", move |conn| {
            if records.is_empty() {
                return Ok(());
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO pending (org, entity, source, source_id, reason, error, \
                     attempts, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                     ON CONFLICT (org, entity, source, source_id) DO UPDATE SET \
                     reason = excluded.reason, error = excluded.error, \
                     attempts = excluded.attempts, since = excluded.since",
                )?;
                for record in &records {
                    stmt.execute(params![
                        record.org.as_str(),
                        record.entity.as_str(),
                        record.source.as_str(),
                        record.source_id,
                        record.reason.as_str(),
                        record.error,
                        i64::from(record.attempts),
                        record.since.epoch_millis(),
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn remove_pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
        ids: &[String],
    ) -> Result<(), StoreError> {
        let (org, entity) = (org.clone(), entity.clone());
        let ids = ids.to_vec();
        self.call("remove_pending", move |conn| {
            if ids.is_empty() {
                return Ok(());
            }
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for chunk in ids.chunks(IN_CHUNK) {
                let placeholders = (4..4 + chunk.len())
                    .map(|n| format!("?{n}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "DELETE FROM pending WHERE org = ?1 AND entity = ?2 AND source = ?3 \
                     AND source_id IN ({placeholders})"
                );
                let values = [org.as_str(), entity.as_str(), source.as_str()]
                    .into_iter()
                    .chain(chunk.iter().map(String::as_str));
                tx.prepare_cached(&sql)?
                    .execute(rusqlite::params_from_iter(values))?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn save_run(&self, run: &Run) -> Result<(), StoreError> {
        let body = serde_json::to_string(run)
            .map_err(|e| StoreError::Backend(format!("save_run: cannot encode the run: {e}")))?;
        let (id, org) = (run.id.clone(), run.org.clone());
        let (started_at, status) = (run.started_at.epoch_millis(), run.status.as_str());
        self.call("save_run", move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO runs (id, org, started_at, status, body) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT (id) DO UPDATE SET org = excluded.org, \
                 started_at = excluded.started_at, status = excluded.status, body = excluded.body",
            )?
            .execute(params![id.as_str(), org.as_str(), started_at, status, body])?;
            tx.prepare_cached(
                "DELETE FROM runs WHERE org = ?1 AND rowid NOT IN (SELECT rowid FROM runs \
                 WHERE org = ?1 ORDER BY started_at DESC, rowid DESC LIMIT ?2)",
            )?
            .execute(params![org.as_str(), RUNS_KEPT])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn recent_runs(&self, org: &OrgId, limit: usize) -> Result<Vec<Run>, StoreError> {
        let org = org.clone();
        self.call("recent_runs", move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT body FROM runs WHERE org = ?1 \
                 ORDER BY started_at DESC, rowid DESC LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![org.as_str(), to_i64(limit)])?;
            let mut runs = Vec::new();
            while let Some(row) = rows.next()? {
                let body: String = row.get(0)?;
                runs.push(read_run(&body)?);
            }
            Ok(runs)
        })
        .await
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        let id = id.clone();
        self.call("get_run", move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM runs WHERE id = ?1")?
                .query_row(params![id.as_str()], |row| row.get(0))
                .optional()?;
            body.map(|body| read_run(&body)).transpose()
        })
        .await
    }

    async fn acquire_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let (org, owner) = (org.clone(), owner.to_owned());
        let now = now.epoch_millis();
        let expires = now.saturating_add(duration_millis(ttl));
        self.call("acquire_lease", move |conn| {
            // One statement: insert, or take over an expired lease, or extend our own.
            let changed = conn
                .prepare_cached(
                    "INSERT INTO leases (org, owner, expires_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (org) DO UPDATE SET owner = excluded.owner, \
                     expires_at = excluded.expires_at \
                     WHERE leases.expires_at <= ?4 OR leases.owner = excluded.owner",
                )?
                .execute(params![org.as_str(), owner, expires, now])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn renew_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let (org, owner) = (org.clone(), owner.to_owned());
        let expires = now.epoch_millis().saturating_add(duration_millis(ttl));
        self.call("renew_lease", move |conn| {
            // Still ours (even if it expired meanwhile, nobody took it): extend it.
            let changed = conn
                .prepare_cached("UPDATE leases SET expires_at = ?3 WHERE org = ?1 AND owner = ?2")?
                .execute(params![org.as_str(), owner, expires])?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release_lease(&self, org: &OrgId, owner: &str) -> Result<(), StoreError> {
        let (org, owner) = (org.clone(), owner.to_owned());
        self.call("release_lease", move |conn| {
            conn.prepare_cached("DELETE FROM leases WHERE org = ?1 AND owner = ?2")?
                .execute(params![org.as_str(), owner])?;
            Ok(())
        })
        .await
    }

    async fn lease_holder(&self, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError> {
        let org = org.clone();
        self.call("lease_holder", move |conn| {
            let row: Option<(String, i64)> = conn
                .prepare_cached("SELECT owner, expires_at FROM leases WHERE org = ?1")?
                .query_row(params![org.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            row.map(|(owner, expires)| {
                Ok(LeaseHolder {
                    owner,
                    expires_at: timestamp("leases.expires_at", expires)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn break_lease(&self, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError> {
        let org = org.clone();
        self.call("break_lease", move |conn| {
            // One statement: what is removed is exactly what is returned.
            let row: Option<(String, i64)> = conn
                .prepare_cached("DELETE FROM leases WHERE org = ?1 RETURNING owner, expires_at")?
                .query_row(params![org.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            row.map(|(owner, expires)| {
                Ok(LeaseHolder {
                    owner,
                    expires_at: timestamp("leases.expires_at", expires)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn purge_sync_state(&self, org: &OrgId) -> Result<u64, StoreError> {
        let org = org.clone();
        self.call("purge_sync_state", move |conn| {
            // One transaction: a reader sees either everything or nothing of the old state.
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let removed = tx.execute("DELETE FROM idmaps WHERE org = ?1", [org.as_str()])?;
            for table in ["watermarks", "checkpoints", "pending"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE org = ?1"),
                    [org.as_str()],
                )?;
            }
            tx.commit()?;
            Ok(u64::try_from(removed).unwrap_or(u64::MAX))
        })
        .await
    }
}

#[cfg(test)]
mod tests;
