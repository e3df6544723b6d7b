//! The table's request helpers: consistent reads, batches with their unprocessed items
//! retried, transactions with their cancellation reasons, paged queries.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    DeleteRequest, KeysAndAttributes, Put, TransactWriteItem, WriteRequest,
};
use sync_core::error::StoreError;

use crate::attr::{Item, PK, SK, key, s};
use crate::error::{backend, build_error, has_code};
use crate::store::DynamoStore;

/// Items per `TransactWriteItems` call (the service limit).
pub(crate) const TX_ITEMS: usize = 100;
/// Keys per `BatchGetItem` call (the service limit).
const GET_BATCH: usize = 100;
/// Requests per `BatchWriteItem` call (the service limit).
const WRITE_BATCH: usize = 25;
/// Retries of unprocessed batch keys / items before giving up.
const UNPROCESSED_RETRIES: u32 = 8;

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
    pub(crate) async fn get_item(&self, op: &str, key: Item) -> Result<Option<Item>, StoreError> {
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

    pub(crate) async fn put_item(&self, op: &str, item: Item) -> Result<(), StoreError> {
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

    pub(crate) async fn delete_item(&self, op: &str, key: Item) -> Result<(), StoreError> {
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
    pub(crate) async fn batch_write(
        &self,
        op: &str,
        requests: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
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
    pub(crate) async fn delete_keys(
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

    pub(crate) fn put(&self, op: &str, item: Item) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(self.table())
            .set_item(Some(item))
            .build()
            .map_err(|e| build_error(op, e))
    }

    /// Pages through a query (1 MB per page), up to `max` items.
    pub(crate) async fn query_all(
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
    pub(crate) fn query_prefix(&self, pk: String, prefix: String) -> QueryFluentBuilder {
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
}
