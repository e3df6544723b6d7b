//! [`DynamoStore`]: the [`SyncStore`] port on one DynamoDB table (key design in the crate docs).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, Delete, DeleteRequest, GlobalSecondaryIndex,
    KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, PutRequest,
    ReturnValue, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TransactWriteItem,
    WriteRequest,
};
use sync_core::domain::{
    AppId, EntityName, HubId, IdMap, OrgId, Organization, PageCursor, PendingRecord, Run, RunId,
    Side, Timestamp, Watermark,
};
use sync_core::error::StoreError;
use sync_core::ports::{LeaseHolder, SyncStore};

use crate::attr::{
    EXPIRES_MS, GSI1, GSI1PK, GSI1SK, Item, PK, SK, TTL, duration_millis, esc, fields_of, get_n,
    get_s, key, n, now_millis, read_fields, req_n, req_s, s, ttl_seconds,
};
use crate::error::{backend, build_error, has_code};
use crate::idmaps::{self, Entry, Slot, Snapshot};

/// Runs kept per organization; older ones are deleted when a new run is saved.
pub const RUNS_KEPT: usize = 100;

/// Items per `TransactWriteItems` call (the service limit).
const TX_ITEMS: usize = 100;
/// Keys per `BatchGetItem` call (the service limit).
const GET_BATCH: usize = 100;
/// Requests per `BatchWriteItem` call (the service limit).
const WRITE_BATCH: usize = 25;
/// Attempts of a `save_idmaps` whose transaction was cancelled by a concurrent writer.
const SAVE_ATTEMPTS: u32 = 5;
/// Retries of unprocessed batch keys / items before giving up.
const UNPROCESSED_RETRIES: u32 = 8;
/// Leases leave the table (TTL) this long after they expired.
const LEASE_TTL_SLACK_MS: i64 = 24 * 3600 * 1000;

/// An id-map record with its creation time and `PK`, for ordering.
type Listed = (i64, String, IdMap);

const MAP_SK: &str = "MAP";
const KIND: &str = "kind";
const KIND_RECORD: &str = "record";
const KIND_POINTER: &str = "pointer";
const VER: &str = "ver";
const CREATED_MS: &str = "created_seq";
/// Creation sequence numbers per millisecond (`created_seq = epoch_ms * 10_000 + position`).
const CREATED_PER_MS: i64 = 10_000;

/// The [`SyncStore`] on DynamoDB: one table, see the crate documentation for the items.
///
/// Cheap to clone (clones share the client and the operation counter).
#[derive(Clone)]
pub struct DynamoStore {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    table: String,
    operations: AtomicU64,
}

impl fmt::Debug for DynamoStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamoStore")
            .field("table", &self.inner.table)
            .field("operations", &self.operations())
            .finish_non_exhaustive()
    }
}

