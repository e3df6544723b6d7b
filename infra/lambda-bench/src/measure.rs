//! One cold start: a fresh process of the function's binary on a fresh runtime API, timed from
//! the spawn to its first `/next` (init), then one event from `/next` handed out to its
//! response (the first invocation). The SDK's own construction time is read from the
//! function's `cold start wired` log line.

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::BenchError;
use crate::cloud::Cloud;
use crate::functions::FunctionKind;
use crate::runtime_api::{Outcome, RuntimeApi};

/// How long a cold start may take before the run is abandoned (not a pass/fail threshold of
/// the figures: a function that hangs is reported as an error).
const INIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The figures of one cold start.
#[derive(Clone, Debug)]
pub struct ColdStart {
    /// Process spawn -> first `/next`.
    pub init: Duration,
    /// `aws_config::load` + the three clients, as the function measured them.
    pub sdk: Option<Duration>,
    /// The rest of `service_from_env` (secrets, apps, ports), as the function measured it.
    pub wiring: Option<Duration>,
    /// Every phase the function logged (see [`init_phases`]).
    pub phases: Vec<(String, Duration)>,
    /// First event handed out -> its response received.
    pub first_invocation: Duration,
    /// The response document.
    pub answer: Value,
}

/// Runs `binary` as `function` once, cold, with the environment of `cloud`, and hands it the
/// first event of run `run`.
///
/// # Errors
///
/// The process cannot start, exits or reports an init error before its first `/next`, does not
/// answer, answers with an error, or answers something the event should not get.
pub async fn cold_start(
    binary: &Path,
    function: FunctionKind,
    cloud: &Cloud,
    events_dir: &Path,
    run: usize,
) -> Result<ColdStart, BenchError> {
    let event = function.event(events_dir, run)?;
    let api = RuntimeApi::start(&function.deployed_name())
        .await
        .map_err(|e| BenchError::Setup(format!("runtime API: {e}")))?;
    let mut command = Command::new(binary);
    command
        .env_clear()
        .envs(cloud.function_env(function, &api.address()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| BenchError::Spawn(binary.display().to_string(), e))?;
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut readers = Vec::new();
    if let Some(out) = child.stdout.take() {
        readers.push(tokio::spawn(collect(BufReader::new(out), lines.clone())));
    }
    if let Some(err) = child.stderr.take() {
        readers.push(tokio::spawn(collect(BufReader::new(err), lines.clone())));
    }
    let output = |lines: &Arc<Mutex<Vec<String>>>| {
        lines.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    };

    let ready = tokio::select! {
        ready = api.wait_ready(INIT_TIMEOUT) => ready,
        status = child.wait() => {
            // Let the readers drain what it printed before it exited.
            for reader in readers.drain(..) {
                let _ = reader.await;
            }
            return Err(BenchError::Function {
                function: function.binary_name(),
                detail: format!(
                    "exited during init ({}); its output:\n{}",
                    status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
                    output(&lines)
                ),
            });
        }
    };
    let ready_at = ready.map_err(|e| BenchError::Function {
        function: function.binary_name(),
        detail: format!("{e}; its output:\n{}", output(&lines)),
    })?;
    let init = ready_at - started;

    let invocation = api
        .invoke(event.to_string().as_bytes(), function.timeout())
        .await
        .map_err(|e| BenchError::Function {
            function: function.binary_name(),
            detail: format!("{e}; its output:\n{}", output(&lines)),
        })?;
    let _ = child.start_kill();
    let _ = child.wait().await;
    for reader in readers {
        let _ = reader.await;
    }
    let logs = output(&lines);
    let answer = match &invocation.outcome {
        Outcome::Response(body) => serde_json::from_slice::<Value>(body).unwrap_or(Value::Null),
        Outcome::Error { error_type, body } => {
            return Err(BenchError::Function {
                function: function.binary_name(),
                detail: format!(
                    "the first invocation failed ({error_type:?}): {}; its output:\n{logs}",
                    String::from_utf8_lossy(body)
                ),
            });
        }
    };
    if !function.answer_ok(&answer) {
        return Err(BenchError::Function {
            function: function.binary_name(),
            detail: format!("unexpected answer {answer}; its output:\n{logs}"),
        });
    }
    let timings = init_timings(&logs);
    Ok(ColdStart {
        init,
        sdk: timings.map(|t| t.0),
        wiring: timings.map(|t| t.1),
        phases: init_phases(&logs),
        first_invocation: invocation.duration(),
        answer,
    })
}

async fn collect<R: tokio::io::AsyncRead + Unpin>(
    reader: BufReader<R>,
    into: Arc<Mutex<Vec<String>>>,
) {
    let mut lines = reader.lines();
    while let Ok(Some(line)) = lines.next_line().await {
        into.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

/// Every `*_us` field of the `cold start wired` and `ready for the first event` JSON log lines
/// (runtime_aws's init timing: `tracing`, `sdk_config`, `sdk_clients`, `wiring`, its phases
/// `env`, `secrets`, `apps`, `service`, and `since_main`), named without `_us`, in that order
/// (any other after them).
pub fn init_phases(logs: &str) -> Vec<(String, Duration)> {
    const ORDER: [&str; 9] = [
        "tracing",
        "sdk_config",
        "sdk_clients",
        "wiring",
        "env",
        "secrets",
        "apps",
        "service",
        "since_main",
    ];
    let mut phases = Vec::new();
    for line in logs.lines() {
        let Ok(line) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(fields) = line.get("fields").and_then(Value::as_object) else {
            continue;
        };
        let message = fields.get("message").and_then(Value::as_str);
        if message != Some(runtime_aws::INIT_LOG_MESSAGE)
            && message != Some(runtime_aws::READY_LOG_MESSAGE)
        {
            continue;
        }
        for (name, value) in fields {
            if let (Some(phase), Some(us)) = (name.strip_suffix("_us"), value.as_u64()) {
                phases.push((phase.to_owned(), Duration::from_micros(us)));
            }
        }
    }
    phases.sort_by_key(|(name, _)| {
        ORDER
            .iter()
            .position(|known| known == name)
            .unwrap_or(ORDER.len())
    });
    phases
}

/// (SDK construction, rest of the wiring) from the `cold start wired` JSON log line.
pub fn init_timings(logs: &str) -> Option<(Duration, Duration)> {
    logs.lines().find_map(|line| {
        let line: Value = serde_json::from_str(line).ok()?;
        let fields = line.get("fields")?;
        if fields.get("message")?.as_str()? != runtime_aws::INIT_LOG_MESSAGE {
            return None;
        }
        let us = |name: &str| fields.get(name).and_then(Value::as_u64);
        let sdk = us("sdk_config_us")? + us("sdk_clients_us")?;
        Some((
            Duration::from_micros(sdk),
            Duration::from_micros(us("wiring_us")?),
        ))
    })
}
