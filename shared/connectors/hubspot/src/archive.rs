//! Archiving: `batch/archive`, which answers `204 No Content`.
//!
//! Success is what the answer says: a 2xx with an empty body archived the chunk; a 2xx with
//! per-input errors archived all but the ids they name (an error naming none fails the chunk);
//! any other body is not understood and counts as not archived. A chunk that fails as a whole
//! fails its own ids only.

use std::collections::{HashMap, HashSet};

use http_client::Idempotency;
use serde_json::{Value, json};
use sync_core::domain::{AppEntityName, AppId};
use sync_core::error::{AppError, RecordError};
use sync_core::ports::AppWriteFailure;

use crate::connector::HubSpotConnector;
use crate::http::is_fatal;
use crate::write::{error_ids, failure_of as batch_failure};

/// One id's archive outcome.
type ArchiveResult = Result<(), AppWriteFailure>;

impl HubSpotConnector {
    /// Archives records; one result per id, in order (a repeated id shares its first result).
    pub(crate) async fn archive_records(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<ArchiveResult>, AppError> {
        let object = self.object(entity)?;
        let path = format!("crm/v3/objects/{}/batch/archive", object.name);
        let mut unique = HashSet::new();
        let distinct: Vec<&str> = ids
            .iter()
            .map(AppId::as_str)
            .filter(|id| unique.insert(*id))
            .collect();
        let mut results: HashMap<&str, ArchiveResult> = HashMap::new();
        let mut answered = false;
        let mut stop: Option<RecordError> = None;
        for chunk in distinct.chunks(self.config.batch()) {
            if let Some(stop) = &stop {
                for id in chunk {
                    results.insert(id, Err(AppWriteFailure::Rejected(stop.clone())));
                }
                continue;
            }
            let body =
                json!({ "inputs": chunk.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>() });
            match self.post(&path, &body, Idempotency::Idempotent).await {
                Ok((_, answer)) => {
                    answered = true;
                    for (id, result) in read_answer(chunk, &answer) {
                        results.insert(id, result);
                    }
                }
                Err(error) => {
                    let fatal = is_fatal(&error);
                    if fatal && !answered {
                        return Err(error);
                    }
                    let rejection = RecordError::new(
                        error_status(&error),
                        format!("the batch call failed: {error}"),
                    );
                    if fatal {
                        stop = Some(rejection.clone());
                    }
                    for id in chunk {
                        results.insert(id, Err(AppWriteFailure::Rejected(rejection.clone())));
                    }
                }
            }
        }
        Ok(ids
            .iter()
            .map(|id| {
                results.get(id.as_str()).cloned().unwrap_or_else(|| {
                    Err(AppWriteFailure::Rejected(RecordError::new(
                        None,
                        "archive was not sent",
                    )))
                })
            })
            .collect())
    }
}

/// What a 2xx answer to one chunk says about each of its ids.
fn read_answer<'a>(chunk: &[&'a str], answer: &Value) -> Vec<(&'a str, ArchiveResult)> {
    let unexpected = |what: &str| {
        chunk
            .iter()
            .map(|id| {
                (
                    *id,
                    Err(AppWriteFailure::Rejected(RecordError::new(
                        None,
                        format!(
                            "HubSpot answered batch/archive with {what}; not counted as archived"
                        ),
                    ))),
                )
            })
            .collect()
    };
    match answer {
        // 204 No Content: the documented answer.
        Value::Null => chunk.iter().map(|id| (*id, Ok(()))).collect(),
        Value::Object(map) => {
            let errors = match map.get("errors") {
                Some(Value::Array(errors)) => errors.as_slice(),
                None => &[],
                Some(_) => return unexpected("an unreadable `errors` field"),
            };
            // A completed batch envelope, with `errors` naming the ids that failed.
            if map.get("status").and_then(Value::as_str) != Some("COMPLETE") {
                return unexpected("an unexpected body");
            }
            let mut failed: HashMap<String, AppWriteFailure> = HashMap::new();
            for error in errors {
                let ids = error_ids(error);
                if ids.is_empty() {
                    return chunk
                        .iter()
                        .map(|id| (*id, Err(batch_failure(error))))
                        .collect();
                }
                for id in ids {
                    failed.insert(id, batch_failure(error));
                }
            }
            chunk
                .iter()
                .map(|id| match failed.get(*id) {
                    Some(failure) => (*id, Err(failure.clone())),
                    None => (*id, Ok(())),
                })
                .collect()
        }
        _ => unexpected("an unexpected body"),
    }
}

fn error_status(error: &AppError) -> Option<u16> {
    match error {
        AppError::Http(sync_core::error::HttpError::Status { status, .. }) => Some(*status),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_empty_answer_or_a_clean_envelope_counts_as_archived() {
        let chunk = ["1", "2"];
        assert!(
            read_answer(&chunk, &Value::Null)
                .iter()
                .all(|(_, r)| r.is_ok())
        );
        let wrong = read_answer(&chunk, &json!({ "data": [] }));
        assert!(wrong.iter().all(|(_, r)| r.is_err()));
        let clean = read_answer(&chunk, &json!({ "status": "COMPLETE", "results": [] }));
        assert!(clean.iter().all(|(_, r)| r.is_ok()));
        let partial = read_answer(
            &chunk,
            &json!({ "status": "COMPLETE", "errors": [
                { "category": "VALIDATION_ERROR", "message": "no", "context": { "ids": ["2"] } }
            ]}),
        );
        assert!(partial[0].1.is_ok());
        assert!(partial[1].1.is_err());
        let vague = read_answer(
            &chunk,
            &json!({ "status": "COMPLETE", "errors": [{ "category": "X", "message": "?" }] }),
        );
        assert!(vague.iter().all(|(_, r)| r.is_err()));
        assert!(
            read_answer(&chunk, &json!([1]))
                .iter()
                .all(|(_, r)| r.is_err())
        );
    }
}
