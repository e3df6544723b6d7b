//! Id-maps: saving a batch under the uniqueness rules (see the crate docs), finding rows by hub
//! id or app id, listing an organization's maps.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
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
    // The batch's stored rows, found with a few `IN (...)` queries instead of two per map, and
    // kept up to date below as the batch writes.
    let mut view = BatchView::load(&tx, maps)?;
    for map in maps {
        save_idmap(&tx, &mut view, map, now)?;
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
#[derive(Clone)]
struct StoredIds {
    rowid: i64,
    hub_id: Option<String>,
    app_id: Option<String>,
}

/// The stored rows of one organization and entity that a batch names, by hub id and by app id.
struct ViewGroup {
    org: String,
    entity: String,
    by_hub: HashMap<String, StoredIds>,
    by_app: HashMap<String, StoredIds>,
}

/// What the database holds, inside the batch transaction, for every hub id and app id the batch
/// names: loaded up front, then updated after each INSERT, UPDATE and DELETE of the batch, so
/// that each map finds exactly what a query per map would find at its turn. An id missing from
/// the view is not stored. A row is found under its own hub id and its own app id only, and a
/// save only ever fills in a missing id, so an id names the same row until that row is deleted.
struct BatchView {
    groups: Vec<ViewGroup>,
}

impl BatchView {
    fn load(tx: &Transaction<'_>, maps: &[IdMap]) -> Result<Self, Fail> {
        // The batch's ids per (org, entity), each once, in batch order.
        let mut wanted: Vec<(&str, &str, Vec<&str>, Vec<&str>)> = Vec::new();
        let mut seen: HashSet<(&str, &str, bool, &str)> = HashSet::new();
        for map in maps {
            let (org, entity) = (map.org.as_str(), map.entity.as_str());
            let at = match wanted.iter().position(|w| w.0 == org && w.1 == entity) {
                Some(at) => at,
                None => {
                    wanted.push((org, entity, Vec::new(), Vec::new()));
                    wanted.len() - 1
                }
            };
            if let Some(hub) = &map.hub_id
                && seen.insert((org, entity, true, hub.as_str()))
            {
                wanted[at].2.push(hub.as_str());
            }
            if let Some(app) = &map.app_id
                && seen.insert((org, entity, false, app.as_str()))
            {
                wanted[at].3.push(app.as_str());
            }
        }
        let mut groups = Vec::with_capacity(wanted.len());
        for (org, entity, hubs, apps) in wanted {
            let mut by_hub = HashMap::with_capacity(hubs.len());
            for row in stored_ids_by(tx, org, entity, "hub_id", &hubs)? {
                if let Some(hub) = row.hub_id.clone() {
                    by_hub.insert(hub, row);
                }
            }
            let mut by_app = HashMap::with_capacity(apps.len());
            for row in stored_ids_by(tx, org, entity, "app_id", &apps)? {
                if let Some(app) = row.app_id.clone() {
                    by_app.insert(app, row);
                }
            }
            groups.push(ViewGroup {
                org: org.to_owned(),
                entity: entity.to_owned(),
                by_hub,
                by_app,
            });
        }
        Ok(Self { groups })
    }

    /// The group of `org` and `entity`; every map of the batch has one.
    fn group(&mut self, org: &str, entity: &str) -> &mut ViewGroup {
        let at = self
            .groups
            .iter()
            .position(|g| g.org == org && g.entity == entity);
        let at = at.unwrap_or_else(|| {
            self.groups.push(ViewGroup {
                org: org.to_owned(),
                entity: entity.to_owned(),
                by_hub: HashMap::new(),
                by_app: HashMap::new(),
            });
            self.groups.len() - 1
        });
        &mut self.groups[at]
    }
}

impl ViewGroup {
    /// Records that `row` now holds these ids (inserted or updated).
    fn stored(&mut self, row: StoredIds) {
        if let Some(app) = &row.app_id {
            self.by_app.insert(app.clone(), row.clone());
        }
        if let Some(hub) = row.hub_id.clone() {
            self.by_hub.insert(hub, row);
        }
    }

    /// Records that `row` was deleted.
    fn deleted(&mut self, row: &StoredIds) {
        if let Some(hub) = &row.hub_id {
            self.by_hub.remove(hub);
        }
        if let Some(app) = &row.app_id {
            self.by_app.remove(app);
        }
    }
}

/// The identities of the rows whose `column` is one of `ids`, one `IN (...)` query per chunk of
/// [`IN_CHUNK`] ids.
fn stored_ids_by(
    tx: &Transaction<'_>,
    org: &str,
    entity: &str,
    column: &'static str,
    ids: &[&str],
) -> Result<Vec<StoredIds>, Fail> {
    let mut found = Vec::new();
    for chunk in ids.chunks(IN_CHUNK) {
        let sql = select_in("rowid, hub_id, app_id", column, chunk.len(), "");
        let mut stmt = tx.prepare_cached(&sql)?;
        let values = [org, entity].into_iter().chain(chunk.iter().copied());
        let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
        while let Some(row) = rows.next()? {
            found.push(StoredIds {
                rowid: row.get(0)?,
                hub_id: row.get(1)?,
                app_id: row.get(2)?,
            });
        }
    }
    Ok(found)
}

/// The UPDATE of a stored id-map row (`?1`) that sets `$ids` (a few of `hub_id = ?2, `,
/// `app_id = ?3, `) and every other column.
macro_rules! update_idmap {
    ($ids:literal) => {
        concat!(
            "UPDATE idmaps SET ",
            $ids,
            "hash = ?4, last_push_to_hub = ?5, last_push_to_app = ?6, hub_updated_at = ?7, \
             app_updated_at = ?8, to_hub = ?9, to_app = ?10, inactive = ?11, last_error = ?12, \
             name = ?13, updated_at = ?14, pending_hash = ?15 WHERE rowid = ?1"
        )
    };
}

/// Saves one id-map inside the batch transaction (see the crate docs for the rules).
fn save_idmap(
    tx: &Transaction<'_>,
    view: &mut BatchView,
    map: &IdMap,
    now: i64,
) -> Result<(), Fail> {
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
    let view = view.group(org, entity);
    let by_hub = hub.and_then(|id| view.by_hub.get(id)).cloned();
    let by_app = app.and_then(|id| view.by_app.get(id)).cloned();
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
        view.deleted(a);
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
            // Only the ids that change are set (a save only fills in a missing one), so an
            // unchanged id's unique index entry is not rewritten. An unused `?2` / `?3` is
            // still bound (SQLite numbers parameters up to the highest one named).
            let set_hub = stored.hub_id.as_deref() != hub;
            let set_app = stored.app_id.as_deref() != app;
            let sql = match (set_hub, set_app) {
                (true, true) => update_idmap!("hub_id = ?2, app_id = ?3, "),
                (true, false) => update_idmap!("hub_id = ?2, "),
                (false, true) => update_idmap!("app_id = ?3, "),
                (false, false) => update_idmap!(""),
            };
            tx.prepare_cached(sql)?.execute(params![
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
            view.stored(StoredIds {
                rowid: stored.rowid,
                hub_id: hub.map(str::to_owned),
                app_id: app.map(str::to_owned),
            });
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
            view.stored(StoredIds {
                rowid: tx.last_insert_rowid(),
                hub_id: hub.map(str::to_owned),
                app_id: app.map(str::to_owned),
            });
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
        let sql = select_in(IDMAP_COLUMNS, column, chunk.len(), " ORDER BY rowid");
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

/// `SELECT columns` of an organization's (`?1`) entity's (`?2`) id-maps whose `column` is one
/// of `count` ids (`?3` on), then `tail`.
fn select_in(columns: &str, column: &str, count: usize, tail: &str) -> String {
    let placeholders = (3..3 + count)
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT {columns} FROM idmaps WHERE org = ?1 AND entity = ?2 \
         AND {column} IN ({placeholders}){tail}"
    )
}
