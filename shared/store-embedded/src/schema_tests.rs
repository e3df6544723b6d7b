//! Migrations of files written by older builds.

use rusqlite::{Connection, params};
use std::path::Path;
use sync_core::conformance::{full_map, organization, pending_record, people, run, ts};
use sync_core::domain::{GroupId, OrgId, PageCursor, Provider, Realm, Side, Watermark};
use sync_core::error::StoreError;
use sync_core::ports::SyncStore;

use super::MIGRATIONS;
use crate::EmbeddedStore;

fn user_version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

/// A file as a build of schema `version` wrote it: the schema of the first `version` migrations
/// (migrations are append-only), and rows in it. Version 3 is the last one without the id-maps'
/// write-ahead column, version 4 the last one before one organization per app per group.
fn old_file(path: &Path, version: usize, organizations: &[(&str, &str, &str)]) {
    let conn = Connection::open(path).unwrap();
    for migration in &MIGRATIONS[..version] {
        conn.execute_batch(migration).unwrap();
    }
    conn.pragma_update(None, "user_version", i64::try_from(version).unwrap())
        .unwrap();
    for (id, group, provider) in organizations {
        conn.execute(
            "INSERT INTO organizations (id, tenant, group_id, provider, realm, name, \
             sync_enabled, entity_flags, history_from, linked_at) \
             VALUES (?1, 'maestrano', ?2, ?3, ?4, 'Acme Ltd', 1, ?5, 1704067200000, 1706933106789)",
            params![
                id,
                group,
                provider,
                format!("realm-of-{id}"),
                r#"{"people":{"to_hub":true,"to_app":false}}"#
            ],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO idmaps (org, entity, hub_id, app_id, hash, last_push_to_hub, \
         last_push_to_app, hub_updated_at, app_updated_at, to_hub, to_app, inactive, last_error, \
         name, created_at, updated_at) VALUES ('acme', 'people', 'h-1', '17', 'abc123', \
         1709287200001, 1709287200002, 1709283600000, 1709280000000, 0, 1, 1, \
         'HTTP 400: bad email', 'Jane Doe', 1, 1)",
        [],
    )
    .unwrap();
    if version >= 4 {
        conn.execute(
            "UPDATE idmaps SET pending_hash = 'app:def456;hub:fed789'",
            [],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO watermarks (org, entity, side, mark) VALUES ('acme', 'people', 'app', ?1)",
        [ts("2024-01-01T00:00:00Z").epoch_millis()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO checkpoints (org, entity, side, cursor, fetch_start) \
         VALUES ('acme', 'people', 'hub', 'p2', ?1)",
        [ts("2024-01-01T00:00:00Z").epoch_millis()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO pending (org, entity, source, source_id, reason, error, attempts, since) \
         VALUES ('acme', 'people', 'app', 'x', 'deferred', 'reference organizations/9 not \
         mapped yet', 3, ?1)",
        [ts("2024-01-01T00:00:00Z").epoch_millis()],
    )
    .unwrap();
    let old_run = run("acme", 1);
    conn.execute(
        "INSERT INTO runs (id, org, started_at, status, body) VALUES (?1, 'acme', ?2, ?3, ?4)",
        params![
            old_run.id.as_str(),
            old_run.started_at.epoch_millis(),
            old_run.status.as_str(),
            serde_json::to_string(&old_run).unwrap()
        ],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO leases (org, owner, expires_at) VALUES ('acme', 'worker-a', ?1)",
        [ts("2024-01-01T00:01:00Z").epoch_millis()],
    )
    .unwrap();
}

/// The organization [`old_file`] wrote.
fn old_organization(id: &str, group: &str, provider: &str) -> sync_core::domain::Organization {
    let mut org = organization(id);
    org.group_id = GroupId::new(group);
    org.provider = Provider::new(provider);
    org.realm = Realm::new(format!("realm-of-{id}"));
    org
}

#[tokio::test]
async fn files_of_versions_1_to_4_migrate_to_version_5_with_everything_intact() {
    for version in 1..=4 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("v{version}.db"));
        // The group's first app kept the group id as organization id (as every organization
        // did before a group could link several apps); a second app of the same group.
        old_file(
            &path,
            version,
            &[
                ("acme", "acme", "crm-app"),
                ("acme:books-app", "acme", "books-app"),
                ("beta", "cld-456", "crm-app"),
            ],
        );
        assert_eq!(user_version(&path), i64::try_from(version).unwrap());
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(user_version(&path), 5, "from version {version}");
        assert_intact(&store, version).await;

        // The new indexes exist, and the rule holds for the migrated rows.
        let indexes: Vec<String> = Connection::open(&path)
            .unwrap()
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'index' \
                 AND tbl_name = 'organizations' AND sql IS NOT NULL ORDER BY name",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["organizations_account", "organizations_link"]);
        let twin = old_organization("acme:crm-app", "acme", "crm-app");
        match store.put_organization(&twin).await {
            Err(StoreError::Conflict(message)) => assert!(
                message.contains("group acme") && message.contains("crm-app"),
                "{message}"
            ),
            other => panic!("expected a conflict, got {other:?}"),
        }
        // Reopening does not migrate again.
        drop(store);
        let store = EmbeddedStore::open(&path).unwrap();
        assert_eq!(user_version(&path), 5);
        assert_intact(&store, version).await;
    }
}

/// What [`old_file`] wrote, read back through the store.
async fn assert_intact(store: &EmbeddedStore, version: usize) {
    assert_eq!(
        store.list_organizations().await.unwrap(),
        vec![
            old_organization("acme", "acme", "crm-app"),
            old_organization("acme:books-app", "acme", "books-app"),
            old_organization("beta", "cld-456", "crm-app"),
        ]
    );
    let org = OrgId::new("acme");
    let mut map = full_map();
    if version < 4 {
        map.pending_writes.clear();
    }
    assert_eq!(
        store.list_idmaps(&org, None, 0, 10).await.unwrap(),
        vec![map]
    );
    let t0 = ts("2024-01-01T00:00:00Z");
    assert_eq!(
        store
            .get_watermark(&org, &people(), Side::App)
            .await
            .unwrap(),
        Some(Watermark(t0))
    );
    assert_eq!(
        store
            .get_checkpoint(&org, &people(), Side::Hub)
            .await
            .unwrap(),
        Some((PageCursor::new("p2"), t0))
    );
    assert_eq!(
        store.pending(&org, &people(), Side::App).await.unwrap(),
        vec![pending_record("x", 3, "2024-01-01T00:00:00Z")]
    );
    assert_eq!(
        store.recent_runs(&org, 5).await.unwrap(),
        vec![run("acme", 1)]
    );
    assert_eq!(
        store
            .lease_holder(&org)
            .await
            .unwrap()
            .map(|lease| lease.owner),
        Some("worker-a".to_owned())
    );
}

#[test]
fn a_file_with_two_organizations_for_one_app_of_a_group_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twins.db");
    old_file(
        &path,
        4,
        &[
            ("acme", "acme", "crm-app"),
            ("acme-2", "acme", "crm-app"),
            ("beta", "cld-456", "crm-app"),
        ],
    );
    match EmbeddedStore::open(&path) {
        Err(StoreError::Backend(message)) => {
            for needle in ["group acme", "crm-app", "acme, acme-2"] {
                assert!(
                    message.contains(needle),
                    "`{message}` should contain `{needle}`"
                );
            }
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    // Nothing changed: a fixed file migrates.
    assert_eq!(user_version(&path), 4);
    Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM organizations WHERE id = 'acme-2'", [])
        .unwrap();
    drop(EmbeddedStore::open(&path).unwrap());
    assert_eq!(user_version(&path), 5);
}
