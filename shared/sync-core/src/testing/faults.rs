//! Failures on demand and call counters, shared by the fakes.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::error::HttpError;

/// A failure a fake API call answers instead of doing its work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The request could not be completed (timeout, connection reset): [`HttpError::Transport`].
    Timeout,
    /// The API answered this status ([`HttpError::Status`]): a 5xx, or a 4xx.
    Status(u16),
    /// 429 Too Many Requests (with a `Retry-After` in the detail).
    RateLimited,
    /// The account's call quota is used up for an hour ([`HttpError::QuotaExhausted`]).
    QuotaExhausted,
}

impl Failure {
    /// The error an HTTP client would return.
    pub fn to_http(&self, api: &'static str, operation: &str) -> HttpError {
        let (method, path) = (String::from("POST"), format!("/{operation}"));
        match self {
            Failure::Timeout => HttpError::Transport {
                api,
                method,
                path,
                attempts: 1,
                detail: "operation timed out (injected fault)".into(),
            },
            Failure::Status(status) => HttpError::Status {
                api,
                method,
                path,
                status: *status,
                detail: format!("HTTP {status} (injected fault)"),
            },
            Failure::RateLimited => HttpError::Status {
                api,
                method,
                path,
                status: 429,
                detail: "Too Many Requests, Retry-After: 1 (injected fault)".into(),
            },
            Failure::QuotaExhausted => HttpError::QuotaExhausted {
                api,
                retry_after: std::time::Duration::from_secs(3600),
            },
        }
    }
}

/// Failures queued per operation, and how often each operation was called.
#[derive(Debug)]
pub struct Plan<Op, F = Failure> {
    queued: HashMap<Op, VecDeque<F>>,
    calls: HashMap<Op, u64>,
}

impl<Op, F> Default for Plan<Op, F> {
    fn default() -> Self {
        Self {
            queued: HashMap::new(),
            calls: HashMap::new(),
        }
    }
}

impl<Op: Hash + Eq + Copy, F: Clone> Plan<Op, F> {
    /// The next `n` calls of `op` fail with `failure` (after any already queued).
    pub fn fail_next(&mut self, op: Op, n: usize, failure: F) {
        self.queued
            .entry(op)
            .or_default()
            .extend(std::iter::repeat_n(failure, n));
    }

    /// Counts a call of `op` and hands back its planned failure, if any.
    pub fn call(&mut self, op: Op) -> Option<F> {
        *self.calls.entry(op).or_default() += 1;
        self.queued.get_mut(&op).and_then(VecDeque::pop_front)
    }

    /// Calls of `op` so far (failed ones included).
    pub fn calls(&self, op: Op) -> u64 {
        self.calls.get(&op).copied().unwrap_or(0)
    }

    /// Calls of every operation so far.
    pub fn total(&self) -> u64 {
        self.calls.values().sum()
    }

    /// Forgets every queued failure (counters stay).
    pub fn clear(&mut self) {
        self.queued.clear();
    }
}

/// The order in which a fake returns a list it was free to order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// As asked (ids in the order requested, results in input order).
    #[default]
    AsAsked,
    /// Reversed.
    Reversed,
    /// Shuffled with a seeded generator (the same permutation for the same length and seed).
    Shuffled(u64),
}

impl Order {
    /// Reorders `items` in place.
    pub fn apply<T>(&self, items: &mut [T]) {
        match self {
            Order::AsAsked => {}
            Order::Reversed => items.reverse(),
            Order::Shuffled(seed) => {
                let mut rng = rand::rngs::StdRng::seed_from_u64(*seed);
                items.shuffle(&mut rng);
            }
        }
    }
}

/// Per-kind counters of the writes a fake received, to detect echo writes and duplicates.
///
/// Each counts *requests* (one per record), whether or not the record changed; `unchanged`
/// counts those among them that left the record as it was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// `write` (and, in the app, `archive`) calls that reached the fake (failed ones included).
    pub calls: u64,
    /// Records created.
    pub created: u64,
    /// Records updated by id (hub: `PUT` with fields; app: `Update`).
    pub updated: u64,
    /// Hub only: `POST`s that landed on an existing record (upsert on the external id, or
    /// smart-merge on the matching fields).
    pub merged: u64,
    /// Records archived (hub: `status: INACTIVE`; app: archive).
    pub archived: u64,
    /// Hub only: id write-backs (`LinkOnly`).
    pub linked: u64,
    /// Writes refused per record (injected rejection, not found, duplicate ids in a batch).
    pub rejected: u64,
    /// Applied writes that changed nothing (same fields, external id already there).
    pub unchanged: u64,
}

impl WriteCounts {
    /// Records written, whatever the kind (created + updated + merged + archived + linked).
    pub fn written(&self) -> u64 {
        self.created + self.updated + self.merged + self.archived + self.linked
    }
}
