//! HTTP clients that share the process's one TLS configuration.
//!
//! Building a `reqwest::Client` loads and parses the system's root certificates (rustls'
//! platform verifier reads the whole bundle and directory each time): at a Lambda cold start
//! that was several milliseconds per client, and the process builds one per API client,
//! provider and OAuth machinery. The TLS configuration, with its verifier and the roots it
//! loaded, is built once and handed to every client built here, so the roots are read once.
//!
//! Each client keeps its own connection pool. One pool for the whole process would tie its
//! connections to the tokio runtime that opened them: in a process with several runtimes (a
//! test binary runs one per test) a later runtime could be handed a connection whose driving
//! task died with an earlier one (hyper's "dispatch task is gone").
//!
//! The clients have no timeouts of their own: each caller sets its timeout per request
//! (`RequestBuilder::timeout`, `Request::timeout_mut`), since callers differ
//! ([`crate::HttpConfig::timeout`], the OAuth token endpoint's, the providers').

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;

/// Why no client could be built (the TLS stack found no usable root store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientBuildError(String);

impl std::fmt::Display for ClientBuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot build the HTTP client: {}", self.0)
    }
}

impl std::error::Error for ClientBuildError {}

static TLS_BUILT: AtomicUsize = AtomicUsize::new(0);

/// A new client (its own connection pool) on the process's one TLS configuration, built on
/// first use. A failure to build that configuration is kept and returned to every caller (it
/// would fail again: the system's roots do not change).
///
/// # Errors
///
/// [`ClientBuildError`] when the TLS configuration or the client cannot be built.
pub fn shared() -> Result<reqwest::Client, ClientBuildError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls()?)
        .build()
        .map_err(|e| ClientBuildError(e.to_string()))
}

/// How many times this process built the TLS configuration: 1 once any client was built,
/// never more (tests check that the wiring loads the roots once).
pub fn shared_builds() -> usize {
    TLS_BUILT.load(Ordering::Relaxed)
}

/// What reqwest builds by default with its `rustls` feature (its crypto provider, the
/// platform verifier, TLS 1.2 and 1.3, SNI, ALPN for HTTP/2 and HTTP/1.1), built once.
fn tls() -> Result<ClientConfig, ClientBuildError> {
    static TLS: OnceLock<Result<ClientConfig, ClientBuildError>> = OnceLock::new();
    TLS.get_or_init(|| {
        TLS_BUILT.fetch_add(1, Ordering::Relaxed);
        let provider = CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(|e| ClientBuildError(e.to_string()))?;
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientBuildError(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_roots_are_loaded_once_however_many_clients_are_built() {
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
