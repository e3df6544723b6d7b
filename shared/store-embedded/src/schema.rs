//! The schema: versioned migrations (`PRAGMA user_version`) and [`migrate`], which brings a
//! database file of any older version forward to the current one.

use rusqlite::{Connection, TransactionBehavior};
use sync_core::error::StoreError;

use crate::error::Fail;
use crate::rows::to_i64;

/// Schema migrations; migration `i` brings the database from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[
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

/// Applies pending migrations, each in its own immediate transaction (so that two processes
/// opening a fresh file at once do not both migrate it).
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), Fail> {
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
