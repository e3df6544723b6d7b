//! A conformance suite for [`SyncStore`] implementations: every backend (the embedded file,
//! DynamoDB) runs the same tests, so they keep the same semantics.
//!
//! Each check is a public async function taking a fresh, empty store;
//! [`sync_store_conformance!`](crate::sync_store_conformance) turns them all into
//! `#[tokio::test]`s. Its real uses are `shared/embedded/src/tests.rs` and
//! `shared/aws/tests/aws/store.rs` (no store implementation lives in this crate, so this is not
//! compiled as a doc test):
//!
//! ```text
//! sync_core::sync_store_conformance!(
//!     EmbeddedStore::in_memory().unwrap(),
//!     sync_core::conformance::Scale::default()
//! );
//! ```
//!
//! The fixtures are public too, for a backend's own extra tests.

#![allow(clippy::missing_panics_doc, clippy::too_many_lines)]

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

/// How many records the volume checks use (a remote backend in an emulator is slower).
#[derive(Clone, Copy, Debug)]
pub struct Scale {
    /// Id-maps saved before a lookup of all of them plus 100 unknown ids (at least 100).
    pub known_ids: usize,
    /// Pending records put and removed in one call.
    pub pending_records: usize,
}

impl Default for Scale {
    /// Enough to cross the embedded store's 500-id chunks twice.
    fn default() -> Self {
        Self {
            known_ids: 1200,
            pending_records: 1100,
        }
    }
}

/// Generates one `#[tokio::test]` per conformance check, each on a fresh store from `$store`
/// (an expression, evaluated inside the async test, so it may `.await`).
#[macro_export]
macro_rules! sync_store_conformance {
    ($store:expr, $scale:expr) => {
        $crate::sync_store_conformance!(
            @each $store, $scale;
            a_failing_batch_writes_nothing,
            a_half_known_map_gets_its_other_side,
            a_map_without_ids_is_refused,
            idmaps_round_trip_every_field,
            lease_contention,
            lease_holder_is_reported_and_break_lease_frees_it,
            linking_a_half_known_map_to_a_linked_one_conflicts,
            linking_two_half_known_maps_merges_them,
            list_idmaps_is_ordered_filtered_and_paged,
            lookups_are_chunked_and_return_only_found_rows,
            organizations_round_trip,
            pending_put_replace_remove,
            purge_forgets_one_organizations_sync_state_and_nothing_else,
            runs_round_trip_newest_first_and_pruned_to_100,
            same_app_id_for_another_hub_id_conflicts_and_keeps_the_first,
            same_hub_id_for_another_app_id_conflicts,
            watermarks_and_checkpoints_round_trip
        );
    };
    (@each $store:expr, $scale:expr; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let store = $store;
                $crate::conformance::$check(&store, &$scale).await;
            }
        )+
    };
}

/// A timestamp from RFC 3339 text.
pub fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("valid timestamp")
}

/// The organization the fixtures belong to (`acme`).
pub fn org_id() -> OrgId {
    OrgId::new("acme")
}

/// The `people` entity.
pub fn people() -> EntityName {
    EntityName::new("people")
}

/// An organization with every field set.
pub fn organization(id: &str) -> Organization {
    let mut entity_flags = BTreeMap::new();
    entity_flags.insert(
        EntityName::new("people"),
        DirectionFlags {
            to_hub: true,
            to_app: false,
        },
    );
    Organization {
        id: OrgId::new(id),
        tenant: Tenant::new("maestrano"),
        group_id: GroupId::new("cld-123"),
        provider: Provider::new("hubspot"),
        realm: Realm::new("portal-9"),
        name: "Acme Ltd".to_owned(),
        sync_enabled: true,
        entity_flags,
        history_from: Some(ts("2024-01-01T00:00:00.000Z")),
        linked_at: ts("2024-02-03T04:05:06.789Z"),
    }
}

