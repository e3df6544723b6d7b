//! Organizations: one item each (`ORG#<org>` / `ORG`), listed on GSI1 (`ORGS`), one link item
//! per `(tenant, group, provider)` (`LINK#<tenant>#<group>#<provider>` / `LINK`, naming its
//! organization) that keeps one organization per app per group, and one account claim per
//! linked app account (`ACCOUNT#<provider>#<realm>` / `ACCOUNT`, naming the enabled
//! organization that holds it) that keeps one app account to one organization. Both are
//! written in the organization's transaction; the design, and what happens on tables written
//! before these items, are in the crate docs.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::builders::{DeleteBuilder, PutBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use sync_core::domain::{OrgId, Organization};
use sync_core::error::StoreError;

use crate::attr::{GSI1, GSI1PK, GSI1SK, Item, PK, esc, fields_of, get_s, key, read_fields, s};
use crate::error::build_error;
use crate::requests::{TxFail, backoff};
use crate::store::DynamoStore;

/// Attempts of a put whose transaction was cancelled by a concurrent writer.
const PUT_ATTEMPTS: u32 = 5;
const ORG_SK: &str = "ORG";
const LINK_SK: &str = "LINK";
/// The link item's attribute naming its organization.
const LINK_ORG: &str = "org";

pub(crate) fn org_pk(org: &OrgId) -> String {
    format!("ORG#{}", esc(org.as_str()))
}

/// `(tenant, group, provider)` of an organization, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Link {
    tenant: String,
    group: String,
    provider: String,
}

impl Link {
    fn of(org: &Organization) -> Self {
        Self {
            tenant: org.tenant.to_string(),
            group: org.group_id.to_string(),
            provider: org.provider.to_string(),
        }
    }

    /// The link of a stored organization item (`None` for an item without one: corrupt, then
    /// reading it fails anyway).
    fn of_item(item: &Item) -> Option<Self> {
        Some(Self {
            tenant: get_s(item, "tenant")?.to_owned(),
            group: get_s(item, "group_id")?.to_owned(),
            provider: get_s(item, "provider")?.to_owned(),
        })
    }

    /// `LINK#<tenant>#<group>#<provider>`.
    fn pk(&self) -> String {
        format!(
            "LINK#{}#{}#{}",
            esc(&self.tenant),
            esc(&self.group),
            esc(&self.provider)
        )
    }

    fn key(&self) -> Item {
        key(self.pk(), LINK_SK)
    }
}

/// The organization named by the claim item at `claim` (a link or an account), if any.
async fn link_holder(
    store: &DynamoStore,
    op: &str,
    claim: Item,
) -> Result<Option<String>, StoreError> {
    Ok(store
        .get_item(op, claim)
        .await?
        .and_then(|item| get_s(&item, LINK_ORG).map(str::to_owned)))
}

/// Whether `holder` still holds `link` (its organization exists and has that link).
async fn still_holds(
    store: &DynamoStore,
    op: &str,
    holder: &str,
    link: &Link,
) -> Result<bool, StoreError> {
    let item = store
        .get_item(op, key(org_pk(&OrgId::new(holder)), ORG_SK))
        .await?;
    Ok(item.as_ref().and_then(Link::of_item).as_ref() == Some(link))
}

/// A condition expression with its names and values.
struct Condition {
    expression: &'static str,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Condition {
    fn new(expression: &'static str, names: &[(&str, &str)], values: &[(&str, &str)]) -> Self {
        let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect()
        };
        Self {
            expression,
            names: owned(names).into_iter().collect(),
            values: owned(values)
                .into_iter()
                .map(|(name, value)| (name, s(value)))
                .collect(),
        }
    }

    /// An item that was absent when read.
    fn absent() -> Self {
        Self::new("attribute_not_exists(#pk)", &[("#pk", PK)], &[])
    }

    /// A link item naming `org` (`None`: absent), as read.
    fn names(org: Option<&str>) -> Self {
        match org {
            Some(org) => Self::new("#org = :org", &[("#org", LINK_ORG)], &[(":org", org)]),
            None => Self::absent(),
        }
    }

    /// An organization item as read: absent, with this link, or (an item without a link, which
    /// cannot be read back anyway) present.
    fn organization(stored: Option<&Item>) -> Self {
        match stored.map(Link::of_item) {
            None => Self::absent(),
            Some(Some(link)) => Self::new(
                "#tenant = :tenant AND #group = :group AND #provider = :provider",
                &[
                    ("#tenant", "tenant"),
                    ("#group", "group_id"),
                    ("#provider", "provider"),
                ],
                &[
                    (":tenant", &link.tenant),
                    (":group", &link.group),
                    (":provider", &link.provider),
                ],
            ),
            Some(None) => Self::new("attribute_exists(#pk)", &[("#pk", PK)], &[]),
        }
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    fn put(self, put: PutBuilder) -> PutBuilder {
        let values = self.values();
        put.condition_expression(self.expression)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(values)
    }

    fn delete(self, delete: DeleteBuilder) -> DeleteBuilder {
        let values = self.values();
        delete
            .condition_expression(self.expression)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(values)
    }
}

