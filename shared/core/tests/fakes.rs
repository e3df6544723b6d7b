//! Tests of the in-memory fakes of `sync_core::testing` (run with `--features testing`).

#![cfg(feature = "testing")]

mod store {
    use sync_core::conformance::Scale;
    use sync_core::testing::MemoryStore;

    sync_core::sync_store_conformance!(MemoryStore::new(), Scale::default());
}
