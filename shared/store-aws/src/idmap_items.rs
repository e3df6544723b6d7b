//! Id-maps on the table: reading the items a batch touches, writing the ones the rules changed
//! in transactions conditioned on what was read, look-ups by hub id or app id, listings on
//! GSI1. The rules themselves are pure logic, in [`crate::idmaps`].

use std::collections::HashSet;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use sync_core::domain::{AppId, EntityName, HubId, IdMap, OrgId};
use sync_core::error::StoreError;

use crate::attr::{
    GSI1, GSI1PK, GSI1SK, Item, PK, esc, fields_of, get_n, get_s, key, n, now_millis, read_fields,
    req_n, req_s, s,
};
use crate::error::build_error;
use crate::idmaps::{self, Entry, Slot, Snapshot};
use crate::requests::{TX_ITEMS, TxFail, backoff};
use crate::store::DynamoStore;

/// Attempts of a `save_idmaps` whose transaction was cancelled by a concurrent writer.
const SAVE_ATTEMPTS: u32 = 5;

/// An id-map record with its creation time and `PK`, for ordering.
type Listed = (i64, String, IdMap);

pub(crate) const MAP_SK: &str = "MAP";
const KIND: &str = "kind";
const KIND_RECORD: &str = "record";
const KIND_POINTER: &str = "pointer";
const VER: &str = "ver";
const CREATED_MS: &str = "created_seq";
/// Creation sequence numbers per millisecond (`created_seq = epoch_ms * 10_000 + position`).
const CREATED_PER_MS: i64 = 10_000;

impl DynamoStore {
    /// The organization's id-map records (optionally of one entity) on GSI1, by entity then
    /// creation order (eventually consistent).
    pub(crate) fn idmaps_query(
        &self,
        org: &OrgId,
        entity: Option<&EntityName>,
    ) -> QueryFluentBuilder {
        let query = self
            .client_ref()
            .query()
            .table_name(self.table())
            .index_name(GSI1)
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_values(":pk", s(format!("MAPS#{}", esc(org.as_str()))));
        match entity {
            Some(entity) => query
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", GSI1SK)
                .expression_attribute_values(":prefix", s(format!("{}#", esc(entity.as_str())))),
            None => query.key_condition_expression("#pk = :pk"),
        }
    }

    /// Reads the id-map items of these keys (strongly consistent).
    async fn read_map_items(&self, op: &str, pks: &[String]) -> Result<Vec<Item>, StoreError> {
        let mut seen = HashSet::new();
        let keys: Vec<Item> = pks
            .iter()
            .filter(|pk| seen.insert(pk.as_str()))
            .map(|pk| key(pk.as_str(), MAP_SK))
            .collect();
        self.batch_get(op, keys).await
    }

    /// The records among these items, with their creation time; pointers are returned apart.
    fn split_map_items(
        what: &str,
        items: Vec<Item>,
    ) -> Result<(Vec<Listed>, Vec<String>), StoreError> {
        let mut records = Vec::new();
        let mut pointers = Vec::new();
        for item in items {
            match decode_slot(what, &item)? {
                (_, Slot::Record { map, created_ms }) => {
                    let pk = get_s(&item, PK).unwrap_or_default().to_owned();
                    records.push((created_ms, pk, *map));
                }
                (_, Slot::Pointer { hub }) => pointers.push(hub),
                (_, Slot::Absent) => {}
            }
        }
        Ok((records, pointers))
    }

