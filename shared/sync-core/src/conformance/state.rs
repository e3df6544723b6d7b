//! Checks of the rest of the state: leases, pending records, purge, runs, watermarks and
//! checkpoints.

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
