//! A complex entity through the whole service: an app whose `accounts` (a company with its
//! contacts) are split into organizations and people. Its webhooks name accounts; the receiver
//! routes them to the group's members and the worker applies every part. Turning historical
//! data on resets the group's own watermark too.

use std::sync::Arc;

use connector_sdk::Registry;
use connector_sdk::testing::{FAKE_SIGNATURE_HEADER, FAKE_WEBHOOK_SECRET, FakeProvider};
use emulators::{ConnecConfig, ConnecEmulator};
use runtime_aws::testing::{in_memory, settings};
use serde_json::{Value, json};
use sync_core::domain::*;
use sync_core::entity::EntityGroup;
use sync_core::ports::WorkItem;
use sync_core::testing::{ACCOUNTS, FakeApp, ManualClock, sample_entities};
use webhooks::{RawRequest, body_hmac_signature};

const GROUP: &str = "cld-complex";

fn organization() -> Organization {
    Organization {
        id: OrgId::new(GROUP),
        tenant: Tenant::new("default"),
        group_id: GroupId::new(GROUP),
        provider: Provider::new("grouped"),
        realm: Realm::new("realm-g"),
        name: GROUP.into(),
        sync_enabled: true,
        entity_flags: Default::default(),
        history_from: None,
        linked_at: Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
    }
}

fn by_name<'a>(records: &'a [Value], key: &str, name: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r[key] == name)
        .unwrap_or_else(|| panic!("{name} in {records:?}"))
}

#[tokio::test]
async fn webhooks_of_a_complex_entity_reach_every_part_and_history_resets_its_watermark() {
    let connec = ConnecEmulator::new(ConnecConfig::default());
    let server = connec.start().await.unwrap();
    let clock = ManualClock::new(sync_core::ports::Clock::now(&sync_core::ports::SystemClock));
    let provider = Arc::new(FakeProvider::grouped(
        "grouped",
        "realm-g",
        FakeApp::new("grouped", sample_entities(), clock.clone()),
    ));
    let mut apps = Registry::new();
    apps.register(provider.clone()).unwrap();
    let (service, bus) = in_memory(settings(&server.base_url), apps);
    let store = service.ports().store.clone();
    store.put_organization(&organization()).await.unwrap();
    let app = provider.app();
    let company = app.seed("companies", json!({ "name": "Acme", "industry": "Steel" }));
    let ann = app.seed(
        "contacts",
        json!({ "firstname": "Ann", "lastname": "Lee", "email": "ann@acme.test", "company_id": company.as_str() }),
    );

    // The first sync, through the worker.
    let sync = WorkItem::Sync {
        org: OrgId::new(GROUP),
    };
    assert_eq!(
        service.process(sync, None).await,
        service::WorkOutcome::Done
    );
    let orgs = connec.records(GROUP, "organizations");
    let people = connec.records(GROUP, "people");
    assert_eq!((orgs.len(), people.len()), (1, 1), "{orgs:?} {people:?}");

    // Both parts change in the app; its webhook names the account.
    clock.advance_secs(10);
    app.edit("companies", company.as_str(), |c| {
        c["properties"]["industry"] = json!("Glass")
    });
    app.edit("contacts", ann.as_str(), |c| {
        c["properties"]["jobtitle"] = json!("CFO")
    });
    let events =
        json!([{ "realm": "realm-g", "entity": ACCOUNTS, "id": company.as_str(), "event": "e-1" }])
            .to_string();
    let signed = vec![(
        FAKE_SIGNATURE_HEADER.to_owned(),
        body_hmac_signature(FAKE_WEBHOOK_SECRET, events.as_bytes()),
    )];
    let request = RawRequest {
        method: "POST",
        uri: "/webhooks/grouped",
        headers: &signed,
        body: events.as_bytes(),
    };
    let before = bus.items().len();
    let received = service
        .app_webhook("grouped", &request)
        .await
        .expect("accepted");
    assert_eq!((received.accepted, received.ignored), (1, 0));
    let item = bus.items()[before..].to_vec().pop().expect("queued");
    assert!(
        matches!(&item, WorkItem::AppChanges { entity, ids, .. }
            if entity.as_str() == "organizations" && ids == &vec![company.clone()]),
        "{item:?}"
    );
    assert_eq!(
        service.process(item, None).await,
        service::WorkOutcome::Done
    );
    let orgs = connec.records(GROUP, "organizations");
    assert_eq!(by_name(&orgs, "name", "Acme")["industry"], "Glass");
    let people = connec.records(GROUP, "people");
    assert_eq!(by_name(&people, "first_name", "Ann")["job_title"], "CFO");

    // Historical data on: every watermark goes back to the epoch, the group's included.
    let key = EntityGroup::new(ACCOUNTS, &[]).key();
    let org = OrgId::new(GROUP);
    let before = store.get_watermark(&org, &key, Side::App).await.unwrap();
    assert!(before.is_some_and(|w| w.0.epoch_millis() > 0));
    service
        .set_historical_data(&GroupId::new(GROUP), "grouped", true)
        .await
        .expect("switched");
    let after = store.get_watermark(&org, &key, Side::App).await.unwrap();
    assert_eq!(after.map(|w| w.0.epoch_millis()), Some(0));
    server.shutdown().await;
}
