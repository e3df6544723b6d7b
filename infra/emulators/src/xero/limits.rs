//! Xero's call limits, on the emulator clock: per tenant 60 calls a rolling minute, 5,000 a
//! rolling day and 5 at once; per app 10,000 a rolling minute (all configurable,
//! [`super::XeroLimits`]). Every Accounting API answer carries `X-MinLimit-Remaining`,
//! `X-DayLimit-Remaining` and `X-AppMinLimit-Remaining`; a call over a limit is answered
//! `429` with `Retry-After` (seconds) and `X-Rate-Limit-Problem: minute|day|concurrent|
//! appminute`, and does not count. The check runs inside the gate, after the token and tenant
//! checks, as a layer of the Accounting routes ([`enforce`]).
//!
//! The windows run on real time plus the emulator clock's moves ([`WindowClock`]), not on the
//! record stamps, which run ahead of real time while records are written in bursts: a call
//! counted then would otherwise leave its window later than a client timing it could know.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::auth::Caller;
use super::errors::problem;
use super::{Inner, XeroEmulator, XeroLimits};
use crate::common::{lock, set_header};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// Which limit a refused call hit (`X-Rate-Limit-Problem`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Problem {
    Minute,
    Day,
    Concurrent,
    AppMinute,
}

impl Problem {
    fn header(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Day => "day",
            Self::Concurrent => "concurrent",
            Self::AppMinute => "appminute",
        }
    }
}

/// What is left after a call.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Remaining {
    minute: u32,
    day: u32,
    app_minute: u32,
}

#[derive(Debug, Default)]
struct TenantWindows {
    minute: VecDeque<i64>,
    day: VecDeque<i64>,
    in_flight: u32,
}

/// The rolling windows of every tenant and of the app.
#[derive(Debug, Default)]
pub(super) struct Limiter {
    tenants: HashMap<String, TenantWindows>,
    app_minute: VecDeque<i64>,
    clock: WindowClock,
}

/// A move of the emulator clock at least this long is a move (`XeroEmulator::advance`); a
/// shorter lead over real time is the stamps of a burst of writes.
const MOVE_MS: i64 = 1_000;

/// The windows' time: real time plus the emulator clock's offset. The clock reads real time
/// plus its moves, or a little more after a burst of writes (it never repeats a stamp); its
/// lead over real time is the offset when smallest, and grows at once by a move.
#[derive(Debug, Default)]
pub(super) struct WindowClock {
    offset: Option<i64>,
}

impl WindowClock {
    /// The windows' now, given the emulator clock's and real time, both in epoch ms.
    pub(super) fn now(&mut self, clock_ms: i64, real_ms: i64) -> i64 {
        let lead = clock_ms - real_ms;
        let offset = match self.offset {
            Some(offset) if lead >= offset && lead - offset < MOVE_MS => offset,
            _ => lead,
        };
        self.offset = Some(offset);
        real_ms + offset
    }
}

fn prune(q: &mut VecDeque<i64>, now: i64, window: i64) {
    while q.front().is_some_and(|t| now - *t >= window) {
        q.pop_front();
    }
}

/// Seconds until the oldest call of a full window leaves it (at least 1).
fn wait(q: &VecDeque<i64>, now: i64, window: i64) -> u64 {
    let until = q.front().map_or(window, |t| t + window - now);
    (until.max(0) as u64).div_ceil(1000).max(1)
}

impl Limiter {
    /// Counts a call of `tenant` starting now, or says which limit it hits and when to retry.
    pub(super) fn start(
        &mut self,
        tenant: &str,
        now: i64,
        l: &XeroLimits,
    ) -> Result<Remaining, (Problem, u64, Remaining)> {
        prune(&mut self.app_minute, now, MINUTE_MS);
        let app_len = self.app_minute.len() as u32;
        let w = self.tenants.entry(tenant.to_owned()).or_default();
        prune(&mut w.minute, now, MINUTE_MS);
        prune(&mut w.day, now, DAY_MS);
        let left = |w: &TenantWindows, app: u32| Remaining {
            minute: l.per_minute.saturating_sub(w.minute.len() as u32),
            day: l.per_day.saturating_sub(w.day.len() as u32),
            app_minute: l.app_per_minute.saturating_sub(app),
        };
        let refused = if w.day.len() as u32 >= l.per_day {
            Some((Problem::Day, wait(&w.day, now, DAY_MS)))
        } else if app_len >= l.app_per_minute {
            Some((Problem::AppMinute, wait(&self.app_minute, now, MINUTE_MS)))
        } else if w.minute.len() as u32 >= l.per_minute {
            Some((Problem::Minute, wait(&w.minute, now, MINUTE_MS)))
        } else if w.in_flight >= l.concurrent {
            Some((Problem::Concurrent, 1))
        } else {
            None
        };
        if let Some((p, secs)) = refused {
            return Err((p, secs, left(w, app_len)));
        }
        w.minute.push_back(now);
        w.day.push_back(now);
        w.in_flight += 1;
        self.app_minute.push_back(now);
        Ok(left(w, app_len + 1))
    }

