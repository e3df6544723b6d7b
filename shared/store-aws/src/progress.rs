//! Where each sync stands between runs, in the organization's partition (`ORG#<org>`):
//! watermarks, page checkpoints, parked records; and the purge that forgets them with the
//! organization's id-maps.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use sync_core::domain::{
    EntityName, IdMap, OrgId, PageCursor, PendingRecord, Side, Timestamp, Watermark,
};
use sync_core::error::StoreError;

use crate::attr::{Item, PK, SK, esc, fields_of, key, n, read_fields, req_n, req_s, s, timestamp};
use crate::error::build_error;
use crate::idmap_items::MAP_SK;
use crate::idmaps;
use crate::orgs::org_pk;
use crate::store::DynamoStore;

fn entity_side(prefix: &str, entity: &EntityName, side: Side) -> String {
    format!("{prefix}#{}#{}", esc(entity.as_str()), side.as_str())
}

pub(crate) async fn get_watermark(
    store: &DynamoStore,
    org: &OrgId,
    entity: &EntityName,
    side: Side,
) -> Result<Option<Watermark>, StoreError> {
    let item = store
        .get_item(
            "get_watermark",
            key(org_pk(org), entity_side("WM", entity, side)),
        )
        .await?;
    item.map(|item| {
        let mark = req_n("watermark", &item, "mark")?;
        timestamp("watermark", mark).map(Watermark)
    })
    .transpose()
}

pub(crate) async fn set_watermark(
    store: &DynamoStore,
    org: &OrgId,
    entity: &EntityName,
    side: Side,
    mark: Watermark,
) -> Result<(), StoreError> {
    let mut item = key(org_pk(org), entity_side("WM", entity, side));
    item.insert("mark".into(), n(mark.0.epoch_millis()));
    store.put_item("set_watermark", item).await
}

pub(crate) async fn get_checkpoint(
    store: &DynamoStore,
    org: &OrgId,
    entity: &EntityName,
    side: Side,
) -> Result<Option<(PageCursor, Timestamp)>, StoreError> {
    let item = store
        .get_item(
            "get_checkpoint",
            key(org_pk(org), entity_side("CKPT", entity, side)),
        )
        .await?;
    item.map(|item| {
        let cursor = req_s("checkpoint", &item, "cursor")?;
        let start = req_n("checkpoint", &item, "fetch_start")?;
        Ok((PageCursor::new(cursor), timestamp("checkpoint", start)?))
    })
    .transpose()
}

pub(crate) async fn set_checkpoint(
    store: &DynamoStore,
    org: &OrgId,
    entity: &EntityName,
    side: Side,
    checkpoint: Option<(PageCursor, Timestamp)>,
) -> Result<(), StoreError> {
    let key = key(org_pk(org), entity_side("CKPT", entity, side));
    match checkpoint {
        Some((cursor, start)) => {
            let mut item = key;
            item.insert("cursor".into(), s(cursor.as_str()));
            item.insert("fetch_start".into(), n(start.epoch_millis()));
            store.put_item("set_checkpoint", item).await
        }
        None => store.delete_item("set_checkpoint", key).await,
    }
}

pub(crate) async fn pending(
    store: &DynamoStore,
    org: &OrgId,
    entity: &EntityName,
    source: Side,
) -> Result<Vec<PendingRecord>, StoreError> {
    let query = store.query_prefix(
        org_pk(org),
        format!("{}#", entity_side("PENDING", entity, source)),
    );
    let mut records: Vec<PendingRecord> = store
        .query_all("pending", query, None)
        .await?
        .iter()
        .map(|item| read_fields("pending record", item))
        .collect::<Result<_, _>>()?;
    records.sort_by(|a, b| (a.since, &a.source_id).cmp(&(b.since, &b.source_id)));
    Ok(records)
}

pub(crate) async fn put_pending(
    store: &DynamoStore,
    records: &[PendingRecord],
) -> Result<(), StoreError> {
    const OP: &str = "put_pending";
    // One request per key (a batch may not name a key twice): the last one wins.
    let mut by_key: BTreeMap<(String, String), Item> = BTreeMap::new();
    for record in records {
        let (pk, sk) = (
            org_pk(&record.org),
            format!(
                "{}#{}",
                entity_side("PENDING", &record.entity, record.source),
                esc(&record.source_id)
            ),
        );
        let mut item = fields_of("pending record", record)?;
        item.extend(key(pk.as_str(), sk.as_str()));
        by_key.insert((pk, sk), item);
    }
    let requests = by_key
        .into_values()
        .map(|item| {
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map(|put| WriteRequest::builder().put_request(put).build())
                .map_err(|e| build_error(OP, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    store.batch_write(OP, requests).await
}

pub(crate) async fn remove_pending(
    store: &DynamoStore,
    org: &OrgId,
    entity: &EntityName,
    source: Side,
    ids: &[String],
) -> Result<(), StoreError> {
    const OP: &str = "remove_pending";
    let prefix = entity_side("PENDING", entity, source);
    let keys = ids
        .iter()
        .map(|id| (org_pk(org), format!("{prefix}#{}", esc(id))))
        .collect();
    store.delete_keys(OP, keys).await
}

pub(crate) async fn purge_sync_state(store: &DynamoStore, org: &OrgId) -> Result<u64, StoreError> {
    const OP: &str = "purge_sync_state";
    let mut deletes = BTreeSet::new();
    // Id-map records are listed by GSI1; each one's uniqueness items follow from its ids.
    let records = store
        .query_all(OP, store.idmaps_query(org, None), None)
        .await?;
    for item in &records {
        let map: IdMap = read_fields("id-map", item)?;
        let (org, entity) = (map.org.as_str(), map.entity.as_str());
        if let Some(hub) = &map.hub_id {
            deletes.insert((idmaps::hub_pk(org, entity, hub.as_str()), MAP_SK.to_owned()));
        }
        if let Some(app) = &map.app_id {
            deletes.insert((idmaps::app_pk(org, entity, app.as_str()), MAP_SK.to_owned()));
        }
    }
    for prefix in ["WM#", "CKPT#", "PENDING#"] {
        let query = store
            .query_prefix(org_pk(org), prefix.to_owned())
            .projection_expression("#pk, #sk");
        for item in store.query_all(OP, query, None).await? {
            deletes.insert((
                req_s(OP, &item, PK)?.to_owned(),
                req_s(OP, &item, SK)?.to_owned(),
            ));
        }
    }
    store.delete_keys(OP, deletes).await?;
    Ok(u64::try_from(records.len()).unwrap_or(u64::MAX))
}
