//! Writing: `POST /{Collection}?summarizeErrors=false` with `{"Collection": [...]}`, in batches.
//!
//! - **Creates and updates go in separate batches.** Creates carry no id and an
//!   `Idempotency-Key` ([`idempotency_key`]): the SHA-256 of the tenant, the collection and the
//!   batch's writes (each hub id with its record, canonical JSON). The same batch sent again (a
//!   retry of the HTTP client after a timeout, or the next run after a lost answer) has the same
//!   key, and Xero answers it without creating twice; so creates are retried like idempotent
//!   calls. Updates carry the record's id and no key: they are idempotent by nature, and a key
//!   would make Xero replay an old answer to a later update that happens to send the same
//!   content again. A batch key only dedupes a batch sent again as it was; the next run's batch
//!   may hold other records too, so match-before-create on natural keys (see
//!   [`crate::matching`]) is the second guard. Payments have no natural key: each payment
//!   create is a call of its own, so its key is its own whatever else the run sends.
//! - **Per-element results.** With `summarizeErrors=false` Xero answers 200 with the records in
//!   the order sent, those it refused carrying `ValidationErrors`: each becomes
//!   [`AppWriteFailure::Rejected`] (status 400, Xero's messages joined), the others succeed.
//! - **A 404** names no element: the batch is sent again one record at a time, and an update
//!   answered 404 alone is [`AppWriteFailure::NotFound`].
//! - **A batch that fails as a whole** fails its own writes only. An error every call would meet
//!   (credentials, permissions, the day's quota) is returned as an error when nothing was
//!   answered yet, and stops the sending of the rest otherwise.
//!
//! Before sending, each record is prepared for Xero: keyed `Phones` / `Addresses` become arrays
//! again, invoice lines name their item by `ItemCode` (resolved from the `Item.ItemID` the
//! engine puts there, with one `GET /Items` per write call), payments get the bank account of the
//! `payment_account_code` setting, and payments are never updated.

use std::collections::HashMap;

use http_client::Idempotency;
use reqwest::Method;
use serde_json::{Value, json};
use sync_core::domain::AppEntityName;
use sync_core::error::{AppError, RecordError};
use sync_core::ports::{AppWrite, AppWriteFailure, AppWriteKind, AppWriteOutcome};

use crate::connector::{Kind, XeroConnector};
use crate::contacts::{company_part, person_contact_part, unkeyed};
use crate::http::{Call, is_fatal, records_of, status_of, text, validation_messages};
use crate::lines::{lines_name_items, resolve_item_codes};
pub(crate) use crate::run::Run;

/// One write's outcome.
pub(crate) type WriteResult = Result<AppWriteOutcome, AppWriteFailure>;

/// The idempotency key of a create batch: hex SHA-256 of the tenant, the collection and each
/// write's hub id and record, in canonical JSON (key order and number forms do not matter).
///
/// ```
/// use serde_json::json;
/// let record = json!({ "Name": "Acme" });
/// let a = xero::idempotency_key("tenant-1", "Contacts", &[(Some("hub-1"), &record)]);
/// assert_eq!(a.len(), 64);
/// assert_eq!(a, xero::idempotency_key("tenant-1", "Contacts", &[(Some("hub-1"), &record)]));
/// assert_ne!(a, xero::idempotency_key("tenant-2", "Contacts", &[(Some("hub-1"), &record)]));
/// ```
pub fn idempotency_key(
    tenant: &str,
    collection: &str,
    writes: &[(Option<&str>, &Value)],
) -> String {
    let writes: Vec<Value> = writes
        .iter()
        .map(|(hub_id, record)| json!({ "hub_id": hub_id, "record": record }))
        .collect();
    mapping::content_hash(&json!({
        "tenant": tenant,
        "collection": collection,
        "writes": writes,
    }))
    .as_str()
    .to_owned()
}

/// What a create's idempotency key is derived from besides its content: its hub id, and the
/// number of earlier creates Xero refused, so that a create retried after a refusal is not
/// answered with the refusal again (Xero replays the first answer to a key for a day) while a
/// create whose answer was lost is retried with the same key.
pub(crate) fn key_source(hub_id: &str, attempt: u32) -> String {
    match attempt {
        0 => hub_id.to_owned(),
        n => format!("{hub_id}#after-refusal-{n}"),
    }
}

