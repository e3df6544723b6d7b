//! Carrying out one work item: a sync (with a deadline and a continuation), Connec! records
//! for the app, or app changes for Connec!.

use sync_core::domain::Timestamp;
use sync_core::engine::RunOptions;
use sync_core::ports::WorkItem;

use crate::ConnectorService;

/// How a work item ended.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkOutcome {
    /// Done.
    Done,
    /// A sync stopped at its deadline; a continuation was queued.
    Continued,
    /// Not done now (lease held, link needs re-authorisation...): the next scheduled sync
    /// repairs it. The message says why.
    Skipped(String),
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
            Err(e) => return WorkOutcome::Skipped(format!("cannot read the organization: {e}")),
        };
        let engine = match self.engine_for(&org) {
            Ok(engine) => engine,
            Err(e) => return WorkOutcome::Skipped(format!("cannot build the engine: {e}")),
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
                            Err(e) => Err(format!("continuation not queued: {e}")),
                        }
                    }
                    Ok(run) => {
                        tracing::info!(org = %org_id, run = %run.id, status = run.status.as_str(), "sync done");
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
            WorkItem::HubRecords {
                entity, records, ..
            } => engine
                .apply_hub_records(&org_id, &entity, records)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            WorkItem::AppChanges { entity, ids, .. } => engine
                .apply_app_changes(&org_id, &entity, ids)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        match outcome {
            Ok(()) => WorkOutcome::Done,
            Err(reason) => {
                tracing::warn!(org = %org_id, reason = %reason, "work item not completed; the next scheduled sync repairs it");
                WorkOutcome::Skipped(reason)
            }
        }
    }
}
