//! Xero's limits, per tenant: 60 calls a minute, 5,000 a day, 5 at once (and 10,000 a minute per
//! app over every tenant).
//!
//! - Every answer says what remains: `X-MinLimit-Remaining` (the tenant's minute),
//!   `X-AppMinLimit-Remaining` (the app's minute) and `X-DayLimit-Remaining`. When a minute's
//!   count reaches 0 the client pauses one minute before its next call, so Xero need not answer
//!   429; when the day's count reaches 0 the tenant's [`CallBudget`](http_client::CallBudget) is
//!   exhausted and every connector of the tenant fails fast with `QuotaExhausted`.
//! - A 429 says which limit with `X-Rate-Limit-Problem` (`minute`, `appminute`, `concurrent`,
//!   `day`) and how long with `Retry-After` (seconds). The HTTP client retries a minute's or a
//!   concurrency 429 after `Retry-After`; a `day` 429 exhausts the budget for `Retry-After`.

use std::time::Duration;

use http_client::{RateLimitPolicy, parse_retry_after};
use reqwest::header::HeaderMap;

/// Calls in flight at once per tenant.
pub const MAX_CONCURRENCY: usize = 5;
/// The minute window.
pub const MINUTE: Duration = Duration::from_secs(60);
/// How long a used-up day lasts when Xero does not say (`X-DayLimit-Remaining: 0` on a success,
/// or a `day` 429 without `Retry-After`). The day is rolling, so calls free up over time: an
/// hour, then the next call learns the truth from Xero's headers.
pub const DAY_FALLBACK: Duration = Duration::from_secs(60 * 60);

/// What Xero's rate-limit headers mean (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct XeroRateLimits;

impl RateLimitPolicy for XeroRateLimits {
    fn pause_after(&self, headers: &HeaderMap) -> Option<Duration> {
        let spent = |name: &str| count(headers, name) == Some(0);
        (spent("x-minlimit-remaining") || spent("x-appminlimit-remaining")).then_some(MINUTE)
    }

    fn exhausted(&self, status: u16, headers: &HeaderMap) -> Option<Duration> {
        let problem = headers
            .get("x-rate-limit-problem")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_lowercase());
        if status == 429 && problem.as_deref() == Some("day") {
            return Some(parse_retry_after(headers).unwrap_or(DAY_FALLBACK));
        }
        (count(headers, "x-daylimit-remaining") == Some(0))
            .then(|| parse_retry_after(headers).unwrap_or(DAY_FALLBACK))
    }
}

fn count(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Headers = &'static [(&'static str, &'static str)];

    fn headers(pairs: Headers) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn a_spent_minute_pauses_one_minute() {
        let cases: &[(Headers, Option<Duration>)] = &[
            (&[], None),
            (&[("x-minlimit-remaining", "59")], None),
            (&[("x-minlimit-remaining", "0")], Some(MINUTE)),
            (&[("x-appminlimit-remaining", "0")], Some(MINUTE)),
            (
                &[
                    ("x-minlimit-remaining", "3"),
                    ("x-appminlimit-remaining", "0"),
                ],
                Some(MINUTE),
            ),
            (&[("x-minlimit-remaining", "soon")], None),
            // The day's count is not the minute's business.
            (&[("x-daylimit-remaining", "0")], None),
        ];
        for (pairs, expected) in cases {
            assert_eq!(
                XeroRateLimits.pause_after(&headers(pairs)),
                *expected,
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn the_day_is_used_up_by_a_day_429_or_the_remaining_count() {
        let hour = Some(DAY_FALLBACK);
        let cases: &[(u16, Headers, Option<Duration>)] = &[
            (200, &[("x-daylimit-remaining", "4999")], None),
            (200, &[("x-daylimit-remaining", "0")], hour),
            (
                429,
                &[("x-rate-limit-problem", "day"), ("retry-after", "3600")],
                Some(Duration::from_secs(3600)),
            ),
            (
                429,
                &[("x-rate-limit-problem", "Day"), ("retry-after", "120")],
                Some(Duration::from_secs(120)),
            ),
            (429, &[("x-rate-limit-problem", "day")], hour),
            // A minute's 429 is retried by the client, not an exhausted quota.
            (
                429,
                &[("x-rate-limit-problem", "minute"), ("retry-after", "30")],
                None,
            ),
            (429, &[("x-rate-limit-problem", "concurrent")], None),
            (
                429,
                &[
                    ("x-rate-limit-problem", "minute"),
                    ("x-daylimit-remaining", "0"),
                ],
                hour,
            ),
            (500, &[], None),
        ];
        for (status, pairs, expected) in cases {
            assert_eq!(
                XeroRateLimits.exhausted(*status, &headers(pairs)),
                *expected,
                "{status} {pairs:?}"
            );
        }
    }
}
