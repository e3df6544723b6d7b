//! In-memory fakes of the ports, for engine tests without HTTP (feature `testing`).
//!
//! - [`ManualClock`]: the time, set by the test; the fakes stamp their writes with it.
//! - [`MemoryStore`]: the [`SyncStore`](crate::ports::SyncStore), in memory, with the embedded
//!   store's semantics (it passes [`crate::conformance`]) and faults on demand.
//! - [`FakeHub`]: the [`Hub`](crate::ports::Hub) over Connec!-shaped JSON.
//! - [`FakeApp`]: an [`AppConnector`](crate::ports::AppConnector) over HubSpot-shaped JSON.
//!
//! Every fake is a cheap [`Clone`] of one shared state (`Arc<Mutex<..>>`), with synchronous
//! helpers to seed, edit and inspect records, counters, and misbehaviours on demand. Nothing is
//! random unless a seed is given.

mod clock;
mod faults;
mod store;

pub use clock::{DEFAULT_START, ManualClock};
pub use faults::{Failure, Order, WriteCounts};
pub use store::{Lease, MemoryStore, StoreFailure, StoreOp};
