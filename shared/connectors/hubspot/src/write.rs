//! Writing: `batch/create` (stamped with the create marker) and `batch/update`.
//!
//! The engine resolves matches before it writes (see [`crate::matching`]), so nothing here
//! merges on its own. Three rules keep one bad input from failing others, and an answer from
//! being misread:
//! - **Grouped by target id**: HubSpot refuses a whole batch that names one id twice (400
//!   "Duplicate IDs found in batch input"), so the second write to an id goes into a later call.
//!   The same hub record created twice in one call is created once and then updated.
//! - **Created records are linked to their inputs by the marker value they carry**, never by
//!   their position in the answer; updated ones by id; per-input errors by trace id.
//! - **A chunk that fails as a whole** (after the retries the HTTP client allows) fails only its
//!   own inputs: refused (a 4xx) or unsettled (a 5xx, a timeout: it may have been applied, and
//!   the engine keeps its write-ahead); the outcomes already settled are kept. Only an error
//!   that every call would meet (credentials, permissions) before anything was sent is returned
//!   as an error, and after one such error the remaining inputs are not sent.
//!
//! Creates are not retried on a timeout or 5xx (the create may have happened): the marker makes
//! the next run's `find_matches` find them.

use std::collections::HashMap;

use http_client::Idempotency;
use serde_json::{Map, Value, json};
use sync_core::domain::AppEntityName;
use sync_core::error::{AppError, HttpError, RecordError};
use sync_core::ports::{AppWrite, AppWriteFailure, AppWriteKind, AppWriteOutcome};

use crate::connector::{HubSpotConnector, ObjectType};
use crate::http::{hubspot_message, is_fatal, properties_of, property, record_id, results_of};

/// One write's outcome.
pub(crate) type WriteResult = Result<AppWriteOutcome, AppWriteFailure>;

/// An update about to be sent.
struct Update {
    index: usize,
    id: String,
    props: Map<String, Value>,
}

/// A create about to be sent.
struct Create {
    index: usize,
    hub_id: String,
    props: Map<String, Value>,
}

/// One input's fate in a batch answer.
enum Fate {
    Done(Value),
    Failed(AppWriteFailure),
}

/// What one batch call said, per input.
struct Answer {
    /// Results by key (the marker value for creates, the id for updates).
    results: HashMap<String, Value>,
    /// Failures by trace id.
    by_trace: HashMap<String, AppWriteFailure>,
    /// Failures by object id (errors that name ids instead of trace ids).
    by_id: HashMap<String, AppWriteFailure>,
    /// A failure no input can be told from (applied to inputs with no result).
    unattributed: Option<AppWriteFailure>,
}

/// The state of one `write` call.
struct Run {
    outcomes: Vec<Option<WriteResult>>,
    /// A batch call has been answered: from now on nothing is returned as an error.
    answered: bool,
    /// An error every further call would meet: the remaining inputs are failed without a call.
    stop: Option<RecordError>,
}

impl Run {
    fn settle(&mut self, index: usize, result: WriteResult) {
        self.outcomes[index] = Some(result);
    }

    /// Handles a chunk that failed as a whole; `Err` only for a fatal error before any answer.
    fn chunk_failed(&mut self, indexes: &[usize], error: AppError) -> Result<(), AppError> {
        let fatal = is_fatal(&error);
        if fatal && !self.answered {
            return Err(error);
        }
        let rejection = chunk_rejection(&error);
        if fatal {
            self.stop = Some(rejection.clone());
        }
        for index in indexes {
            let failure = AppWriteFailure::of_failed_call(&error, rejection.clone());
            self.settle(*index, Err(failure));
        }
        Ok(())
    }
}

