//! Id-map checks: round trips, uniqueness, merges of half-known rows, listing, lookups.

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
pub async fn a_failing_batch_writes_nothing(store: &dyn SyncStore, _scale: &Scale) {
    store
        .save_idmaps(&[map(Some("h-1"), Some("17"))])
        .await
        .unwrap();

    let mut changed_first = map(Some("h-1"), Some("17"));
    changed_first.name = Some("Changed".to_owned());
    let batch = [
        map(Some("h-new"), Some("99")),
        changed_first,
        map(Some("h-2"), Some("17")),
        map(Some("h-after"), Some("100")),
    ];
    assert_conflict(store.save_idmaps(&batch).await, "app id 17");
    assert_eq!(all_maps(store).await, vec![map(Some("h-1"), Some("17"))]);

    // Same inside one batch: two maps claiming one app id.
    let batch = [map(Some("h-5"), Some("50")), map(Some("h-6"), Some("50"))];
    assert_conflict(store.save_idmaps(&batch).await, "app id 50");
    assert_eq!(all_maps(store).await.len(), 1);
}

/// Conformance check (see the module docs).
pub async fn a_half_known_map_gets_its_other_side(store: &dyn SyncStore, _scale: &Scale) {
    // Known from the hub only.
    store.save_idmaps(&[map(Some("h-1"), None)]).await.unwrap();
    let mut linked = map(Some("h-1"), Some("17"));
    linked.name = Some("Jane".to_owned());
    store
        .save_idmaps(std::slice::from_ref(&linked))
        .await
        .unwrap();
    assert_eq!(all_maps(store).await, vec![linked.clone()]);
    let by_app = store
        .idmaps_by_app_ids(&org_id(), &people(), &[AppId::new("17")])
        .await
        .unwrap();
    assert_eq!(by_app, vec![linked]);

    // Known from the app only, then its hub id arrives (found by app id).
    store.save_idmaps(&[map(None, Some("18"))]).await.unwrap();
    store
        .save_idmaps(&[map(Some("h-2"), Some("18"))])
        .await
        .unwrap();
    let all = all_maps(store).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1], map(Some("h-2"), Some("18")));
}

/// Conformance check (see the module docs).
pub async fn a_map_without_ids_is_refused(store: &dyn SyncStore, _scale: &Scale) {
    let result = store
        .save_idmaps(&[map(Some("h-1"), None), map(None, None)])
        .await;
    assert_conflict(result, "neither a hub id nor an app id");
    assert!(all_maps(store).await.is_empty());
}

/// Conformance check (see the module docs).
pub async fn idmaps_round_trip_every_field(store: &dyn SyncStore, _scale: &Scale) {
    let full = full_map();
    store
        .save_idmaps(std::slice::from_ref(&full))
        .await
        .unwrap();

    let by_hub = store
        .idmaps_by_hub_ids(
            &org_id(),
            &people(),
            &[HubId::new("h-1"), HubId::new("nope")],
        )
        .await
        .unwrap();
    assert_eq!(by_hub, vec![full.clone()]);
    let by_app = store
        .idmaps_by_app_ids(&org_id(), &people(), &[AppId::new("17")])
        .await
        .unwrap();
    assert_eq!(by_app, vec![full.clone()]);

    // Other organizations and entities do not see it.
    let other_entity = store
        .idmaps_by_hub_ids(
            &org_id(),
            &EntityName::new("organizations"),
            &[HubId::new("h-1")],
        )
        .await
        .unwrap();
    assert!(other_entity.is_empty());
    let other_org = store
        .idmaps_by_app_ids(&OrgId::new("beta"), &people(), &[AppId::new("17")])
        .await
        .unwrap();
    assert!(other_org.is_empty());
    let none = store
        .idmaps_by_hub_ids(&org_id(), &people(), &[])
        .await
        .unwrap();
    assert!(none.is_empty());

    // Update in place (found by hub id), clearing optional fields.
    let mut updated = full.clone();
    updated.hash = None;
    updated.last_error = None;
    updated.inactive = false;
    updated.name = None;
    updated.last_push_to_app = None;
    store
        .save_idmaps(std::slice::from_ref(&updated))
        .await
        .unwrap();
    assert_eq!(all_maps(store).await, vec![updated]);
}