/// A put of the claim item at `claim` naming `org`, conditioned on it naming `read` as read.
fn link_put(
    store: &DynamoStore,
    op: &str,
    claim: Item,
    org: &OrgId,
    read: Option<&str>,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = claim;
    item.insert(LINK_ORG.into(), s(org.as_str()));
    let put = Condition::names(read)
        .put(
            Put::builder()
                .table_name(store.table())
                .set_item(Some(item)),
        )
        .build()
        .map_err(|e| build_error(op, e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A delete of the claim item at `claim`, conditioned on it still naming `org`.
fn link_delete(
    store: &DynamoStore,
    op: &str,
    claim: Item,
    org: &OrgId,
) -> Result<TransactWriteItem, StoreError> {
    let delete = Condition::names(Some(org.as_str()))
        .delete(
            Delete::builder()
                .table_name(store.table())
                .set_key(Some(claim)),
        )
        .build()
        .map_err(|e| build_error(op, e))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

fn refused(org: &Organization, holder: &str) -> StoreError {
    StoreError::Conflict(format!(
        "organization {} not saved: group {} of tenant {} already has organization {holder} for \
         app {} (a group links one account of each app)",
        org.id, org.group_id, org.tenant, org.provider
    ))
}

/// Commits `writes`: `None` when done, the cancellation codes when a concurrent writer got in
/// the way (re-read and try again).
async fn commit(
    store: &DynamoStore,
    op: &str,
    writes: Vec<TransactWriteItem>,
) -> Result<Option<Vec<String>>, StoreError> {
    let reasons = match store.transact(op, writes).await {
        Ok(()) => return Ok(None),
        Err(TxFail::Store(e)) => return Err(e),
        Err(TxFail::Cancelled(reasons)) => reasons,
    };
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
            "{op} on table {}: transaction cancelled: {}",
            store.table(),
            codes.join(", ")
        )));
    }
    tracing::debug!(?codes, "{op}: cancelled by a concurrent writer, retrying");
    Ok(Some(codes))
}

fn gave_up(op: &str, id: &OrgId, last: &[String]) -> StoreError {
    StoreError::Conflict(format!(
        "{op}: concurrent writers kept changing organization {id} or its link ({PUT_ATTEMPTS} \
         attempts, last cancellation: {}); retry later",
        last.join(", ")
    ))
}

const ACCOUNT_SK: &str = "ACCOUNT";

/// `ACCOUNT#<provider>#<realm>`: the claim of an app account by the enabled organization that
/// links it (one app account links to one organization).
fn account_key(provider: &str, realm: &str) -> Item {
    key(
        format!("ACCOUNT#{}#{}", esc(provider), esc(realm)),
        ACCOUNT_SK,
    )
}

/// `(provider, realm)` of a stored organization item that is enabled.
fn enabled_account(item: &Item) -> Option<(String, String)> {
    matches!(item.get("sync_enabled"), Some(AttributeValue::Bool(true))).then_some((
        get_s(item, "provider")?.to_owned(),
        get_s(item, "realm")?.to_owned(),
    ))
}

/// The account claims of a put, in its transaction: an enabled organization claims its account
/// (refused while another enabled organization still holds it; a claim left by one that no
/// longer does is taken over); an organization that is disabled or moved to another account
/// frees its claim.
async fn account_claims(
    store: &DynamoStore,
    op: &str,
    org: &Organization,
    stored: Option<&Item>,
    writes: &mut Vec<TransactWriteItem>,
) -> Result<(), StoreError> {
    let (provider, realm) = (org.provider.as_str(), org.realm.as_str());
    let claim = account_key(provider, realm);
    if org.sync_enabled {
        let holder = link_holder(store, op, claim.clone()).await?;
        if let Some(holder) = &holder
            && holder != org.id.as_str()
        {
            let held = store
                .get_item(op, key(org_pk(&OrgId::new(holder)), ORG_SK))
                .await?
                .as_ref()
                .and_then(enabled_account);
            if held
                .as_ref()
                .is_some_and(|(p, r)| p == provider && r == realm)
            {
                return Err(StoreError::Conflict(format!(
                    "organization {} not saved: {provider} account {realm} is already linked to \
                     organization {holder} (one app account links to one organization)",
                    org.id
                )));
            }
        }
        writes.push(link_put(store, op, claim, &org.id, holder.as_deref())?);
    }
    if let Some((old_provider, old_realm)) = stored.and_then(enabled_account)
        && (!org.sync_enabled || old_provider != provider || old_realm != realm)
    {
        let old = account_key(&old_provider, &old_realm);
        if link_holder(store, op, old.clone()).await?.as_deref() == Some(org.id.as_str()) {
            writes.push(link_delete(store, op, old, &org.id)?);
        }
    }
    Ok(())
}

