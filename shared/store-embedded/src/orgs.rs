//! Organizations: one row each, keyed by the opaque organization id.

use rusqlite::{Connection, params};
use sync_core::domain::{OrgId, Organization};
use sync_core::error::StoreError;

use crate::error::Fail;
use crate::rows::{ORG_COLUMNS, millis, read_organization};

/// The entity flags as stored (JSON), encoded before the operation starts.
pub(crate) fn encode_flags(org: &Organization) -> Result<String, StoreError> {
    serde_json::to_string(&org.entity_flags).map_err(|e| {
        StoreError::Backend(format!("put_organization: cannot encode entity flags: {e}"))
    })
}

/// Inserts or replaces the organization `org.id`.
pub(crate) fn put(conn: &mut Connection, org: &Organization, flags: &str) -> Result<(), Fail> {
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
}

/// One organization.
pub(crate) fn get(conn: &Connection, id: &OrgId) -> Result<Option<Organization>, Fail> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE id = ?1"
    ))?;
    let mut rows = stmt.query(params![id.as_str()])?;
    match rows.next()? {
        Some(row) => Ok(Some(read_organization(row)?)),
        None => Ok(None),
    }
}

/// Every organization, by id.
pub(crate) fn list(conn: &Connection) -> Result<Vec<Organization>, Fail> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations ORDER BY id"
    ))?;
    let mut rows = stmt.query([])?;
    let mut orgs = Vec::new();
    while let Some(row) = rows.next()? {
        orgs.push(read_organization(row)?);
    }
    Ok(orgs)
}
