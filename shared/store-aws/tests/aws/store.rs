//! Every `SyncStore` operation against DynamoDB (moto): the conformance suite both backends run
//! (`sync_core::conformance`), plus DynamoDB-specific checks.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use store_aws::DynamoStore;
use sync_core::conformance::{Scale, all_maps, assert_conflict, map, org_id, people, ts};
use sync_core::domain::{AppId, EntityName, HubId, IdMap, OrgId};
use sync_core::error::StoreError;
use sync_core::ports::SyncStore;

use crate::support;

sync_core::sync_store_conformance!(
    support::store().await,
    // Fewer records than the embedded store's run: moto is slower, and three `BatchGetItem`
    // calls (100 keys each) already cross the chunk boundaries.
    Scale {
        known_ids: 240,
        pending_records: 60,
    }
);

#[tokio::test]
async fn operations_are_counted() {
    let store = support::store().await;
    assert_eq!(store.operations(), 0);
    store.list_organizations().await.unwrap();
    assert_eq!(store.operations(), 1);
    let clone = store.clone();
    clone.save_idmaps(&[map(Some("h-1"), None)]).await.unwrap();
    // A failed operation counts too.
    let _ = clone.save_idmaps(&[map(None, None)]).await;
    clone
        .idmaps_by_hub_ids(&org_id(), &people(), &[HubId::new("h-1")])
        .await
        .unwrap();
    assert_eq!(store.operations(), 4);
    assert_eq!(clone.operations(), 4);
}

async fn race(store: &DynamoStore, maps: Vec<IdMap>) -> usize {
    let barrier = Arc::new(tokio::sync::Barrier::new(maps.len()));
    let mut tasks = Vec::new();
    for map in maps {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.save_idmaps(&[map]).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict(message)) => assert!(
                message.contains("already mapped to"),
                "unexpected conflict message {message}"
            ),
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    wins
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_racing_for_one_app_id_let_exactly_one_win() {
    let store = support::store().await;
    let maps = (0..16)
        .map(|n| map(Some(&format!("h-{n}")), Some("17")))
        .collect();
    assert_eq!(race(&store, maps).await, 1);
    let all = all_maps(&store).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].app_id, Some(AppId::new("17")));
    let by_app = store
        .idmaps_by_app_ids(&org_id(), &people(), &[AppId::new("17")])
        .await
        .unwrap();
    assert_eq!(by_app, all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_racing_for_one_hub_id_let_exactly_one_win() {
    let store = support::store().await;
    let maps = (0..16)
        .map(|n| map(Some("h-1"), Some(&format!("a-{n}"))))
        .collect();
    assert_eq!(race(&store, maps).await, 1);
    let all = all_maps(&store).await;
    assert_eq!(all.len(), 1);
    let winner = all[0].app_id.clone().unwrap();
    // Only the winner's app id is taken.
    let ids: Vec<AppId> = (0..16).map(|n| AppId::new(format!("a-{n}"))).collect();
    let found = store
        .idmaps_by_app_ids(&org_id(), &people(), &ids)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].app_id, Some(winner));
}

#[tokio::test]
async fn a_large_batch_is_validated_whole_and_written_in_chunks() {
    let store = support::store().await;
    store
        .save_idmaps(&[map(Some("h-taken"), Some("taken"))])
        .await
        .unwrap();
    // 120 linked maps (240 items: three transactions), the last one breaking a rule.
    let mut batch: Vec<IdMap> = (0..120)
        .map(|n| map(Some(&format!("h-{n}")), Some(&format!("a-{n}"))))
        .collect();
    batch.push(map(Some("h-thief"), Some("taken")));
    assert_conflict(store.save_idmaps(&batch).await, "app id taken");
    assert_eq!(all_maps(&store).await.len(), 1);

    batch.pop();
    store.save_idmaps(&batch).await.unwrap();
    assert_eq!(all_maps(&store).await.len(), 121);
    let ids: Vec<AppId> = (0..120).map(|n| AppId::new(format!("a-{n}"))).collect();
    let found = store
        .idmaps_by_app_ids(&org_id(), &people(), &ids)
        .await
        .unwrap();
    assert_eq!(found.len(), 120);
    // Listing keeps the batch order.
    let listed = store
        .list_idmaps(&org_id(), Some(&people()), 1, 3)
        .await
        .unwrap();
    let hubs: Vec<&str> = listed
        .iter()
        .map(|m| m.hub_id.as_ref().unwrap().as_str())
        .collect();
    assert_eq!(hubs, ["h-0", "h-1", "h-2"]);
}

#[tokio::test]
async fn ids_with_separators_do_not_collide() {
    let store = support::store().await;
    let mut odd = IdMap::new(OrgId::new("a#b"), EntityName::new("people"));
    odd.hub_id = Some(HubId::new("x#APP#y"));
    odd.app_id = Some(AppId::new("100%"));
    let mut other = IdMap::new(OrgId::new("a"), EntityName::new("b#people"));
    other.hub_id = Some(HubId::new("x#APP#y"));
    other.app_id = Some(AppId::new("100%"));
    store
        .save_idmaps(&[odd.clone(), other.clone()])
        .await
        .unwrap();
    let found = store
        .idmaps_by_app_ids(&OrgId::new("a#b"), &people(), &[AppId::new("100%")])
        .await
        .unwrap();
    assert_eq!(found, vec![odd]);
}

#[tokio::test]
async fn leases_carry_a_ttl_attribute() {
    let store = support::store().await;
    let t0 = ts("2024-01-01T00:00:00Z");
    assert!(
        store
            .acquire_lease(&org_id(), "worker-a", t0, Duration::from_secs(60))
            .await
            .unwrap()
    );
    let item = store
        .client()
        .get_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S("LEASE#acme".into()))
        .key("SK", AttributeValue::S("LEASE".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("lease item");
    let expires_ms = t0.epoch_millis() + 60_000;
    assert_eq!(
        item.get("expires_at_ms"),
        Some(&AttributeValue::N(expires_ms.to_string()))
    );
    let ttl: i64 = match item.get("expires_at") {
        Some(AttributeValue::N(n)) => n.parse().unwrap(),
        other => panic!("expires_at should be a number, got {other:?}"),
    };
    assert!(
        ttl >= expires_ms / 1000,
        "TTL {ttl} is before the lease expiry"
    );
}
