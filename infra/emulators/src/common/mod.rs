//! Pieces shared by both emulators: server lifecycle, clock, fault injection,
//! call statistics, rate limiting, change hooks and small HTTP helpers.
//!
//! Everything here is vendor-neutral; each emulator renders errors and faults
//! in its own vendor's envelope.

use std::sync::{Mutex, MutexGuard};

pub(crate) mod admin;
mod app;
mod changes;
mod clock;
mod faults;
mod guard;
mod http;
mod instruments;
mod rate;
mod routing;
mod server;
mod stats;
mod values;

pub(crate) use app::{Emulator, app, no_route, not_supported, reply, unmatched};
pub use changes::{ChangeEvent, ChangeHook, ChangeKind};
pub(crate) use clock::{Clock, iso, parse_date_like};
pub use faults::{CallFault, FaultKind, Faults, RecordFault};
pub(crate) use guard::{Gate, Gatekeeper, Reads};
pub(crate) use http::{
    ApiError, base_url, basic_credentials, empty_response, json_response, query_get, query_pairs,
    query_with, raw_response, set_header,
};
pub(crate) use instruments::Instruments;
pub use rate::RateLimit;
pub(crate) use rate::RateLimiter;
pub(crate) use routing::{PathParams, QueryPairs, RawPath, otherwise};
pub use server::RunningServer;
pub(crate) use server::{serve_until, start_router};
pub use stats::CallStats;
pub(crate) use values::{compare_scalars, lookup_path, scalar_string};

/// Largest request body either emulator accepts.
pub(crate) const MAX_BODY: usize = 32 * 1024 * 1024;

/// Locks a mutex, ignoring poisoning: a panicking test must not wedge the
/// emulator for every other test sharing it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
