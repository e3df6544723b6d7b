//! The per-organization sync lease (`LEASE#<org>` / `LEASE`): conditional puts, updates and
//! deletes, with a TTL one day after the lease's own expiry.

use std::time::Duration;

use aws_sdk_dynamodb::types::ReturnValue;
use sync_core::domain::{OrgId, Timestamp};
use sync_core::error::StoreError;
use sync_core::ports::LeaseHolder;

use crate::attr::{
    EXPIRES_MS, Item, PK, TTL, duration_millis, esc, key, n, req_n, req_s, s, timestamp,
    ttl_seconds,
};
use crate::error::{backend, has_code};
use crate::store::DynamoStore;

/// Leases leave the table (TTL) this long after they expired.
const LEASE_TTL_SLACK_MS: i64 = 24 * 3600 * 1000;

fn lease_key(org: &OrgId) -> Item {
    key(format!("LEASE#{}", esc(org.as_str())), "LEASE")
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

pub(crate) async fn acquire_lease(
    store: &DynamoStore,
    org: &OrgId,
    owner: &str,
    now: Timestamp,
    ttl: Duration,
) -> Result<bool, StoreError> {
    const OP: &str = "acquire_lease";
    let now = now.epoch_millis();
    let expires = now.saturating_add(duration_millis(ttl));
    let mut item = lease_key(org);
    item.insert("owner".into(), s(owner));
    item.insert(EXPIRES_MS.into(), n(expires));
    item.insert(
        TTL.into(),
        n(ttl_seconds(expires.saturating_add(LEASE_TTL_SLACK_MS))),
    );
    let table = store.table();
    let result = store
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

pub(crate) async fn renew_lease(
    store: &DynamoStore,
    org: &OrgId,
    owner: &str,
    now: Timestamp,
    ttl: Duration,
) -> Result<bool, StoreError> {
    const OP: &str = "renew_lease";
    let expires = now.epoch_millis().saturating_add(duration_millis(ttl));
    let table = store.table();
    let result = store
        .client_ref()
        .update_item()
        .table_name(table)
        .set_key(Some(lease_key(org)))
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

pub(crate) async fn release_lease(
    store: &DynamoStore,
    org: &OrgId,
    owner: &str,
) -> Result<(), StoreError> {
    const OP: &str = "release_lease";
    let table = store.table();
    let result = store
        .client_ref()
        .delete_item()
        .table_name(table)
        .set_key(Some(lease_key(org)))
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

pub(crate) async fn lease_holder(
    store: &DynamoStore,
    org: &OrgId,
) -> Result<Option<LeaseHolder>, StoreError> {
    const OP: &str = "lease_holder";
    store
        .get_item(OP, lease_key(org))
        .await?
        .map(|item| read_lease(OP, &item))
        .transpose()
}

pub(crate) async fn break_lease(
    store: &DynamoStore,
    org: &OrgId,
) -> Result<Option<LeaseHolder>, StoreError> {
    const OP: &str = "break_lease";
    let table = store.table();
    // One unconditional delete that hands back the old item: what is removed is exactly
    // what is returned, even against a concurrent acquire.
    let out = store
        .client_ref()
        .delete_item()
        .table_name(table)
        .set_key(Some(lease_key(org)))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .map_err(|e| backend(OP, table, &e))?;
    out.attributes
        .filter(|item| !item.is_empty())
        .map(|item| read_lease(OP, &item))
        .transpose()
}