/// A record ready to send.
pub(crate) struct Prepared {
    /// The write's position.
    pub index: usize,
    /// The hub id of a create.
    pub hub_id: Option<String>,
    /// The Xero id of an update.
    pub id: Option<String>,
    /// The Xero record.
    pub body: Value,
}

impl XeroConnector {
    /// Applies the engine's writes; one result per write, in order.
    pub(crate) async fn write_records(
        &self,
        entity: &AppEntityName,
        writes: Vec<AppWrite>,
    ) -> Result<Vec<WriteResult>, AppError> {
        let kind = Kind::of(entity)?;
        let mut run: Run<AppWriteOutcome> = Run::new(writes.len());
        match kind {
            Kind::Persons => self.write_persons(writes, &mut run).await?,
            Kind::Contacts => {
                for index in 0..writes.len() {
                    run.reject(
                        index,
                        RecordError::new(
                            None,
                            "write the parts of a contact (companies, persons), not the contact",
                        ),
                    );
                }
            }
            _ => {
                let mut items = None;
                let mut prepared = Vec::with_capacity(writes.len());
                for (index, write) in writes.into_iter().enumerate() {
                    match self.prepare(kind, index, write, &mut items).await? {
                        Ok(ready) => prepared.push(ready),
                        Err(error) => run.reject(index, error),
                    }
                }
                self.send_prepared(kind, prepared, &mut run).await?;
            }
        }
        Ok(run.finish("write"))
    }

    /// A write as Xero takes it, or why it cannot be sent.
    async fn prepare(
        &self,
        kind: Kind,
        index: usize,
        write: AppWrite,
        items: &mut Option<Result<HashMap<String, String>, RecordError>>,
    ) -> Result<Result<Prepared, RecordError>, AppError> {
        let (hub_id, id, mut body) = match write {
            AppWrite::Create {
                hub_id,
                record,
                attempt,
            } => (Some(key_source(hub_id.as_str(), attempt)), None, record),
            AppWrite::Update { id, record } => (None, Some(id.to_string()), record),
        };
        if !body.is_object() {
            return Ok(Err(RecordError::new(
                None,
                "the mapped record is not an object",
            )));
        }
        match kind {
            Kind::Companies => {
                unkeyed(&mut body);
                if let Some(map) = body.as_object_mut() {
                    map.remove("ContactPersons");
                }
            }
            Kind::Invoices => {
                if matches!(text(&body, "Status"), Some("DELETED" | "VOIDED"))
                    && let Some(map) = body.as_object_mut()
                {
                    // Deleting and voiding go through `archive`, which reads the status first.
                    map.remove("Status");
                }
                if lines_name_items(&body) && items.is_none() {
                    *items = Some(match self.item_codes().await {
                        Ok(codes) => Ok(codes),
                        Err(error) if is_fatal(&error) => return Err(error),
                        // Every invoice of this call that names items fails alike, without
                        // asking again.
                        Err(error) => Err(RecordError::new(
                            status_of(&error),
                            format!("the item codes could not be read: {error}"),
                        )),
                    });
                }
                let codes = match items {
                    Some(Ok(codes)) => Some(&*codes),
                    Some(Err(error)) if lines_name_items(&body) => return Ok(Err(error.clone())),
                    _ => None,
                };
                if let Err(error) = resolve_item_codes(&mut body, codes) {
                    return Ok(Err(error));
                }
            }
            Kind::Payments => {
                if id.is_some() {
                    return Ok(Err(RecordError::new(
                        None,
                        "Xero payments cannot be changed: delete the payment and create another",
                    )));
                }
                if body.pointer("/Account/Code").is_none() {
                    match &self.config.payment_account_code {
                        Some(code) => body["Account"] = json!({ "Code": code }),
                        None => {
                            return Ok(Err(RecordError::new(
                                None,
                                "set the Xero connector's `payment_account_code` (the bank account payments are made to) to create payments",
                            )));
                        }
                    }
                }
            }
            _ => {}
        }
        let map = body.as_object_mut().expect("checked above");
        match &id {
            Some(id) => {
                map.insert(kind.wire_id().into(), Value::String(id.clone()));
            }
            None => {
                map.remove(kind.wire_id());
            }
        }
        Ok(Ok(Prepared {
            index,
            hub_id,
            id,
            body,
        }))
    }

