//! The embedded store's tests: the conformance suite, plus what only a file can show (reopening,
//! the schema version, corrupt rows, two connections on one file).

use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use sync_core::conformance::{
    Scale, all_maps, assert_conflict, full_map, map, org_id, organization, pending_record, people,
    run, ts,
};
use sync_core::domain::{AppId, HubId, PageCursor, Side, Watermark};
use sync_core::error::StoreError;
use sync_core::ports::SyncStore;

use crate::EmbeddedStore;
use crate::error::sql_error;
use crate::schema::MIGRATIONS;

sync_core::sync_store_conformance!(EmbeddedStore::in_memory().unwrap(), Scale::default());

#[tokio::test]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state").with_extension("db");
    let t0 = ts("2024-01-01T00:00:00Z");
    {
        let store = EmbeddedStore::open(&path).unwrap();
        store.put_organization(&organization("acme")).await.unwrap();
        store.save_idmaps(&[full_map()]).await.unwrap();
        store
            .set_watermark(&org_id(), &people(), Side::App, Watermark(t0))
            .await
            .unwrap();
        store
            .set_checkpoint(
                &org_id(),
                &people(),
                Side::Hub,
                Some((PageCursor::new("p2"), t0)),
            )
            .await
            .unwrap();
        store
            .put_pending(&[pending_record("x", 3, "2024-01-01T00:00:00Z")])
            .await
            .unwrap();
        store.save_run(&run("acme", 1)).await.unwrap();
        assert!(
            store
                .acquire_lease(&org_id(), "w", t0, Duration::from_secs(60))
                .await
                .unwrap()
        );
    }
    let store = EmbeddedStore::open(&path).unwrap();
    assert_eq!(
        store.get_organization(&org_id()).await.unwrap(),
        Some(organization("acme"))
    );
    assert_eq!(all_maps(&store).await, vec![full_map()]);
    assert_eq!(
        store
            .get_watermark(&org_id(), &people(), Side::App)
            .await
            .unwrap(),
        Some(Watermark(t0))
    );
    assert_eq!(
        store
            .get_checkpoint(&org_id(), &people(), Side::Hub)
            .await
            .unwrap(),
        Some((PageCursor::new("p2"), t0))
    );
    assert_eq!(
        store
            .pending(&org_id(), &people(), Side::App)
            .await
            .unwrap(),
        vec![pending_record("x", 3, "2024-01-01T00:00:00Z")]
    );
    assert_eq!(
        store.recent_runs(&org_id(), 5).await.unwrap(),
        vec![run("acme", 1)]
    );
    assert!(
        !store
            .acquire_lease(&org_id(), "other", t0, Duration::from_secs(60))
            .await
            .unwrap()
    );
    // Uniqueness still holds after reopening.
    assert_conflict(
        store.save_idmaps(&[map(Some("h-9"), Some("17"))]).await,
        "app id 17",
    );
}

#[test]
fn reopening_keeps_the_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.db");
    drop(EmbeddedStore::open(&path).unwrap());
    drop(EmbeddedStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(mode.to_ascii_lowercase(), "wal");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    match EmbeddedStore::open(&path) {
        Err(StoreError::Backend(message)) => assert!(message.contains("newer"), "{message}"),
        other => panic!("expected a backend error, got {other:?}"),
    }
}

#[tokio::test]
async fn undecodable_rows_are_reported_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    let store = EmbeddedStore::open(&path).unwrap();
    store.save_run(&run("acme", 1)).await.unwrap();
    store.save_idmaps(&[map(Some("h-1"), None)]).await.unwrap();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE runs SET body = 'not json'", [])
            .unwrap();
        conn.execute("UPDATE idmaps SET hub_updated_at = 'yesterday'", [])
            .unwrap();
    }
    assert!(matches!(
        store.get_run(&run("acme", 1).id).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.recent_runs(&org_id(), 5).await,
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store
            .idmaps_by_hub_ids(&org_id(), &people(), &[HubId::new("h-1")])
            .await,
        Err(StoreError::Corrupt(_))
    ));
}

