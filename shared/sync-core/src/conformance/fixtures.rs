//! Fixtures of the suite, public for a backend's own extra tests.

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
        provider: Provider::new("crm-app"),
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
        quota_exhausted: n == 8,
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
