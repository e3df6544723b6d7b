//! Rows <-> domain values: the column lists, the row readers, and the conversions every table
//! shares (timestamps as epoch milliseconds, sides, counts).

use std::time::Duration;

use rusqlite::Row;
use sync_core::domain::{
    AppId, ContentHash, EntityName, GroupId, HubId, IdMap, OrgId, Organization, PendingReason,
    PendingRecord, Provider, Realm, Run, Side, Tenant, Timestamp,
};

use crate::error::{Fail, corrupt};

/// At most this many ids are bound in one `IN (...)` list.
pub(crate) const IN_CHUNK: usize = 500;

/// Columns of an id-map, in the order [`read_idmap`] expects.
pub(crate) const IDMAP_COLUMNS: &str = "org, entity, hub_id, app_id, hash, last_push_to_hub, \
     last_push_to_app, hub_updated_at, app_updated_at, to_hub, to_app, inactive, last_error, name, \
     pending_hash";

/// Columns of an organization, in the order [`read_organization`] expects.
pub(crate) const ORG_COLUMNS: &str = "id, tenant, group_id, provider, realm, name, sync_enabled, \
     entity_flags, history_from, linked_at";

pub(crate) fn timestamp(column: &str, millis: i64) -> Result<Timestamp, Fail> {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(Timestamp::from_datetime)
        .ok_or_else(|| {
            corrupt(format!(
                "{column}: {millis} is not a valid epoch-ms timestamp"
            ))
        })
}

pub(crate) fn opt_timestamp(column: &str, millis: Option<i64>) -> Result<Option<Timestamp>, Fail> {
    millis.map(|m| timestamp(column, m)).transpose()
}

pub(crate) fn millis(value: Option<Timestamp>) -> Option<i64> {
    value.as_ref().map(Timestamp::epoch_millis)
}

pub(crate) fn duration_millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn side(column: &str, text: &str) -> Result<Side, Fail> {
    Side::parse(text).ok_or_else(|| corrupt(format!("{column}: unknown side `{text}`")))
}

pub(crate) fn to_i64(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn read_organization(row: &Row<'_>) -> Result<Organization, Fail> {
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

pub(crate) fn read_idmap(row: &Row<'_>) -> Result<IdMap, Fail> {
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

pub(crate) fn read_pending(row: &Row<'_>) -> Result<PendingRecord, Fail> {
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

pub(crate) fn read_run(body: &str) -> Result<Run, Fail> {
    serde_json::from_str(body).map_err(|e| corrupt(format!("runs.body: {e}")))
}
