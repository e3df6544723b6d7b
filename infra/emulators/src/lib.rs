//! Stateful, in-memory, deterministic emulators of the Connec! API v2 and the
//! HubSpot CRM v3 API (contacts and companies).
//!
//! They exist so that the sync framework can be tested, benchmarked and
//! demonstrated without network access or vendor accounts: each emulator is a
//! real HTTP server on loopback (axum), so the production HTTP clients are
//! exercised unchanged except for their base URL.
//!
//! Both emulators offer:
//! - seeding and third-party edits in-process ([`ConnecEmulator::seed`],
//!   [`HubSpotEmulator::update`], ...),
//! - fault injection ([`Faults`], [`RecordFault`], [`CallFault`]) in-process
//!   and over HTTP under `/_emulator/...`,
//! - call statistics ([`CallStats`]),
//! - a change-observer seam ([`ChangeHook`]) for future webhooks.
//!
//! Timestamps are real UTC time with millisecond precision, strictly
//! increasing per emulator, so ordering by timestamp is total.

#![warn(missing_docs)]

mod common;
pub mod connec;
pub mod hubspot;

pub use common::{
    CallFault, CallStats, ChangeEvent, ChangeHook, ChangeKind, FaultKind, Faults, RateLimit,
    RecordFault, RunningServer,
};
pub use connec::{ConnecConfig, ConnecEmulator};
pub use hubspot::{HubSpotConfig, HubSpotEmulator};
