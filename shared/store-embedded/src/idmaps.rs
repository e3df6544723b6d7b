//! Id-maps: saving a batch under the uniqueness rules (see the crate docs), finding rows by hub
//! id or app id, listing an organization's maps.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sync_core::domain::{AppId, ContentHash, EntityName, HubId, IdMap, OrgId};

use crate::error::{Fail, conflict};
use crate::rows::{IDMAP_COLUMNS, IN_CHUNK, millis, now_millis, read_idmap, to_i64};

/// Saves a batch of id-maps in one immediate transaction: all or nothing.
pub(crate) fn save_all(conn: &mut Connection, maps: &[IdMap]) -> Result<(), Fail> {
    if maps.is_empty() {
        return Ok(());
    }
    // Immediate: take the write lock first, so that the look-ups and the writes see the
    // same data even when another process shares the file.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_millis();
    for map in maps {
        save_idmap(&tx, map, now)?;
    }
    tx.commit()?;
    Ok(())
}

/// Id-maps of an organization (optionally one entity), by entity then creation, paged.
pub(crate) fn list(
    conn: &Connection,
    org: &OrgId,
    entity: Option<&EntityName>,
    offset: usize,
    limit: usize,
) -> Result<Vec<IdMap>, Fail> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {IDMAP_COLUMNS} FROM idmaps \
         WHERE org = ?1 AND (?2 IS NULL OR entity = ?2) \
         ORDER BY entity, rowid LIMIT ?3 OFFSET ?4"
    ))?;
    let mut rows = stmt.query(params![
        org.as_str(),
        entity.map(EntityName::as_str),
        to_i64(limit),
        to_i64(offset),
    ])?;
    let mut maps = Vec::new();
    while let Some(row) = rows.next()? {
        maps.push(read_idmap(row)?);
    }
    Ok(maps)
}

/// The identity of a stored id-map row.
struct StoredIds {
    rowid: i64,
    hub_id: Option<String>,
    app_id: Option<String>,
}

fn find_idmap(
    tx: &Transaction<'_>,
    org: &str,
    entity: &str,
    column: &'static str,
    id: &str,
) -> Result<Option<StoredIds>, Fail> {
    let sql = format!(
        "SELECT rowid, hub_id, app_id FROM idmaps WHERE org = ?1 AND entity = ?2 AND {column} = ?3"
    );
    let found = tx
        .prepare_cached(&sql)?
        .query_row(params![org, entity, id], |row| {
            Ok(StoredIds {
                rowid: row.get(0)?,
                hub_id: row.get(1)?,
                app_id: row.get(2)?,
            })
        })
        .optional()?;
    Ok(found)
}