/// An id-map of `people` in [`org_id`] with these ids.
pub fn map(hub: Option<&str>, app: Option<&str>) -> IdMap {
    let mut map = IdMap::new(org_id(), people());
    map.hub_id = hub.map(HubId::new);
    map.app_id = app.map(AppId::new);
    map
}

/// A linked id-map with every field set.
pub fn full_map() -> IdMap {
    IdMap {
        org: org_id(),
        entity: people(),
        hub_id: Some(HubId::new("h-1")),
        app_id: Some(AppId::new("17")),
        hash: Some(ContentHash::from_hex("abc123")),
        last_push_to_hub: Some(ts("2024-03-01T10:00:00.001Z")),
        last_push_to_app: Some(ts("2024-03-01T10:00:00.002Z")),
        hub_updated_at: Some(ts("2024-03-01T09:00:00.000Z")),
        app_updated_at: Some(ts("2024-03-01T08:00:00.000Z")),
        to_hub: false,
        to_app: true,
        inactive: true,
        last_error: Some("HTTP 400: bad email".to_owned()),
        name: Some("Jane Doe".to_owned()),
        pending_writes: vec![
            (Side::App, ContentHash::from_hex("def456")),
            (Side::Hub, ContentHash::from_hex("fed789")),
        ],
    }
}

/// A finished run of `org` with counters, a conflict and an error; `n` orders runs.
pub fn run(org: &str, n: i64) -> Run {
    let started = Timestamp::from_datetime(
        chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + n * 1000).expect("in range"),
    );
    Run {
        id: RunId::new(format!("{org}-run-{n:04}")),
        org: OrgId::new(org),
        started_at: started,
        finished_at: Some(started.plus(Duration::from_secs(5))),
        status: RunStatus::Partial,
        first_sync: n == 0,
        counts: vec![(
            CountKey {
                entity: people(),
                direction: Direction::ToHub,
            },
            Counts {
                created: 3,
                updated: 2,
                failed: 1,
                ..Counts::default()
            },
        )],
        conflicts: vec![ConflictNote {
            entity: people(),
            hub_id: HubId::new("h-1"),
            app_id: AppId::new("17"),
            policy: ConflictPolicy::MostRecent,
            winner: Winner::App,
            hub_updated_at: started,
            app_updated_at: started.plus(Duration::from_secs(1)),
        }],
        errors: vec!["people: fetch failed".to_owned()],
        needs_continuation: n == 7,
        resume: Default::default(),
    }
}

/// A deferred `people` record waiting on the app side.
pub fn pending_record(id: &str, attempts: u32, since: &str) -> PendingRecord {
    PendingRecord {
        org: org_id(),
        entity: people(),
        source: Side::App,
        source_id: id.to_owned(),
        reason: PendingReason::Deferred,
        error: "reference organizations/9 not mapped yet".to_owned(),
        attempts,
        since: ts(since),
    }
}

