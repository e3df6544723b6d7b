//! A conformance suite for [`SyncStore`] implementations: every backend (the embedded file,
//! DynamoDB) runs the same tests, so they keep the same semantics.
//!
//! Each check is a public async function taking a fresh, empty store;
//! [`sync_store_conformance!`](crate::sync_store_conformance) turns them all into
//! `#[tokio::test]`s. Its real uses are `shared/store-embedded/src/tests.rs` and
//! `shared/store-aws/tests/aws/store.rs` (no store implementation lives in this crate, so this is not
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

mod fixtures;
mod idmaps;
mod orgs;
mod state;

pub use fixtures::*;
pub use idmaps::*;
pub use orgs::*;
pub use state::*;

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
            failed_idmaps_and_search_find_the_right_rows,
            a_map_without_ids_is_refused,
            idmaps_round_trip_every_field,
            lease_contention,
            lease_holder_is_reported_and_break_lease_frees_it,
            linking_a_half_known_map_to_a_linked_one_conflicts,
            linking_two_half_known_maps_merges_them,
            list_idmaps_is_ordered_filtered_and_paged,
            lookups_are_chunked_and_return_only_found_rows,
            one_enabled_organization_per_app_account,
            one_organization_per_tenant_group_and_provider,
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
