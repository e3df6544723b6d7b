//! Organizations: one row each, keyed by the opaque organization id. A group links one account
//! of each app: `(tenant, group_id, provider)` is a unique index (schema version 5), and
//! [`put`] refuses a second organization for it with a conflict that names the group and the
//! app. One app account links to one organization: [`put`] refuses to enable a second
//! organization for an account an enabled one holds (checked in the same immediate
//! transaction, found by the `(provider, realm)` index).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sync_core::domain::{OrgId, Organization};
use sync_core::error::StoreError;

use crate::error::{Fail, conflict};
use crate::rows::{ORG_COLUMNS, millis, read_organization};

/// The entity flags as stored (JSON), encoded before the operation starts.
pub(crate) fn encode_flags(org: &Organization) -> Result<String, StoreError> {
    serde_json::to_string(&org.entity_flags).map_err(|e| {
        StoreError::Backend(format!("put_organization: cannot encode entity flags: {e}"))
    })
}

/// Inserts or replaces the organization `org.id`, unless another organization already holds
/// its group for its app.
pub(crate) fn put(conn: &mut Connection, org: &Organization, flags: &str) -> Result<(), Fail> {
    // Immediate: the check and the write see the same rows, even across processes (the unique
    // index would refuse anyway, with a message that names columns, not the group).
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let other: Option<String> = tx
        .prepare_cached(
            "SELECT id FROM organizations \
             WHERE tenant = ?1 AND group_id = ?2 AND provider = ?3 AND id != ?4",
        )?
        .query_row(
            params![
                org.tenant.as_str(),
                org.group_id.as_str(),
                org.provider.as_str(),
                org.id.as_str()
            ],
            |row| row.get(0),
        )
        .optional()?;
    if let Some(other) = other {
        return Err(conflict(format!(
            "organization {} not saved: group {} of tenant {} already has organization {other} \
             for app {} (a group links one account of each app)",
            org.id, org.group_id, org.tenant, org.provider
        )));
    }
    // One app account links to one organization: an enabled organization holds its account.
    if org.sync_enabled {
        let holder: Option<String> = tx
            .prepare_cached(
                "SELECT id FROM organizations \
                 WHERE provider = ?1 AND realm = ?2 AND sync_enabled = 1 AND id != ?3",
            )?
            .query_row(
                params![org.provider.as_str(), org.realm.as_str(), org.id.as_str()],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(holder) = holder {
            return Err(conflict(format!(
                "organization {} not saved: {} account {} is already linked to organization \
                 {holder} (one app account links to one organization)",
                org.id, org.provider, org.realm
            )));
        }
    }
    tx.prepare_cached(
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
    tx.commit()?;
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
