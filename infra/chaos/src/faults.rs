//! Random faults through the emulators' fault registries: 5xx, 429 with `Retry-After`,
//! timeouts, connection resets, truncated JSON, answers of the wrong shape, lost answers
//! (the call is committed, then fails) and rejected records.

use std::collections::BTreeMap;

use emulators::{CallFault, FaultKind, RecordFault};
use rand::Rng;
use rand::rngs::StdRng;

use crate::ledger::Ledger;
use crate::world::Sides;

/// Faults injected, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts(pub BTreeMap<&'static str, u64>);

impl FaultCounts {
    /// Counts one more of `kind`.
    pub fn add(&mut self, kind: &'static str, n: u64) {
        *self.0.entry(kind).or_default() += n;
    }

    /// Adds another tally.
    pub fn merge(&mut self, other: &FaultCounts) {
        for (kind, n) in &other.0 {
            self.add(kind, *n);
        }
    }

    /// `{kind:n, ...}`.
    pub fn render(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(k, n)| format!("{k}:{n}")).collect();
        format!("{{{}}}", parts.join(","))
    }

    /// All faults.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

/// Paths a Connec! rule may match (substrings of the request path).
const CONNEC_PATHS: [&str; 4] = ["/api/v2/", "/batch", "/people", "/organizations"];
/// Connec! write paths a lost answer (after commit) targets (the app's: its
/// [`crate::app::FaultPaths`]).
const CONNEC_WRITES: [&str; 3] = ["/batch", "/people", "/organizations"];
/// How injected timeouts behave.
#[derive(Clone, Copy, Debug)]
pub struct FaultSettings {
    /// Delay before the emulator answers 504 (longer than the client's timeout in-process).
    pub timeout_delay_ms: u64,
}

fn kind_of(rng: &mut StdRng, settings: FaultSettings) -> (&'static str, FaultKind) {
    let status = |status, retry_after_secs| FaultKind::Status {
        status,
        retry_after_secs,
    };
    match rng.random_range(0..100u32) {
        0..22 => {
            let code = [500, 502, 503][rng.random_range(0..3usize)];
            ("5xx", status(code, None))
        }
        22..35 => {
            let wait = u64::from(rng.random_bool(0.3));
            ("429", status(429, Some(wait)))
        }
        35..45 => (
            "timeout",
            FaultKind::Timeout {
                delay_ms: settings.timeout_delay_ms,
            },
        ),
        45..58 => ("reset", FaultKind::Reset),
        58..68 => ("truncated_json", FaultKind::Malformed),
        68..73 => ("wrong_shape", FaultKind::WrongShape),
        _ => {
            let then = if rng.random_bool(0.5) {
                status(503, None)
            } else {
                FaultKind::Reset
            };
            (
                "lost_answer",
                FaultKind::AfterCommit {
                    then: Box::new(then),
                },
            )
        }
    }
}

/// The first `times` calls of `method` to a path containing `path` are carried out and their
/// answers lost (a 503 in their place): the app committed what the caller never learns of.
pub fn lost_answer(method: &str, path: &str, times: u32) -> CallFault {
    CallFault {
        method: Some(method.into()),
        path_contains: path.into(),
        times,
        kind: FaultKind::AfterCommit {
            then: Box::new(FaultKind::Status {
                status: 503,
                retry_after_secs: None,
            }),
        },
    }
}

/// Injects `count` random faults on either side; a tenth of them reject one record's writes.
pub fn inject(
    rng: &mut StdRng,
    sides: &Sides,
    ledger: &Ledger,
    count: u32,
    settings: FaultSettings,
    tally: &mut FaultCounts,
) {
    for _ in 0..count {
        let hub = rng.random_bool(0.5);
        let times = rng.random_range(1..=3u32);
        let pick = rng.random_range(0..1_000_000usize);
        let method = match rng.random_range(0..3u32) {
            0 => Some("GET".to_owned()),
            1 => Some("POST".to_owned()),
            _ => None,
        };
        if rng.random_range(0..10u32) == 0 {
            let active = ledger.active(None);
            if active.is_empty() {
                continue;
            }
            let entry = &ledger.entries[active[pick % active.len()]];
            if hub {
                sides.connec.fail_record(RecordFault {
                    field: entry.kind.hub_key().to_owned(),
                    value: entry.key.clone().into(),
                    times: Some(times),
                });
            } else {
                sides.app.fail_record(entry.kind, &entry.key, times);
            }
            tally.add("rejected_record", u64::from(times));
            continue;
        }
        let (mut name, mut kind) = kind_of(rng, settings);
        if !hub && name == "wrong_shape" && sides.app.wrong_shape_restriction().is_some() {
            // Made visible in the tally under its own name.
            (name, kind) = (
                "wrong_shape_as_502",
                FaultKind::Status {
                    status: 502,
                    retry_after_secs: None,
                },
            );
        }
        let lost = matches!(kind, FaultKind::AfterCommit { .. });
        let app = sides.app.fault_paths();
        let paths: &[&str] = match (hub, lost) {
            (true, false) => &CONNEC_PATHS,
            (false, false) => app.any,
            (true, true) => &CONNEC_WRITES,
            (false, true) => app.writes,
        };
        let path = paths[pick % paths.len()];
        // A lost answer is about a write: any method but GET.
        let method = if lost { None } else { method };
        let rule = CallFault {
            method,
            path_contains: path.to_owned(),
            times,
            kind,
        };
        if hub {
            sides.connec.fail_calls(rule);
        } else {
            sides.app.fail_calls(rule);
        }
        tally.add(name, u64::from(times));
    }
}
