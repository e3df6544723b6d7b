//! Tests of the in-memory fakes of `sync_core::testing` (run with `--features testing`): each
//! behaviour and misbehaviour does what it says, and `MemoryStore` passes the store
//! conformance suite.

#![cfg(feature = "testing")]

use serde_json::{Value, json};
use sync_core::domain::{AppEntityName, AppId, EntityName, GroupId, HubId, Timestamp};
use sync_core::ports::Clock;
use sync_core::testing::ManualClock;

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).unwrap()
}

mod clock {
    use super::*;

    #[test]
    fn stamps_strictly_increase_and_leave_now_alone() {
        let clock = ManualClock::at("2024-01-01T00:00:00Z");
        let a = clock.stamp();
        let b = clock.stamp();
        assert_eq!(a, ts("2024-01-01T00:00:00Z"));
        assert_eq!(b, ts("2024-01-01T00:00:00.001Z"));
        assert_eq!(clock.now(), a);
        clock.advance_secs(10);
        assert_eq!(clock.stamp(), ts("2024-01-01T00:00:10Z"));
        // Back in time: stamps still increase.
        clock.set(ts("2023-01-01T00:00:00Z"));
        assert_eq!(clock.stamp(), ts("2024-01-01T00:00:10.001Z"));
        assert_eq!(clock.now(), ts("2023-01-01T00:00:00Z"));
        // Clones share the time.
        let other = clock.clone();
        other.advance_secs(1);
        assert_eq!(clock.now(), ts("2023-01-01T00:00:01Z"));
    }
}

mod store {
    use std::time::Duration;

    use sync_core::conformance::{Scale, map, org_id};
    use sync_core::error::StoreError;
    use sync_core::ports::SyncStore;
    use sync_core::testing::{Lease, MemoryStore, StoreFailure, StoreOp};

    use super::*;

    sync_core::sync_store_conformance!(MemoryStore::new(), Scale::default());

    #[tokio::test]
    async fn the_next_n_calls_fail_then_it_works_and_every_call_counts() {
        let store = MemoryStore::new();
        store.fail_next(StoreOp::SaveIdmaps, 2);
        for _ in 0..2 {
            match store.save_idmaps(&[map(Some("h-1"), Some("1"))]).await {
                Err(StoreError::Backend(message)) => assert!(message.contains("injected")),
                other => panic!("expected a backend error, got {other:?}"),
            }
        }
        assert!(store.idmaps(&org_id()).is_empty());
        store
            .save_idmaps(&[map(Some("h-1"), Some("1"))])
            .await
            .unwrap();
        assert_eq!(store.idmaps(&org_id()).len(), 1);
        // Other operations are not affected.
        store.list_organizations().await.unwrap();
        assert_eq!(store.calls(StoreOp::SaveIdmaps), 3);
        assert_eq!(store.calls(StoreOp::ListOrganizations), 1);
        assert_eq!(store.operations(), 4);
    }

