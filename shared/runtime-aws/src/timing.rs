//! Where a cold start's time goes, logged by the function itself: the subscriber's setup
//! ([`init_tracing`]), the phases of `service_from_env` (its `cold start wired` line) and, just
//! before the runtime's loop starts, the time since `main` began ([`log_ready`]).
//! `infra/lambda-bench` reads these lines.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{Function, micros};

/// The target of the cold start's timing lines (see [`crate::service_from_env`]).
pub const INIT_LOG_TARGET: &str = "runtime_aws::init";

/// The message of the cold start's wiring line (see [`crate::service_from_env`]).
pub const INIT_LOG_MESSAGE: &str = "cold start wired";

/// The message of the line [`log_ready`] writes.
pub const READY_LOG_MESSAGE: &str = "ready for the first event";

/// When [`init_tracing`] began (`main`'s first statement in the functions) and how long it took.
static MAIN_STARTED: OnceLock<(Instant, Duration)> = OnceLock::new();

/// JSON logs in Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON`), level from `RUST_LOG`. Called first in
/// `main`: it also starts the clock of [`log_ready`].
pub fn init_tracing() {
    let started = Instant::now();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .without_time();
    let _ = if std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"))
    {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    let _ = MAIN_STARTED.set((started, started.elapsed()));
}

/// The subscriber's setup time, 0 when [`init_tracing`] was not called.
pub(crate) fn tracing_micros() -> u64 {
    MAIN_STARTED
        .get()
        .map(|(_, took)| micros(*took))
        .unwrap_or(0)
}

/// Logs `ready for the first event` (target [`INIT_LOG_TARGET`]) with `since_main_us`, the time
/// since [`init_tracing`] began: called by each function's `main` just before the runtime's
/// loop, it bounds what remains of the cold start (the runtime's own setup up to its first
/// `/next`, and the process's start before `main`).
pub fn log_ready(function: Function) {
    let since_main_us = MAIN_STARTED
        .get()
        .map(|(started, _)| micros(started.elapsed()))
        .unwrap_or(0);
    tracing::info!(
        target: INIT_LOG_TARGET,
        function = function.name(),
        since_main_us,
        "{READY_LOG_MESSAGE}"
    );
}

/// Named phases of the wiring, each timed from the end of the one before.
pub(crate) struct Phases {
    last: Instant,
    done: Vec<(&'static str, Duration)>,
}

impl Phases {
    /// Starts the clock.
    pub(crate) fn start() -> Self {
        Self {
            last: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Ends phase `name` now.
    pub(crate) fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.done.push((name, now - self.last));
        self.last = now;
    }

    /// Phase `name`'s time in µs (0 when it never ended).
    pub(crate) fn micros(&self, name: &str) -> u64 {
        self.done
            .iter()
            .find(|(phase, _)| *phase == name)
            .map(|(_, took)| micros(*took))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_phase_is_kept_under_its_name() {
        let mut phases = Phases::start();
        phases.mark("first");
        phases.mark("second");
        let names: Vec<&str> = phases.done.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["first", "second"]);
        assert_eq!(phases.micros("never"), 0);
    }
}
