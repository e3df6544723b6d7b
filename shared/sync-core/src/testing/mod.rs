//! In-memory fakes of the ports, for engine tests without HTTP (feature `testing`).
//!
//! - [`ManualClock`]: the time, set by the test; the fakes stamp their writes with it.
//! - [`MemoryStore`]: the [`SyncStore`](crate::ports::SyncStore), in memory, with the embedded
//!   store's semantics (it passes [`crate::conformance`]) and faults on demand.
//! - [`FakeHub`]: the [`Hub`](crate::ports::Hub) over Connec!-shaped JSON.
//! - [`FakeApp`]: an [`AppConnector`](crate::ports::AppConnector) over HubSpot-shaped JSON.
//!
//! Every fake is a cheap [`Clone`] of one shared state (`Arc<Mutex<..>>`), with synchronous
//! helpers to seed, edit and inspect records, counters ([`WriteCounts`], per-operation calls),
//! and misbehaviours on demand ([`Failure`]s queued per operation, odd [`Order`]s, rejected
//! ids, commit-then-timeout, hooks between pages). Nothing is random unless a seed is given.
//! [`Fakes::sample`] wires them together with [`sample_entities`].
//!
//! Defaults follow the real APIs where they are strict, so that a test does not pass only
//! because the fake is lenient: [`FakeApp`] leaves archived records out of batch reads and
//! refuses a batch that updates one id twice; [`FakeHub`] smart-merges only into ACTIVE
//! records, on exactly equal values ([`MatchRule::Exact`], as the Connec! emulator).

mod app;
mod clock;
mod faults;
mod hub;
mod json;
mod sample;
mod store;

pub use app::{AppOp, ArchivedInBatchRead, DEFAULT_MARKER, FakeApp};
pub use clock::{DEFAULT_START, ManualClock};
pub use faults::{Failure, Order, WriteCounts};
pub use hub::{FakeHub, HubOp, MatchRule};
pub use sample::{
    ORGANIZATIONS_YAML, PEOPLE_YAML, SAMPLE_GROUP, SAMPLE_PROVIDER, SAMPLE_REALM, sample_entities,
    sample_external_id, sample_organization,
};
pub use store::{Lease, MemoryStore, StoreFailure, StoreOp};

use crate::domain::Organization;
use crate::ports::Clock;

/// The fakes wired together for an engine test: one clock, a store holding the sample
/// organization, a hub that knows the sample references, and the sample app.
///
/// ```
/// use serde_json::json;
/// use sync_core::testing::{Fakes, SAMPLE_GROUP};
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
    /// The app ([`FakeApp::sample`]).
    pub app: FakeApp,
    /// The organization linking [`SAMPLE_GROUP`] to the app ([`sample_organization`]).
    pub org: Organization,
}

impl Fakes {
    /// Fresh fakes at [`DEFAULT_START`], the organization `org-1` linked at that instant.
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
}