    /// Calls of `tenant` in progress.
    pub(super) fn in_flight(&self, tenant: &str) -> u32 {
        self.tenants.get(tenant).map_or(0, |w| w.in_flight)
    }

    fn finish(&mut self, tenant: &str) {
        if let Some(w) = self.tenants.get_mut(tenant) {
            w.in_flight = w.in_flight.saturating_sub(1);
        }
    }
}

/// Ends a call in progress when dropped (the handler finished or was cancelled).
struct InFlight {
    inner: Arc<Inner>,
    tenant: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.inner.limiter).finish(&self.tenant);
    }
}

fn headers(r: &mut Response, left: Remaining) {
    set_header(r, "x-minlimit-remaining", left.minute);
    set_header(r, "x-daylimit-remaining", left.day);
    set_header(r, "x-appminlimit-remaining", left.app_minute);
}

/// The layer of the Accounting routes (see the [module docs](self)).
pub(super) async fn enforce(
    State(inner): State<Arc<Inner>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(tenant) = request
        .extensions()
        .get::<Caller>()
        .map(|c| c.tenant_id.clone())
    else {
        return next.run(request).await;
    };
    let started = {
        let mut limiter = lock(&inner.limiter);
        let real_ms = chrono::Utc::now().timestamp_millis();
        let now = limiter.clock.now(inner.clock.peek_ms(), real_ms);
        limiter.start(&tenant, now, &inner.config.limits)
    };
    match started {
        Ok(left) => {
            let guard = InFlight {
                inner: inner.clone(),
                tenant,
            };
            // Held calls wait here, counted as in progress (see `XeroEmulator::hold_calls`).
            let mut held = inner.hold.subscribe();
            let _ = held.wait_for(|h| !*h).await;
            let mut answer = next.run(request).await;
            drop(guard);
            headers(&mut answer, left);
            answer
        }
        Err((p, secs, left)) => {
            lock(&inner.instruments.stats).rejected += 1;
            let mut r = problem(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("Rate limit exceeded: {} limit", p.header()),
            );
            set_header(&mut r, "retry-after", secs);
            set_header(&mut r, "x-rate-limit-problem", p.header());
            headers(&mut r, left);
            r
        }
    }
}

impl XeroEmulator {
    /// `true`: Accounting API calls that passed the limits wait, in progress, until released
    /// with `false` (so tests can fill the concurrency limit without timing).
    pub fn hold_calls(&self, held: bool) {
        self.inner.hold.send_replace(held);
    }

    /// Calls of `tenant` in progress now.
    pub fn calls_in_flight(&self, tenant: &str) -> u32 {
        lock(&self.inner.limiter).in_flight(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_then_day_windows() {
        let l = XeroLimits {
            per_minute: 2,
            per_day: 3,
            concurrent: 10,
            app_per_minute: 100,
        };
        let mut lim = Limiter::default();
        assert!(lim.start("t", 0, &l).is_ok());
        lim.finish("t");
        assert!(lim.start("t", 1_000, &l).is_ok());
        lim.finish("t");
        let (p, secs, _) = lim.start("t", 2_000, &l).unwrap_err();
        assert_eq!((p, secs), (Problem::Minute, 58));
        assert!(lim.start("u", 2_000, &l).is_ok());
        assert!(lim.start("t", 61_000, &l).is_ok());
        let (p, _, _) = lim.start("t", 200_000, &l).unwrap_err();
        assert_eq!(p, Problem::Day);
    }

    #[test]
    fn the_windows_follow_moves_of_the_clock_not_the_lead_of_a_burst() {
        let mut clock = WindowClock::default();
        assert_eq!(clock.now(1_000, 1_000), 1_000);
        // A burst of writes: the clock leads real time by 40 ms, the windows do not.
        assert_eq!(clock.now(1_050, 1_010), 1_010);
        // Moved by a minute: followed at once.
        assert_eq!(clock.now(61_020, 1_020), 61_020);
        assert_eq!(clock.now(61_030, 1_030), 61_030);
        // A first reading taken in a burst is corrected by the next smaller lead.
        let mut late = WindowClock::default();
        assert_eq!(late.now(1_100, 1_000), 1_100);
        assert_eq!(late.now(1_200, 1_200), 1_200);
    }

    #[test]
    fn concurrency_is_released() {
        let l = XeroLimits {
            concurrent: 1,
            ..XeroLimits::default()
        };
        let mut lim = Limiter::default();
        assert!(lim.start("t", 0, &l).is_ok());
        assert_eq!(lim.start("t", 1, &l).unwrap_err().0, Problem::Concurrent);
        lim.finish("t");
        assert!(lim.start("t", 2, &l).is_ok());
    }
}
