//! The per-organization sync lease: one row per organization, taken, renewed and released with
//! single statements (so two processes sharing the file never both hold it).

use rusqlite::{Connection, OptionalExtension, params};
use sync_core::domain::OrgId;
use sync_core::ports::LeaseHolder;

use crate::error::Fail;
use crate::rows::timestamp;

/// Takes the lease until `expires` unless someone else holds one that is unexpired at `now`
/// (both epoch ms).
pub(crate) fn acquire(
    conn: &Connection,
    org: &OrgId,
    owner: &str,
    now: i64,
    expires: i64,
) -> Result<bool, Fail> {
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
}

/// Extends our lease until `expires` (epoch ms); false if it is not ours.
pub(crate) fn renew(
    conn: &Connection,
    org: &OrgId,
    owner: &str,
    expires: i64,
) -> Result<bool, Fail> {
    // Still ours (even if it expired meanwhile, nobody took it): extend it.
    let changed = conn
        .prepare_cached("UPDATE leases SET expires_at = ?3 WHERE org = ?1 AND owner = ?2")?
        .execute(params![org.as_str(), owner, expires])?;
    Ok(changed == 1)
}

/// Releases our lease (someone else's is left alone).
pub(crate) fn release(conn: &Connection, org: &OrgId, owner: &str) -> Result<(), Fail> {
    conn.prepare_cached("DELETE FROM leases WHERE org = ?1 AND owner = ?2")?
        .execute(params![org.as_str(), owner])?;
    Ok(())
}

/// Who holds the lease, expired or not.
pub(crate) fn holder(conn: &Connection, org: &OrgId) -> Result<Option<LeaseHolder>, Fail> {
    let row: Option<(String, i64)> = conn
        .prepare_cached("SELECT owner, expires_at FROM leases WHERE org = ?1")?
        .query_row(params![org.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(lease_holder).transpose()
}

/// Removes the lease whoever holds it and returns what it removed.
pub(crate) fn break_lease(conn: &Connection, org: &OrgId) -> Result<Option<LeaseHolder>, Fail> {
    // One statement: what is removed is exactly what is returned.
    let row: Option<(String, i64)> = conn
        .prepare_cached("DELETE FROM leases WHERE org = ?1 RETURNING owner, expires_at")?
        .query_row(params![org.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    row.map(lease_holder).transpose()
}

fn lease_holder((owner, expires): (String, i64)) -> Result<LeaseHolder, Fail> {
    Ok(LeaseHolder {
        owner,
        expires_at: timestamp("leases.expires_at", expires)?,
    })
}
