//! Proactive pacing of one account's calls against its rolling-window rate limit.
//!
//! The pacer keeps a log of the calls of the account that are in flight or were answered within
//! the last window. Before a call it reserves a place in the log; while the log holds as many
//! calls as the window allows, the call waits until the oldest answered one leaves the window.
//! That spends the whole allowance (a burst at the start of a window, then one call each time a
//! place frees) without firing into a full window, whereas pausing one whole window whenever
//! nothing remains wastes the time between the window's first call and its last.
//!
//! What it knows comes from the answers ([`WindowReading`]): the window's length, what remains
//! after each call and, when the API says so, the limit. Without an announced limit it learns
//! one: the calls still remaining plus the calls of the log the API had counted. A log entry's
//! time is when its answer came (the API counted it earlier), so a place frees no sooner than
//! the API frees it. A 429 blocks every call of the account until its `Retry-After`.
//!
//! Calls of other processes on the same account show up as a count higher than the log's; they
//! are added to the log as if made now (the safe guess), and dropped as the API's count falls.

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Most entries kept while the window is not known yet (the calls before the first reading).
const UNKNOWN_WINDOW_LOG: usize = 10_000;

/// What one answer's rate-limit headers say about the window it was counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowReading {
    /// Calls the window still allows (after this one, if it was counted).
    pub remaining: u64,
    /// Calls the window allows in all, when the API says.
    pub limit: Option<u64>,
    /// The window's length.
    pub window: Duration,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    sent: Instant,
    /// When its answer came (or the attempt ended); `None` while in flight.
    answered: Option<Instant>,
    /// A call of someone else, inferred from the API's count.
    foreign: bool,
}

impl Entry {
    /// When the place frees: the API counted the call before its answer came.
    fn frees(&self, window: Duration) -> Option<Instant> {
        self.answered.map(|at| at + window)
    }
}

#[derive(Debug, Default)]
struct State {
    window: Option<Duration>,
    limit: Option<u64>,
    /// Whether `limit` was announced by the API (not learned).
    announced: bool,
    /// The highest recent estimate of a learned limit, and when it was made.
    learned_at: Option<Instant>,
    log: VecDeque<Entry>,
    blocked_until: Option<Instant>,
    next_id: u64,
}

impl State {
    fn prune(&mut self, now: Instant) {
        match self.window {
            Some(window) => self
                .log
                .retain(|e| e.frees(window).is_none_or(|at| at > now)),
            None => {
                while self.log.len() > UNKNOWN_WINDOW_LOG {
                    self.log.pop_front();
                }
            }
        }
    }

    /// How long a call must wait now, `Some(None)` meaning until some call is answered.
    fn wait(&self, now: Instant) -> Option<Option<Duration>> {
        if let Some(until) = self.blocked_until
            && until > now
        {
            return Some(Some(until - now));
        }
        let (Some(limit), Some(window)) = (self.limit, self.window) else {
            return None;
        };
        if (self.log.len() as u64) < limit.max(1) {
            return None;
        }
        let frees = self.log.iter().filter_map(|e| e.frees(window)).min();
        Some(frees.map(|at| at.saturating_duration_since(now)))
    }

    /// The earliest instant a place frees, if any call of the log is answered.
    fn first_free(&self) -> Option<Instant> {
        let window = self.window?;
        self.log.iter().filter_map(|e| e.frees(window)).min()
    }

