//! The core of the connector framework: domain model, ports (traits), the sync engine and the
//! Connec! client.
//!
//! - [`domain`]: typed ids, UTC timestamps, organizations, id-maps, runs.
//! - [`ports`]: what the engine needs ([`ports::SyncStore`], [`ports::Hub`],
//!   [`ports::AppConnector`], [`ports::Clock`]); adapters live in other crates.
//! - [`engine`]: the two-way sync (DESIGN section 4).
//! - [`connec`]: the Connec! API client, the hub adapter.
//! - [`http`]: the shared HTTP client with retries, backoff and `Retry-After`.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod connec;
pub mod domain;
pub mod engine;
pub mod entity;
pub mod error;
pub mod http;
pub mod lease;
pub mod ports;
#[cfg(feature = "testing")]
pub mod testing;