    async fn try_save_idmaps(&self, maps: &[IdMap]) -> Result<Result<(), Vec<String>>, StoreError> {
        const OP: &str = "save_idmaps";
        let pks: Vec<String> = maps.iter().flat_map(idmaps::keys_of).collect();
        let items = self.read_map_items(OP, &pks).await?;
        let mut snapshot = Snapshot::default();
        for item in &items {
            let pk = req_s("id-map item", item, PK)?.to_owned();
            let (ver, slot) = decode_slot("id-map item", item)?;
            snapshot.entries.insert(pk, Entry::new(ver, slot));
        }
        // Creation order: the time, then the position in the batch (as the embedded store's
        // row ids order one batch).
        let now = now_millis().saturating_mul(CREATED_PER_MS);
        let mut touched = Vec::with_capacity(maps.len());
        for (position, map) in maps.iter().enumerate() {
            let offset = i64::try_from(position)
                .unwrap_or(i64::MAX)
                .min(CREATED_PER_MS - 1);
            touched.push(snapshot.apply(map, now + offset)?);
        }
        // Everything validated: write the items that changed, a group of keys never split.
        let mut chunks: Vec<Vec<TransactWriteItem>> = Vec::new();
        let mut current: Vec<TransactWriteItem> = Vec::new();
        for group in idmaps::groups(&touched) {
            let mut writes = Vec::new();
            for pk in &group {
                let entry = &snapshot.entries[pk];
                if entry.current != entry.read {
                    writes.push(self.conditional_map_put(OP, pk, entry)?);
                }
            }
            if current.len() + writes.len() > TX_ITEMS && !current.is_empty() {
                chunks.push(std::mem::take(&mut current));
            }
            for write in writes {
                if current.len() == TX_ITEMS {
                    chunks.push(std::mem::take(&mut current));
                }
                current.push(write);
            }
        }
        if !current.is_empty() {
            chunks.push(current);
        }
        for chunk in chunks {
            match self.transact(OP, chunk).await {
                Ok(()) => {}
                Err(TxFail::Cancelled(reasons)) => {
                    let codes: Vec<String> = reasons
                        .into_iter()
                        .flatten()
                        .filter(|code| code != "None")
                        .collect();
                    let retryable = codes.iter().all(|code| {
                        matches!(
                            code.as_str(),
                            "ConditionalCheckFailed"
                                | "TransactionConflict"
                                | "ThrottlingError"
                                | "ProvisionedThroughputExceeded"
                        )
                    });
                    if !retryable {
                        return Err(StoreError::Backend(format!(
                            "{OP} on table {}: transaction cancelled: {}",
                            self.table(),
                            codes.join(", ")
                        )));
                    }
                    return Ok(Err(codes));
                }
                Err(TxFail::Store(e)) => return Err(e),
            }
        }
        Ok(Ok(()))
    }

    /// A put of one id-map item, conditioned on the version that was read.
    fn conditional_map_put(
        &self,
        op: &str,
        pk: &str,
        entry: &Entry,
    ) -> Result<TransactWriteItem, StoreError> {
        let ver = entry.read_ver.unwrap_or(0) + 1;
        let mut item = key(pk, MAP_SK);
        item.insert(VER.into(), n(ver));
        match &entry.current {
            Slot::Record { map, created_ms } => {
                item.extend(fields_of("id-map", map)?);
                item.insert(KIND.into(), s(KIND_RECORD));
                item.insert(CREATED_MS.into(), n(*created_ms));
                item.insert(GSI1PK.into(), s(format!("MAPS#{}", esc(map.org.as_str()))));
                item.insert(
                    GSI1SK.into(),
                    s(format!(
                        "{}#{:019}#{pk}",
                        esc(map.entity.as_str()),
                        created_ms.max(&0)
                    )),
                );
            }
            Slot::Pointer { hub } => {
                item.insert(KIND.into(), s(KIND_POINTER));
                item.insert("hub_id".into(), s(hub.clone()));
            }
            Slot::Absent => {
                return Err(StoreError::Backend(format!(
                    "{op}: internal error: an id-map item would be emptied"
                )));
            }
        }
        let put = Put::builder().table_name(self.table()).set_item(Some(item));
        let put = match entry.read_ver {
            None => put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(read) => put
                .condition_expression("#ver = :ver")
                .expression_attribute_names("#ver", VER)
                .expression_attribute_values(":ver", n(read)),
        };
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(|e| build_error(op, e))?)
            .build())
    }
}

