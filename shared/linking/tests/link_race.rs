//! Four callbacks for one app account, racing for four groups (security review finding 3):
//! exactly one links, the others are refused as "already linked", on the embedded store and on
//! the in-memory twin.

use std::sync::Arc;

use linking::memory::MemoryCredentialStore;
use linking::{LinkError, SecretString, complete_link};
use store_embedded::EmbeddedStore;
use sync_core::domain::{GroupId, Provider, Tenant, Timestamp};
use sync_core::ports::SyncStore;

fn authorized(group: &str) -> linking::Authorized {
    linking::Authorized {
        provider: Provider::new("hubspot"),
        tenant: Tenant::new("acme"),
        group_id: GroupId::new(group),
        tokens: linking::TokenSet {
            access_token: SecretString::new(format!("access-{group}")),
            refresh_token: None,
            expires_at: None,
            scopes: Vec::new(),
        },
    }
}

async fn race(store: Arc<dyn SyncStore>) {
    let credentials = Arc::new(MemoryCredentialStore::new());
    let now = Timestamp::parse("2024-03-01T12:00:00Z").unwrap();
    let callbacks: Vec<_> = (0..4)
        .map(|i| {
            let (store, credentials) = (store.clone(), credentials.clone());
            tokio::spawn(async move {
                complete_link(
                    store.as_ref(),
                    credentials.as_ref(),
                    authorized(&format!("cld-race-{i}")),
                    "62515".into(),
                    "Acme",
                    now,
                )
                .await
            })
        })
        .collect();
    let mut linked = 0;
    for callback in callbacks {
        match callback.await.unwrap() {
            Ok(_) => linked += 1,
            Err(LinkError::AccountAlreadyLinked { account, .. }) => assert_eq!(account, "62515"),
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
    }
    assert_eq!(linked, 1);
    let holders: Vec<String> = store
        .list_organizations()
        .await
        .unwrap()
        .into_iter()
        .filter(|o| o.realm.as_str() == "62515" && o.sync_enabled)
        .map(|o| o.group_id.to_string())
        .collect();
    assert_eq!(holders.len(), 1, "{holders:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_racing_callbacks_leave_one_link_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path().join("race.db")).unwrap();
    race(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_racing_callbacks_leave_one_link_on_the_in_memory_store() {
    race(Arc::new(sync_core::testing::MemoryStore::new())).await;
}
