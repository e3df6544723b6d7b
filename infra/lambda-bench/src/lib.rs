//! Cold start and size of the three Lambda functions, measured locally: a Lambda Runtime API
//! server ([`runtime_api`]) speaking the real protocol, moto and the emulators behind the
//! functions ([`cloud`]), one fresh process per cold start ([`measure`]), and the deployment
//! zip of each binary ([`zip`]). `infra/scripts/bench-lambda.sh` builds the functions and runs
//! the `lambda-bench` binary; the figures are printed, never judged.

pub mod cloud;
pub mod functions;
pub mod measure;
pub mod runtime_api;
pub mod zip;

use std::time::Duration;

/// Why a measurement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Moto, an emulator, a fixture or the runtime API could not be set up.
    #[error("setup: {0}")]
    Setup(String),
    /// The binary could not be started.
    #[error("cannot start {0}: {1}")]
    Spawn(String, std::io::Error),
    /// The function misbehaved (exited, reported an error, answered wrongly, timed out).
    #[error("{function}: {detail}")]
    Function {
        /// Which function.
        function: &'static str,
        /// What happened, with its output.
        detail: String,
    },
    /// Zipping failed.
    #[error("zip: {0}")]
    Zip(String),
}

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
pub fn median(values: &[Duration]) -> Option<Duration> {
    let mut sorted = values.to_vec();
    sorted.sort();
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2),
    }
}

/// Milliseconds with one decimal.
pub fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        let d = Duration::from_millis;
        assert_eq!(median(&[d(5), d(1), d(3)]), Some(d(3)));
        assert_eq!(
            median(&[d(4), d(1), d(3), d(2)]),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn init_line_is_read_from_json_logs() {
        let logs = format!(
            "not json\n{}\n",
            serde_json::json!({
                "level": "INFO",
                "fields": {
                    "message": runtime_aws::INIT_LOG_MESSAGE,
                    "function": "sync",
                    "sdk_config_us": 1500,
                    "sdk_clients_us": 500,
                    "wiring_us": 7000
                },
                "target": runtime_aws::INIT_LOG_TARGET
            })
        );
        assert_eq!(
            measure::init_timings(&logs),
            Some((Duration::from_millis(2), Duration::from_millis(7)))
        );
        assert_eq!(measure::init_timings("{}"), None);
    }

    #[test]
    fn init_phases_are_read_from_both_timing_lines_in_order() {
        let line = |fields: serde_json::Value| {
            serde_json::json!({ "fields": fields, "target": runtime_aws::INIT_LOG_TARGET })
                .to_string()
        };
        let logs = [
            line(serde_json::json!({
                "message": runtime_aws::INIT_LOG_MESSAGE,
                "function": "webhook",
                "secrets_us": 4000,
                "sdk_config_us": 1500
            })),
            line(serde_json::json!({ "message": "something else", "other_us": 9 })),
            line(serde_json::json!({
                "message": runtime_aws::READY_LOG_MESSAGE,
                "since_main_us": 12000
            })),
        ]
        .join("\n");
        let phases = measure::init_phases(&logs);
        let names: Vec<&str> = phases.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["sdk_config", "secrets", "since_main"]);
        assert_eq!(phases[1].1, Duration::from_millis(4));
    }
}
