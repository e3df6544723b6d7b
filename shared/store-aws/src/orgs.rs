//! Organizations: one item each (`ORG#<org>` / `ORG`), listed on GSI1 (`ORGS`).

use sync_core::domain::{OrgId, Organization};
use sync_core::error::StoreError;

use crate::attr::{GSI1, GSI1PK, GSI1SK, esc, fields_of, key, read_fields, s};
use crate::store::DynamoStore;

pub(crate) fn org_pk(org: &OrgId) -> String {
    format!("ORG#{}", esc(org.as_str()))
}

pub(crate) async fn put_organization(
    store: &DynamoStore,
    org: &Organization,
) -> Result<(), StoreError> {
    let mut item = fields_of("organization", org)?;
    item.extend(key(org_pk(&org.id), "ORG"));
    item.insert(GSI1PK.into(), s("ORGS"));
    item.insert(GSI1SK.into(), s(org.id.as_str()));
    store.put_item("put_organization", item).await
}

pub(crate) async fn get_organization(
    store: &DynamoStore,
    id: &OrgId,
) -> Result<Option<Organization>, StoreError> {
    store
        .get_item("get_organization", key(org_pk(id), "ORG"))
        .await?
        .map(|item| read_fields("organization", &item))
        .transpose()
}

pub(crate) async fn list_organizations(
    store: &DynamoStore,
) -> Result<Vec<Organization>, StoreError> {
    let query = store
        .client_ref()
        .query()
        .table_name(store.table())
        .index_name(GSI1)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", GSI1PK)
        .expression_attribute_values(":pk", s("ORGS"));
    store
        .query_all("list_organizations", query, None)
        .await?
        .iter()
        .map(|item| read_fields("organization", item))
        .collect()
}
