//! Outbound HTTP delivery shared by both emulators: HubSpot webhooks and
//! Connec! notifications.
//!
//! Each emulator owns a [`Pump`]: a lazily spawned background task that wakes
//! up every flush interval and asks the emulator to deliver what is pending,
//! plus the knobs tests use (pause, duplicate deliveries) and the lock that
//! lets `flush_*().await` wait for in-flight deliveries.
//!
//! Nothing here logs URLs, bodies, credentials or signatures.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::common::lock;

/// Retry policy of an outbound delivery.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retry {
    /// Attempts per batch, first one included (at least 1).
    pub(crate) max_attempts: u32,
    /// Wait before the second attempt; doubles for each further attempt.
    pub(crate) backoff: Duration,
    /// Per-request timeout (a timeout counts as a failed attempt).
    pub(crate) timeout: Duration,
}

/// Body and extra headers of one attempt.
pub(crate) type Attempt = (Vec<u8>, Vec<(&'static str, String)>);

/// Future returned by an emulator's "deliver what is pending" function.
pub(crate) type DeliverFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Background delivery machinery of one emulator.
#[derive(Debug, Default)]
pub(crate) struct Pump {
    paused: AtomicBool,
    duplicate: AtomicBool,
    /// Held while a delivery round runs, so a flush waits for in-flight work.
    pub(crate) run_lock: tokio::sync::Mutex<()>,
    task: Mutex<Option<JoinHandle<()>>>,
    client: OnceLock<reqwest::Client>,
}

impl Pump {
    pub(crate) fn paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    pub(crate) fn set_paused(&self, on: bool) {
        self.paused.store(on, Ordering::SeqCst);
    }

    pub(crate) fn set_duplicate(&self, on: bool) {
        self.duplicate.store(on, Ordering::SeqCst);
    }

    /// Spawns the periodic worker if it is not running and a tokio runtime
    /// is available (otherwise pending items wait for an explicit flush).
    ///
    /// The worker only holds a weak reference: it ends once the emulator is
    /// dropped (or with its runtime, and is then respawned on demand).
    pub(crate) fn ensure_worker<I: Send + Sync + 'static>(
        &self,
        owner: Weak<I>,
        interval: Duration,
        deliver: fn(Arc<I>) -> DeliverFuture,
    ) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut task = lock(&self.task);
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let interval = interval.max(Duration::from_millis(1));
        *task = Some(rt.spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = owner.upgrade() else {
                    return;
                };
                deliver(inner).await;
            }
        }));
    }

    fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            reqwest::Client::builder()
                // Everything stays on loopback: never go through a proxy.
                .no_proxy()
                .build()
                .unwrap_or_default()
        })
    }

    /// POSTs to `url` until a 2xx or `retry.max_attempts` attempts.
    /// `build(n)` makes the body and headers of attempt `n` (0-based) and
    /// `record(status, n)` is told about every request made (`None` status =
    /// transport error or timeout). When duplicate deliveries are on, a
    /// successful request is sent a second time, byte for byte.
    pub(crate) async fn send(
        &self,
        retry: Retry,
        url: &str,
        build: &(dyn Fn(u32) -> Attempt + Sync),
        record: &(dyn Fn(Option<u16>, u32) + Sync),
    ) -> bool {
        let attempts = retry.max_attempts.max(1);
        for attempt in 0..attempts {
            let (body, headers) = build(attempt);
            let status = self.post(retry.timeout, url, &body, &headers).await;
            record(status, attempt);
            if status.is_some_and(|s| (200..300).contains(&s)) {
                if self.duplicate.load(Ordering::SeqCst) {
                    let again = self.post(retry.timeout, url, &body, &headers).await;
                    record(again, attempt);
                }
                return true;
            }
            if attempt + 1 < attempts {
                let factor = 1u32.checked_shl(attempt).unwrap_or(u32::MAX);
                tokio::time::sleep(retry.backoff.saturating_mul(factor)).await;
            }
        }
        tracing::warn!(attempts, "outbound delivery gave up");
        false
    }

    async fn post(
        &self,
        timeout: Duration,
        url: &str,
        body: &[u8],
        headers: &[(&'static str, String)],
    ) -> Option<u16> {
        let mut rb = self.client().post(url).timeout(timeout).body(body.to_vec());
        for (name, value) in headers {
            rb = rb.header(*name, value);
        }
        match rb.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                // Drain so the connection can be reused.
                let _ = resp.bytes().await;
                Some(status)
            }
            Err(e) => {
                tracing::debug!(
                    timeout = e.is_timeout(),
                    connect = e.is_connect(),
                    "outbound delivery attempt failed"
                );
                None
            }
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
