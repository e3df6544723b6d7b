//! Organization checks: round trips, and one organization per app per group.

#![allow(unused_imports)] // one import list for the suite's modules

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::domain::{
    AppId, ConflictNote, ConflictPolicy, ContentHash, CountKey, Counts, Direction, DirectionFlags,
    EntityName, GroupId, HubId, IdMap, OrgId, Organization, PageCursor, PendingReason,
    PendingRecord, Provider, Realm, Run, RunId, RunStatus, Side, Tenant, Timestamp, Watermark,
    Winner,
};
use crate::error::StoreError;
use crate::ports::{LeaseHolder, SyncStore};

use super::Scale;
use super::fixtures::*;

/// Conformance check (see the module docs).
pub async fn organizations_round_trip(store: &dyn SyncStore, _scale: &Scale) {
    assert_eq!(store.get_organization(&org_id()).await.unwrap(), None);

    let mut org = organization("acme");
    store.put_organization(&org).await.unwrap();
    // Another group, with its own account: a group holds one organization per app, and an
    // app account links to one organization.
    let mut beta = organization("beta");
    beta.group_id = GroupId::new("cld-456");
    beta.realm = Realm::new("portal-456");
    store.put_organization(&beta).await.unwrap();
    assert_eq!(
        store.get_organization(&org_id()).await.unwrap(),
        Some(org.clone())
    );

    // Replace.
    org.sync_enabled = false;
    org.history_from = None;
    org.entity_flags.clear();
    store.put_organization(&org).await.unwrap();
    let listed = store.list_organizations().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], org);
    assert_eq!(listed[1].id.as_str(), "beta");
}

/// Conformance check (see the module docs): a group links one account of each app, so
/// `(tenant, group, provider)` is unique. A group holds organizations of two providers; a second
/// organization of the same provider is refused with a conflict naming the group and the app,
/// and writes nothing; re-putting an organization (same id) updates it; an organization moved
/// to another group frees its place.
pub async fn one_organization_per_tenant_group_and_provider(store: &dyn SyncStore, _scale: &Scale) {
    let refused = |result: Result<(), StoreError>, group: &str, provider: &str| match result {
        Err(StoreError::Conflict(message)) => assert!(
            message.contains(group) && message.contains(provider),
            "conflict message `{message}` should name group {group} and app {provider}"
        ),
        other => panic!("expected a conflict, got {other:?}"),
    };
    // The group's first app keeps the group id as organization id, a second app gets
    // `{group}:{provider}` (as linking names them).
    let mut crm = organization("cld-123");
    let mut books = organization("cld-123:books-app");
    books.provider = Provider::new("books-app");
    books.realm = Realm::new("ledger-1");
    store.put_organization(&crm).await.unwrap();
    store.put_organization(&books).await.unwrap();

    // A second organization of the same app in that group.
    let mut twin = organization("cld-123:crm-app");
    twin.realm = Realm::new("portal-10");
    refused(store.put_organization(&twin).await, "cld-123", "crm-app");
    assert_eq!(store.get_organization(&twin.id).await.unwrap(), None);
    assert_eq!(
        store.list_organizations().await.unwrap(),
        vec![crm.clone(), books.clone()]
    );

    // Re-putting the same organization updates it.
    crm.name = "Acme Holdings".to_owned();
    crm.realm = Realm::new("portal-11");
    crm.sync_enabled = false;
    store.put_organization(&crm).await.unwrap();
    store.put_organization(&crm).await.unwrap();
    assert_eq!(
        store.get_organization(&crm.id).await.unwrap(),
        Some(crm.clone())
    );

    // The same group id in another tenant is another group.
    let mut elsewhere = organization("elsewhere");
    elsewhere.tenant = Tenant::new("other-tenant");
    store.put_organization(&elsewhere).await.unwrap();

    // Moved to another group, an organization frees its place, and cannot come back while it
    // is taken.
    crm.group_id = GroupId::new("cld-789");
    store.put_organization(&crm).await.unwrap();
    store.put_organization(&twin).await.unwrap();
    let mut back = crm.clone();
    back.group_id = GroupId::new("cld-123");
    refused(store.put_organization(&back).await, "cld-123", "crm-app");
    assert_eq!(
        store.get_organization(&crm.id).await.unwrap(),
        Some(crm.clone())
    );
    let mut ids: Vec<String> = store
        .list_organizations()
        .await
        .unwrap()
        .into_iter()
        .map(|org| org.id.to_string())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "cld-123",
            "cld-123:books-app",
            "cld-123:crm-app",
            "elsewhere"
        ]
    );
}

/// Conformance check (see the module docs): one app account (provider and realm) is linked to
/// at most one enabled organization, whatever the tenant or group; racing writers leave one.
pub async fn one_enabled_organization_per_app_account(store: &dyn SyncStore, _scale: &Scale) {
    let at = |id: &str, group: &str| {
        let mut org = organization(id);
        org.group_id = GroupId::new(group);
        org.realm = Realm::new("portal-77");
        org
    };
    let mut first = at("cld-a", "cld-a");
    store.put_organization(&first).await.unwrap();
    store.put_organization(&first).await.unwrap();

    // The same account for another group, or in another tenant: refused while `first` holds it.
    let second = at("cld-b", "cld-b");
    let mut foreign = at("cld-c", "cld-c");
    foreign.tenant = Tenant::new("other-tenant");
    for org in [&second, &foreign] {
        match store.put_organization(org).await {
            Err(StoreError::Conflict(message)) => {
                assert!(message.contains("portal-77"), "{message}")
            }
            other => panic!("{} for a held account: {other:?}", org.id),
        }
        assert_eq!(store.get_organization(&org.id).await.unwrap(), None);
    }
    // Disabled (unlinked) organizations do not hold it.
    let mut dormant = second.clone();
    dormant.sync_enabled = false;
    store.put_organization(&dormant).await.unwrap();
    first.sync_enabled = false;
    store.put_organization(&first).await.unwrap();
    store.put_organization(&second).await.unwrap();
    first.sync_enabled = true;
    assert!(matches!(
        store.put_organization(&first).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        !store
            .get_organization(&first.id)
            .await
            .unwrap()
            .unwrap()
            .sync_enabled
    );

    // Four writers racing for a free account: exactly one holds it.
    let racers: Vec<Organization> = (0..4)
        .map(|i| {
            let mut org = at(&format!("cld-race-{i}"), &format!("cld-race-{i}"));
            org.realm = Realm::new("portal-race");
            org
        })
        .collect();
    let results =
        futures::future::join_all(racers.iter().map(|org| store.put_organization(org))).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || matches!(r, Err(StoreError::Conflict(_)))),
        "{results:?}"
    );
    let holders = store
        .list_organizations()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.realm.as_str() == "portal-race" && o.sync_enabled)
        .count();
    assert_eq!(holders, 1);
}