/// `(ver, content)` of an id-map item.
fn decode_slot(what: &str, item: &Item) -> Result<(Option<i64>, Slot), StoreError> {
    let ver = get_n(item, VER);
    match get_s(item, KIND) {
        Some(KIND_POINTER) => Ok((
            ver,
            Slot::Pointer {
                hub: req_s(what, item, "hub_id")?.to_owned(),
            },
        )),
        Some(KIND_RECORD) => Ok((
            ver,
            Slot::Record {
                map: Box::new(read_fields(what, item)?),
                created_ms: req_n(what, item, CREATED_MS)?,
            },
        )),
        other => Err(StoreError::Corrupt(format!(
            "{what}: unknown kind {other:?}"
        ))),
    }
}

fn sorted_maps(mut records: Vec<Listed>) -> Vec<IdMap> {
    records.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    records.dedup_by(|a, b| a.1 == b.1);
    records.into_iter().map(|(_, _, map)| map).collect()
}

pub(crate) async fn idmaps_by_hub_ids(
    store: &DynamoStore,
    org: &OrgId,
    entity: &EntityName,
    ids: &[HubId],
) -> Result<Vec<IdMap>, StoreError> {
    let pks: Vec<String> = ids
        .iter()
        .map(|id| idmaps::hub_pk(org.as_str(), entity.as_str(), id.as_str()))
        .collect();
    let items = store.read_map_items("idmaps_by_hub_ids", &pks).await?;
    let (records, _) = DynamoStore::split_map_items("id-map", items)?;
    Ok(sorted_maps(records))
}

pub(crate) async fn idmaps_by_app_ids(
    store: &DynamoStore,
    org: &OrgId,
    entity: &EntityName,
    ids: &[AppId],
) -> Result<Vec<IdMap>, StoreError> {
    const OP: &str = "idmaps_by_app_ids";
    let pks: Vec<String> = ids
        .iter()
        .map(|id| idmaps::app_pk(org.as_str(), entity.as_str(), id.as_str()))
        .collect();
    let items = store.read_map_items(OP, &pks).await?;
    let (mut records, pointers) = DynamoStore::split_map_items("id-map", items)?;
    if !pointers.is_empty() {
        let hub_pks: Vec<String> = pointers
            .iter()
            .map(|hub| idmaps::hub_pk(org.as_str(), entity.as_str(), hub))
            .collect();
        let items = store.read_map_items(OP, &hub_pks).await?;
        records.extend(DynamoStore::split_map_items("id-map", items)?.0);
    }
    Ok(sorted_maps(records))
}

pub(crate) async fn save_idmaps(store: &DynamoStore, maps: &[IdMap]) -> Result<(), StoreError> {
    if maps.is_empty() {
        return Ok(());
    }
    for map in maps {
        idmaps::check_identified(map)?;
    }
    let mut last = Vec::new();
    for attempt in 0..SAVE_ATTEMPTS {
        match store.try_save_idmaps(maps).await? {
            Ok(()) => return Ok(()),
            Err(codes) => {
                tracing::debug!(
                    attempt,
                    ?codes,
                    "save_idmaps: cancelled by a concurrent writer, retrying"
                );
                last = codes;
                backoff(attempt).await;
            }
        }
    }
    Err(StoreError::Conflict(format!(
        "save_idmaps: concurrent writers kept changing the same id-maps ({} attempts, last \
         cancellation: {}); retry later",
        SAVE_ATTEMPTS,
        last.join(", ")
    )))
}

pub(crate) async fn list_idmaps(
    store: &DynamoStore,
    org: &OrgId,
    entity: Option<&EntityName>,
    offset: usize,
    limit: usize,
) -> Result<Vec<IdMap>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let items = store
        .query_all(
            "list_idmaps",
            store.idmaps_query(org, entity),
            Some(offset.saturating_add(limit)),
        )
        .await?;
    items
        .iter()
        .skip(offset)
        .map(|item| read_fields("id-map", item))
        .collect()
}
