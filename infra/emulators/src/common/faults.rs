//! Fault injection: record rules ([`RecordFault`]) that refuse some writes, call rules
//! ([`CallFault`], [`FaultKind`]) that fail whole HTTP calls before or after they are
//! processed, and the shared registry ([`Faults`]) both the in-process API and the
//! `/_emulator/faults` routes fill.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::http::{ApiError, json_response, raw_response, set_header};
use super::lock;
use super::values::scalar_eq;

/// Rejects writes of records whose `field` equals `value`.
///
/// For Connec! `field` is a dotted path into the record body (e.g.
/// `email.address`); for HubSpot it is a property name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordFault {
    /// Dotted path (Connec!) or property name (HubSpot).
    #[serde(alias = "path", alias = "property")]
    pub field: String,
    /// Value to match; strings compare case-insensitively and scalars compare
    /// by their string form (HubSpot stores everything as strings).
    pub value: Value,
    /// How many writes to reject; `None` = until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

impl RecordFault {
    /// Rule that rejects matching writes until cleared.
    pub fn new(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            field: field.into(),
            value: value.into(),
            times: None,
        }
    }
}

/// Makes whole HTTP calls fail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallFault {
    /// HTTP method to match (case-insensitive); `None` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Substring the request path must contain (empty matches everything).
    #[serde(default)]
    pub path_contains: String,
    /// How many calls to fail; `0` means until cleared.
    #[serde(default)]
    pub times: u32,
    /// What the failure looks like.
    pub kind: FaultKind,
}

impl CallFault {
    /// Fails the next `times` calls whose path contains `path_contains` with `status`.
    pub fn status(path_contains: impl Into<String>, status: u16, times: u32) -> Self {
        Self {
            method: None,
            path_contains: path_contains.into(),
            times,
            kind: FaultKind::Status {
                status,
                retry_after_secs: None,
            },
        }
    }

    /// Same as [`CallFault::status`] with another [`FaultKind`].
    pub fn new(path_contains: impl Into<String>, kind: FaultKind, times: u32) -> Self {
        Self {
            method: None,
            path_contains: path_contains.into(),
            times,
            kind,
        }
    }
}

/// Shape of an injected call failure.
///
/// Over HTTP it is tagged by `type`, e.g. `{"type":"status","status":503}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Respond with this status and the vendor's error envelope (plus
    /// `Retry-After` when given).
    Status {
        /// HTTP status code.
        status: u16,
        /// Optional `Retry-After` header value in seconds.
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Sleep `delay_ms` then answer 504, so a client-side timeout fires first.
    Timeout {
        /// Delay before the 504.
        delay_ms: u64,
    },
    /// 200 with a truncated JSON body.
    Malformed,
    /// 200 with valid JSON lacking the expected keys.
    WrongShape,
    /// Close the connection without an answer: the client sees the connection reset (or closed)
    /// before a response arrived. The call is not processed.
    Reset,
    /// Process the call (its changes are committed), then answer with `then` instead of the
    /// real answer: a lost answer, e.g. `{"type":"after_commit","then":{"type":"status","status":503}}`.
    AfterCommit {
        /// How the answer is lost.
        then: Box<FaultKind>,
    },
}

#[derive(Debug, Default, Clone, Serialize)]
struct FaultState {
    records: Vec<RecordFault>,
    calls: Vec<CallFault>,
}

/// Registry of active faults; cheap to clone (shared handle).
#[derive(Debug, Default, Clone)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

impl Faults {
    /// Adds a record rule (see [`RecordFault`]).
    pub fn fail_record(&self, rule: RecordFault) {
        lock(&self.inner).records.push(rule);
    }

    /// Adds a call rule (see [`CallFault`]).
    pub fn fail_calls(&self, rule: CallFault) {
        lock(&self.inner).calls.push(rule);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        let mut s = lock(&self.inner);
        s.records.clear();
        s.calls.clear();
    }

