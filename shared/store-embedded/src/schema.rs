//! The schema: versioned migrations (`PRAGMA user_version`) and [`migrate`], which brings a
//! database file of any older version forward to the current one.
//!
//! Version 5 makes `(tenant, group_id, provider)` of `organizations` unique (a group links one
//! account of each app) and indexes `(provider, realm)` (an account's organization). A file
//! whose organizations already break the rule is not migrated: opening it fails with an error
//! naming the group, the app and the organizations, and the file stays as it was.

use rusqlite::{Connection, Transaction, TransactionBehavior};
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
    // Version 3: webhook dedupe keys, so a redelivered event is still recognised after a restart.
    r"
    CREATE TABLE webhook_dedupe (
        key         TEXT PRIMARY KEY NOT NULL,
        expires_at  INTEGER NOT NULL
    );
    CREATE INDEX webhook_dedupe_expiry ON webhook_dedupe (expires_at);
    ",
    // Version 4: writes in flight, `side:hash;side:hash` (the engine's write-ahead).
    "ALTER TABLE idmaps ADD COLUMN pending_hash TEXT;",
    // Version 5: one organization per app per group (checked first, see `precondition`), and
    // an account's organization found by index.
    r"
    CREATE UNIQUE INDEX organizations_link ON organizations (tenant, group_id, provider);
    CREATE INDEX organizations_account ON organizations (provider, realm);
    ",
];

/// The version whose migration makes `(tenant, group_id, provider)` unique starts from this one.
const BEFORE_ONE_ORGANIZATION_PER_LINK: i64 = 4;

/// At most this many broken groups are named when a migration is refused.
const NAMED: usize = 10;

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
        precondition(&tx, version)?;
        tx.execute_batch(MIGRATIONS[index])?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::debug!(version = version + 1, "embedded store schema migrated");
    }
}

/// What the data must satisfy before the migration from `version` runs (a unique index over
/// rows that break it would fail with SQLite's bare "UNIQUE constraint failed").
fn precondition(tx: &Transaction<'_>, version: i64) -> Result<(), Fail> {
    if version != BEFORE_ONE_ORGANIZATION_PER_LINK {
        return Ok(());
    }
    let mut stmt = tx.prepare(
        "SELECT tenant, group_id, provider, id FROM organizations \
         WHERE (tenant, group_id, provider) IN (SELECT tenant, group_id, provider \
         FROM organizations GROUP BY tenant, group_id, provider HAVING COUNT(*) > 1) \
         ORDER BY tenant, group_id, provider, id",
    )?;
    let mut rows = stmt.query([])?;
    // (tenant, group, provider) -> organization ids, in order.
    let mut broken: Vec<((String, String, String), Vec<String>)> = Vec::new();
    while let Some(row) = rows.next()? {
        let link = (row.get(0)?, row.get(1)?, row.get(2)?);
        let id: String = row.get(3)?;
        match broken.last_mut() {
            Some((last, ids)) if *last == link => ids.push(id),
            _ => broken.push((link, vec![id])),
        }
    }
    if broken.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = broken
        .iter()
        .take(NAMED)
        .map(|((tenant, group, provider), ids)| {
            format!(
                "group {group} of tenant {tenant} has {} organizations for app {provider} ({})",
                ids.len(),
                ids.join(", ")
            )
        })
        .collect();
    let more = broken.len().saturating_sub(NAMED);
    Err(Fail::Store(StoreError::Backend(format!(
        "schema version {} allows one organization per app per group, and this file has more: \
         {}{}; keep one organization of each (delete the others from the `organizations` table) \
         and open the file again (nothing was changed)",
        BEFORE_ONE_ORGANIZATION_PER_LINK + 1,
        named.join("; "),
        if more > 0 {
            format!(" (and {more} more groups)")
        } else {
            String::new()
        }
    ))))
}

#[cfg(test)]
#[path = "schema_tests.rs"]
mod tests;