impl HubSpotConnector {
    /// Applies the engine's writes: creates first, then updates in rounds of distinct ids.
    pub(crate) async fn write_records(
        &self,
        entity: &AppEntityName,
        writes: Vec<AppWrite>,
    ) -> Result<Vec<WriteResult>, AppError> {
        let object = self.object(entity)?;
        let mut run = Run {
            outcomes: vec![None; writes.len()],
            answered: false,
            stop: None,
        };
        let marker = self.config.marker_property.clone();
        let mut creates: Vec<Create> = Vec::new();
        let mut updates: Vec<Update> = Vec::new();
        // Repeats of a hub id created in this call: updates of the record its first create made.
        let mut repeats: Vec<(usize, usize, Map<String, Value>)> = Vec::new();
        let mut first_create: HashMap<String, usize> = HashMap::new();
        for (index, write) in writes.into_iter().enumerate() {
            match write {
                AppWrite::Update { id, record } => updates.push(Update {
                    index,
                    id: id.as_str().to_owned(),
                    props: properties_of(&record),
                }),
                AppWrite::Create { hub_id, record, .. } => {
                    let mut props = properties_of(&record);
                    let key = hub_id.as_str().to_lowercase();
                    if let Some(first) = first_create.get(&key) {
                        repeats.push((index, *first, props));
                        continue;
                    }
                    first_create.insert(key, index);
                    props.insert(marker.clone(), Value::String(hub_id.as_str().to_owned()));
                    creates.push(Create {
                        index,
                        hub_id: hub_id.as_str().to_owned(),
                        props,
                    });
                }
            }
        }

        if !creates.is_empty() {
            match self.ensure_marker(&object).await {
                Ok(()) => self.send_creates(&object, creates, &mut run).await?,
                Err(error) => {
                    let indexes: Vec<usize> = creates.iter().map(|c| c.index).collect();
                    run.chunk_failed(&indexes, error)?;
                }
            }
        }
        // A repeated create becomes an update of what the first one created.
        for (index, first, props) in repeats {
            let created = run.outcomes[first]
                .as_ref()
                .and_then(|o| o.as_ref().ok())
                .and_then(|o| record_id(&o.record));
            match created {
                Some(id) => updates.push(Update { index, id, props }),
                None => run.settle(
                    index,
                    Err(AppWriteFailure::Rejected(RecordError::new(
                        None,
                        "the same hub record was created twice in one write and the first create failed",
                    ))),
                ),
            }
        }
        for round in rounds(updates) {
            self.send_updates(&object, round, &mut run).await?;
        }
        Ok(run
            .outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(AppWriteFailure::Rejected(RecordError::new(
                        None,
                        "write was not sent",
                    )))
                })
            })
            .collect())
    }

    async fn send_creates(
        &self,
        object: &ObjectType,
        creates: Vec<Create>,
        run: &mut Run,
    ) -> Result<(), AppError> {
        let marker = self.config.marker_property.as_str();
        for chunk in creates.chunks(self.config.batch()) {
            let indexes: Vec<usize> = chunk.iter().map(|c| c.index).collect();
            if let Some(stop) = &run.stop {
                let stop = stop.clone();
                for index in indexes {
                    run.settle(index, Err(AppWriteFailure::Rejected(stop.clone())));
                }
                continue;
            }
            let inputs = chunk
                .iter()
                .map(
                    |c| json!({ "properties": c.props, "objectWriteTraceId": c.index.to_string() }),
                )
                .collect();
            let mut answer = match self
                .batch_call(object, "create", inputs, Idempotency::NotIdempotent, |r| {
                    property(r, marker).map(|m| m.to_lowercase())
                })
                .await
            {
                Ok(answer) => answer,
                Err(error) => {
                    run.chunk_failed(&indexes, error)?;
                    continue;
                }
            };
            run.answered = true;
            if answer.mentions_missing(marker) {
                // Deleted since it was checked: check (and create) it again next time.
                tracing::warn!(
                    object = object.name,
                    property = marker,
                    "the create-marker property is gone"
                );
                self.forget_marker(object).await;
            }
            for create in chunk {
                let fate = answer.fate(
                    &create.index.to_string(),
                    &create.hub_id.to_lowercase(),
                    None,
                );
                run.settle(
                    create.index,
                    outcome(fate, AppWriteKind::Created, "created"),
                );
            }
        }
        Ok(())
    }

    async fn send_updates(
        &self,
        object: &ObjectType,
        round: Vec<Update>,
        run: &mut Run,
    ) -> Result<(), AppError> {
        for chunk in round.chunks(self.config.batch()) {
            let indexes: Vec<usize> = chunk.iter().map(|u| u.index).collect();
            if let Some(stop) = &run.stop {
                let stop = stop.clone();
                for index in indexes {
                    run.settle(index, Err(AppWriteFailure::Rejected(stop.clone())));
                }
                continue;
            }
            let inputs = chunk
                .iter()
                .map(|u| json!({ "id": u.id, "properties": u.props, "objectWriteTraceId": u.index.to_string() }))
                .collect();
            let mut answer = match self
                .batch_call(object, "update", inputs, Idempotency::Idempotent, record_id)
                .await
            {
                Ok(answer) => answer,
                Err(error) => {
                    run.chunk_failed(&indexes, error)?;
                    continue;
                }
            };
            run.answered = true;
            for update in chunk {
                let fate = answer.fate(&update.index.to_string(), &update.id, Some(&update.id));
                run.settle(
                    update.index,
                    outcome(fate, AppWriteKind::Updated, "updated"),
                );
            }
        }
        Ok(())
    }

    /// One batch call. A 2xx answer becomes per-input results and failures; a batch-wide 4xx
    /// and everything else that failed the call as a whole is an `Err`.
    async fn batch_call(
        &self,
        object: &ObjectType,
        operation: &str,
        inputs: Vec<Value>,
        idempotency: Idempotency,
        key_of: impl Fn(&Value) -> Option<String>,
    ) -> Result<Answer, AppError> {
        let path = format!("crm/v3/objects/{}/batch/{operation}", object.name);
        let (_, mut body) = self
            .post(&path, &json!({ "inputs": inputs }), idempotency)
            .await?;
        let results = results_of(&mut body, "POST", &path)?;
        let mut answer = Answer {
            results: HashMap::new(),
            by_trace: HashMap::new(),
            by_id: HashMap::new(),
            unattributed: None,
        };
        for result in results {
            if let Some(key) = key_of(&result) {
                answer.results.insert(key, result);
            }
        }
        for error in body
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let failure = failure_of(error);
            let mut attributed = false;
            for trace in strings_at(error, "/context/objectWriteTraceId") {
                answer.by_trace.insert(trace, failure.clone());
                attributed = true;
            }
            for id in strings_at(error, "/context/ids") {
                answer.by_id.insert(id, failure.clone());
                attributed = true;
            }
            if !attributed && answer.unattributed.is_none() {
                answer.unattributed = Some(failure);
            }
        }
        Ok(answer)
    }
}