/// Saves one id-map inside the batch transaction (see the crate docs for the rules).
fn save_idmap(tx: &Transaction<'_>, map: &IdMap, now: i64) -> Result<(), Fail> {
    let org = map.org.as_str();
    let entity = map.entity.as_str();
    let hub = map.hub_id.as_ref().map(HubId::as_str);
    let app = map.app_id.as_ref().map(AppId::as_str);
    if hub.is_none() && app.is_none() {
        return Err(conflict(format!(
            "an id-map of entity {entity} (organization {org}) has neither a hub id nor an app \
             id, so nothing identifies it"
        )));
    }
    let by_hub = match hub {
        Some(id) => find_idmap(tx, org, entity, "hub_id", id)?,
        None => None,
    };
    let by_app = match app {
        Some(id) => find_idmap(tx, org, entity, "app_id", id)?,
        None => None,
    };
    // Two different rows hold our hub id and our app id. Two half-known maps (a hub record
    // whose create failed, an app record whose push failed) that turn out to be the same record
    // are merged into the hub-side row; anything else would re-link a known pair: refused.
    let mut by_app = by_app;
    if let (Some(h), Some(a)) = (&by_hub, &by_app)
        && h.rowid != a.rowid
        && h.app_id.is_none()
        && a.hub_id.is_none()
    {
        tx.prepare_cached("DELETE FROM idmaps WHERE rowid = ?1")?
            .execute(params![a.rowid])?;
        by_app = None;
    }
    if let (Some(h), Some(a), Some(hub), Some(app)) = (&by_hub, &by_app, hub, app)
        && h.rowid != a.rowid
    {
        return Err(conflict(match &a.hub_id {
            Some(other) => format!(
                "app id {app} of entity {entity} (organization {org}) is already mapped to hub \
                 id {other}"
            ),
            None => format!(
                "app id {app} of entity {entity} (organization {org}) already has its own \
                 id-map, and hub id {hub} has another one"
            ),
        }));
    }
    let target = by_hub.or(by_app);
    if let Some(stored) = &target {
        if let Some(stored_hub) = &stored.hub_id
            && hub != Some(stored_hub.as_str())
        {
            return Err(conflict(format!(
                "app id {} of entity {entity} (organization {org}) is already mapped to hub id \
                 {stored_hub}",
                app.unwrap_or("?")
            )));
        }
        if let Some(stored_app) = &stored.app_id
            && app != Some(stored_app.as_str())
        {
            return Err(conflict(format!(
                "hub id {} of entity {entity} (organization {org}) is already mapped to app id \
                 {stored_app}",
                hub.unwrap_or("?")
            )));
        }
    }
    let hash = map.hash.as_ref().map(ContentHash::as_str);
    let pending = (!map.pending_writes.is_empty()).then(|| {
        map.pending_writes
            .iter()
            .map(|(side, hash)| format!("{}:{}", side.as_str(), hash.as_str()))
            .collect::<Vec<_>>()
            .join(";")
    });
    match target {
        Some(stored) => {
            tx.prepare_cached(
                "UPDATE idmaps SET hub_id = ?2, app_id = ?3, hash = ?4, last_push_to_hub = ?5, \
                 last_push_to_app = ?6, hub_updated_at = ?7, app_updated_at = ?8, to_hub = ?9, \
                 to_app = ?10, inactive = ?11, last_error = ?12, name = ?13, updated_at = ?14, \
                 pending_hash = ?15 WHERE rowid = ?1",
            )?
            .execute(params![
                stored.rowid,
                hub,
                app,
                hash,
                millis(map.last_push_to_hub),
                millis(map.last_push_to_app),
                millis(map.hub_updated_at),
                millis(map.app_updated_at),
                map.to_hub,
                map.to_app,
                map.inactive,
                map.last_error,
                map.name,
                now,
                pending,
            ])?;
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO idmaps (org, entity, hub_id, app_id, hash, last_push_to_hub, \
                 last_push_to_app, hub_updated_at, app_updated_at, to_hub, to_app, inactive, \
                 last_error, name, created_at, updated_at, pending_hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?15, ?16)",
            )?
            .execute(params![
                org,
                entity,
                hub,
                app,
                hash,
                millis(map.last_push_to_hub),
                millis(map.last_push_to_app),
                millis(map.hub_updated_at),
                millis(map.app_updated_at),
                map.to_hub,
                map.to_app,
                map.inactive,
                map.last_error,
                map.name,
                now,
                pending,
            ])?;
        }
    }
    Ok(())
}

/// Id-maps whose `column` is one of `ids`, one `IN (...)` query per chunk of [`IN_CHUNK`] ids.
pub(crate) fn idmaps_by(
    conn: &Connection,
    org: &str,
    entity: &str,
    column: &'static str,
    ids: &[String],
) -> Result<Vec<IdMap>, Fail> {
    let mut found = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let placeholders = (3..3 + chunk.len())
            .map(|n| format!("?{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {IDMAP_COLUMNS} FROM idmaps WHERE org = ?1 AND entity = ?2 \
             AND {column} IN ({placeholders}) ORDER BY rowid"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let values = [org, entity]
            .into_iter()
            .chain(chunk.iter().map(String::as_str));
        let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
        while let Some(row) = rows.next()? {
            found.push(read_idmap(row)?);
        }
    }
    Ok(found)
}