    /// Applies a reading given with the answer to call `id`, sent at `sent` (`counted`:
    /// whether the API counted that call; not for a 429).
    fn read(
        &mut self,
        id: u64,
        sent: Instant,
        counted: bool,
        reading: WindowReading,
        now: Instant,
    ) {
        let window = reading.window;
        self.window = Some(window);
        self.prune(now);
        match reading.limit {
            Some(limit) => {
                self.limit = Some(limit);
                self.announced = true;
                // Ours as the API may count them (all of the log: it frees places no sooner
                // than the API), so that only calls beyond them are someone else's.
                let ours = self.log.iter().filter(|e| counted || e.id != id).count() as u64;
                let theirs = limit.saturating_sub(reading.remaining);
                if theirs > ours {
                    self.add_foreign(theirs - ours, now);
                } else {
                    self.drop_foreign(ours - theirs);
                }
            }
            None if !self.announced => {
                // Only calls the API surely counted before this one and surely still
                // counts: answered before it was sent, sent within the window. The estimate
                // may fall short of the limit, never exceed it (for one account alone).
                let before = self
                    .log
                    .iter()
                    .filter(|e| !e.foreign && e.id != id && e.answered.is_some_and(|at| at <= sent))
                    .filter(|e| e.sent + window > now)
                    .count() as u64;
                let estimate = reading.remaining + before + u64::from(counted);
                // The highest estimate of the last window: short ones come and go.
                let stale = self.learned_at.is_none_or(|at| at + window <= now);
                if stale || self.limit.is_none_or(|l| estimate >= l) {
                    self.limit = Some(estimate);
                    self.learned_at = Some(now);
                }
            }
            None => {}
        }
    }

    fn add_foreign(&mut self, n: u64, now: Instant) {
        for _ in 0..n {
            let id = self.next_id;
            self.next_id += 1;
            self.log.push_back(Entry {
                id,
                sent: now,
                answered: Some(now),
                foreign: true,
            });
        }
    }

    fn drop_foreign(&mut self, mut n: u64) {
        self.log.retain(|e| {
            if e.foreign && n > 0 {
                n -= 1;
                false
            } else {
                true
            }
        });
    }

    /// Where call `id` is in the log (kept in id order: entries are appended, never moved).
    fn position(&self, id: u64) -> Option<usize> {
        self.log.binary_search_by_key(&id, |e| e.id).ok()
    }

    /// Gives back the place of call `id`.
    fn remove(&mut self, id: u64) {
        if let Some(at) = self.position(id) {
            self.log.remove(at);
        }
    }

    /// Marks call `id` answered now.
    fn finish(&mut self, id: u64, now: Instant) {
        if let Some(at) = self.position(id) {
            self.log[at].answered = Some(now);
        }
    }
}

/// One account's pacer: see the module documentation.
#[derive(Debug, Default)]
pub struct Pacer {
    state: Mutex<State>,
    answered: Notify,
}

/// A place in the log, held by one attempt; dropping it unanswered (a transport error, a
/// cancelled call) counts the call as answered now, since the API may have counted it.
#[derive(Debug)]
pub struct Ticket<'a> {
    pacer: &'a Pacer,
    id: u64,
    sent: Instant,
    open: bool,
}

impl Pacer {
    /// Waits until the window has room for one more call, and reserves it.
    pub async fn acquire(&self) -> Ticket<'_> {
        loop {
            let mut answered = pin!(self.answered.notified());
            let wait = {
                let mut state = self.lock();
                let now = Instant::now();
                state.prune(now);
                match state.wait(now) {
                    None => {
                        let id = state.next_id;
                        state.next_id += 1;
                        state.log.push_back(Entry {
                            id,
                            sent: now,
                            answered: None,
                            foreign: false,
                        });
                        return Ticket {
                            pacer: self,
                            id,
                            sent: now,
                            open: true,
                        };
                    }
                    Some(wait) => {
                        // Registered before the lock is released: no answer is missed.
                        answered.as_mut().enable();
                        wait
                    }
                }
            };
            match wait {
                Some(wait) => tokio::time::sleep(wait).await,
                None => answered.await,
            }
        }
    }

    /// The limit the pacer holds calls to (announced or learned), if any yet.
    pub fn limit(&self) -> Option<u64> {
        self.lock().limit
    }

    /// The window's length, once an answer said it.
    pub fn window(&self) -> Option<Duration> {
        self.lock().window
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("pacer lock")
    }
}

