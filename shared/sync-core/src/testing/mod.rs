//! In-memory fakes of the ports, for engine tests without HTTP (feature `testing`).
//!
//! - [`ManualClock`]: the time, set by the test; the fakes stamp their writes with it.
//! - [`MemoryStore`]: the [`SyncStore`](crate::ports::SyncStore), in memory, with the embedded
//!   store's semantics (it passes [`crate::conformance`]) and faults on demand.
//! - The fake hub (`connec::testing::FakeHub`) lives with the Connec! crate, whose record
//!   shape it follows; it is built from the pieces here ([`Plan`], [`json`]).
//! - [`FakeApp`]: an [`AppConnector`](crate::ports::AppConnector) over HubSpot-shaped JSON.
//! - [`GroupedApp`]: the same seen through one complex entity (`accounts`: a company with its
//!   contacts), the twin of a connector like Xero's contacts.
//!
//! Every fake is a cheap [`Clone`] of one shared state (`Arc<Mutex<..>>`), with synchronous
//! helpers to seed, edit and inspect records, counters ([`WriteCounts`], per-operation calls),
//! and misbehaviours on demand ([`Failure`]s queued per operation, odd [`Order`]s, rejected
//! ids, commit-then-timeout, hooks between pages). Nothing is random unless a seed is given.
//! `connec::testing::Fakes::sample` wires them together with [`sample_entities`].
//!
//! Defaults follow the real APIs where they are strict, so that a test does not pass only
//! because the fake is lenient: [`FakeApp`] leaves archived records out of batch reads and
//! refuses a batch that updates one id twice; the fake hub smart-merges only into ACTIVE
//! records, on exactly equal values ([`MatchRule::Exact`], as the Connec! emulator).

mod app;
mod clock;
mod faults;
mod grouped;
pub mod json;
mod sample;
mod store;

pub use app::{AppOp, ArchivedInBatchRead, DEFAULT_MARKER, FakeApp};
pub use clock::{DEFAULT_START, ManualClock};
pub use faults::{Failure, Order, Plan, WriteCounts};
pub use grouped::{ACCOUNTS, GroupedApp};
pub use sample::{
    INVOICES_YAML, ITEMS_YAML, ORGANIZATIONS_YAML, PEOPLE_YAML, SAMPLE_GROUP, SAMPLE_PROVIDER,
    SAMPLE_REALM, sample_accounting_entities, sample_entities, sample_external_id,
    sample_organization,
};
pub use store::{Lease, MemoryStore, StoreFailure, StoreOp};

/// The hash map the fakes index their records with (by id, external id, marker): foldhash's,
/// as std's SipHash made most of the cost of their inserts and lookups.
pub type IndexMap<K, V> = foldhash::HashMap<K, V>;
