//! Reads an EventBridge event (or the scheduler's raw input) and runs it.

use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent};
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

/// Handles one invocation.
pub async fn handle(service: &ConnectorService, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let deadline = deadline_of(event.context.deadline);
    run(service, &event.payload, deadline).await
}

/// The work of one invocation, with an explicit deadline (tests pass their own).
pub async fn run(
    service: &ConnectorService,
    payload: &Value,
    deadline: Option<Timestamp>,
) -> Result<Value, Error> {
    match parse(payload)? {
        Request::FanOut => {
            let queued = service.fan_out().await?;
            Ok(json!({ "fan_out": queued }))
        }
        Request::Work(item) => Ok(match service.process(item, deadline).await {
            WorkOutcome::Done => json!({ "outcome": "done" }),
            WorkOutcome::Continued => json!({ "outcome": "continued" }),
            WorkOutcome::Skipped(reason) => json!({ "outcome": "skipped", "reason": reason }),
        }),
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

    #[test]
    fn the_deadline_keeps_a_safety_margin() {
        let deadline = deadline_of(1_800_000_000_000).unwrap();
        assert_eq!(deadline.epoch_millis(), 1_800_000_000_000 - 20_000);
    }
}
