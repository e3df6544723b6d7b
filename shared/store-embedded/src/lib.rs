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
//!   leaves half a batch behind, and a committed write survives the process crashing.
//! - **Uniqueness enforced by the database**: `(org, entity, hub id)` and `(org, entity, app id)`
//!   are unique indexes, so two concurrent writers (tasks, or even processes sharing the file)
//!   can never link one record twice. SQLite lets a unique index hold many `NULL`s, which is
//!   exactly what half-known id-maps (only one side known yet) need. A group links one account
//!   of each app: `(tenant, group, provider)` of an organization is unique too (schema version
//!   5), and a second organization for it is refused with [`StoreError::Conflict`] naming the
//!   group and the app.
//!
//! The file is opened in WAL mode with a busy timeout so that readers do not block the writer
//! and several processes may share it, and with `synchronous=NORMAL`: the log is synced at
//! checkpoints, not at every commit (one fsync per transaction made the store the bottleneck of a
//! large sync). A commit survives the process crashing; an OS crash or power loss may roll back
//! the last commits (never corrupt the file), which the next sync repairs as after a lost answer:
//! its match-before-create finds the records it created. The schema is versioned with `PRAGMA user_version` and
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

//!
//! # Layout
//!
//! [`EmbeddedStore`] (opening, the connection) lives in `connection`, the [`SyncStore`] impl in
//! `store`, which hands each operation to the module of its tables: `orgs`, `idmaps`,
//! `progress` (watermarks, checkpoints, pending records, purge), `runs` and `leases`. `schema`
//! holds the migrations, `rows` the row readers and value conversions, `error` how failures
//! become [`StoreError`]s.

mod connection;
mod dedupe;
mod error;
mod idmaps;
mod leases;
mod orgs;
mod progress;
mod rows;
mod runs;
mod schema;
pub mod secrets;
mod store;

#[cfg(doc)]
use sync_core::{error::StoreError, ports::SyncStore};

pub use connection::EmbeddedStore;
pub use dedupe::SqliteDedupe;
pub use secrets::{EncryptedCredentialStore, KeyError, SecretKey, SqliteAuthorizationStateStore};

#[cfg(test)]
mod tests;