#[tokio::test]
async fn operations_are_counted() {
    let store = EmbeddedStore::in_memory().unwrap();
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

#[tokio::test]
async fn is_usable_as_a_shared_store() {
    let store: sync_core::ports::SharedStore = Arc::new(EmbeddedStore::in_memory().unwrap());
    store.put_organization(&organization("acme")).await.unwrap();
    assert_eq!(store.list_organizations().await.unwrap().len(), 1);
}

#[test]
fn raw_unique_violations_become_conflicts() {
    let store = EmbeddedStore::in_memory().unwrap();
    let conn = store.inner.conn.lock().unwrap();
    let insert = "INSERT INTO idmaps (org, entity, hub_id, app_id, to_hub, to_app, inactive, \
                  created_at, updated_at) VALUES ('acme', 'people', ?1, '17', 1, 1, 0, 0, 0)";
    conn.execute(insert, ["h-1"]).unwrap();
    let error = conn.execute(insert, ["h-2"]).unwrap_err();
    match sql_error("save_idmaps", error) {
        StoreError::Conflict(message) => assert!(message.contains("idmaps.app_id"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Many half-known maps (NULL app id) are allowed by the unique index.
    let half = "INSERT INTO idmaps (org, entity, hub_id, to_hub, to_app, inactive, created_at, \
                updated_at) VALUES ('acme', 'people', ?1, 1, 1, 0, 0, 0)";
    conn.execute(half, ["h-3"]).unwrap();
    conn.execute(half, ["h-4"]).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_saves_of_one_app_id_let_exactly_one_win() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("race.db")).unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let mut tasks = Vec::new();
    for n in 0..16 {
        let store = store.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .save_idmaps(&[map(Some(&format!("h-{n}")), Some("17"))])
                .await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(wins, 1);
    let all = all_maps(&store).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].app_id, Some(AppId::new("17")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_connections_on_one_file_respect_uniqueness() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let first = EmbeddedStore::open(&path).unwrap();
    let second = EmbeddedStore::open(&path).unwrap();
    let a = {
        let first = first.clone();
        tokio::spawn(async move { first.save_idmaps(&[map(Some("h-a"), Some("17"))]).await })
    };
    let b = tokio::spawn(async move { second.save_idmaps(&[map(Some("h-b"), Some("17"))]).await });
    let results = [a.await.unwrap(), b.await.unwrap()];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(StoreError::Conflict(_))))
    );
    assert_eq!(all_maps(&first).await.len(), 1);
}

/// A file store commits without an fsync per transaction (WAL with `synchronous=NORMAL`) and
/// a commit is still there for the next connection, as after the process crashed.
#[tokio::test]
async fn a_file_store_is_wal_with_normal_sync_and_its_commits_are_seen_by_a_new_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sync.db");
    let store = EmbeddedStore::open(&path).unwrap();
    let (mode, sync): (String, i64) = {
        let conn = store.inner.conn.lock().unwrap();
        (
            conn.pragma_query_value(None, "journal_mode", |r| r.get(0))
                .unwrap(),
            conn.pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap(),
        )
    };
    assert_eq!(mode, "wal");
    assert_eq!(sync, 1, "NORMAL");
    store.put_organization(&organization("acme")).await.unwrap();
    store.save_idmaps(&[full_map()]).await.unwrap();
    // Another connection (as a new process would open the file) sees the commit.
    let other = Connection::open(&path).unwrap();
    let maps: i64 = other
        .query_row("SELECT COUNT(*) FROM idmaps", [], |r| r.get(0))
        .unwrap();
    assert_eq!(maps, 1);
    std::mem::forget(store);
}

/// The maps of one batch see what the earlier maps of the same batch did.
#[tokio::test]
async fn a_later_map_of_a_batch_updates_the_row_an_earlier_one_inserted() {
    let store = EmbeddedStore::in_memory().unwrap();
    let mut named = map(Some("h-1"), Some("17"));
    named.name = Some("Jane".to_owned());
    store
        .save_idmaps(&[map(Some("h-1"), None), named.clone()])
        .await
        .unwrap();
    assert_eq!(all_maps(&store).await, vec![named]);
    // By app id too: the later map fills in the hub id of the row the earlier one inserted.
    store
        .save_idmaps(&[map(None, Some("18")), map(Some("h-2"), Some("18"))])
        .await
        .unwrap();
    let all = all_maps(&store).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[1], map(Some("h-2"), Some("18")));
    // And an id a later map of the batch gives another record is refused, as across batches.
    assert_conflict(
        store
            .save_idmaps(&[map(Some("h-3"), Some("19")), map(Some("h-4"), Some("19"))])
            .await,
        "app id 19",
    );
    assert_eq!(all_maps(&store).await.len(), 2);
}

#[tokio::test]
async fn a_batch_merges_two_half_known_rows_and_later_maps_see_the_merged_row() {
    let store = EmbeddedStore::in_memory().unwrap();
    store
        .save_idmaps(&[map(Some("h-1"), None), map(None, Some("17"))])
        .await
        .unwrap();
    let mut renamed = map(Some("h-1"), Some("17"));
    renamed.name = Some("Jane".to_owned());
    store
        .save_idmaps(&[
            map(Some("h-1"), Some("17")),
            // Its app id now names the merged row, not the deleted app-side row.
            renamed.clone(),
        ])
        .await
        .unwrap();
    assert_eq!(all_maps(&store).await, vec![renamed.clone()]);
    // Both half-known rows inserted and merged within one batch.
    store
        .save_idmaps(&[
            map(Some("h-2"), None),
            map(None, Some("18")),
            map(Some("h-2"), Some("18")),
            map(Some("h-2"), Some("18")),
        ])
        .await
        .unwrap();
    assert_eq!(
        all_maps(&store).await,
        vec![renamed, map(Some("h-2"), Some("18"))]
    );
    // The app-side row is gone: its id can be given to nothing else.
    assert_conflict(
        store.save_idmaps(&[map(Some("h-9"), Some("18"))]).await,
        "app id 18",
    );
}

#[tokio::test]
async fn a_batch_with_one_conflicting_map_saves_nothing() {
    let store = EmbeddedStore::in_memory().unwrap();
    store
        .save_idmaps(&[map(Some("h-1"), Some("17")), map(Some("h-5"), None)])
        .await
        .unwrap();
    let before = all_maps(&store).await;
    // Inserts, a fill-in and a merge before the conflict: all rolled back.
    assert_conflict(
        store
            .save_idmaps(&[
                map(Some("h-2"), None),
                map(Some("h-5"), Some("20")),
                map(None, Some("21")),
                map(Some("h-2"), Some("21")),
                map(Some("h-3"), Some("17")),
                map(Some("h-4"), None),
            ])
            .await,
        "app id 17",
    );
    assert_eq!(all_maps(&store).await, before);
    // A map that would clear a known id conflicts too, after a row it inserted itself.
    assert_conflict(
        store
            .save_idmaps(&[map(Some("h-6"), Some("22")), map(Some("h-6"), Some("23"))])
            .await,
        "hub id h-6",
    );
    assert_eq!(all_maps(&store).await, before);
}

/// The WAL is checkpointed every 10000 pages rather than SQLite's 1000.
#[test]
fn a_file_store_checkpoints_its_wal_every_10000_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("sync.db")).unwrap();
    let conn = store.inner.conn.lock().unwrap();
    let pages: i64 = conn
        .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
        .unwrap();
    assert_eq!(pages, 10000);
}
