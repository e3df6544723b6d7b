//! EventBridge publishing against moto.

use serde_json::json;
use store_aws::{EventBridgeBus, MAX_ENTRY_BYTES};
use sync_core::domain::{AppId, EntityName, OrgId};
use sync_core::ports::{EventBus, WorkItem};

use crate::support;

async fn bus() -> (aws_sdk_eventbridge::Client, EventBridgeBus) {
    let client = aws_sdk_eventbridge::Client::new(&support::sdk_config().await);
    let name = support::unique("work");
    client.create_event_bus().name(&name).send().await.unwrap();
    (client.clone(), EventBridgeBus::new(client, name))
}

#[tokio::test]
async fn publish_batch_sends_ten_entries_per_call() {
    let (_, bus) = bus().await;
    let items: Vec<WorkItem> = (0..25)
        .map(|n| WorkItem::Sync {
            org: OrgId::new(format!("org-{n}")),
        })
        .collect();
    bus.publish_batch(items).await.unwrap();
    // 10 + 10 + 5, no entry refused (a refused entry would be retried: a fourth call).
    assert_eq!(bus.put_events_calls(), 3);

    bus.publish(WorkItem::AppChanges {
        org: OrgId::new("acme"),
        entity: EntityName::new("people"),
        ids: vec![AppId::new("17")],
    })
    .await
    .unwrap();
    assert_eq!(bus.put_events_calls(), 4);
}

#[tokio::test]
async fn detail_types_name_the_work() {
    let org = OrgId::new("acme");
    let entity = EntityName::new("people");
    assert_eq!(
        EventBridgeBus::detail_type(&WorkItem::Sync { org: org.clone() }),
        "SyncRequested"
    );
    assert_eq!(
        EventBridgeBus::detail_type(&WorkItem::HubRecords {
            org: org.clone(),
            entity: entity.clone(),
            records: vec![]
        }),
        "HubRecords"
    );
    assert_eq!(
        EventBridgeBus::detail_type(&WorkItem::AppChanges {
            org,
            entity,
            ids: vec![]
        }),
        "AppChanges"
    );
}

#[tokio::test]
async fn big_hub_records_are_split_and_oversized_records_fail_clearly() {
    let (_, bus) = bus().await;
    // 8 records of ~60 KB: ~480 KB in one item, split into events under 256 KB.
    let records: Vec<_> = (0..8)
        .map(|n| json!({"id": format!("r-{n}"), "notes": "x".repeat(60_000)}))
        .collect();
    bus.publish(WorkItem::HubRecords {
        org: OrgId::new("acme"),
        entity: EntityName::new("people"),
        records,
    })
    .await
    .unwrap();
    // Each call stays under 256 KB: at least two calls.
    assert!(bus.put_events_calls() >= 2, "{}", bus.put_events_calls());

    let calls = bus.put_events_calls();
    let err = bus
        .publish(WorkItem::HubRecords {
            org: OrgId::new("acme"),
            entity: EntityName::new("people"),
            records: vec![json!({"id": "huge", "notes": "y".repeat(MAX_ENTRY_BYTES)})],
        })
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("over EventBridge's limit"), "{err}");
    assert!(err.contains("organization acme, entity people"), "{err}");
    assert!(
        !err.contains("yyyy"),
        "the error must not carry the content"
    );
    assert_eq!(bus.put_events_calls(), calls, "nothing sent");
}