pub(crate) async fn put_organization(
    store: &DynamoStore,
    org: &Organization,
) -> Result<(), StoreError> {
    const OP: &str = "put_organization";
    let link = Link::of(org);
    let mut last = Vec::new();
    for attempt in 0..PUT_ATTEMPTS {
        let stored = store.get_item(OP, key(org_pk(&org.id), ORG_SK)).await?;
        let old = stored.as_ref().and_then(Link::of_item);
        let holder = link_holder(store, OP, link.key()).await?;
        if let Some(holder) = &holder
            && holder != org.id.as_str()
            && still_holds(store, OP, holder, &link).await?
        {
            return Err(refused(org, holder));
        }
        let mut item = fields_of("organization", org)?;
        item.extend(key(org_pk(&org.id), ORG_SK));
        item.insert(GSI1PK.into(), s("ORGS"));
        item.insert(GSI1SK.into(), s(org.id.as_str()));
        let put = Condition::organization(stored.as_ref())
            .put(
                Put::builder()
                    .table_name(store.table())
                    .set_item(Some(item)),
            )
            .build()
            .map_err(|e| build_error(OP, e))?;
        let mut writes = vec![
            TransactWriteItem::builder().put(put).build(),
            link_put(store, OP, link.key(), &org.id, holder.as_deref())?,
        ];
        // Moved to another group or app: free the old place, if it is ours.
        if let Some(old) = &old
            && *old != link
            && link_holder(store, OP, old.key()).await?.as_deref() == Some(org.id.as_str())
        {
            writes.push(link_delete(store, OP, old.key(), &org.id)?);
        }
        account_claims(store, OP, org, stored.as_ref(), &mut writes).await?;
        match commit(store, OP, writes).await? {
            None => return Ok(()),
            Some(codes) => last = codes,
        }
        backoff(attempt).await;
    }
    Err(gave_up(OP, &org.id, &last))
}

/// Deletes an organization item and its link item (see [`DynamoStore::delete_organization`]).
pub(crate) async fn delete_organization(
    store: &DynamoStore,
    id: &OrgId,
) -> Result<bool, StoreError> {
    const OP: &str = "delete_organization";
    let mut last = Vec::new();
    for attempt in 0..PUT_ATTEMPTS {
        let Some(stored) = store.get_item(OP, key(org_pk(id), ORG_SK)).await? else {
            return Ok(false);
        };
        let old = Link::of_item(&stored);
        let delete = Condition::organization(Some(&stored))
            .delete(
                Delete::builder()
                    .table_name(store.table())
                    .set_key(Some(key(org_pk(id), ORG_SK))),
            )
            .build()
            .map_err(|e| build_error(OP, e))?;
        let mut writes = vec![TransactWriteItem::builder().delete(delete).build()];
        if let Some(old) = &old
            && link_holder(store, OP, old.key()).await?.as_deref() == Some(id.as_str())
        {
            writes.push(link_delete(store, OP, old.key(), id)?);
        }
        if let Some((provider, realm)) = enabled_account(&stored) {
            let claim = account_key(&provider, &realm);
            if link_holder(store, OP, claim.clone()).await?.as_deref() == Some(id.as_str()) {
                writes.push(link_delete(store, OP, claim, id)?);
            }
        }
        match commit(store, OP, writes).await? {
            None => return Ok(true),
            Some(codes) => last = codes,
        }
        backoff(attempt).await;
    }
    Err(gave_up(OP, id, &last))
}

pub(crate) async fn get_organization(
    store: &DynamoStore,
    id: &OrgId,
) -> Result<Option<Organization>, StoreError> {
    store
        .get_item("get_organization", key(org_pk(id), ORG_SK))
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