    /// Active rules as JSON (for `/_emulator/state`).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&*lock(&self.inner)).unwrap_or(Value::Null)
    }

    /// Consumes one matching call rule that fails the call before it is processed, if any.
    pub(crate) fn take_call(&self, method: &str, path: &str) -> Option<FaultKind> {
        self.take(method, path, false)
    }

    /// Consumes one matching [`FaultKind::AfterCommit`] rule, if any, and returns how the
    /// processed call's answer is lost.
    pub(crate) fn take_after_commit(&self, method: &str, path: &str) -> Option<FaultKind> {
        match self.take(method, path, true)? {
            FaultKind::AfterCommit { then } => Some(*then),
            other => Some(other),
        }
    }

    fn take(&self, method: &str, path: &str, after_commit: bool) -> Option<FaultKind> {
        let mut s = lock(&self.inner);
        let idx = s.calls.iter().position(|f| {
            matches!(f.kind, FaultKind::AfterCommit { .. }) == after_commit
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path.contains(&f.path_contains)
        })?;
        let kind = s.calls[idx].kind.clone();
        if s.calls[idx].times > 0 {
            s.calls[idx].times -= 1;
            if s.calls[idx].times == 0 {
                s.calls.remove(idx);
            }
        }
        Some(kind)
    }

    /// Consumes one matching record rule; `lookup` resolves a field/path in
    /// the record being written.
    pub(crate) fn record_hit(&self, lookup: impl Fn(&str) -> Option<Value>) -> Option<RecordFault> {
        let mut s = lock(&self.inner);
        let idx = s
            .records
            .iter()
            .position(|r| lookup(&r.field).is_some_and(|v| scalar_eq(&v, &r.value)))?;
        let hit = s.records[idx].clone();
        if let Some(t) = s.records[idx].times.as_mut() {
            *t = t.saturating_sub(1);
            if *t == 0 {
                s.records.remove(idx);
            }
        }
        Some(hit)
    }
}

/// An injected call fault as an emulator answers it: `error` renders statuses in the vendor's
/// envelope, `content_type` is that of its JSON answers.
pub(crate) async fn render(
    kind: FaultKind,
    content_type: &'static str,
    error: fn(&ApiError) -> Response,
) -> Response {
    match kind {
        FaultKind::Status {
            status,
            retry_after_secs,
        } => {
            let mut r = error(&ApiError::Status {
                status,
                message: format!("Injected fault: HTTP {status}"),
            });
            if let Some(s) = retry_after_secs {
                set_header(&mut r, "retry-after", s);
            }
            r
        }
        FaultKind::Timeout { delay_ms } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            error(&ApiError::Status {
                status: 504,
                message: "Injected fault: gateway timeout".into(),
            })
        }
        FaultKind::Malformed => raw_response(
            StatusCode::OK,
            content_type,
            b"{\"unexpected\": true".to_vec(),
        ),
        FaultKind::WrongShape => {
            json_response(StatusCode::OK, content_type, &json!({ "data": [] }))
        }
        FaultKind::Reset => reset_response(),
        FaultKind::AfterCommit { then } => Box::pin(render(*then, content_type, error)).await,
    }
}

/// A response whose body fails before its first byte: the server closes the connection and
/// the client sees it reset (or closed) without an answer.
pub(crate) fn reset_response() -> Response {
    let failing = futures::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected connection reset",
        ))
    });
    Response::new(Body::from_stream(failing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_fault_counts_down() {
        let f = Faults::default();
        f.fail_calls(CallFault::status("/x", 500, 2));
        assert!(f.take_call("GET", "/x/y").is_some());
        assert!(f.take_call("GET", "/z").is_none());
        assert!(f.take_call("GET", "/x").is_some());
        assert!(f.take_call("GET", "/x").is_none());
    }

    #[test]
    fn after_commit_rules_are_only_taken_after_processing() {
        let f = Faults::default();
        let then = FaultKind::Status {
            status: 503,
            retry_after_secs: None,
        };
        f.fail_calls(CallFault::new(
            "/x",
            FaultKind::AfterCommit {
                then: Box::new(then.clone()),
            },
            1,
        ));
        assert!(f.take_call("POST", "/x").is_none());
        assert_eq!(f.take_after_commit("POST", "/x"), Some(then));
        assert!(f.take_after_commit("POST", "/x").is_none());
    }
}
