//! What tests observe and steer an emulator with, the same for both emulators: the fault
//! registry, call statistics, the rate limiter and the change observers.

use std::sync::Mutex;

use super::{CallStats, ChangeEvent, ChangeHook, Faults, RateLimiter, lock};

/// The fault registry, call statistics, rate limiter and change hooks of one emulator.
#[derive(Default)]
pub(crate) struct Instruments {
    /// Fault rules (shared with the `/_emulator/faults` routes).
    pub(crate) faults: Faults,
    /// Counters of API calls.
    pub(crate) stats: Mutex<CallStats>,
    /// Rolling windows of the configured rate limit, per credential.
    pub(crate) limiter: Mutex<RateLimiter>,
    hooks: Mutex<Vec<ChangeHook>>,
}

impl Instruments {
    /// A snapshot of the call counters.
    pub(crate) fn stats(&self) -> CallStats {
        lock(&self.stats).clone()
    }

    /// Zeroes the call counters.
    pub(crate) fn reset_stats(&self) {
        *lock(&self.stats) = CallStats::default();
    }

    /// Registers a change observer.
    pub(crate) fn on_change(&self, hook: ChangeHook) {
        lock(&self.hooks).push(hook);
    }

    /// Tells every observer about each of `events`, in order. Called outside the state lock,
    /// so observers may call back into the emulator.
    pub(crate) fn notify<'a>(&self, events: impl IntoIterator<Item = &'a ChangeEvent>) {
        let hooks = lock(&self.hooks).clone();
        for e in events {
            for h in &hooks {
                h(e);
            }
        }
    }
}
