//! The core of the connector framework: domain model, ports (traits) and the sync engine. It
//! speaks no HTTP: the hub adapter (`connec`), the HTTP client (`http-client`) and the apps'
//! connectors live in their own crates and plug in through the ports.
//!
//! - [`domain`]: typed ids, UTC timestamps, organizations, id-maps, runs.
//! - [`ports`]: what the engine needs ([`ports::SyncStore`], [`ports::Hub`],
//!   [`ports::AppConnector`], [`ports::Clock`]); adapters live in other crates.
//! - [`engine`]: the two-way sync (the README's "Sync semantics").

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod domain;
pub mod engine;
pub mod entity;
pub mod error;
pub mod lease;
pub mod ports;
#[cfg(feature = "testing")]
pub mod testing;