impl Ticket<'_> {
    /// The call was answered (and counted by the API) with `reading`, if its headers gave one.
    pub fn answered(mut self, reading: Option<WindowReading>) {
        self.open = false;
        let now = Instant::now();
        {
            let mut state = self.pacer.lock();
            state.finish(self.id, now);
            if let Some(reading) = reading {
                state.read(self.id, self.sent, true, reading, now);
            }
        }
        self.pacer.answered.notify_waiters();
    }

    /// The call was refused as over the limit (not counted): every call of the account waits
    /// until `retry_after` has passed or, when the API does not say, until the oldest call of
    /// the window leaves it.
    pub fn refused(mut self, reading: Option<WindowReading>, retry_after: Option<Duration>) {
        self.open = false;
        let now = Instant::now();
        {
            let mut state = self.pacer.lock();
            state.remove(self.id);
            if let Some(reading) = reading {
                state.read(self.id, self.sent, false, reading, now);
            }
            let until = match retry_after {
                Some(wait) => Some(now + wait),
                None => state.first_free().or_else(|| state.window.map(|w| now + w)),
            };
            if let Some(until) = until
                && state.blocked_until.is_none_or(|at| at < until)
            {
                state.blocked_until = Some(until);
            }
        }
        self.pacer.answered.notify_waiters();
    }
}

impl Ticket<'_> {
    /// The call was refused without being counted, for a reason that is no window's (a used-up
    /// day): its place is given back.
    pub fn uncounted(mut self) {
        self.open = false;
        self.pacer.lock().remove(self.id);
        self.pacer.answered.notify_waiters();
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        self.pacer.lock().finish(self.id, Instant::now());
        self.pacer.answered.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(remaining: u64, limit: Option<u64>) -> Option<WindowReading> {
        Some(WindowReading {
            remaining,
            limit,
            window: Duration::from_secs(10),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn a_learned_limit_is_what_remained_plus_what_was_counted() {
        let pacer = Pacer::default();
        pacer.acquire().await.answered(reading(2, None));
        assert_eq!(pacer.limit(), Some(3));
        pacer.acquire().await.answered(reading(1, None));
        pacer.acquire().await.answered(reading(0, None));
        assert_eq!(pacer.limit(), Some(3));
        let started = Instant::now();
        // The window is full: the next call waits for the first to leave it.
        let ticket = pacer.acquire().await;
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        ticket.answered(reading(0, None));
    }

    #[tokio::test(start_paused = true)]
    async fn foreign_calls_in_the_api_count_take_places_until_the_count_falls() {
        let pacer = Pacer::default();
        // The API counted 3 calls, ours was one of them: two are someone else's.
        pacer.acquire().await.answered(reading(2, Some(5)));
        assert_eq!(pacer.lock().log.len(), 3);
        pacer.acquire().await.answered(reading(1, Some(5)));
        assert_eq!(pacer.lock().log.len(), 4);
        // Their calls left the window sooner than we guessed.
        pacer.acquire().await.answered(reading(3, Some(5)));
        assert_eq!(pacer.lock().log.len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_blocks_every_call_until_retry_after() {
        let pacer = Pacer::default();
        let started = Instant::now();
        pacer
            .acquire()
            .await
            .refused(None, Some(Duration::from_secs(3)));
        pacer.acquire().await.answered(None);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn with_every_place_in_flight_a_call_waits_for_an_answer() {
        let pacer = std::sync::Arc::new(Pacer::default());
        pacer.acquire().await.answered(reading(1, Some(2)));
        tokio::time::sleep(Duration::from_secs(10)).await;
        let (first, second) = (pacer.acquire().await, pacer.acquire().await);
        let waiter = {
            let pacer = pacer.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                pacer.acquire().await.answered(None);
                started.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(!waiter.is_finished());
        // Answered at 4 s: its place frees 10 s later.
        first.answered(reading(1, Some(2)));
        assert_eq!(waiter.await.unwrap(), Duration::from_secs(14));
        drop(second);
    }
}
