//! The process's one `reqwest::Client`.
//!
//! Building a client loads and parses the system's root certificates (rustls' platform
//! verifier reads the whole bundle and directory each time): at a Lambda cold start that was
//! several milliseconds per client, and the process built one per API client, provider and
//! OAuth machinery. Every part of the process now clones this one (a clone shares the
//! connection pool and the verifier), so the roots are read once.
//!
//! The client has no timeouts of its own: each caller sets its timeout per request
//! (`RequestBuilder::timeout`, `Request::timeout_mut`), since callers differ
//! ([`crate::HttpConfig::timeout`], the OAuth token endpoint's, the providers').
//!
//! One process, one tokio runtime: the pooled connections are driven by tasks of the runtime
//! that opened them. Processes with several runtimes (test binaries, one runtime per test)
//! share the pool per origin only, and each test's servers have their own ports.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Why the shared client could not be built (the TLS stack found no usable root store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientBuildError(String);

impl std::fmt::Display for ClientBuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot build the HTTP client: {}", self.0)
    }
}

impl std::error::Error for ClientBuildError {}

static BUILT: AtomicUsize = AtomicUsize::new(0);

/// A clone of the process's one HTTP client, built on first use. A failure to build is kept
/// and returned to every caller (it would fail again: the system's roots do not change).
///
/// # Errors
///
/// [`ClientBuildError`] when the TLS configuration cannot be built.
pub fn shared() -> Result<reqwest::Client, ClientBuildError> {
    static CLIENT: OnceLock<Result<reqwest::Client, ClientBuildError>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            BUILT.fetch_add(1, Ordering::Relaxed);
            reqwest::Client::builder()
                .build()
                .map_err(|e| ClientBuildError(e.to_string()))
        })
        .clone()
}

/// How many times this process built the shared client: 1 once anything used it, never more
/// (tests check the wiring does not build its own).
pub fn shared_builds() -> usize {
    BUILT.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_built_once_however_many_callers_ask() {
        for _ in 0..5 {
            shared().expect("client");
        }
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| shared().expect("client"));
            }
        });
        assert_eq!(shared_builds(), 1);
    }
}
