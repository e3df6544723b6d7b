//! Organizations on DynamoDB: the link item that keeps one organization per (tenant, group,
//! app), on tables written before it existed too.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use store_aws::DynamoStore;
use sync_core::conformance::organization;
use sync_core::domain::{GroupId, OrgId, Organization, Provider, Realm, Tenant};
use sync_core::error::StoreError;
use sync_core::ports::SyncStore;

use crate::support;

/// The link item of `(tenant, group, provider)`, as stored.
async fn link_item(
    store: &DynamoStore,
    pk: &str,
) -> Option<std::collections::HashMap<String, AttributeValue>> {
    store
        .client()
        .get_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(pk.into()))
        .key("SK", AttributeValue::S("LINK".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// The organization of `link_item`, if any.
async fn link_holder(store: &DynamoStore, pk: &str) -> Option<String> {
    link_item(store, pk)
        .await
        .map(|item| match item.get("org") {
            Some(AttributeValue::S(org)) => org.clone(),
            other => panic!("a link item names its organization, got {other:?}"),
        })
}

/// Removes a link item, as if the organization had been written before link items existed.
async fn forget_link(store: &DynamoStore, pk: &str) {
    store
        .client()
        .delete_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(pk.into()))
        .key("SK", AttributeValue::S("LINK".into()))
        .send()
        .await
        .unwrap();
}

fn assert_refused(result: Result<(), StoreError>, holder: &str) {
    match result {
        Err(StoreError::Conflict(message)) => assert!(
            message.contains("group cld-123")
                && message.contains("crm-app")
                && message.contains(holder),
            "{message}"
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

fn twin(id: &str) -> Organization {
    let mut org = organization(id);
    org.realm = Realm::new(format!("realm-of-{id}"));
    org
}

const LINK: &str = "LINK#maestrano#cld-123#crm-app";

#[tokio::test]
async fn an_organization_owns_the_link_item_of_its_group_and_app() {
    let store = support::store().await;
    store.put_organization(&organization("acme")).await.unwrap();
    let item = link_item(&store, LINK).await.expect("link item");
    assert_eq!(item.get("org"), Some(&AttributeValue::S("acme".into())));
    // Not an organization: listings do not see it.
    assert!(!item.contains_key("GSI1PK"));
    assert_eq!(store.list_organizations().await.unwrap().len(), 1);

    // Separators in a component cannot make two links collide.
    let mut odd = organization("odd");
    odd.tenant = Tenant::new("maestrano#cld-123");
    odd.group_id = GroupId::new("crm-app");
    odd.provider = Provider::new("x");
    store.put_organization(&odd).await.unwrap();
    assert_eq!(
        link_holder(&store, "LINK#maestrano%23cld-123#crm-app#x").await,
        Some("odd".to_owned())
    );
}

#[tokio::test]
async fn organizations_written_before_link_items_get_theirs_on_their_next_put() {
    let store = support::store().await;
    let mut acme = organization("acme");
    store.put_organization(&acme).await.unwrap();
    forget_link(&store, LINK).await;

    // Nothing breaks: it reads, lists and updates as before, and the update claims its link.
    assert_eq!(
        store.get_organization(&acme.id).await.unwrap(),
        Some(acme.clone())
    );
    assert_eq!(
        store.list_organizations().await.unwrap(),
        vec![acme.clone()]
    );
    acme.sync_enabled = false;
    store.put_organization(&acme).await.unwrap();
    assert_eq!(link_holder(&store, LINK).await, Some("acme".to_owned()));
    assert_refused(store.put_organization(&twin("other")).await, "acme");
}

#[tokio::test]
async fn of_two_old_organizations_of_one_group_and_app_the_first_put_again_keeps_the_place() {
    let store = support::store().await;
    // A table written before link items: two organizations of one group and app, neither with
    // a link item. (While an old organization has no link item it does not hold its place: the
    // second one is accepted here. Linking never creates such a twin: it reuses the group's
    // organization for the app.)
    let (first, second) = (twin("acme"), twin("acme-2"));
    store.put_organization(&first).await.unwrap();
    forget_link(&store, LINK).await;
    store.put_organization(&second).await.unwrap();
    forget_link(&store, LINK).await;
    assert_eq!(store.list_organizations().await.unwrap().len(), 2);

    store.put_organization(&first).await.unwrap();
    assert_eq!(link_holder(&store, LINK).await, Some("acme".to_owned()));
    assert_refused(store.put_organization(&second).await, "acme");
    // Both still read as they were; the refused one can move to another group.
    assert_eq!(
        store.get_organization(&second.id).await.unwrap(),
        Some(second.clone())
    );
    let mut moved = second.clone();
    moved.group_id = GroupId::new("cld-999");
    store.put_organization(&moved).await.unwrap();
    assert_eq!(link_holder(&store, LINK).await, Some("acme".to_owned()));
}

#[tokio::test]
async fn moving_or_deleting_an_organization_frees_its_link() {
    let store = support::store().await;
    let mut acme = organization("acme");
    store.put_organization(&acme).await.unwrap();
    acme.group_id = GroupId::new("cld-789");
    store.put_organization(&acme).await.unwrap();
    assert_eq!(link_holder(&store, LINK).await, None);
    assert_eq!(
        link_holder(&store, "LINK#maestrano#cld-789#crm-app").await,
        Some("acme".to_owned())
    );

    store.put_organization(&twin("other")).await.unwrap();
    assert!(
        store
            .delete_organization(&OrgId::new("other"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_organization(&OrgId::new("other"))
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_organization(&OrgId::new("other")).await.unwrap(),
        None
    );
    assert_eq!(link_holder(&store, LINK).await, None);
    store.put_organization(&twin("third")).await.unwrap();
    assert_eq!(link_holder(&store, LINK).await, Some("third".to_owned()));
}

#[tokio::test]
async fn a_link_item_whose_organization_is_gone_or_elsewhere_is_taken_over() {
    let store = support::store().await;
    // A link item naming an organization that no longer holds that link (deleted or moved by
    // hand, without its link item).
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item("PK", AttributeValue::S(LINK.into()))
        .item("SK", AttributeValue::S("LINK".into()))
        .item("org", AttributeValue::S("gone".into()))
        .send()
        .await
        .unwrap();
    store.put_organization(&organization("acme")).await.unwrap();
    assert_eq!(link_holder(&store, LINK).await, Some("acme".to_owned()));

    // One naming an organization that is now in another group.
    let mut elsewhere = twin("elsewhere");
    elsewhere.group_id = GroupId::new("cld-555");
    store.put_organization(&elsewhere).await.unwrap();
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item("PK", AttributeValue::S(LINK.into()))
        .item("SK", AttributeValue::S("LINK".into()))
        .item("org", AttributeValue::S("elsewhere".into()))
        .send()
        .await
        .unwrap();
    store.put_organization(&organization("acme")).await.unwrap();
    assert_eq!(link_holder(&store, LINK).await, Some("acme".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_organizations_racing_for_one_group_and_app_let_exactly_one_win() {
    let store = support::store().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (store, barrier) = (store.clone(), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.put_organization(&twin(&format!("org-{n}"))).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict(message)) => {
                assert!(message.contains("group cld-123"), "{message}");
            }
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    let orgs = store.list_organizations().await.unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(
        link_holder(&store, LINK).await,
        Some(orgs[0].id.to_string())
    );
}
