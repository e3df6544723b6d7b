//! Reads an EventBridge event (or the scheduler's raw input) and runs it.

use std::time::Duration;

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use service::{ConnectorService, WorkOutcome};
use sync_core::domain::Timestamp;
use sync_core::ports::WorkItem;

/// Time kept back before the Lambda deadline to checkpoint and emit the continuation.
const SAFETY_MARGIN: Duration = Duration::from_secs(20);

/// What an invocation asks for.
#[derive(Debug, PartialEq)]
pub enum Request {
    /// The hourly schedule: fan out.
    FanOut,
    /// One work item.
    Work(WorkItem),
}

/// Understands the scheduler's input (`{"scheduled_time": ...}`, raw or as an EventBridge
/// detail) and our own events (`detail` = a [`WorkItem`]).
pub fn parse(payload: &Value) -> Result<Request, String> {
    let detail = payload.get("detail").unwrap_or(payload);
    if detail.get("scheduled_time").is_some()
        || payload.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
    {
        return Ok(Request::FanOut);
    }
    serde_json::from_value::<WorkItem>(detail.clone())
        .map(Request::Work)
        .map_err(|e| format!("not a schedule tick nor a work item: {e}"))
}

/// The Lambda deadline (epoch ms) minus the safety margin.
pub fn deadline_of(deadline_ms: u64) -> Option<Timestamp> {
    Timestamp::parse(&deadline_ms.to_string()).map(|t| t.minus(SAFETY_MARGIN))
}

/// Why an invocation failed in a way a retry can fix. EventBridge invokes the function
/// asynchronously, so Lambda retries an invocation that returns an error (twice, with backoff):
/// only transient failures are returned as errors. A permanent failure (a malformed event, a
/// mapping that does not load) is answered `Ok` with `"outcome": "failed"` and logged as an
/// error, because retrying it would fail the same way; the next scheduled sync runs anyway.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// An API, the store or the bus was unavailable: a retry may succeed.
    #[error("{0}")]
    Transient(String),
}

impl From<InvocationError> for Diagnostic {
    fn from(error: InvocationError) -> Self {
        match error {
            InvocationError::Transient(message) => Diagnostic {
                error_type: "Transient".into(),
                error_message: message,
            },
        }
    }
}

/// Handles one invocation.
pub async fn handle(
    service: &ConnectorService,
    event: LambdaEvent<Value>,
) -> Result<Value, InvocationError> {
    let deadline = deadline_of(event.context.deadline);
    run(service, &event.payload, deadline).await
}

/// The work of one invocation, with an explicit deadline (tests pass their own).
pub async fn run(
    service: &ConnectorService,
    payload: &Value,
    deadline: Option<Timestamp>,
) -> Result<Value, InvocationError> {
    let request = match parse(payload) {
        Ok(request) => request,
        Err(reason) => {
            tracing::error!(reason = %reason, "event refused: retrying it would not help");
            return Ok(json!({ "outcome": "failed", "retry": false, "reason": reason }));
        }
    };
    match request {
        Request::FanOut => {
            let queued = service
                .fan_out()
                .await
                .map_err(|e| InvocationError::Transient(format!("fan-out: {e}")))?;
            Ok(json!({ "fan_out": queued }))
        }
        Request::Work(item) => match service.process(item, deadline).await {
            WorkOutcome::Done => Ok(json!({ "outcome": "done" })),
            WorkOutcome::Continued => Ok(json!({ "outcome": "continued" })),
            WorkOutcome::Skipped(reason) => Ok(json!({ "outcome": "skipped", "reason": reason })),
            WorkOutcome::Failed(failure) if failure.retry => {
                Err(InvocationError::Transient(failure.reason))
            }
            WorkOutcome::Failed(failure) => Ok(json!({
                "outcome": "failed",
                "retry": false,
                "reason": failure.reason,
            })),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_aws::testing::fixture;
    use sync_core::domain::{EntityName, OrgId};

    #[test]
    fn every_sync_fixture_is_understood() {
        assert_eq!(parse(&fixture("schedule-tick.json")), Ok(Request::FanOut));
        assert_eq!(
            parse(&serde_json::json!({ "scheduled_time": "2026-11-23T10:00:00Z" })),
            Ok(Request::FanOut)
        );
        assert_eq!(
            parse(&fixture("sync-requested.json")),
            Ok(Request::Work(WorkItem::Sync {
                org: OrgId::new("cld-demo")
            }))
        );
        assert!(matches!(
            parse(&fixture("sync-continuation.json")),
            Ok(Request::Work(WorkItem::Sync { .. }))
        ));
        assert!(matches!(
            parse(&fixture("hub-records.json")),
            Ok(Request::Work(WorkItem::HubRecords { ref entity, .. })) if entity == &EntityName::new("people")
        ));
        assert!(
            matches!(parse(&fixture("app-changes.json")), Ok(Request::Work(WorkItem::AppChanges { ref ids, .. })) if !ids.is_empty())
        );
        let bad = parse(&serde_json::json!({ "detail": { "type": "nonsense" } }));
        assert!(
            bad.unwrap_err()
                .contains("not a schedule tick nor a work item")
        );
    }

    #[tokio::test]
    async fn a_malformed_event_or_an_unknown_organization_is_not_retried() {
        use runtime_aws::testing::{PUBLIC_URL, in_memory, settings};
        let (service, _) = in_memory(
            settings("http://127.0.0.1:9"),
            connectors::fixture_registry("http://127.0.0.1:9", PUBLIC_URL),
        );
        let refused = run(
            &service,
            &serde_json::json!({ "detail": { "type": "nonsense" } }),
            None,
        )
        .await
        .expect("answered, so that Lambda does not retry it");
        assert_eq!(refused["outcome"], "failed");
        assert_eq!(refused["retry"], false);
        let unknown = run(&service, &fixture("sync-requested.json"), None)
            .await
            .expect("nothing to retry");
        assert_eq!(unknown["outcome"], "skipped");
    }

    #[test]
    fn a_transient_failure_is_an_error_lambda_retries_with_its_type() {
        let diagnostic: Diagnostic = InvocationError::Transient("store unavailable".into()).into();
        assert_eq!(diagnostic.error_type, "Transient");
        assert_eq!(diagnostic.error_message, "store unavailable");
    }

    #[test]
    fn the_deadline_keeps_a_safety_margin() {
        let deadline = deadline_of(1_800_000_000_000).unwrap();
        assert_eq!(deadline.epoch_millis(), 1_800_000_000_000 - 20_000);
    }
}