    #[tokio::test]
    async fn a_conflict_or_a_commit_whose_answer_is_lost() {
        let store = MemoryStore::new();
        store.fail_next_with(StoreOp::SaveIdmaps, 1, StoreFailure::Conflict);
        store.fail_next_with(StoreOp::SaveIdmaps, 1, StoreFailure::BackendAfterCommit);
        let maps = [map(Some("h-1"), Some("1"))];
        assert!(matches!(
            store.save_idmaps(&maps).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(store.idmaps(&org_id()).is_empty());
        assert!(matches!(
            store.save_idmaps(&maps).await,
            Err(StoreError::Backend(_))
        ));
        assert_eq!(store.idmaps(&org_id()), maps.to_vec());
        store.clear_faults();
        store.save_idmaps(&maps).await.unwrap();
    }

    #[tokio::test]
    async fn leases_can_be_inspected_and_planted() {
        let store = MemoryStore::new();
        let (org, t0, ttl) = (
            org_id(),
            ts("2024-01-01T00:00:00Z"),
            Duration::from_secs(60),
        );
        assert!(store.acquire_lease(&org, "a", t0, ttl).await.unwrap());
        assert_eq!(
            store.lease(&org),
            Some(Lease {
                owner: "a".into(),
                expires_at: ts("2024-01-01T00:01:00Z"),
            })
        );
        // A dead holder, planted: refused until it expires.
        store.set_lease(
            &org,
            Some(Lease {
                owner: "dead@host".into(),
                expires_at: ts("2024-01-01T00:05:00Z"),
            }),
        );
        assert!(!store.acquire_lease(&org, "a", t0, ttl).await.unwrap());
        assert!(
            store
                .acquire_lease(&org, "a", ts("2024-01-01T00:05:00Z"), ttl)
                .await
                .unwrap()
        );
        store.set_lease(&org, None);
        assert_eq!(store.lease(&org), None);
    }
}

mod hub {
    use connec::testing::{FakeHub, HubOp, MatchRule};
    use sync_core::error::HttpError;
    use sync_core::ports::{ExternalId, Hub, HubChange, HubWrite};
    use sync_core::testing::{Failure, Order, SAMPLE_GROUP, sample_entities, sample_external_id};

    use super::*;

    const G: &str = SAMPLE_GROUP;

    fn group() -> GroupId {
        GroupId::new(G)
    }
    fn people() -> EntityName {
        EntityName::new("people")
    }
    fn orgs() -> EntityName {
        EntityName::new("organizations")
    }
    fn hub() -> FakeHub {
        FakeHub::new(ManualClock::default()).with_references(&sample_entities())
    }
    fn fields(value: Value) -> HubWrite {
        HubWrite {
            hub_id: None,
            change: HubChange::Fields(value),
            source: None,
            matching_fields: Vec::new(),
        }
    }
    fn put(id: &HubId, change: HubChange) -> HubWrite {
        HubWrite {
            hub_id: Some(id.clone()),
            change,
            source: None,
            matching_fields: Vec::new(),
        }
    }
    fn ids(records: &[Value]) -> Vec<String> {
        records
            .iter()
            .map(|r| connec::record::hub_id(r).unwrap().to_string())
            .collect()
    }

    #[tokio::test]
    async fn records_are_connec_shaped_and_described() {
        let hub = hub();
        let id = hub.seed(
            G,
            "people",
            json!({
                "id": [{"id": "p-1", "provider": "connec", "realm": "org-cld-1"},
                       {"id": "17", "provider": "fakeapp", "realm": "portal-1"}],
                "first_name": "Jane",
                "created_at": "2023-12-31T23:00:00+01:00",
            }),
        );
        assert_eq!(id.as_str(), "p-1");
        let record = hub.get(G, "people", "p-1").unwrap();
        assert_eq!(record["status"], "ACTIVE");
        assert_eq!(record["group_id"], G);
        assert_eq!(record["created_at"], "2023-12-31T22:00:00.000Z");
        assert_eq!(record["updated_at"], "2024-01-01T00:00:00.000Z");
        assert_eq!(record["id"][0]["realm"], "org-cld-1");
        let meta = hub.describe(&people(), &record).unwrap();
        assert_eq!(meta.id, id);
        assert!(!meta.inactive);
        assert_eq!(meta.external_ids, vec![sample_external_id("17")]);
        assert!(hub.describe(&people(), &json!({"name": "x"})).is_err());
        // Generated ids, stamped times.
        let other = hub.seed(G, "people", json!({"first_name": "Joe"}));
        assert_ne!(other, id);
        hub.archive_record(G, "people", other.as_str());
        let meta = hub
            .describe(&people(), &hub.get(G, "people", other.as_str()).unwrap())
            .unwrap();
        assert!(meta.inactive);
        assert!(meta.updated_at > ts("2024-01-01T00:00:00Z"));
    }

    #[tokio::test]
    async fn references_carry_the_targets_external_ids_and_resolve_app_triples() {
        let hub = hub();
        let org = hub.seed(
            G,
            "organizations",
            json!({"id": [{"id": "o-1", "provider": "connec", "realm": "org-cld-1"},
                          {"id": "c-9", "provider": "fakeapp", "realm": "portal-1"}],
                   "name": "Acme"}),
        );
        let person = hub.seed(G, "people", json!({"organization_id": "o-1"}));
        let record = hub.get(G, "people", person.as_str()).unwrap();
        let reference = &record["organization_id"];
        assert_eq!(hub.reference_target(reference), Some(org.clone()));
        let ext = sample_external_id("c-9");
        assert_eq!(
            hub.reference_external(reference, &ext.provider, &ext.realm),
            Some(AppId::new("c-9"))
        );
        assert_eq!(
            hub.reference_target(&hub.reference_value(&group(), &org)),
            Some(org.clone())
        );
        // Written with the app's triple only: resolved to the organization.
        let out = hub
            .write(
                &group(),
                &people(),
                vec![fields(json!({"first_name": "Ann", "organization_id":
                    [{"id": "c-9", "provider": "fakeapp", "realm": "portal-1"}]}))],
            )
            .await
            .unwrap();
        let created = out[0].as_ref().unwrap().meta.id.clone();
        let record = hub.get(G, "people", created.as_str()).unwrap();
        assert_eq!(hub.reference_target(&record["organization_id"]), Some(org));
    }

    #[tokio::test]
    async fn pages_filter_on_updated_at_in_created_order_with_an_offset_cursor() {
        let hub = hub();
        hub.set_page_size(2);
        let clock = hub.clock().clone();
        let mut seeded = Vec::new();
        for n in 0..5 {
            seeded.push(hub.seed(G, "people", json!({"n": n})).to_string());
            clock.advance_secs(1);
        }
        let since = ts("2024-01-01T00:00:00.500Z");
        // Updating the first record does not move it: still first, now in the window.
        hub.edit(G, "people", &seeded[0], |r| r["n"] = json!(10));
        let mut cursor = None;
        let mut got = Vec::new();
        let mut pages = 0;
        loop {
            let page = hub
                .fetch_page(&group(), &people(), Some(since), cursor.as_ref())
                .await
                .unwrap();
            got.extend(ids(&page.records));
            pages += 1;
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(got, seeded);
        assert_eq!(pages, 3);
        let all = hub
            .fetch_page(&group(), &people(), None, None)
            .await
            .unwrap();
        assert_eq!(all.records.len(), 2);
        assert_eq!(hub.calls(HubOp::FetchPage), 4);
    }

    #[tokio::test]
    async fn by_ids_skips_missing_ones_in_any_order() {
        let hub = hub();
        let a = hub.seed(G, "people", json!({"n": 1}));
        let b = hub.seed(G, "people", json!({"n": 2}));
        hub.archive_record(G, "people", b.as_str());
        let asked = [a.clone(), HubId::new("nope"), b.clone()];
        let got = hub.fetch_by_ids(&group(), &people(), &asked).await.unwrap();
        assert_eq!(ids(&got), [a.to_string(), b.to_string()]);
        hub.set_by_ids_order(Order::Reversed);
        let got = hub.fetch_by_ids(&group(), &people(), &asked).await.unwrap();
        assert_eq!(ids(&got), [b.to_string(), a.to_string()]);
    }

    #[tokio::test]
    async fn matches_need_every_path_equal_and_active_with_the_chosen_case_rule() {
        let hub = hub();
        let jane = hub.seed(
            G,
            "people",
            json!({"email": {"address": "Jane@X.com"}, "last_name": "Doe"}),
        );
        let gone = hub.seed(G, "people", json!({"email": {"address": "jane@x.com"}}));
        hub.archive_record(G, "people", gone.as_str());
        let fields = vec!["email.address".to_owned()];
        let queries = [
            json!({"email": {"address": "Jane@X.com"}}),
            json!({"email": {"address": "jane@x.com"}}),
            json!({"first_name": "no e-mail"}),
        ];
        let found = hub
            .find_matches(&group(), &people(), &fields, &queries)
            .await
            .unwrap();
        let found_ids: Vec<Vec<HubId>> = found
            .iter()
            .map(|m| m.iter().map(|m| m.id.clone()).collect())
            .collect();
        assert_eq!(found_ids, vec![vec![jane.clone()], vec![], vec![]]);
        hub.set_match_rule(MatchRule::CaseInsensitive);
        let found = hub
            .find_matches(&group(), &people(), &fields, &queries[1..2])
            .await
            .unwrap();
        assert_eq!(found[0][0].id, jane);
        // Every path must match; no path, no match.
        let two = vec!["email.address".to_owned(), "last_name".to_owned()];
        let query = [json!({"email": {"address": "jane@x.com"}, "last_name": "Roe"})];
        let found = hub
            .find_matches(&group(), &people(), &two, &query)
            .await
            .unwrap();
        assert!(found[0].is_empty());
        let found = hub
            .find_matches(&group(), &people(), &[], &query)
            .await
            .unwrap();
        assert!(found[0].is_empty());
    }

    #[tokio::test]
    async fn put_merges_and_an_unchanged_write_leaves_updated_at_alone() {
        let hub = hub();
        let id = hub.seed(
            G,
            "people",
            json!({"first_name": "Jane", "email": {"address": "a@x"}}),
        );
        let before = hub.get(G, "people", id.as_str()).unwrap()["updated_at"].clone();
        let change = json!({"email": {"address": "b@x"}, "job_title": "CEO"});
        let out = hub
            .write(
                &group(),
                &people(),
                vec![put(&id, HubChange::Fields(change.clone()))],
            )
            .await
            .unwrap();
        let outcome = out[0].as_ref().unwrap();
        assert!(!outcome.created);
        let record = hub.get(G, "people", id.as_str()).unwrap();
        assert_eq!(record["first_name"], "Jane");
        assert_eq!(record["email"]["address"], "b@x");
        assert_eq!(record["job_title"], "CEO");
        assert_ne!(record["updated_at"], before);
        assert_eq!(
            outcome.meta.updated_at,
            ts(record["updated_at"].as_str().unwrap())
        );
        // The same write again: nothing changes.
        hub.write(
            &group(),
            &people(),
            vec![put(&id, HubChange::Fields(change))],
        )
        .await
        .unwrap();
        let again = hub.get(G, "people", id.as_str()).unwrap();
        assert_eq!(again["updated_at"], record["updated_at"]);
        let counts = hub.counts();
        assert_eq!((counts.calls, counts.updated, counts.unchanged), (2, 2, 1));
        // Unknown id: per-record 404.
        let out = hub
            .write(
                &group(),
                &people(),
                vec![put(&HubId::new("nope"), HubChange::Archive)],
            )
            .await
            .unwrap();
        assert_eq!(out[0].as_ref().unwrap_err().status, Some(404));
        assert_eq!(hub.counts().rejected, 1);
        hub.reset_counts();
        assert_eq!(hub.counts().written(), 0);
    }

    #[tokio::test]
    async fn post_upserts_on_the_source_id_and_smart_merges_on_matching_fields() {
        let hub = hub();
        let source = sample_external_id("17");
        let create = HubWrite {
            source: Some(source.clone()),
            ..fields(json!({"name": "Acme"}))
        };
        let out = hub
            .write(&group(), &orgs(), vec![create.clone()])
            .await
            .unwrap();
        let first = out[0].as_ref().unwrap();
        assert!(first.created);
        assert_eq!(first.meta.external_ids, vec![source.clone()]);
        // Re-sent (a retry after a timeout): the same record.
        let out = hub.write(&group(), &orgs(), vec![create]).await.unwrap();
        let again = out[0].as_ref().unwrap();
        assert!(!again.created);
        assert_eq!(again.meta.id, first.meta.id);
        assert_eq!(hub.all(G, "organizations").len(), 1);

        // Smart-merge: another app record with the same name lands on it, with its id.
        let other = sample_external_id("18");
        let merge = HubWrite {
            source: Some(other.clone()),
            matching_fields: vec!["name".into()],
            ..fields(json!({"name": "Acme", "industry": "Tools"}))
        };
        let out = hub.write(&group(), &orgs(), vec![merge]).await.unwrap();
        let merged = out[0].as_ref().unwrap();
        assert!(!merged.created);
        assert_eq!(merged.meta.id, first.meta.id);
        assert_eq!(merged.meta.external_ids, vec![source, other]);
        let counts = hub.counts();
        assert_eq!((counts.created, counts.merged, counts.unchanged), (1, 2, 1));
        assert_eq!(
            hub.get(G, "organizations", first.meta.id.as_str()).unwrap()["industry"],
            "Tools"
        );
    }

    #[tokio::test]
    async fn archive_sets_inactive_and_link_only_adds_the_external_id() {
        let hub = hub();
        let id = hub.seed(G, "organizations", json!({"name": "Acme"}));
        let link = HubWrite {
            source: Some(sample_external_id("5")),
            ..put(&id, HubChange::LinkOnly)
        };
        let out = hub
            .write(&group(), &orgs(), vec![link, put(&id, HubChange::Archive)])
            .await
            .unwrap();
        assert_eq!(
            out[0].as_ref().unwrap().meta.external_ids,
            vec![sample_external_id("5")]
        );
        assert!(out[1].as_ref().unwrap().meta.inactive);
        let record = hub.get(G, "organizations", id.as_str()).unwrap();
        assert_eq!(record["status"], "INACTIVE");
        assert_eq!(record["name"], "Acme");
        let counts = hub.counts();
        assert_eq!((counts.linked, counts.archived), (1, 1));
        assert!(
            hub.find_by_external(G, "organizations", &sample_external_id("5"))
                .is_some()
        );
    }

    #[tokio::test]
    async fn planned_failures_come_in_order_then_calls_work() {
        let hub = hub();
        hub.seed(G, "people", json!({"n": 1}));
        hub.fail_next(HubOp::FetchPage, 1, Failure::Timeout);
        hub.fail_next(HubOp::FetchPage, 1, Failure::Status(503));
        hub.fail_next(HubOp::FetchPage, 1, Failure::RateLimited);
        let (g, p) = (group(), people());
        let fetch = || hub.fetch_page(&g, &p, None, None);
        assert!(matches!(fetch().await, Err(HttpError::Transport { .. })));
        assert_eq!(fetch().await.unwrap_err().status(), Some(503));
        assert_eq!(fetch().await.unwrap_err().status(), Some(429));
        assert_eq!(fetch().await.unwrap().records.len(), 1);
        // A failed write writes nothing.
        hub.fail_next(HubOp::Write, 1, Failure::Status(500));
        assert!(
            hub.write(&group(), &people(), vec![fields(json!({"n": 2}))])
                .await
                .is_err()
        );
        assert_eq!(hub.all(G, "people").len(), 1);
        assert_eq!(hub.calls(HubOp::Write), 1);
    }

    #[tokio::test]
    async fn a_rejected_record_fails_alone() {
        let hub = hub();
        let a = hub.seed(G, "people", json!({"n": 1}));
        let b = hub.seed(G, "people", json!({"n": 1}));
        hub.reject(a.as_str());
        hub.reject("app-9");
        let from_app = HubWrite {
            source: Some(ExternalId {
                id: AppId::new("app-9"),
                ..sample_external_id("x")
            }),
            ..fields(json!({"n": 3}))
        };
        let out = hub
            .write(
                &group(),
                &people(),
                vec![
                    put(&a, HubChange::Fields(json!({"n": 2}))),
                    put(&b, HubChange::Fields(json!({"n": 2}))),
                    from_app,
                ],
            )
            .await
            .unwrap();
        assert_eq!(out[0].as_ref().unwrap_err().status, Some(400));
        assert!(out[1].is_ok());
        assert!(out[2].is_err());
        assert_eq!(hub.get(G, "people", a.as_str()).unwrap()["n"], 1);
        assert_eq!(hub.get(G, "people", b.as_str()).unwrap()["n"], 2);
        hub.accept(a.as_str());
        let out = hub
            .write(
                &group(),
                &people(),
                vec![put(&a, HubChange::Fields(json!({"n": 2})))],
            )
            .await
            .unwrap();
        assert!(out[0].is_ok());
    }

    #[tokio::test]
    async fn commit_then_timeout_applies_the_writes() {
        let hub = hub();
        hub.commit_then_timeout(1);
        let create = HubWrite {
            source: Some(sample_external_id("1")),
            ..fields(json!({"name": "Acme"}))
        };
        let err = hub
            .write(&group(), &orgs(), vec![create.clone()])
            .await
            .unwrap_err();
        assert!(matches!(err, HttpError::Transport { .. }));
        assert_eq!(hub.all(G, "organizations").len(), 1);
        // The retry lands on the same record (upsert on the external id).
        let out = hub.write(&group(), &orgs(), vec![create]).await.unwrap();
        assert!(!out[0].as_ref().unwrap().created);
        assert_eq!(hub.all(G, "organizations").len(), 1);
    }

    #[tokio::test]
    async fn a_record_twice_in_a_page_and_a_change_between_pages() {
        let hub = hub();
        hub.set_page_size(2);
        let a = hub.seed(G, "people", json!({"n": 1}));
        let b = hub.seed(G, "people", json!({"n": 2}));
        let c = hub.seed(G, "people", json!({"n": 3}));
        hub.repeat_in_next_page(a.as_str());
        let c_id = c.to_string();
        hub.before_page(G, "people", 1, move |hub| {
            hub.edit(G, "people", &c_id, |r| r["n"] = json!(30));
        });
        let first = hub
            .fetch_page(&group(), &people(), None, None)
            .await
            .unwrap();
        assert_eq!(
            ids(&first.records),
            [a.to_string(), a.to_string(), b.to_string()]
        );
        assert_eq!(hub.get(G, "people", c.as_str()).unwrap()["n"], 3);
        let second = hub
            .fetch_page(&group(), &people(), None, first.next.as_ref())
            .await
            .unwrap();
        assert_eq!(second.records[0]["n"], 30);
        assert!(second.next.is_none());
        // Both fire once.
        let again = hub
            .fetch_page(&group(), &people(), None, None)
            .await
            .unwrap();
        assert_eq!(again.records.len(), 2);
    }
}

mod app {
    use sync_core::error::AppError;
    use sync_core::ports::{AppConnector, AppWrite, AppWriteFailure, AppWriteKind, MatchQuery};
    use sync_core::testing::{
        AppOp, ArchivedInBatchRead, DEFAULT_MARKER, Failure, FakeApp, Order, sample_entities,
    };

    use super::*;

    fn app() -> FakeApp {
        FakeApp::sample(ManualClock::default())
    }
    fn contacts() -> AppEntityName {
        AppEntityName::new("contacts")
    }
    fn ids(records: &[Value]) -> Vec<String> {
        records
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    }
    fn update(id: &AppId, properties: Value) -> AppWrite {
        AppWrite::Update {
            id: id.clone(),
            record: json!({ "properties": properties }),
        }
    }
    fn create(hub_id: &str, properties: Value) -> AppWrite {
        AppWrite::Create {
            hub_id: HubId::new(hub_id),
            record: json!({ "properties": properties }),
            attempt: 0,
        }
    }

    #[test]
    fn the_sample_mappings_map_references_and_lower_case_e_mails() {
        let entities = sample_entities();
        assert_eq!(entities[0].hub.as_str(), "organizations");
        let people = &entities[1];
        let app = people
            .mapping
            .to_app(&json!({"email": {"address": " Jane@X.com"}, "organization_id": "o-1"}))
            .unwrap();
        assert_eq!(
            app,
            json!({"properties": {"email": "jane@x.com", "company_id": "o-1"}})
        );
        assert_eq!(people.mapping.references()[0].entity, "organizations");
    }

    #[tokio::test]
    async fn records_are_hubspot_shaped_and_described() {
        let app = app();
        let id = app.seed("contacts", json!({"email": "a@x.com"}));
        let record = app.get("contacts", id.as_str()).unwrap();
        assert_eq!(record["properties"]["email"], "a@x.com");
        assert_eq!(record["archived"], false);
        let meta = app.describe(&contacts(), &record).unwrap();
        assert_eq!(meta.id, id);
        assert_eq!(meta.updated_at, ts("2024-01-01T00:00:00Z"));
        assert!(app.describe(&contacts(), &json!({"id": "1"})).is_err());
        let unknown = app
            .fetch_page(&AppEntityName::new("deals"), None, None)
            .await;
        assert!(matches!(unknown, Err(AppError::UnknownEntity { .. })));
    }

    #[tokio::test]
    async fn keyset_pages_include_archived_records_and_skip_none_changed_between_pages() {
        let app = app();
        app.set_page_size(2);
        let clock = app.clock().clone();
        let mut seeded = Vec::new();
        for n in 0..4 {
            seeded.push(app.seed("contacts", json!({"n": n})).to_string());
            clock.advance_secs(1);
        }
        app.archive_record("contacts", &seeded[3]);
        // Between pages 0 and 1, an already-read record changes: it moves behind the cursor.
        let first = seeded[0].clone();
        app.before_page("contacts", 1, move |app| {
            app.edit("contacts", &first, |r| r["properties"]["n"] = json!(9));
        });
        let mut cursor = None;
        let mut got = Vec::new();
        loop {
            let page = app
                .fetch_page(&contacts(), None, cursor.as_ref())
                .await
                .unwrap();
            got.extend(ids(&page.records));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let expected: Vec<String> = [0, 1, 2, 3, 0].iter().map(|i| seeded[*i].clone()).collect();
        assert_eq!(got, expected);
        let since = app
            .fetch_page(&contacts(), Some(ts("2024-01-01T00:00:02.500Z")), None)
            .await
            .unwrap();
        assert_eq!(ids(&since.records), [seeded[3].clone(), seeded[0].clone()]);
        assert_eq!(since.records[0]["archived"], true);
    }

    #[tokio::test]
    async fn batch_reads_leave_archived_and_deleted_records_out_by_default() {
        let app = app();
        let live = app.seed("contacts", json!({"n": 1}));
        let archived = app.seed("contacts", json!({"n": 2}));
        let deleted = app.seed("contacts", json!({"n": 3}));
        app.archive_record("contacts", archived.as_str());
        app.delete("contacts", deleted.as_str());
        assert!(app.get("contacts", deleted.as_str()).is_none());
        let asked = [live.clone(), archived.clone(), deleted.clone()];
        let got = app.fetch_by_ids(&contacts(), &asked).await.unwrap();
        assert_eq!(ids(&got), [live.to_string()]);
        app.set_archived_in_batch_read(ArchivedInBatchRead::PresentAsArchived);
        app.set_by_ids_order(Order::Reversed);
        let got = app.fetch_by_ids(&contacts(), &asked).await.unwrap();
        assert_eq!(ids(&got), [archived.to_string(), live.to_string()]);
        assert!(app.describe(&contacts(), &got[0]).unwrap().archived);
    }

    #[tokio::test]
    async fn creates_are_marked_and_found_by_marker_and_natural_key() {
        let app = app();
        let out = app
            .write(
                &contacts(),
                vec![create("h-1", json!({"email": "Jane@X.com"}))],
            )
            .await
            .unwrap();
        let created = out[0].as_ref().unwrap();
        assert_eq!(created.kind, AppWriteKind::Created);
        assert_eq!(created.record["properties"][DEFAULT_MARKER], "h-1");
        let created_id = AppId::new(created.record["id"].as_str().unwrap());
        let archived = app.seed("contacts", json!({"email": "jane@x.com", "archived": true}));
        let other = app.seed("contacts", json!({"email": " JANE@x.com "}));
        let queries = [
            MatchQuery {
                hub_id: HubId::new("h-1"),
                record: json!({"properties": {"email": "jane@x.com"}}),
            },
            MatchQuery {
                hub_id: HubId::new("h-2"),
                record: json!({"properties": {"firstname": "no e-mail"}}),
            },
        ];
        let found = app.find_matches(&contacts(), &queries).await.unwrap();
        assert_eq!(found[0].marked, Some(created_id.clone()));
        assert_eq!(found[0].natural, vec![created_id, other]);
        assert!(!found[0].natural.contains(&archived));
        assert_eq!(found[1], Default::default());
    }

    #[tokio::test]
    async fn updates_merge_properties_and_archived_or_gone_targets_are_not_found() {
        let app = app();
        let id = app.seed("contacts", json!({"email": "a@x", "firstname": "A"}));
        let archived = app.seed("contacts", json!({"email": "b@x"}));
        app.archive_record("contacts", archived.as_str());
        let out = app
            .write(
                &contacts(),
                vec![
                    update(&id, json!({"firstname": "B"})),
                    update(&archived, json!({"firstname": "B"})),
                    update(&AppId::new("404"), json!({"firstname": "B"})),
                ],
            )
            .await
            .unwrap();
        let record = &out[0].as_ref().unwrap().record;
        assert_eq!(
            record["properties"],
            json!({"email": "a@x", "firstname": "B"})
        );
        assert!(matches!(out[1], Err(AppWriteFailure::NotFound)));
        assert!(matches!(out[2], Err(AppWriteFailure::NotFound)));
        let counts = app.counts();
        assert_eq!((counts.calls, counts.updated, counts.rejected), (1, 1, 2));
    }

    #[tokio::test]
    async fn two_updates_of_one_id_fail_their_whole_batch_unless_allowed() {
        let app = app();
        app.set_batch_size(2);
        let a = app.seed("contacts", json!({"n": 0}));
        let b = app.seed("contacts", json!({"n": 0}));
        let writes = || {
            vec![
                update(&a, json!({"n": 1})),
                create("h-1", json!({"n": 1})),
                update(&a, json!({"n": 2})),
                update(&b, json!({"n": 3})),
            ]
        };
        let out = app.write(&contacts(), writes()).await.unwrap();
        for i in [0, 2] {
            match &out[i] {
                Err(AppWriteFailure::Rejected(e)) => {
                    assert_eq!(e.message, "Duplicate IDs found in batch input");
                }
                other => panic!("expected the duplicate batch refused, got {other:?}"),
            }
        }
        assert!(out[1].is_ok());
        assert!(out[3].is_ok(), "the next batch goes through");
        assert_eq!(
            app.get("contacts", a.as_str()).unwrap()["properties"]["n"],
            0
        );
        app.refuse_duplicate_ids(false);
        let out = app.write(&contacts(), writes()).await.unwrap();
        assert!(out.iter().all(Result::is_ok));
        assert_eq!(
            app.get("contacts", a.as_str()).unwrap()["properties"]["n"],
            2
        );
    }

    #[tokio::test]
    async fn results_in_another_order_rejections_and_planned_failures() {
        let app = app();
        let a = app.seed("contacts", json!({"n": 0}));
        app.set_result_order(Order::Reversed);
        let out = app
            .write(
                &contacts(),
                vec![update(&a, json!({"n": 1})), create("h-1", json!({"n": 1}))],
            )
            .await
            .unwrap();
        assert_eq!(out[0].as_ref().unwrap().kind, AppWriteKind::Created);
        app.clear_faults();

        app.reject(a.as_str());
        app.reject("h-2");
        let out = app
            .write(
                &contacts(),
                vec![
                    update(&a, json!({"n": 2})),
                    create("h-2", json!({})),
                    create("h-3", json!({})),
                ],
            )
            .await
            .unwrap();
        assert!(matches!(out[0], Err(AppWriteFailure::Rejected(_))));
        assert!(matches!(out[1], Err(AppWriteFailure::Rejected(_))));
        assert!(out[2].is_ok());

        app.fail_next(AppOp::FindMatches, 2, Failure::Status(502));
        for _ in 0..2 {
            assert!(app.find_matches(&contacts(), &[]).await.is_err());
        }
        assert!(app.find_matches(&contacts(), &[]).await.is_ok());
        assert_eq!(app.calls(AppOp::FindMatches), 3);
    }

    #[tokio::test]
    async fn commit_then_timeout_leaves_a_marked_record_to_find() {
        let app = app();
        app.commit_then_timeout(AppOp::Write, 1);
        let err = app
            .write(
                &contacts(),
                vec![create("h-7", json!({"firstname": "No mail"}))],
            )
            .await
            .unwrap_err();
        assert!(matches!(err, AppError::Http(_)));
        assert_eq!(app.all("contacts").len(), 1);
        let found = app
            .find_matches(
                &contacts(),
                &[MatchQuery {
                    hub_id: HubId::new("h-7"),
                    record: json!({"properties": {"firstname": "No mail"}}),
                }],
            )
            .await
            .unwrap();
        assert!(found[0].marked.is_some());
    }

    #[tokio::test]
    async fn archive_archives_unless_it_lies() {
        let app = app();
        let a = app.seed("contacts", json!({"n": 0}));
        let b = app.seed("contacts", json!({"n": 0}));
        let out = app
            .archive(&contacts(), &[a.clone(), AppId::new("404")])
            .await
            .unwrap();
        assert!(out[0].is_ok());
        assert!(matches!(out[1], Err(AppWriteFailure::NotFound)));
        assert_eq!(app.get("contacts", a.as_str()).unwrap()["archived"], true);
        app.archive_lies(true);
        let out = app
            .archive(&contacts(), std::slice::from_ref(&b))
            .await
            .unwrap();
        assert!(out[0].is_ok());
        assert_eq!(app.get("contacts", b.as_str()).unwrap()["archived"], false);
        app.archive_lies(false);
        app.commit_then_timeout(AppOp::Archive, 1);
        assert!(
            app.archive(&contacts(), std::slice::from_ref(&b))
                .await
                .is_err()
        );
        assert_eq!(app.get("contacts", b.as_str()).unwrap()["archived"], true);
        assert_eq!(app.counts().archived, 2);
    }
}

mod bundle {
    use connec::testing::Fakes;
    use sync_core::ports::SyncStore;

    #[tokio::test]
    async fn the_sample_fakes_share_one_clock_and_hold_the_organization() {
        let fakes = Fakes::sample();
        let org = fakes.store.get_organization(&fakes.org.id).await.unwrap();
        assert_eq!(org, Some(fakes.org.clone()));
        let hub_id = fakes.hub.seed(
            &fakes.org.group_id.to_string(),
            "people",
            serde_json::json!({}),
        );
        let app_id = fakes.app.seed("contacts", serde_json::json!({}));
        let hub_time =
            fakes.hub.get("cld-1", "people", hub_id.as_str()).unwrap()["updated_at"].clone();
        let app_time = fakes.app.get("contacts", app_id.as_str()).unwrap()["updatedAt"].clone();
        assert_eq!(hub_time, "2024-01-01T00:00:00.000Z");
        assert_eq!(app_time, "2024-01-01T00:00:00.001Z");
    }
}
