//! A clock that moves only when a test says so.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::domain::Timestamp;
use crate::ports::Clock;

/// A manual [`Clock`], shared (cheap [`Clone`]) between the engine and the fakes.
///
/// [`now`](Clock::now) is whatever the test set. The fakes take their records' `updated_at`
/// from [`stamp`](ManualClock::stamp), which is `now`, or one millisecond after the previous
/// stamp when that would not be strictly later: a burst of writes at one instant lands at
/// `now`, `now + 1 ms`, `now + 2 ms`... so every write has its own time and ordering by
/// `updated_at` is deterministic, across the hub and the app alike. Stamps do not move `now`.
///
/// ```
/// use std::time::Duration;
/// use sync_core::ports::Clock;
/// use sync_core::testing::ManualClock;
/// let clock = ManualClock::at("2024-01-01T00:00:00Z");
/// let a = clock.stamp();
/// let b = clock.stamp();
/// assert!(b > a);
/// assert_eq!(a, clock.now());
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(clock.now().to_rfc3339(), "2024-01-01T00:01:00.000Z");
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    inner: Arc<Mutex<ClockState>>,
}

#[derive(Debug)]
struct ClockState {
    now: Timestamp,
    last_stamp: Option<Timestamp>,
}

/// The default start of a [`ManualClock`]: `2024-01-01T00:00:00Z`.
pub const DEFAULT_START: &str = "2024-01-01T00:00:00Z";

impl Default for ManualClock {
    /// A clock at [`DEFAULT_START`].
    fn default() -> Self {
        Self::at(DEFAULT_START)
    }
}

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ClockState {
                now: start,
                last_stamp: None,
            })),
        }
    }

    /// A clock at an RFC 3339 instant.
    ///
    /// # Panics
    /// If `rfc3339` does not parse.
    pub fn at(rfc3339: &str) -> Self {
        Self::new(Timestamp::parse(rfc3339).expect("ManualClock::at: a valid RFC 3339 instant"))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets `now` (backwards too: the next stamps still increase strictly).
    pub fn set(&self, now: Timestamp) {
        self.state().now = now;
    }

    /// Moves `now` forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.state();
        state.now = state.now.plus(by);
    }

    /// Moves `now` forward by whole seconds.
    pub fn advance_secs(&self, secs: u64) {
        self.advance(Duration::from_secs(secs));
    }

    /// The time of a write: `now`, or 1 ms after the previous stamp if that is not earlier.
    pub fn stamp(&self) -> Timestamp {
        let mut state = self.state();
        let stamp = match state.last_stamp {
            Some(last) if last >= state.now => last.plus(Duration::from_millis(1)),
            _ => state.now,
        };
        state.last_stamp = Some(stamp);
        stamp
    }

    /// The last stamp handed out, if any.
    pub fn last_stamp(&self) -> Option<Timestamp> {
        self.state().last_stamp
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.state().now
    }
}
