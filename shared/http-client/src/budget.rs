//! One account's call budget, shared by every client that calls the API for that account: the
//! scheduled sync, the webhook intake and the write-backs of one process all draw from it.
//!
//! It holds the concurrency cap, the [`Pacer`] that keeps calls within the rate-limit window,
//! and the instant until which the quota is used up. The API's own headers are the source of truth across
//! processes (each answer says what remains for the account), so a budget per process that
//! reads them keeps every process within the account's limits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::pacer::Pacer;

/// One account's budget: see the module documentation.
#[derive(Debug)]
pub struct CallBudget {
    pub(crate) permits: Semaphore,
    pacer: Pacer,
    exhausted_until: StdMutex<Option<Instant>>,
}

impl CallBudget {
    /// A budget allowing `max_concurrency` calls in flight at once.
    pub fn new(max_concurrency: usize) -> Self {
        Self {
            permits: Semaphore::new(max_concurrency.max(1)),
            pacer: Pacer::default(),
            exhausted_until: StdMutex::new(None),
        }
    }

    /// The pacer of the account's calls.
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// How long the quota stays used up, when it is.
    pub fn exhausted_for(&self) -> Option<Duration> {
        let mut until = self.exhausted_until.lock().expect("budget lock");
        match *until {
            Some(at) if at > Instant::now() => Some(at - Instant::now()),
            Some(_) => {
                *until = None;
                None
            }
            None => None,
        }
    }

    /// Marks the quota used up for `wait`.
    pub fn exhaust(&self, wait: Duration) {
        *self.exhausted_until.lock().expect("budget lock") = Some(Instant::now() + wait);
    }
}

/// The budgets of one API's accounts, by account key (the tenant or portal id).
#[derive(Debug)]
pub struct Budgets {
    max_concurrency: usize,
    by_account: StdMutex<HashMap<String, Arc<CallBudget>>>,
}

impl Budgets {
    /// Budgets whose accounts each allow `max_concurrency` calls in flight.
    pub fn new(max_concurrency: usize) -> Self {
        Self {
            max_concurrency,
            by_account: StdMutex::new(HashMap::new()),
        }
    }

    /// The budget of one account: the same one for every caller.
    pub fn of(&self, account: &str) -> Arc<CallBudget> {
        self.by_account
            .lock()
            .expect("budgets lock")
            .entry(account.to_owned())
            .or_insert_with(|| Arc::new(CallBudget::new(self.max_concurrency)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_account_one_budget_and_exhaustion_passes() {
        let budgets = Budgets::new(5);
        let a = budgets.of("tenant-a");
        assert!(Arc::ptr_eq(&a, &budgets.of("tenant-a")));
        assert!(!Arc::ptr_eq(&a, &budgets.of("tenant-b")));
        assert_eq!(a.permits.available_permits(), 5);
        assert_eq!(a.exhausted_for(), None);
        a.exhaust(Duration::from_secs(3600));
        let left = budgets.of("tenant-a").exhausted_for().expect("exhausted");
        assert!(left > Duration::from_secs(3500));
        assert_eq!(budgets.of("tenant-b").exhausted_for(), None);
        a.exhaust(Duration::ZERO);
        assert_eq!(a.exhausted_for(), None);
    }
}
