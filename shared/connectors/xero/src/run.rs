//! The state of one `write` or `archive` call: one outcome per input, and the rules for a call
//! that fails as a whole (see [`crate::write`]).

use sync_core::error::{AppError, RecordError};
use sync_core::ports::AppWriteFailure;

use crate::http::{is_fatal, status_of};

/// The state of one write (or archive) call.
pub(crate) struct Run<T> {
    pub outcomes: Vec<Option<Result<T, AppWriteFailure>>>,
    /// A batch was answered: from now on nothing is returned as an error.
    pub answered: bool,
    /// An error every further call would meet: the remaining records are failed unsent.
    pub stop: Option<RecordError>,
}

impl<T: Clone> Run<T> {
    pub fn new(len: usize) -> Self {
        Self {
            outcomes: vec![None; len],
            answered: false,
            stop: None,
        }
    }

    pub fn settle(&mut self, index: usize, result: Result<T, AppWriteFailure>) {
        self.outcomes[index] = Some(result);
    }

    pub fn reject(&mut self, index: usize, error: RecordError) {
        self.settle(index, Err(AppWriteFailure::Rejected(error)));
    }

    /// A call that failed as a whole; `Err` for a fatal error before any answer.
    pub fn failed(&mut self, indexes: &[usize], error: AppError) -> Result<(), AppError> {
        let fatal = is_fatal(&error);
        if fatal && !self.answered {
            return Err(error);
        }
        let rejection = RecordError::new(status_of(&error), format!("the call failed: {error}"));
        if fatal {
            self.stop = Some(rejection.clone());
        }
        for index in indexes {
            let failure = AppWriteFailure::of_failed_call(&error, rejection.clone());
            self.settle(*index, Err(failure));
        }
        Ok(())
    }

    /// Fails `indexes` unsent when a fatal error stopped the run; true when it did.
    pub fn stopped(&mut self, indexes: &[usize]) -> bool {
        let Some(stop) = self.stop.clone() else {
            return false;
        };
        for index in indexes {
            self.reject(*index, stop.clone());
        }
        true
    }

    pub fn finish(self, what: &str) -> Vec<Result<T, AppWriteFailure>> {
        self.outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(AppWriteFailure::Rejected(RecordError::new(
                        None,
                        format!("{what} was not sent"),
                    )))
                })
            })
            .collect()
    }
}