impl Answer {
    /// Whether an error says that `property` does not exist.
    fn mentions_missing(&self, property: &str) -> bool {
        let quoted = format!("\\\"{property}\\\"");
        let named = format!("\"name\":\"{property}\"");
        self.by_trace
            .values()
            .chain(self.by_id.values())
            .chain(self.unattributed.iter())
            .any(|f| match f {
                AppWriteFailure::Rejected(e) => {
                    e.message.contains("PROPERTY_DOESNT_EXIST")
                        && (e.message.contains(&quoted) || e.message.contains(&named))
                }
                AppWriteFailure::NotFound | AppWriteFailure::Unsettled(_) => false,
            })
    }

    /// An input's fate: its own error, else its result, else an error no input was told from.
    /// A result is handed out once (moved, not copied): no call carries one key twice.
    fn fate(&mut self, trace: &str, key: &str, id: Option<&str>) -> Option<Fate> {
        if let Some(failure) = self.by_trace.get(trace) {
            return Some(Fate::Failed(failure.clone()));
        }
        if let Some(failure) = id.and_then(|id| self.by_id.get(id)) {
            return Some(Fate::Failed(failure.clone()));
        }
        if let Some(result) = self.results.remove(key) {
            return Some(Fate::Done(result));
        }
        self.unattributed.clone().map(Fate::Failed)
    }
}

/// Rounds of updates in which no id appears twice, each write in the round of its occurrence.
fn rounds(updates: Vec<Update>) -> Vec<Vec<Update>> {
    let mut rounds: Vec<Vec<Update>> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for update in updates {
        let round = seen.entry(update.id.clone()).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(update);
        *round += 1;
    }
    rounds
}

fn outcome(fate: Option<Fate>, kind: AppWriteKind, verb: &str) -> WriteResult {
    match fate {
        Some(Fate::Done(record)) => Ok(AppWriteOutcome { record, kind }),
        Some(Fate::Failed(failure)) => Err(failure),
        None => Err(AppWriteFailure::Rejected(RecordError::new(
            None,
            format!("HubSpot did not return the record it {verb}"),
        ))),
    }
}

/// A per-input error of a multi-status answer.
pub(crate) fn failure_of(error: &Value) -> AppWriteFailure {
    if error.get("category").and_then(Value::as_str) == Some("OBJECT_NOT_FOUND") {
        AppWriteFailure::NotFound
    } else {
        AppWriteFailure::Rejected(RecordError::new(Some(400), hubspot_message(error)))
    }
}

/// The rejection every input of a chunk that failed as a whole gets.
fn chunk_rejection(error: &AppError) -> RecordError {
    let status = match error {
        AppError::Http(HttpError::Status { status, .. }) => Some(*status),
        _ => None,
    };
    RecordError::new(status, format!("the batch call failed: {error}"))
}

fn strings_at(value: &Value, pointer: &str) -> Vec<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// Ids of the records an archive chunk names, for the archive module.
pub(crate) fn error_ids(error: &Value) -> Vec<String> {
    strings_at(error, "/context/ids")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(index: usize, id: &str) -> Update {
        Update {
            index,
            id: id.to_owned(),
            props: Map::new(),
        }
    }

    #[test]
    fn rounds_hold_each_id_once_and_keep_the_order_of_its_writes() {
        let rounds = rounds(vec![
            update(0, "a"),
            update(1, "b"),
            update(2, "a"),
            update(3, "a"),
            update(4, "c"),
        ]);
        let shape: Vec<Vec<usize>> = rounds
            .iter()
            .map(|r| r.iter().map(|u| u.index).collect())
            .collect();
        assert_eq!(shape, [vec![0, 1, 4], vec![2], vec![3]]);
    }

    #[test]
    fn a_missing_marker_property_is_recognised_in_hubspots_message() {
        let message = hubspot_message(&json!({
            "category": "VALIDATION_ERROR",
            "message": "Property values were not valid: [{\"isValid\":false,\"message\":\"Property \\\"connec_id\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"connec_id\"}]",
        }));
        let answer = Answer {
            results: HashMap::new(),
            by_trace: HashMap::from([(
                "0".to_owned(),
                AppWriteFailure::Rejected(RecordError::new(Some(400), message)),
            )]),
            by_id: HashMap::new(),
            unattributed: None,
        };
        assert!(answer.mentions_missing("connec_id"));
        assert!(!answer.mentions_missing("other"));
    }
}
