//! Pieces shared by both emulators.
//!
//! - HTTP: how an emulator's routes become its app ([`app()`]: path as sent, canonical
//!   routing, body reading, after-commit faults, the fallback), the gate of the counted API
//!   routes ([`Gate`]: statistics, credentials, rate limit, call faults, rate-limit headers),
//!   routing helpers and extractors, the shared `/_emulator` admin routes, small response
//!   and query helpers;
//! - test instruments: fault rules, call statistics, the rate limiter, change hooks;
//! - the server lifecycle, the clock, and comparisons of JSON values.
//!
//! Everything here is vendor-neutral: each emulator says how its vendor answers (error
//! envelope, credentials, rate-limit answers) through the [`Emulator`] and [`Gatekeeper`]
//! traits.

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
mod sorted;
mod stats;
mod values;

pub(crate) use app::{Emulator, app, no_route, not_supported, reply, unmatched};
pub use changes::{ChangeEvent, ChangeHook, ChangeKind};
pub(crate) use clock::{Clock, iso, parse_date_like, parse_instant};
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
pub(crate) use sorted::SortedList;
pub use stats::CallStats;
pub(crate) use values::{compare_scalars, lookup_path, scalar_string};

/// Largest request body either emulator accepts.
pub(crate) const MAX_BODY: usize = 32 * 1024 * 1024;

/// Locks a mutex, ignoring poisoning: a panicking test must not wedge the
/// emulator for every other test sharing it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
