//! [`EmbeddedStore`] itself: opening (and migrating) the file, the one shared connection, and
//! running each operation's database work on Tokio's blocking pool.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use sync_core::error::StoreError;
#[cfg(doc)]
use sync_core::ports::SyncStore;

use crate::error::Fail;
use crate::schema::migrate;

/// How long a statement waits for a lock held by another connection before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Switches a connection to WAL mode. Another process creating or migrating the same file can
/// have the switch refused at once as busy (SQLite does not call the busy handler for it), so it
/// is retried until [`BUSY_TIMEOUT`].
pub(crate) fn enable_wal(conn: &Connection) -> Result<(), Fail> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other.map_err(Fail::from),
        }
    }
}

/// Creates the database file readable and writable by its owner only (0600 on Unix) if it does
/// not exist yet; an existing file keeps its mode. SQLite creates the `-wal` and `-shm` files
/// with the mode of the database file, so they are private too. The file holds organization
/// names, id-maps, record names and errors in clear (tokens are sealed).
pub(crate) fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Backend(format!(
            "open: cannot create `{}`: {e}",
            path.display()
        ))),
    }
}

/// The embedded [`SyncStore`]: one SQLite file (or an in-memory database for tests).
///
/// Cheap to clone: clones share one connection (behind a mutex) and one operation counter. All
/// database work runs on Tokio's blocking thread pool, so async callers are never blocked; the
/// port methods must therefore be called from within a Tokio runtime.
#[derive(Clone)]
pub struct EmbeddedStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) conn: Mutex<Connection>,
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
        create_private(path)?;
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
            enable_wal(&conn).map_err(|e| e.into_store("open: journal_mode"))?;
            // In WAL mode NORMAL syncs the log at checkpoints only, not at every commit: a
            // commit still survives the process crashing (it is in the log), and the file is
            // never corrupted; only an OS crash or power loss can roll back the last commits.
            // FULL cost one fsync per transaction, several per page of a sync.
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(|e| Fail::from(e).into_store("open: synchronous"))?;
            // Checkpoint every 10000 pages, not 1000: a large sync rewrites the same index
            // pages, so fewer checkpoints write each back once (measured ~6% less CPU).
            conn.pragma_update(None, "wal_autocheckpoint", 10000)
                .map_err(|e| Fail::from(e).into_store("open: wal_autocheckpoint"))?;
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
    pub(crate) async fn call<T, F>(&self, op: &'static str, work: F) -> Result<T, StoreError>
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

#[cfg(test)]
mod open_race {
    use super::*;

    /// Two processes opening one new file at once (`connector sync` and a second command, or
    /// a test reading the lease a child holds): every open succeeds, none is refused because
    /// the other was switching the file to WAL or migrating it.
    #[test]
    fn concurrent_opens_of_one_new_file_all_succeed() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("race-{round}.db"));
            let barrier = Arc::new(std::sync::Barrier::new(8));
            let opens: Vec<_> = (0..8)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        EmbeddedStore::open(&path).map(|_| ())
                    })
                })
                .collect();
            for open in opens {
                if let Err(e) = open.join().unwrap() {
                    panic!("round {round}: {e}");
                }
            }
        }
    }
}