/// Creates the table (on-demand billing, `PK`/`SK`, GSI1 with all attributes, TTL on
/// `expires_at`) and waits until it is active. For tests and local runs; in AWS the SAM
/// template creates it. An existing table is left as it is.
///
/// # Errors
///
/// [`StoreError::Backend`] when DynamoDB refuses, or the table does not become active within
/// two minutes.
pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
    const OP: &str = "create_table";
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| build_error(OP, e))
    };
    let schema = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| build_error(OP, e))
    };
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(schema(GSI1PK, KeyType::Hash)?)
        .key_schema(schema(GSI1SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| build_error(OP, e))?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PK)?)
        .attribute_definitions(attr(SK)?)
        .attribute_definitions(attr(GSI1PK)?)
        .attribute_definitions(attr(GSI1SK)?)
        .key_schema(schema(PK, KeyType::Hash)?)
        .key_schema(schema(SK, KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .send()
        .await;
    if let Err(err) = created {
        if has_code(&err, "ResourceInUseException") {
            return Ok(());
        }
        return Err(backend(OP, table, &err));
    }
    let mut waited = Duration::ZERO;
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| backend(OP, table, &e))?;
        let status = described.table().and_then(|t| t.table_status().cloned());
        if status == Some(TableStatus::Active) {
            break;
        }
        if waited > Duration::from_secs(120) {
            return Err(StoreError::Backend(format!(
                "{OP}: table {table} is not active after two minutes"
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += Duration::from_millis(200);
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL)
                .build()
                .map_err(|e| build_error(OP, e))?,
        )
        .send()
        .await
        .map_err(|e| backend(OP, table, &e))?;
    tracing::info!(table, "DynamoDB table created");
    Ok(())
}

/// Why a transaction did not commit.
pub(crate) enum TxFail {
    /// Cancelled; the reason codes, one per item (`None` when that item was fine).
    Cancelled(Vec<Option<String>>),
    Store(StoreError),
}

/// Exponential backoff with a little jitter: 25 ms, 50 ms, ... capped at 1.6 s.
pub(crate) async fn backoff(attempt: u32) {
    let base = 25u64 << attempt.min(6);
    let jitter = u64::from(chrono::Utc::now().timestamp_subsec_nanos()) % (base / 2 + 1);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

impl DynamoStore {
    /// A store on `table` (which must exist: see [`create_table`]).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                table: table.into(),
                operations: AtomicU64::new(0),
            }),
        }
    }

    /// The table name.
    #[must_use]
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// The SDK client (shared with the other adapters of the same table).
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// How many port operations ([`SyncStore`] method calls) this store (all clones together)
    /// has performed, failed ones included. Benchmarks divide it by records synced.
    #[must_use]
    pub fn operations(&self) -> u64 {
        self.inner.operations.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.inner.operations.fetch_add(1, Ordering::Relaxed);
    }

    fn client_ref(&self) -> &Client {
        &self.inner.client
    }

    async fn get_item(&self, op: &str, key: Item) -> Result<Option<Item>, StoreError> {
        let table = self.table();
        let out = self
            .client_ref()
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend(op, table, &e))?;
        Ok(out.item)
    }

    async fn put_item(&self, op: &str, item: Item) -> Result<(), StoreError> {
        let table = self.table();
        self.client_ref()
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend(op, table, &e))?;
        Ok(())
    }

    async fn delete_item(&self, op: &str, key: Item) -> Result<(), StoreError> {
        let table = self.table();
        self.client_ref()
            .delete_item()
            .table_name(table)
            .set_key(Some(key))
            .send()
            .await
            .map_err(|e| backend(op, table, &e))?;
        Ok(())
    }

    /// Strongly consistent `BatchGetItem` of distinct keys, 100 per call, unprocessed keys
    /// retried with backoff.
    pub(crate) async fn batch_get(
        &self,
        op: &str,
        keys: Vec<Item>,
    ) -> Result<Vec<Item>, StoreError> {
        let table = self.table();
        let mut found = Vec::new();
        for chunk in keys.chunks(GET_BATCH) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| build_error(op, e))?;
                let out = self
                    .client_ref()
                    .batch_get_item()
                    .request_items(table, request)
                    .send()
                    .await
                    .map_err(|e| backend(op, table, &e))?;
                if let Some(mut responses) = out.responses
                    && let Some(items) = responses.remove(table)
                {
                    found.extend(items);
                }
                pending = out
                    .unprocessed_keys
                    .and_then(|mut unprocessed| unprocessed.remove(table))
                    .map(|rest| rest.keys)
                    .unwrap_or_default();
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt > UNPROCESSED_RETRIES {
                        return Err(StoreError::Backend(format!(
                            "{op} on table {table}: {} key(s) still unprocessed after \
                             {UNPROCESSED_RETRIES} retries (throttled)",
                            pending.len()
                        )));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(found)
    }

    /// `BatchWriteItem`, 25 requests per call, unprocessed items retried with backoff. Not
    /// atomic; used for unconditional puts and deletes only.
    async fn batch_write(&self, op: &str, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        let table = self.table();
        for chunk in requests.chunks(WRITE_BATCH) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                let out = self
                    .client_ref()
                    .batch_write_item()
                    .request_items(table, pending)
                    .send()
                    .await
                    .map_err(|e| backend(op, table, &e))?;
                pending = out
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt > UNPROCESSED_RETRIES {
                        return Err(StoreError::Backend(format!(
                            "{op} on table {table}: {} write(s) still unprocessed after \
                             {UNPROCESSED_RETRIES} retries (throttled)",
                            pending.len()
                        )));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(())
    }

    /// Deletes these `(PK, SK)` items with [`Self::batch_write`] (each key once).
    async fn delete_keys(
        &self,
        op: &str,
        keys: BTreeSet<(String, String)>,
    ) -> Result<(), StoreError> {
        let requests = keys
            .into_iter()
            .map(|(pk, sk)| {
                DeleteRequest::builder()
                    .set_key(Some(key(pk, sk)))
                    .build()
                    .map(|delete| WriteRequest::builder().delete_request(delete).build())
                    .map_err(|e| build_error(op, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.batch_write(op, requests).await
    }

    pub(crate) async fn transact(
        &self,
        op: &str,
        items: Vec<TransactWriteItem>,
    ) -> Result<(), TxFail> {
        let table = self.table();
        match self
            .client_ref()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                    err.as_service_error()
                {
                    return Err(TxFail::Cancelled(
                        cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|reason| reason.code().map(str::to_owned))
                            .collect(),
                    ));
                }
                if has_code(&err, "TransactionConflictException") {
                    return Err(TxFail::Cancelled(vec![Some("TransactionConflict".into())]));
                }
                Err(TxFail::Store(backend(op, table, &err)))
            }
        }
    }

    fn put(&self, op: &str, item: Item) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .build()
            .map_err(|e| build_error(op, e))
    }

    /// Pages through a query (1 MB per page), up to `max` items.
    async fn query_all(
        &self,
        op: &str,
        query: QueryFluentBuilder,
        max: Option<usize>,
    ) -> Result<Vec<Item>, StoreError> {
        let table = self.table();
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = query
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| backend(op, table, &e))?;
            items.extend(out.items.unwrap_or_default());
            if let Some(max) = max
                && items.len() >= max
            {
                items.truncate(max);
                break;
            }
            match out.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        Ok(items)
    }

    /// Items of one partition whose sort key starts with `prefix` (strongly consistent).
    fn query_prefix(&self, pk: String, prefix: String) -> QueryFluentBuilder {
        self.client_ref()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .consistent_read(true)
    }

    /// The organization's id-map records (optionally of one entity) on GSI1, by entity then
    /// creation order (eventually consistent).
    fn idmaps_query(&self, org: &OrgId, entity: Option<&EntityName>) -> QueryFluentBuilder {
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

    fn lease_key(org: &OrgId) -> Item {
        key(format!("LEASE#{}", esc(org.as_str())), "LEASE")
    }

    async fn prune_runs(&self, org: &OrgId) -> Result<(), StoreError> {
        const OP: &str = "save_run";
        let query = self
            .client_ref()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_names("#id", "id")
            .expression_attribute_values(":pk", s(runs_pk(org)))
            .projection_expression("#pk, #sk, #id")
            .scan_index_forward(false)
            .consistent_read(true);
        let listed = self.query_all(OP, query, None).await?;
        let mut deletes = BTreeSet::new();
        for item in listed.iter().skip(RUNS_KEPT) {
            let (pk, sk) = (req_s("run", item, PK)?, req_s("run", item, SK)?);
            let id = req_s("run", item, "id")?;
            deletes.insert((pk.to_owned(), sk.to_owned()));
            deletes.insert((run_pk(id), "RUN".to_owned()));
        }
        if !deletes.is_empty() {
            tracing::debug!(org = %org, pruned = deletes.len() / 2, "old runs pruned");
            self.delete_keys(OP, deletes).await?;
        }
        Ok(())
    }
}