/// Conformance check (see the module docs).
pub async fn linking_a_half_known_map_to_a_linked_one_conflicts(
    store: &dyn SyncStore,
    _scale: &Scale,
) {
    store
        .save_idmaps(&[map(Some("h-1"), None), map(Some("h-2"), Some("17"))])
        .await
        .unwrap();
    let result = store.save_idmaps(&[map(Some("h-1"), Some("17"))]).await;
    assert_conflict(result, "app id 17 of entity people");
    assert_eq!(all_maps(store).await.len(), 2);
}

/// Conformance check (see the module docs).
pub async fn linking_two_half_known_maps_merges_them(store: &dyn SyncStore, _scale: &Scale) {
    store
        .save_idmaps(&[map(Some("h-1"), None), map(None, Some("17"))])
        .await
        .unwrap();
    store
        .save_idmaps(&[map(Some("h-1"), Some("17"))])
        .await
        .unwrap();
    assert_eq!(all_maps(store).await, vec![map(Some("h-1"), Some("17"))]);
}

/// Conformance check (see the module docs).
pub async fn list_idmaps_is_ordered_filtered_and_paged(store: &dyn SyncStore, _scale: &Scale) {
    let mut company = IdMap::new(org_id(), EntityName::new("organizations"));
    company.hub_id = Some(HubId::new("o-1"));
    let mut foreign = IdMap::new(OrgId::new("beta"), people());
    foreign.hub_id = Some(HubId::new("h-x"));
    store
        .save_idmaps(&[
            map(Some("h-2"), None),
            company.clone(),
            map(Some("h-1"), None),
            foreign,
        ])
        .await
        .unwrap();
    store.save_idmaps(&[map(None, Some("a-3"))]).await.unwrap();

    let all = all_maps(store).await;
    let keys: Vec<(String, Option<String>, Option<String>)> = all
        .iter()
        .map(|m| {
            (
                m.entity.to_string(),
                m.hub_id.as_ref().map(ToString::to_string),
                m.app_id.as_ref().map(ToString::to_string),
            )
        })
        .collect();
    assert_eq!(
        keys,
        vec![
            ("organizations".into(), Some("o-1".into()), None),
            ("people".into(), Some("h-2".into()), None),
            ("people".into(), Some("h-1".into()), None),
            ("people".into(), None, Some("a-3".into())),
        ]
    );

    let people_only = store
        .list_idmaps(&org_id(), Some(&people()), 1, 1)
        .await
        .unwrap();
    assert_eq!(people_only, vec![map(Some("h-1"), None)]);
    let past_end = store
        .list_idmaps(&org_id(), Some(&people()), 10, 5)
        .await
        .unwrap();
    assert!(past_end.is_empty());
}

/// Conformance check (see the module docs).
pub async fn lookups_are_chunked_and_return_only_found_rows(store: &dyn SyncStore, scale: &Scale) {
    let maps: Vec<IdMap> = (0..scale.known_ids)
        .map(|n| map(Some(&format!("h-{n}")), Some(&format!("a-{n}"))))
        .collect();
    store.save_idmaps(&maps).await.unwrap();

    // 100 unknown ids on top of the known ones, over several chunks.
    let ids: Vec<HubId> = (0..scale.known_ids + 100)
        .map(|n| HubId::new(format!("h-{n}")))
        .collect();
    let found = store
        .idmaps_by_hub_ids(&org_id(), &people(), &ids)
        .await
        .unwrap();
    assert_eq!(found.len(), scale.known_ids);
    let app_ids: Vec<AppId> = (scale.known_ids - 100..scale.known_ids + 100)
        .map(|n| AppId::new(format!("a-{n}")))
        .collect();
    let found = store
        .idmaps_by_app_ids(&org_id(), &people(), &app_ids)
        .await
        .unwrap();
    assert_eq!(found.len(), 100);
    assert!(found.iter().all(IdMap::is_linked));
}

