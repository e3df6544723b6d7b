//! `connector bench`: the end-to-end benchmarks, each a subcommand.
//!
//! - `sync`: syncs through the emulators (run in a child process, so that the peak memory
//!   measured is the engine's and the store's alone, not the emulators' growing data).
//! - `peer`: the same Connec! collection read by a peer (an Airbyte declarative source) and by
//!   our read path, side by side.
//! - `quota`: how much of an app's call allowance a large initial sync uses.

use std::process::Child;
use std::time::Duration;

pub mod peer;
pub mod peer_airbyte;
pub mod peer_emulator;
pub mod peer_sink;
pub mod peer_timing;
pub mod quota;
mod quota_report;
pub mod sync;
pub mod sync_emulators;
pub mod sync_report;
pub mod sync_stores;

/// The benchmarks.
#[derive(Debug, clap::Subcommand)]
pub enum BenchCommand {
    /// Measure syncs of N people and N/10 organizations through the emulators.
    Sync(sync::Args),
    /// Read one Connec! collection with an Airbyte declarative source and with our read path.
    Peer(peer::Args),
    /// Measure the share of an app's call allowance a large initial sync uses.
    Quota(quota::Args),
}

/// Runs one benchmark and prints its report on standard output.
pub async fn command(which: BenchCommand) -> Result<(), String> {
    match which {
        BenchCommand::Sync(args) => sync::command(args).await,
        BenchCommand::Peer(args) => peer::command(args).await,
        BenchCommand::Quota(args) => quota::command(args).await,
    }
}

/// Errors of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The emulator process.
    #[error("emulator process: {0}")]
    Process(String),
    /// Seeding or reading stats.
    #[error("talking to the emulators: {0}")]
    Http(#[from] reqwest::Error),
    /// Wiring.
    #[error(transparent)]
    Wiring(#[from] crate::wiring::WiringError),
    /// Sync.
    #[error(transparent)]
    Sync(#[from] sync_core::error::SyncError),
    /// Store.
    #[error(transparent)]
    Store(#[from] sync_core::error::StoreError),
    /// A check of what a phase did failed: its figures would mean nothing.
    #[error("check failed: {0}")]
    Check(String),
}

pub(crate) struct ChildGuard(pub(crate) Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> Result<u16, BenchError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| BenchError::Process(e.to_string()))?;
    Ok(listener
        .local_addr()
        .map_err(|e| BenchError::Process(e.to_string()))?
        .port())
}

/// Peak resident set size of this process (VmHWM), KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// An emulator's call counters (`/_emulator/stats`: reads, writes, calls by route).
pub(crate) async fn emulator_stats(
    http: &reqwest::Client,
    base: &str,
) -> Result<serde_json::Value, BenchError> {
    Ok(http
        .get(format!("{base}/_emulator/stats"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

pub(crate) async fn wait_ready(http: &reqwest::Client, base: &str) -> Result<(), BenchError> {
    for _ in 0..200 {
        if http
            .get(format!("{base}/_emulator/stats"))
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(BenchError::Process(format!(
        "the emulator at {base} did not start within 10 s"
    )))
}