fn org_pk(org: &OrgId) -> String {
    format!("ORG#{}", esc(org.as_str()))
}

fn runs_pk(org: &OrgId) -> String {
    format!("RUNS#{}", esc(org.as_str()))
}

fn run_pk(id: &str) -> String {
    format!("RUN#{}", esc(id))
}

fn entity_side(prefix: &str, entity: &EntityName, side: Side) -> String {
    format!("{prefix}#{}#{}", esc(entity.as_str()), side.as_str())
}

fn timestamp(what: &str, millis: i64) -> Result<Timestamp, StoreError> {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(Timestamp::from_datetime)
        .ok_or_else(|| {
            StoreError::Corrupt(format!("{what}: {millis} is not a valid epoch-ms time"))
        })
}

/// The holder of a lease item.
fn read_lease(op: &str, item: &Item) -> Result<LeaseHolder, StoreError> {
    let owner = req_s(op, item, "owner")?.to_owned();
    let expires = req_n(op, item, EXPIRES_MS)?;
    Ok(LeaseHolder {
        owner,
        expires_at: timestamp(op, expires)?,
    })
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

#[async_trait]
impl SyncStore for DynamoStore {
    async fn put_organization(&self, org: &Organization) -> Result<(), StoreError> {
        self.count();
        let mut item = fields_of("organization", org)?;
        item.extend(key(org_pk(&org.id), "ORG"));
        item.insert(GSI1PK.into(), s("ORGS"));
        item.insert(GSI1SK.into(), s(org.id.as_str()));
        self.put_item("put_organization", item).await
    }

    async fn get_organization(&self, id: &OrgId) -> Result<Option<Organization>, StoreError> {
        self.count();
        self.get_item("get_organization", key(org_pk(id), "ORG"))
            .await?
            .map(|item| read_fields("organization", &item))
            .transpose()
    }

    async fn list_organizations(&self) -> Result<Vec<Organization>, StoreError> {
        self.count();
        let query = self
            .client_ref()
            .query()
            .table_name(self.table())
            .index_name(GSI1)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_values(":pk", s("ORGS"));
        self.query_all("list_organizations", query, None)
            .await?
            .iter()
            .map(|item| read_fields("organization", item))
            .collect()
    }

    async fn idmaps_by_hub_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<IdMap>, StoreError> {
        self.count();
        let pks: Vec<String> = ids
            .iter()
            .map(|id| idmaps::hub_pk(org.as_str(), entity.as_str(), id.as_str()))
            .collect();
        let items = self.read_map_items("idmaps_by_hub_ids", &pks).await?;
        let (records, _) = Self::split_map_items("id-map", items)?;
        Ok(sorted_maps(records))
    }

    async fn idmaps_by_app_ids(
        &self,
        org: &OrgId,
        entity: &EntityName,
        ids: &[AppId],
    ) -> Result<Vec<IdMap>, StoreError> {
        self.count();
        const OP: &str = "idmaps_by_app_ids";
        let pks: Vec<String> = ids
            .iter()
            .map(|id| idmaps::app_pk(org.as_str(), entity.as_str(), id.as_str()))
            .collect();
        let items = self.read_map_items(OP, &pks).await?;
        let (mut records, pointers) = Self::split_map_items("id-map", items)?;
        if !pointers.is_empty() {
            let hub_pks: Vec<String> = pointers
                .iter()
                .map(|hub| idmaps::hub_pk(org.as_str(), entity.as_str(), hub))
                .collect();
            let items = self.read_map_items(OP, &hub_pks).await?;
            records.extend(Self::split_map_items("id-map", items)?.0);
        }
        Ok(sorted_maps(records))
    }

    async fn save_idmaps(&self, maps: &[IdMap]) -> Result<(), StoreError> {
        self.count();
        if maps.is_empty() {
            return Ok(());
        }
        for map in maps {
            idmaps::check_identified(map)?;
        }
        let mut last = Vec::new();
        for attempt in 0..SAVE_ATTEMPTS {
            match self.try_save_idmaps(maps).await? {
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

    async fn list_idmaps(
        &self,
        org: &OrgId,
        entity: Option<&EntityName>,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<IdMap>, StoreError> {
        self.count();
        if limit == 0 {
            return Ok(Vec::new());
        }
        let items = self
            .query_all(
                "list_idmaps",
                self.idmaps_query(org, entity),
                Some(offset.saturating_add(limit)),
            )
            .await?;
        items
            .iter()
            .skip(offset)
            .map(|item| read_fields("id-map", item))
            .collect()
    }

    async fn get_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<Watermark>, StoreError> {
        self.count();
        let item = self
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

    async fn set_watermark(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        mark: Watermark,
    ) -> Result<(), StoreError> {
        self.count();
        let mut item = key(org_pk(org), entity_side("WM", entity, side));
        item.insert("mark".into(), n(mark.0.epoch_millis()));
        self.put_item("set_watermark", item).await
    }

    async fn get_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
    ) -> Result<Option<(PageCursor, Timestamp)>, StoreError> {
        self.count();
        let item = self
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

    async fn set_checkpoint(
        &self,
        org: &OrgId,
        entity: &EntityName,
        side: Side,
        checkpoint: Option<(PageCursor, Timestamp)>,
    ) -> Result<(), StoreError> {
        self.count();
        let key = key(org_pk(org), entity_side("CKPT", entity, side));
        match checkpoint {
            Some((cursor, start)) => {
                let mut item = key;
                item.insert("cursor".into(), s(cursor.as_str()));
                item.insert("fetch_start".into(), n(start.epoch_millis()));
                self.put_item("set_checkpoint", item).await
            }
            None => self.delete_item("set_checkpoint", key).await,
        }
    }

    async fn pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
    ) -> Result<Vec<PendingRecord>, StoreError> {
        self.count();
        let query = self.query_prefix(
            org_pk(org),
            format!("{}#", entity_side("PENDING", entity, source)),
        );
        let mut records: Vec<PendingRecord> = self
            .query_all("pending", query, None)
            .await?
            .iter()
            .map(|item| read_fields("pending record", item))
            .collect::<Result<_, _>>()?;
        records.sort_by(|a, b| (a.since, &a.source_id).cmp(&(b.since, &b.source_id)));
        Ok(records)
    }

    async fn put_pending(&self, records: &[PendingRecord]) -> Result<(), StoreError> {
        self.count();
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
        self.batch_write(OP, requests).await
    }

    async fn remove_pending(
        &self,
        org: &OrgId,
        entity: &EntityName,
        source: Side,
        ids: &[String],
    ) -> Result<(), StoreError> {
        self.count();
        const OP: &str = "remove_pending";
        let prefix = entity_side("PENDING", entity, source);
        let keys = ids
            .iter()
            .map(|id| (org_pk(org), format!("{prefix}#{}", esc(id))))
            .collect();
        self.delete_keys(OP, keys).await
    }

    async fn save_run(&self, run: &Run) -> Result<(), StoreError> {
        self.count();
        const OP: &str = "save_run";
        let id = run.id.as_str();
        let old = self.get_item(OP, key(run_pk(id), "RUN")).await?;
        let list_pk = runs_pk(&run.org);
        let list_sk = format!("{:015}#{}", run.started_at.epoch_millis().max(0), esc(id));
        let fields = fields_of("run", run)?;
        let mut by_id = fields.clone();
        by_id.extend(key(run_pk(id), "RUN"));
        by_id.insert("list_pk".into(), s(list_pk.as_str()));
        by_id.insert("list_sk".into(), s(list_sk.as_str()));
        let mut listed = fields;
        listed.extend(key(list_pk.as_str(), list_sk.as_str()));
        let mut writes = vec![
            TransactWriteItem::builder()
                .put(self.put(OP, by_id)?)
                .build(),
            TransactWriteItem::builder()
                .put(self.put(OP, listed)?)
                .build(),
        ];
        if let Some(old) = &old
            && let (Some(old_pk), Some(old_sk)) = (get_s(old, "list_pk"), get_s(old, "list_sk"))
            && (old_pk, old_sk) != (list_pk.as_str(), list_sk.as_str())
        {
            writes.push(
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(self.table())
                            .set_key(Some(key(old_pk, old_sk)))
                            .build()
                            .map_err(|e| build_error(OP, e))?,
                    )
                    .build(),
            );
        }
        match self.transact(OP, writes).await {
            Ok(()) => {}
            Err(TxFail::Store(e)) => return Err(e),
            Err(TxFail::Cancelled(reasons)) => {
                return Err(StoreError::Backend(format!(
                    "{OP} on table {}: transaction cancelled: {}",
                    self.table(),
                    reasons.into_iter().flatten().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        if old.is_none() {
            self.prune_runs(&run.org).await?;
        }
        Ok(())
    }

    async fn recent_runs(&self, org: &OrgId, limit: usize) -> Result<Vec<Run>, StoreError> {
        self.count();
        if limit == 0 {
            return Ok(Vec::new());
        }
        let query = self
            .client_ref()
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(runs_pk(org)))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(i32::try_from(limit.min(RUNS_KEPT * 10)).unwrap_or(1000));
        self.query_all("recent_runs", query, Some(limit))
            .await?
            .iter()
            .map(|item| read_fields("run", item))
            .collect()
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        self.count();
        self.get_item("get_run", key(run_pk(id.as_str()), "RUN"))
            .await?
            .map(|item| read_fields("run", &item))
            .transpose()
    }

    async fn acquire_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.count();
        const OP: &str = "acquire_lease";
        let now = now.epoch_millis();
        let expires = now.saturating_add(duration_millis(ttl));
        let mut item = Self::lease_key(org);
        item.insert("owner".into(), s(owner));
        item.insert(EXPIRES_MS.into(), n(expires));
        item.insert(
            TTL.into(),
            n(ttl_seconds(expires.saturating_add(LEASE_TTL_SLACK_MS))),
        );
        let table = self.table();
        let result = self
            .client_ref()
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp <= :now OR #owner = :me")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_MS)
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if has_code(&err, "ConditionalCheckFailedException") => Ok(false),
            Err(err) => Err(backend(OP, table, &err)),
        }
    }

    async fn renew_lease(
        &self,
        org: &OrgId,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.count();
        const OP: &str = "renew_lease";
        let expires = now.epoch_millis().saturating_add(duration_millis(ttl));
        let table = self.table();
        let result = self
            .client_ref()
            .update_item()
            .table_name(table)
            .set_key(Some(Self::lease_key(org)))
            .update_expression("SET #exp = :exp, #ttl = :ttl")
            .condition_expression("#owner = :me")
            .expression_attribute_names("#exp", EXPIRES_MS)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":exp", n(expires))
            .expression_attribute_values(
                ":ttl",
                n(ttl_seconds(expires.saturating_add(LEASE_TTL_SLACK_MS))),
            )
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if has_code(&err, "ConditionalCheckFailedException") => Ok(false),
            Err(err) => Err(backend(OP, table, &err)),
        }
    }

    async fn release_lease(&self, org: &OrgId, owner: &str) -> Result<(), StoreError> {
        self.count();
        const OP: &str = "release_lease";
        let table = self.table();
        let result = self
            .client_ref()
            .delete_item()
            .table_name(table)
            .set_key(Some(Self::lease_key(org)))
            .condition_expression("#owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if has_code(&err, "ConditionalCheckFailedException") => Ok(()),
            Err(err) => Err(backend(OP, table, &err)),
        }
    }

    async fn lease_holder(&self, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError> {
        self.count();
        const OP: &str = "lease_holder";
        self.get_item(OP, Self::lease_key(org))
            .await?
            .map(|item| read_lease(OP, &item))
            .transpose()
    }

    async fn break_lease(&self, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError> {
        self.count();
        const OP: &str = "break_lease";
        let table = self.table();
        // One unconditional delete that hands back the old item: what is removed is exactly
        // what is returned, even against a concurrent acquire.
        let out = self
            .client_ref()
            .delete_item()
            .table_name(table)
            .set_key(Some(Self::lease_key(org)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| backend(OP, table, &e))?;
        out.attributes
            .filter(|item| !item.is_empty())
            .map(|item| read_lease(OP, &item))
            .transpose()
    }

    async fn purge_sync_state(&self, org: &OrgId) -> Result<u64, StoreError> {
        self.count();
        const OP: &str = "purge_sync_state";
        let mut deletes = BTreeSet::new();
        // Id-map records are listed by GSI1; each one's uniqueness items follow from its ids.
        let records = self
            .query_all(OP, self.idmaps_query(org, None), None)
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
            let query = self
                .query_prefix(org_pk(org), prefix.to_owned())
                .projection_expression("#pk, #sk");
            for item in self.query_all(OP, query, None).await? {
                deletes.insert((
                    req_s(OP, &item, PK)?.to_owned(),
                    req_s(OP, &item, SK)?.to_owned(),
                ));
            }
        }
        self.delete_keys(OP, deletes).await?;
        Ok(u64::try_from(records.len()).unwrap_or(u64::MAX))
    }
}
