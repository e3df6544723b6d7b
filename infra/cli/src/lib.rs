//! The `connector` command's library: configuration, wiring of the engine with the embedded
//! backend, the demo scenarios (HubSpot, Xero), the check that both sides agree, the benchmark, the sync lease (a rerun after a killed run,
//! `connector unlock`) and report formatting. `main.rs` only parses
//! arguments and calls into these modules.

pub mod bench;
pub mod compare;
pub mod config;
pub mod demo;
pub mod lease;
pub mod report;
pub mod serve;
pub mod wiring;
