//! The fake Connec! hub, for engine tests without HTTP (feature `testing`).
//!
//! - [`FakeHub`]: the [`Hub`](sync_core::ports::Hub) over Connec!-shaped JSON (this crate's
//!   [`record`](crate::record) conventions), smart-merging only into ACTIVE records, on exactly
//!   equal values ([`MatchRule::Exact`], as the Connec! emulator).
//! - [`Fakes`]: the fake hub wired with the other fakes of `sync_core::testing`.

mod hub;

pub use hub::{FakeHub, HubOp, MatchRule};

use sync_core::domain::Organization;
use sync_core::ports::Clock;
use sync_core::testing::{
    FakeApp, ManualClock, MemoryStore, sample_accounting_entities, sample_entities,
    sample_organization,
};

/// The fakes wired together for an engine test: one clock, a store holding the sample
/// organization, a hub that knows the sample references, and the sample app.
///
/// ```
/// use serde_json::json;
/// use connec::testing::Fakes;
/// use sync_core::testing::SAMPLE_GROUP;
/// let fakes = Fakes::sample();
/// let hub_id = fakes.hub.seed(SAMPLE_GROUP, "organizations", json!({ "name": "Acme" }));
/// let app_id = fakes.app.seed("companies", json!({ "name": "Acme" }));
/// assert!(fakes.hub.get(SAMPLE_GROUP, "organizations", hub_id.as_str()).is_some());
/// assert!(fakes.app.get("companies", app_id.as_str()).is_some());
/// ```
#[derive(Clone, Debug)]
pub struct Fakes {
    /// The clock of everything.
    pub clock: ManualClock,
    /// The store, holding [`org`](Self::org).
    pub store: MemoryStore,
    /// The hub.
    pub hub: FakeHub,
    /// The app ([`FakeApp::sample`](sync_core::testing::FakeApp::sample)).
    pub app: FakeApp,
    /// The organization linking [`SAMPLE_GROUP`](sync_core::testing::SAMPLE_GROUP) to the app ([`sample_organization`](sync_core::testing::sample_organization)).
    pub org: Organization,
}

impl Fakes {
    /// Fresh fakes at [`DEFAULT_START`](sync_core::testing::DEFAULT_START), the organization `org-1` linked at that instant.
    pub fn sample() -> Self {
        let clock = ManualClock::default();
        let org = sample_organization("org-1", clock.now());
        let store = MemoryStore::new();
        store.insert_organization(&org);
        Self {
            hub: FakeHub::new(clock.clone()).with_references(&sample_entities()),
            app: FakeApp::sample(clock.clone()),
            clock,
            store,
            org,
        }
    }

    /// Like [`sample`](Self::sample), over the accounting pairs
    /// ([`sample_accounting_entities`]: organizations, items, invoices with lines) and
    /// [`FakeApp::sample_accounting`].
    pub fn sample_accounting() -> Self {
        let clock = ManualClock::default();
        let org = sample_organization("org-1", clock.now());
        let store = MemoryStore::new();
        store.insert_organization(&org);
        Self {
            hub: FakeHub::new(clock.clone()).with_references(&sample_accounting_entities()),
            app: FakeApp::sample_accounting(clock.clone()),
            clock,
            store,
            org,
        }
    }
}