/// Asserts a [`StoreError::Conflict`] whose message contains `needle`.
pub fn assert_conflict<T: fmt::Debug>(result: Result<T, StoreError>, needle: &str) {
    match result {
        Err(StoreError::Conflict(message)) => assert!(
            message.contains(needle),
            "conflict message `{message}` should contain `{needle}`"
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// Every id-map of [`org_id`].
pub async fn all_maps(store: &dyn SyncStore) -> Vec<IdMap> {
    store
        .list_idmaps(&org_id(), None, 0, usize::MAX)
        .await
        .expect("list")
}

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
pub async fn lease_contention(store: &dyn SyncStore, _scale: &Scale) {
    let org = org_id();
    let t0 = ts("2024-01-01T00:00:00Z");
    let ttl = Duration::from_secs(60);

    assert!(
        store
            .acquire_lease(&org, "worker-a", t0, ttl)
            .await
            .unwrap()
    );
    // Same owner may re-acquire.
    assert!(
        store
            .acquire_lease(&org, "worker-a", t0, ttl)
            .await
            .unwrap()
    );
    // Someone else is refused while unexpired.
    let t30 = t0.plus(Duration::from_secs(30));
    assert!(
        !store
            .acquire_lease(&org, "worker-b", t30, ttl)
            .await
            .unwrap()
    );
    // Release by a non-owner does nothing.
    store.release_lease(&org, "worker-b").await.unwrap();
    assert!(
        !store
            .acquire_lease(&org, "worker-b", t30, ttl)
            .await
            .unwrap()
    );
    // Renewal by the owner pushes the expiry; by someone else it fails.
    assert!(store.renew_lease(&org, "worker-a", t30, ttl).await.unwrap());
    assert!(!store.renew_lease(&org, "worker-b", t30, ttl).await.unwrap());
    let t70 = t0.plus(Duration::from_secs(70));
    assert!(
        !store
            .acquire_lease(&org, "worker-b", t70, ttl)
            .await
            .unwrap()
    );
    // After expiry (t30 + 60s = t90) another owner takes it.
    let t90 = t0.plus(Duration::from_secs(90));
    assert!(
        store
            .acquire_lease(&org, "worker-b", t90, ttl)
            .await
            .unwrap()
    );
    // The old owner lost it: renewing fails.
    assert!(!store.renew_lease(&org, "worker-a", t90, ttl).await.unwrap());
    // An expired lease that nobody took can still be renewed by its owner.
    let t200 = t0.plus(Duration::from_secs(200));
    assert!(
        store
            .renew_lease(&org, "worker-b", t200, ttl)
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire_lease(&org, "worker-a", t200, ttl)
            .await
            .unwrap()
    );
    // Release by the owner frees it at once.
    store.release_lease(&org, "worker-b").await.unwrap();
    assert!(
        store
            .acquire_lease(&org, "worker-a", t200, ttl)
            .await
            .unwrap()
    );
    // Leases are per organization.
    assert!(
        store
            .acquire_lease(&OrgId::new("beta"), "worker-b", t200, ttl)
            .await
            .unwrap()
    );
    // Renewing a lease that does not exist fails.
    assert!(
        !store
            .renew_lease(&OrgId::new("gamma"), "worker-a", t200, ttl)
            .await
            .unwrap()
    );
}

/// Conformance check (see the module docs).
pub async fn lease_holder_is_reported_and_break_lease_frees_it(
    store: &dyn SyncStore,
    _scale: &Scale,
) {
    let (acme, beta) = (org_id(), OrgId::new("beta"));
    let t0 = ts("2024-01-01T00:00:00.123Z");
    let ttl = Duration::from_secs(60);
    let holder = |owner: &str, expires_at: Timestamp| LeaseHolder {
        owner: owner.to_owned(),
        expires_at,
    };
    let dead = "pid:4242@build-box/run-6f1c2d3e-0000-4000-8000-000000000001";

    // No lease: nothing to report, nothing to break.
    assert_eq!(store.lease_holder(&acme).await.unwrap(), None);
    assert_eq!(store.break_lease(&acme).await.unwrap(), None);

    assert!(store.acquire_lease(&acme, dead, t0, ttl).await.unwrap());
    assert!(
        store
            .acquire_lease(&beta, "worker-b", t0, ttl)
            .await
            .unwrap()
    );
    assert_eq!(
        store.lease_holder(&acme).await.unwrap(),
        Some(holder(dead, t0.plus(ttl)))
    );
    // A renewal moves the reported expiry, to the millisecond.
    let t30 = t0.plus(Duration::from_secs(30));
    assert!(store.renew_lease(&acme, dead, t30, ttl).await.unwrap());
    assert_eq!(
        store.lease_holder(&acme).await.unwrap(),
        Some(holder(dead, t30.plus(ttl)))
    );

    // Someone else is refused, and breaking it hands back what was there.
    assert!(
        !store
            .acquire_lease(&acme, "worker-c", t30, ttl)
            .await
            .unwrap()
    );
    assert_eq!(
        store.break_lease(&acme).await.unwrap(),
        Some(holder(dead, t30.plus(ttl)))
    );
    assert_eq!(store.lease_holder(&acme).await.unwrap(), None);
    assert_eq!(store.break_lease(&acme).await.unwrap(), None);
    // Before the old expiry, another owner takes it at once; the old one lost it for good.
    assert!(
        store
            .acquire_lease(&acme, "worker-c", t30, ttl)
            .await
            .unwrap()
    );
    assert!(!store.renew_lease(&acme, dead, t30, ttl).await.unwrap());
    store.release_lease(&acme, dead).await.unwrap();
    assert_eq!(
        store.lease_holder(&acme).await.unwrap(),
        Some(holder("worker-c", t30.plus(ttl)))
    );
    // Leases are per organization: beta's is untouched.
    assert_eq!(
        store.lease_holder(&beta).await.unwrap(),
        Some(holder("worker-b", t0.plus(ttl)))
    );

    // An expired lease is still reported (the store does not know the time), and breakable.
    store.release_lease(&acme, "worker-c").await.unwrap();
    assert_eq!(store.lease_holder(&acme).await.unwrap(), None);
    assert!(
        store
            .acquire_lease(&acme, "worker-d", t0, Duration::from_millis(1))
            .await
            .unwrap()
    );
    let long_after = t0.plus(Duration::from_secs(3600));
    assert!(
        store
            .acquire_lease(&beta, "worker-e", long_after, ttl)
            .await
            .unwrap()
    );
    assert_eq!(
        store.lease_holder(&acme).await.unwrap(),
        Some(holder("worker-d", t0.plus(Duration::from_millis(1))))
    );
    assert_eq!(
        store.break_lease(&acme).await.unwrap(),
        Some(holder("worker-d", t0.plus(Duration::from_millis(1))))
    );
    assert_eq!(
        store.lease_holder(&beta).await.unwrap(),
        Some(holder("worker-e", long_after.plus(ttl)))
    );
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
pub async fn organizations_round_trip(store: &dyn SyncStore, _scale: &Scale) {
    assert_eq!(store.get_organization(&org_id()).await.unwrap(), None);

    let mut org = organization("acme");
    store.put_organization(&org).await.unwrap();
    store.put_organization(&organization("beta")).await.unwrap();
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

/// Conformance check (see the module docs).
pub async fn pending_put_replace_remove(store: &dyn SyncStore, scale: &Scale) {
    let (org, entity) = (org_id(), people());
    store
        .put_pending(&[
            pending_record("b", 1, "2024-01-02T00:00:00Z"),
            pending_record("a", 1, "2024-01-01T00:00:00Z"),
        ])
        .await
        .unwrap();
    let mut hub_side = pending_record("a", 2, "2024-01-01T00:00:00Z");
    hub_side.source = Side::Hub;
    hub_side.reason = PendingReason::Failed;
    store
        .put_pending(std::slice::from_ref(&hub_side))
        .await
        .unwrap();

    let listed = store.pending(&org, &entity, Side::App).await.unwrap();
    assert_eq!(
        listed,
        vec![
            pending_record("a", 1, "2024-01-01T00:00:00Z"),
            pending_record("b", 1, "2024-01-02T00:00:00Z"),
        ]
    );
    assert_eq!(
        store.pending(&org, &entity, Side::Hub).await.unwrap(),
        vec![hub_side.clone()]
    );

    // Replace.
    let mut retried = pending_record("a", 2, "2024-01-01T00:00:00Z");
    retried.reason = PendingReason::Failed;
    retried.error = "HTTP 422".to_owned();
    store
        .put_pending(std::slice::from_ref(&retried))
        .await
        .unwrap();
    let listed = store.pending(&org, &entity, Side::App).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], retried);

    // Remove (unknown ids are ignored; the other side is untouched).
    store
        .remove_pending(
            &org,
            &entity,
            Side::App,
            &["a".to_owned(), "zzz".to_owned()],
        )
        .await
        .unwrap();
    assert_eq!(
        store.pending(&org, &entity, Side::App).await.unwrap(),
        vec![pending_record("b", 1, "2024-01-02T00:00:00Z")]
    );
    assert_eq!(
        store.pending(&org, &entity, Side::Hub).await.unwrap(),
        vec![hub_side]
    );

    // Many ids at once (chunked).
    let many: Vec<PendingRecord> = (0..scale.pending_records)
        .map(|n| pending_record(&format!("m-{n}"), 0, "2024-02-01T00:00:00Z"))
        .collect();
    store.put_pending(&many).await.unwrap();
    let ids: Vec<String> = many.iter().map(|r| r.source_id.clone()).collect();
    store
        .remove_pending(&org, &entity, Side::App, &ids)
        .await
        .unwrap();
    assert_eq!(
        store.pending(&org, &entity, Side::App).await.unwrap().len(),
        1
    );
}

/// Conformance check (see the module docs).
pub async fn purge_forgets_one_organizations_sync_state_and_nothing_else(
    store: &dyn SyncStore,
    _scale: &Scale,
) {
    let (acme, other, entity) = (org_id(), OrgId::new("other"), people());
    store.put_organization(&organization("acme")).await.unwrap();
    let mut other_map = map(Some("h-1"), Some("1"));
    other_map.org = other.clone();
    store
        .save_idmaps(&[
            map(Some("h-1"), Some("1")),
            map(Some("h-2"), None),
            map(None, Some("3")),
            other_map.clone(),
        ])
        .await
        .unwrap();
    let mark = Watermark(ts("2024-05-05T05:05:05.555Z"));
    let checkpoint = (PageCursor::new("after=200"), ts("2024-05-05T00:00:00.000Z"));
    for org in [&acme, &other] {
        store
            .set_watermark(org, &entity, Side::Hub, mark)
            .await
            .unwrap();
        store
            .set_checkpoint(org, &entity, Side::App, Some(checkpoint.clone()))
            .await
            .unwrap();
    }
    let mut other_pending = pending_record("p-2", 1, "2024-01-01T00:00:00Z");
    other_pending.org = other.clone();
    store
        .put_pending(&[
            pending_record("p-1", 1, "2024-01-01T00:00:00Z"),
            other_pending,
        ])
        .await
        .unwrap();
    store.save_run(&run("acme", 1)).await.unwrap();

    assert_eq!(store.purge_sync_state(&acme).await.unwrap(), 3);

    assert!(
        store
            .list_idmaps(&acme, None, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .get_watermark(&acme, &entity, Side::Hub)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get_checkpoint(&acme, &entity, Side::App)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .pending(&acme, &entity, Side::App)
            .await
            .unwrap()
            .is_empty()
    );
    // The organization and its history stay.
    assert!(store.get_organization(&acme).await.unwrap().is_some());
    assert_eq!(store.recent_runs(&acme, 10).await.unwrap().len(), 1);
    // Another organization is untouched.
    assert_eq!(
        store.list_idmaps(&other, None, 0, 10).await.unwrap(),
        vec![other_map]
    );
    assert_eq!(
        store
            .get_watermark(&other, &entity, Side::Hub)
            .await
            .unwrap(),
        Some(mark)
    );
    assert_eq!(
        store
            .get_checkpoint(&other, &entity, Side::App)
            .await
            .unwrap(),
        Some(checkpoint)
    );
    assert_eq!(
        store
            .pending(&other, &entity, Side::App)
            .await
            .unwrap()
            .len(),
        1
    );
    // The freed ids can be mapped again, to other partners.
    store
        .save_idmaps(&[map(Some("h-9"), Some("1")), map(Some("h-1"), Some("3"))])
        .await
        .unwrap();
    assert_eq!(store.purge_sync_state(&acme).await.unwrap(), 2);
}

/// Conformance check (see the module docs).
pub async fn runs_round_trip_newest_first_and_pruned_to_100(store: &dyn SyncStore, _scale: &Scale) {
    let first = run("acme", 0);
    store.save_run(&first).await.unwrap();
    assert_eq!(store.get_run(&first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.get_run(&RunId::new("missing")).await.unwrap(), None);

    // Insert or replace.
    let mut finished = first.clone();
    finished.status = RunStatus::Success;
    store.save_run(&finished).await.unwrap();
    assert_eq!(store.get_run(&first.id).await.unwrap(), Some(finished));

    // Out of order on purpose.
    for n in (1..=120).rev() {
        store.save_run(&run("acme", n)).await.unwrap();
    }
    store.save_run(&run("beta", 1)).await.unwrap();

    let recent = store.recent_runs(&org_id(), 1000).await.unwrap();
    assert_eq!(recent.len(), 100);
    assert_eq!(recent[0], run("acme", 120));
    assert_eq!(recent[99], run("acme", 21));
    assert!(
        recent
            .windows(2)
            .all(|pair| pair[0].started_at > pair[1].started_at)
    );
    assert_eq!(store.get_run(&run("acme", 20).id).await.unwrap(), None);
    assert_eq!(store.get_run(&first.id).await.unwrap(), None);

    let three = store.recent_runs(&org_id(), 3).await.unwrap();
    let ids: Vec<&str> = three.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["acme-run-0120", "acme-run-0119", "acme-run-0118"]);

    // The other organization keeps its own history.
    assert_eq!(
        store.recent_runs(&OrgId::new("beta"), 10).await.unwrap(),
        vec![run("beta", 1)]
    );
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
pub async fn watermarks_and_checkpoints_round_trip(store: &dyn SyncStore, _scale: &Scale) {
    let (org, entity) = (org_id(), people());
    assert_eq!(
        store.get_watermark(&org, &entity, Side::Hub).await.unwrap(),
        None
    );
    let mark = Watermark(ts("2024-05-05T05:05:05.555Z"));
    store
        .set_watermark(&org, &entity, Side::Hub, mark)
        .await
        .unwrap();
    assert_eq!(
        store.get_watermark(&org, &entity, Side::Hub).await.unwrap(),
        Some(mark)
    );
    assert_eq!(
        store.get_watermark(&org, &entity, Side::App).await.unwrap(),
        None
    );
    let later = Watermark(ts("2024-06-06T06:06:06.666Z"));
    store
        .set_watermark(&org, &entity, Side::Hub, later)
        .await
        .unwrap();
    assert_eq!(
        store.get_watermark(&org, &entity, Side::Hub).await.unwrap(),
        Some(later)
    );

    assert_eq!(
        store
            .get_checkpoint(&org, &entity, Side::App)
            .await
            .unwrap(),
        None
    );
    let checkpoint = (PageCursor::new("after=200"), ts("2024-05-05T00:00:00.000Z"));
    store
        .set_checkpoint(&org, &entity, Side::App, Some(checkpoint.clone()))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_checkpoint(&org, &entity, Side::App)
            .await
            .unwrap(),
        Some(checkpoint)
    );
    let next = (PageCursor::new("after=400"), ts("2024-05-05T00:00:00.000Z"));
    store
        .set_checkpoint(&org, &entity, Side::App, Some(next.clone()))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_checkpoint(&org, &entity, Side::App)
            .await
            .unwrap(),
        Some(next)
    );
    assert_eq!(
        store
            .get_checkpoint(&org, &entity, Side::Hub)
            .await
            .unwrap(),
        None
    );
    store
        .set_checkpoint(&org, &entity, Side::App, None)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_checkpoint(&org, &entity, Side::App)
            .await
            .unwrap(),
        None
    );
}
