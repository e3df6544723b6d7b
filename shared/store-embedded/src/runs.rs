//! Run history: each run as JSON, the newest [`RUNS_KEPT`] per organization.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sync_core::domain::{OrgId, Run, RunId};
use sync_core::error::StoreError;

use crate::error::Fail;
use crate::rows::{read_run, to_i64};

/// Runs kept per organization.
const RUNS_KEPT: i64 = 100;

/// A run as stored, encoded before the operation starts.
pub(crate) struct StoredRun {
    id: RunId,
    org: OrgId,
    started_at: i64,
    status: &'static str,
    body: String,
}

impl StoredRun {
    pub(crate) fn encode(run: &Run) -> Result<Self, StoreError> {
        let body = serde_json::to_string(run)
            .map_err(|e| StoreError::Backend(format!("save_run: cannot encode the run: {e}")))?;
        Ok(Self {
            id: run.id.clone(),
            org: run.org.clone(),
            started_at: run.started_at.epoch_millis(),
            status: run.status.as_str(),
            body,
        })
    }
}

/// Inserts or replaces a run, then prunes its organization's history, in one transaction.
pub(crate) fn save(conn: &mut Connection, run: &StoredRun) -> Result<(), Fail> {
    let StoredRun {
        id,
        org,
        started_at,
        status,
        body,
    } = run;
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
}

/// The organization's newest runs first.
pub(crate) fn recent(conn: &Connection, org: &OrgId, limit: usize) -> Result<Vec<Run>, Fail> {
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
}

/// One run.
pub(crate) fn get(conn: &Connection, id: &RunId) -> Result<Option<Run>, Fail> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM runs WHERE id = ?1")?
        .query_row(params![id.as_str()], |row| row.get(0))
        .optional()?;
    body.map(|body| read_run(&body)).transpose()
}