/// Conformance check (see the module docs).
pub async fn same_app_id_for_another_hub_id_conflicts_and_keeps_the_first(
    store: &dyn SyncStore,
    _scale: &Scale,
) {
    store
        .save_idmaps(&[map(Some("h-1"), Some("17"))])
        .await
        .unwrap();

    let result = store.save_idmaps(&[map(Some("h-2"), Some("17"))]).await;
    assert_conflict(result, "app id 17 of entity people");

    assert_eq!(all_maps(store).await, vec![map(Some("h-1"), Some("17"))]);
}

/// Conformance check (see the module docs).
pub async fn same_hub_id_for_another_app_id_conflicts(store: &dyn SyncStore, _scale: &Scale) {
    store
        .save_idmaps(&[map(Some("h-1"), Some("17"))])
        .await
        .unwrap();
    let result = store.save_idmaps(&[map(Some("h-1"), Some("18"))]).await;
    assert_conflict(result, "hub id h-1 of entity people");
    // Clearing a known side is refused too.
    let result = store.save_idmaps(&[map(Some("h-1"), None)]).await;
    assert_conflict(result, "already mapped to app id 17");
    let result = store.save_idmaps(&[map(None, Some("17"))]).await;
    assert_conflict(result, "already mapped to hub id h-1");
    assert_eq!(all_maps(store).await, vec![map(Some("h-1"), Some("17"))]);
}

/// Conformance check (see the module docs).
pub async fn failed_idmaps_and_search_find_the_right_rows(store: &dyn SyncStore, _scale: &Scale) {
    let mut maps = Vec::new();
    for i in 0..1100 {
        let mut m = map(Some(&format!("h-{i:04}")), Some(&format!("{i}")));
        m.name = Some(format!("Person {i:04}"));
        if i % 500 == 7 {
            m.last_error = Some(format!("HTTP 400: bad email {i}"));
        }
        maps.push(m);
    }
    maps[42].name = Some("Ada LOVELACE".to_owned());
    store.save_idmaps(&maps).await.unwrap();
    let mut other = map(Some("h-other"), Some("x"));
    other.org = OrgId::new("someone-else");
    other.last_error = Some("other org".to_owned());
    other.name = Some("Ada Lovelace".to_owned());
    store.save_idmaps(&[other]).await.unwrap();

    let failed = store.failed_idmaps(&org_id(), 10).await.unwrap();
    let ids: Vec<&str> = failed
        .iter()
        .filter_map(|m| m.hub_id.as_ref())
        .map(|h| h.as_str())
        .collect();
    assert_eq!(ids, ["h-0007", "h-0507", "h-1007"]);
    assert_eq!(store.failed_idmaps(&org_id(), 2).await.unwrap().len(), 2);

    let names =
        |found: Vec<IdMap>| -> Vec<String> { found.into_iter().filter_map(|m| m.name).collect() };
    // By name, any case, only this organization.
    assert_eq!(
        names(
            store
                .search_idmaps(&org_id(), " lovelace ", 10)
                .await
                .unwrap()
        ),
        ["Ada LOVELACE"]
    );
    // By hub id or app id, exactly.
    assert_eq!(
        names(store.search_idmaps(&org_id(), "h-0900", 10).await.unwrap()),
        ["Person 0900"]
    );
    assert_eq!(
        names(store.search_idmaps(&org_id(), "1099", 10).await.unwrap()),
        ["Person 1099"]
    );
    assert_eq!(
        store
            .search_idmaps(&org_id(), "Person", 5)
            .await
            .unwrap()
            .len(),
        5
    );
    assert!(
        store
            .search_idmaps(&org_id(), "  ", 5)
            .await
            .unwrap()
            .is_empty()
    );
}
