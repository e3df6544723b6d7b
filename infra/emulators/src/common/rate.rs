//! Rate limiting: the configured limit ([`RateLimit`]) and the rolling-window counter
//! ([`RateLimiter`]) that enforces it per credential.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Rolling-window rate limit: at most `max` requests per `interval_ms` per
/// credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub max: u32,
    /// Window length in milliseconds.
    pub interval_ms: u64,
}

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    windows: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    /// Records a request for `key`; `Ok(remaining)` or `Err(retry_after_secs)`.
    pub(crate) fn check(&mut self, key: &str, limit: RateLimit) -> Result<u32, u64> {
        let now = Instant::now();
        let interval = Duration::from_millis(limit.interval_ms);
        let q = self.windows.entry(key.to_string()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= interval)
        {
            q.pop_front();
        }
        if q.len() as u32 >= limit.max {
            let wait = q
                .front()
                .map(|t| (*t + interval).saturating_duration_since(now))
                .unwrap_or(interval);
            return Err(wait.as_millis().div_ceil(1000).max(1) as u64);
        }
        q.push_back(now);
        Ok(limit.max - q.len() as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limiter_window() {
        let mut r = RateLimiter::default();
        let l = RateLimit {
            max: 2,
            interval_ms: 10_000,
        };
        assert_eq!(r.check("t", l), Ok(1));
        assert_eq!(r.check("t", l), Ok(0));
        assert!(r.check("t", l).is_err());
        assert_eq!(r.check("u", l), Ok(1));
    }
}
