//! Where each sync stands between runs: watermarks, page checkpoints, records parked for the
//! next run, and the purge that forgets all of it (with the id-maps) for one organization.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sync_core::domain::{EntityName, OrgId, PageCursor, PendingRecord, Side, Timestamp, Watermark};

use crate::error::Fail;
use crate::rows::{IN_CHUNK, opt_timestamp, read_pending, timestamp};

/// The watermark of one side of one entity.
pub(crate) fn get_watermark(
    conn: &Connection,
    org: &OrgId,
    entity: &EntityName,
    side: Side,
) -> Result<Option<Watermark>, Fail> {
    let mark: Option<i64> = conn
        .prepare_cached("SELECT mark FROM watermarks WHERE org = ?1 AND entity = ?2 AND side = ?3")?
        .query_row(
            params![org.as_str(), entity.as_str(), side.as_str()],
            |row| row.get(0),
        )
        .optional()?;
    Ok(opt_timestamp("watermarks.mark", mark)?.map(Watermark))
}

/// Sets (inserts or replaces) a watermark.
pub(crate) fn set_watermark(
    conn: &Connection,
    org: &OrgId,
    entity: &EntityName,
    side: Side,
    mark: Watermark,
) -> Result<(), Fail> {
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
}

/// The page checkpoint of an interrupted fetch, with the fetch's start time.
pub(crate) fn get_checkpoint(
    conn: &Connection,
    org: &OrgId,
    entity: &EntityName,
    side: Side,
) -> Result<Option<(PageCursor, Timestamp)>, Fail> {
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
}

/// Records (or clears, with `None`) a page checkpoint.
pub(crate) fn set_checkpoint(
    conn: &Connection,
    org: &OrgId,
    entity: &EntityName,
    side: Side,
    checkpoint: Option<(PageCursor, Timestamp)>,
) -> Result<(), Fail> {
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
            .execute(params![org.as_str(), entity.as_str(), side.as_str()])?;
        }
    }
    Ok(())
}

/// Records waiting for the next run, oldest first.
pub(crate) fn pending(
    conn: &Connection,
    org: &OrgId,
    entity: &EntityName,
    source: Side,
) -> Result<Vec<PendingRecord>, Fail> {
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
}

/// Parks records (replacing the same (org, entity, source, id)) in one transaction.
pub(crate) fn put_pending(conn: &mut Connection, records: &[PendingRecord]) -> Result<(), Fail> {
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
        for record in records {
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
}

/// Forgets parked records, [`IN_CHUNK`] ids per statement, in one transaction.
pub(crate) fn remove_pending(
    conn: &mut Connection,
    org: &OrgId,
    entity: &EntityName,
    source: Side,
    ids: &[String],
) -> Result<(), Fail> {
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
}

/// Forgets the organization's id-maps, watermarks, checkpoints and pending records; returns
/// the number of id-maps removed.
pub(crate) fn purge(conn: &mut Connection, org: &OrgId) -> Result<u64, Fail> {
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
}
