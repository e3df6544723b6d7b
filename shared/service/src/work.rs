//! Carrying out one work item: a sync (with a deadline and a continuation), Connec! records
//! for the app, or app changes for Connec!.

use sync_core::domain::Timestamp;
use sync_core::engine::RunOptions;
use sync_core::error::SyncError;
use sync_core::ports::WorkItem;

use crate::ConnectorService;

/// How a work item ended.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkOutcome {
    /// Done.
    Done,
    /// A sync stopped at its deadline; a continuation was queued.
    Continued,
    /// Not for now, and nothing to retry (another run holds the lease, sync or the direction is
    /// off, the organization is gone): the message says why.
    Skipped(String),
    /// It failed; `retry` says whether doing it again soon can help.
    Failed(WorkFailure),
}

/// Why a work item failed, and whether a retry helps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkFailure {
    /// What went wrong (no record contents, no credentials).
    pub reason: String,
    /// True for transient causes (an API or the store unavailable, a continuation not queued):
    /// the same item may succeed if retried. False when only a fix can help (a mapping or
    /// configuration error): retrying would fail the same way.
    pub retry: bool,
}

impl WorkFailure {
    fn transient(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retry: true,
        }
    }

    fn permanent(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            retry: false,
        }
    }
}

/// What an engine error means for the work item: skip it, or fail it with or without retry.
pub fn classify(error: &SyncError) -> WorkOutcome {
    match error {
        SyncError::Locked(_)
        | SyncError::Disabled(_)
        | SyncError::UnknownOrganization(_)
        | SyncError::DirectionOff { .. } => WorkOutcome::Skipped(error.to_string()),
        SyncError::Store(_) | SyncError::Apply(_) => {
            WorkOutcome::Failed(WorkFailure::transient(error.to_string()))
        }
        SyncError::Mapping(_) | SyncError::UnknownEntity(_) => {
            WorkOutcome::Failed(WorkFailure::permanent(error.to_string()))
        }
    }
}

impl ConnectorService {
    /// Carries out one work item. A sync stops cleanly at `deadline` and queues its
    /// continuation.
    pub async fn process(&self, item: WorkItem, deadline: Option<Timestamp>) -> WorkOutcome {
        let org_id = match &item {
            WorkItem::Sync { org }
            | WorkItem::HubRecords { org, .. }
            | WorkItem::AppChanges { org, .. } => org.clone(),
        };
        let org = match self.ports.store.get_organization(&org_id).await {
            Ok(Some(org)) => org,
            Ok(None) => return WorkOutcome::Skipped(format!("unknown organization {org_id}")),
            Err(e) => {
                return failed(
                    &org_id,
                    WorkFailure::transient(format!("cannot read the organization: {e}")),
                );
            }
        };
        let engine = match self.engine_for(&org) {
            Ok(engine) => engine,
            Err(e) => {
                return failed(
                    &org_id,
                    WorkFailure::permanent(format!("cannot build the engine: {e}")),
                );
            }
        };
        let outcome = match item {
            WorkItem::Sync { .. } => {
                let options = RunOptions {
                    deadline,
                    ..RunOptions::default()
                };
                match engine.sync(&org_id, options).await {
                    Ok(run) if run.needs_continuation => {
                        match self
                            .ports
                            .bus
                            .publish(WorkItem::Sync {
                                org: org_id.clone(),
                            })
                            .await
                        {
                            Ok(()) => return WorkOutcome::Continued,
                            Err(e) => {
                                return failed(
                                    &org_id,
                                    WorkFailure::transient(format!("continuation not queued: {e}")),
                                );
                            }
                        }
                    }
                    Ok(run) => {
                        tracing::info!(org = %org_id, run = %run.id, status = run.status.as_str(), "sync done");
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            WorkItem::HubRecords {
                entity, records, ..
            } => engine
                .apply_hub_records(&org_id, &entity, records)
                .await
                .map(|_| ()),
            WorkItem::AppChanges { entity, ids, .. } => engine
                .apply_app_changes(&org_id, &entity, ids)
                .await
                .map(|_| ()),
        };
        match outcome {
            Ok(()) => WorkOutcome::Done,
            Err(e) => match classify(&e) {
                WorkOutcome::Failed(failure) => failed(&org_id, failure),
                other => {
                    tracing::info!(org = %org_id, reason = %e, "work item skipped");
                    other
                }
            },
        }
    }
}

fn failed(org: &sync_core::domain::OrgId, failure: WorkFailure) -> WorkOutcome {
    if failure.retry {
        tracing::warn!(org = %org, reason = %failure.reason, "work item failed; a retry may help, and the next scheduled sync repairs it");
    } else {
        tracing::error!(org = %org, reason = %failure.reason, "work item failed; it needs a fix (configuration or mapping), a retry would fail the same way");
    }
    WorkOutcome::Failed(failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sync_core::error::StoreError;

    #[test]
    fn each_engine_error_is_skipped_or_failed_with_the_right_retry() {
        let skipped = |o: &WorkOutcome| matches!(o, WorkOutcome::Skipped(_));
        let retry = |o: &WorkOutcome| matches!(o, WorkOutcome::Failed(f) if f.retry);
        let fix = |o: &WorkOutcome| matches!(o, WorkOutcome::Failed(f) if !f.retry);
        type Check = fn(&WorkOutcome) -> bool;
        let cases: Vec<(SyncError, Check)> = vec![
            (SyncError::Locked("o".into()), skipped),
            (SyncError::Disabled("o".into()), skipped),
            (SyncError::UnknownOrganization("o".into()), skipped),
            (
                SyncError::DirectionOff {
                    entity: "people".into(),
                    direction: "to the app",
                },
                skipped,
            ),
            (SyncError::Store(StoreError::Backend("down".into())), retry),
            (SyncError::Apply("HTTP 503".into()), retry),
            (SyncError::Mapping("bad rule".into()), fix),
            (SyncError::UnknownEntity("deals".into()), fix),
        ];
        for (error, check) in cases {
            let outcome = classify(&error);
            assert!(check(&outcome), "{error}: {outcome:?}");
        }
    }
}