    /// Sends prepared records (creates first), settling each in `run`.
    pub(crate) async fn send_prepared(
        &self,
        kind: Kind,
        prepared: Vec<Prepared>,
        run: &mut Run<AppWriteOutcome>,
    ) -> Result<(), AppError> {
        let (creates, updates): (Vec<Prepared>, Vec<Prepared>) =
            prepared.into_iter().partition(|p| p.id.is_none());
        for (group, verb) in [
            (creates, AppWriteKind::Created),
            (updates, AppWriteKind::Updated),
        ] {
            let size = match (kind, verb) {
                (Kind::Payments, AppWriteKind::Created) => 1,
                _ => self.config.batch(),
            };
            for chunk in group.chunks(size) {
                let indexes: Vec<usize> = chunk.iter().map(|p| p.index).collect();
                if run.stopped(&indexes) {
                    continue;
                }
                let bodies: Vec<&Value> = chunk.iter().map(|p| &p.body).collect();
                let creating = verb == AppWriteKind::Created;
                let results = match self.send_batch(kind, creating, chunk, &bodies).await {
                    Ok(results) => results,
                    Err(error) => {
                        run.failed(&indexes, error)?;
                        continue;
                    }
                };
                run.answered = true;
                for (prepared, result) in chunk.iter().zip(results) {
                    run.settle(
                        prepared.index,
                        result.map(|record| AppWriteOutcome {
                            record: outcome_record(kind, &record),
                            kind: verb,
                        }),
                    );
                }
            }
        }
        Ok(())
    }

    /// One batch; on a 404 for several records, each alone.
    pub(crate) async fn send_batch(
        &self,
        kind: Kind,
        creating: bool,
        chunk: &[Prepared],
        bodies: &[&Value],
    ) -> Result<Vec<Result<Value, AppWriteFailure>>, AppError> {
        match self.post_batch(kind, creating, chunk, bodies).await {
            Err(error) if status_of(&error) == Some(404) && chunk.len() > 1 => {
                let mut results = Vec::with_capacity(chunk.len());
                for (prepared, body) in chunk.iter().zip(bodies) {
                    let alone = std::slice::from_ref(prepared);
                    match self.post_batch(kind, creating, alone, &[*body]).await {
                        Ok(mut one) => results.push(one.remove(0)),
                        Err(error) if status_of(&error) == Some(404) => {
                            results.push(Err(not_found(creating, &error)));
                        }
                        Err(error) if is_fatal(&error) => return Err(error),
                        Err(error) => results.push(Err(AppWriteFailure::Rejected(
                            RecordError::new(status_of(&error), error.to_string()),
                        ))),
                    }
                }
                Ok(results)
            }
            Err(error) if status_of(&error) == Some(404) => {
                Ok(vec![Err(not_found(creating, &error))])
            }
            other => other,
        }
    }

    /// `POST /{Collection}?summarizeErrors=false` (`PUT` for payments, which are only created):
    /// one result per record sent, in order.
    async fn post_batch(
        &self,
        kind: Kind,
        creating: bool,
        chunk: &[Prepared],
        bodies: &[&Value],
    ) -> Result<Vec<Result<Value, AppWriteFailure>>, AppError> {
        let collection = kind.collection();
        let body = json!({ collection: bodies });
        let method = if kind == Kind::Payments {
            Method::PUT
        } else {
            Method::POST
        };
        let mut call = Call::send(method, collection, &body).query("summarizeErrors", "false");
        if creating {
            let writes: Vec<(Option<&str>, &Value)> = chunk
                .iter()
                .zip(bodies)
                .map(|(p, body)| (p.hub_id.as_deref(), *body))
                .collect();
            call.key = Some(idempotency_key(self.tenant.as_str(), collection, &writes));
        }
        call.idempotency = Idempotency::Idempotent;
        let answer = self.json(&call).await?;
        let records = records_of(&answer, collection, collection)?;
        Ok(element_results(records, chunk.len()))
    }

