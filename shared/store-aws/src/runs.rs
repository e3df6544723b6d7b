//! Run history: each run by id (`RUN#<run>`) and in its organization's listing
//! (`RUNS#<org>`, newest first), pruned to the newest [`RUNS_KEPT`].

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use sync_core::domain::{OrgId, Run, RunId};
use sync_core::error::StoreError;

use crate::attr::{PK, SK, esc, fields_of, get_s, key, read_fields, req_s, s};
use crate::error::build_error;
use crate::requests::TxFail;
use crate::store::DynamoStore;

/// Runs kept per organization; older ones are deleted when a new run is saved.
pub const RUNS_KEPT: usize = 100;

fn runs_pk(org: &OrgId) -> String {
    format!("RUNS#{}", esc(org.as_str()))
}

fn run_pk(id: &str) -> String {
    format!("RUN#{}", esc(id))
}

impl DynamoStore {
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

pub(crate) async fn save_run(store: &DynamoStore, run: &Run) -> Result<(), StoreError> {
    const OP: &str = "save_run";
    let id = run.id.as_str();
    let old = store.get_item(OP, key(run_pk(id), "RUN")).await?;
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
            .put(store.put(OP, by_id)?)
            .build(),
        TransactWriteItem::builder()
            .put(store.put(OP, listed)?)
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
                        .table_name(store.table())
                        .set_key(Some(key(old_pk, old_sk)))
                        .build()
                        .map_err(|e| build_error(OP, e))?,
                )
                .build(),
        );
    }
    match store.transact(OP, writes).await {
        Ok(()) => {}
        Err(TxFail::Store(e)) => return Err(e),
        Err(TxFail::Cancelled(reasons)) => {
            return Err(StoreError::Backend(format!(
                "{OP} on table {}: transaction cancelled: {}",
                store.table(),
                reasons.into_iter().flatten().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    if old.is_none() {
        store.prune_runs(&run.org).await?;
    }
    Ok(())
}

pub(crate) async fn recent_runs(
    store: &DynamoStore,
    org: &OrgId,
    limit: usize,
) -> Result<Vec<Run>, StoreError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let query = store
        .client_ref()
        .query()
        .table_name(store.table())
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", PK)
        .expression_attribute_values(":pk", s(runs_pk(org)))
        .scan_index_forward(false)
        .consistent_read(true)
        .limit(i32::try_from(limit.min(RUNS_KEPT * 10)).unwrap_or(1000));
    store
        .query_all("recent_runs", query, Some(limit))
        .await?
        .iter()
        .map(|item| read_fields("run", item))
        .collect()
}

pub(crate) async fn get_run(store: &DynamoStore, id: &RunId) -> Result<Option<Run>, StoreError> {
    store
        .get_item("get_run", key(run_pk(id.as_str()), "RUN"))
        .await?
        .map(|item| read_fields("run", &item))
        .transpose()
}
