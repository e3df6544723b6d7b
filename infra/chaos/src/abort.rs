//! An in-process abort at a random await: a future dropped after a number of polls.
//!
//! Where that lands depends on timing (how many polls each HTTP call takes), so the same seed
//! gives the same poll budget but not always the same abort point.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls `inner` at most `budget` times; resolves to `None` (dropping `inner` where it stands)
/// when the budget runs out first.
pub struct PollBudget<F> {
    inner: Pin<Box<F>>,
    budget: u32,
}

impl<F: Future> Future for PollBudget<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.budget == 0 {
            return Poll::Ready(None);
        }
        self.budget -= 1;
        match self.inner.as_mut().poll(cx) {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending if self.budget == 0 => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// `inner`, aborted after `budget` polls.
pub fn abort_after<F: Future>(inner: F, budget: u32) -> PollBudget<F> {
    PollBudget {
        inner: Box::pin(inner),
        budget,
    }
}

#[cfg(test)]
mod tests {
    use super::abort_after;

    #[tokio::test]
    async fn a_budget_cuts_a_future_short_or_lets_it_finish() {
        let slow = async {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            7
        };
        assert_eq!(abort_after(slow, 3).await, None);
        assert_eq!(abort_after(async { 7 }, 1).await, Some(7));
    }
}