    /// Every item's code, by ItemID.
    async fn item_codes(&self) -> Result<HashMap<String, String>, AppError> {
        Ok(self
            .all_items()
            .await?
            .iter()
            .filter_map(|item| {
                Some((
                    text(item, "ItemID")?.to_owned(),
                    text(item, "Code")?.to_owned(),
                ))
            })
            .collect())
    }
}

/// Per-element results of a write answer that should hold `expected` records in order.
pub fn element_results(
    records: Vec<Value>,
    expected: usize,
) -> Vec<Result<Value, AppWriteFailure>> {
    if records.len() != expected {
        let error = RecordError::new(
            None,
            format!(
                "Xero answered {} records for {expected} sent",
                records.len()
            ),
        );
        return (0..expected)
            .map(|_| Err(AppWriteFailure::Rejected(error.clone())))
            .collect();
    }
    records
        .into_iter()
        .map(|record| match validation_messages(&record) {
            Some(message) => Err(AppWriteFailure::Rejected(RecordError::new(
                Some(400),
                message,
            ))),
            None => Ok(record),
        })
        .collect()
}

fn not_found(creating: bool, error: &AppError) -> AppWriteFailure {
    if creating {
        AppWriteFailure::Rejected(RecordError::new(Some(404), error.to_string()))
    } else {
        AppWriteFailure::NotFound
    }
}

/// The record handed back to the engine: a part for the contacts' part entities.
fn outcome_record(kind: Kind, record: &Value) -> Value {
    match kind {
        Kind::Companies => company_part(record),
        Kind::Persons => person_contact_part(record),
        _ => record.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_follow_the_target_and_the_content() {
        let a = json!({ "Name": "Acme", "EmailAddress": "a@acme.test" });
        let same_reordered = json!({ "EmailAddress": "a@acme.test", "Name": "Acme" });
        let other = json!({ "Name": "Acme Ltd", "EmailAddress": "a@acme.test" });
        let key = |tenant: &str, collection: &str, writes: &[(Option<&str>, &Value)]| {
            idempotency_key(tenant, collection, writes)
        };
        let base = key("t-1", "Contacts", &[(Some("h-1"), &a)]);
        assert_eq!(base.len(), 64);
        assert!(base.len() <= 128);
        // Stable: the same batch (in any key order) has the same key.
        assert_eq!(base, key("t-1", "Contacts", &[(Some("h-1"), &a)]));
        assert_eq!(
            base,
            key("t-1", "Contacts", &[(Some("h-1"), &same_reordered)])
        );
        // Another tenant, collection, hub record, content or batch: another key.
        for different in [
            key("t-2", "Contacts", &[(Some("h-1"), &a)]),
            key("t-1", "Items", &[(Some("h-1"), &a)]),
            key("t-1", "Contacts", &[(Some("h-2"), &a)]),
            key("t-1", "Contacts", &[(Some("h-1"), &other)]),
            key(
                "t-1",
                "Contacts",
                &[(Some("h-1"), &a), (Some("h-2"), &other)],
            ),
            key("t-1", "Contacts", &[]),
        ] {
            assert_ne!(base, different);
        }
    }

    #[test]
    fn element_results_follow_the_order_sent() {
        let records = vec![
            json!({ "ItemID": "1" }),
            json!({ "ItemID": "2", "ValidationErrors": [{ "Message": "Code taken" }] }),
            json!({ "ItemID": "3", "HasValidationErrors": false }),
        ];
        let results = element_results(records.clone(), 3);
        assert_eq!(results[0].as_ref().unwrap()["ItemID"], "1");
        match &results[1] {
            Err(AppWriteFailure::Rejected(e)) => {
                assert_eq!((e.status, e.message.as_str()), (Some(400), "Code taken"));
            }
            other => panic!("{other:?}"),
        }
        assert!(results[2].is_ok());
        // An answer that does not hold one record per record sent settles none as done.
        let short = element_results(records, 4);
        assert_eq!(short.len(), 4);
        assert!(short.iter().all(Result::is_err));
    }
}
