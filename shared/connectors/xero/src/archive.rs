//! Archiving, as Xero allows it per entity:
//! - contacts (companies, person contacts): `ContactStatus: ARCHIVED` (Xero never deletes them);
//!   a contact person is removed from its company contact (its persons are sent back without it);
//! - items: `DELETE /Items/{id}` (for good);
//! - invoices: the current status is read first: DRAFT and SUBMITTED become `DELETED`,
//!   AUTHORISED becomes `VOIDED`; a PAID invoice is refused (its payments must go first);
//! - payments: `POST /Payments/{id}` with `{"Status": "DELETED"}`.
//!
//! Success is what Xero's answer says, element by element; a 404 is
//! [`AppWriteFailure::NotFound`].

use reqwest::Method;
use serde_json::{Value, json};
use sync_core::domain::{AppEntityName, AppId};
use sync_core::error::{AppError, RecordError};
use sync_core::ports::AppWriteFailure;

use crate::connector::{Kind, XeroConnector};
use crate::http::{Call, records_of, status_of, text, validation_messages};
use crate::write::{Prepared, Run};

/// One id's archive outcome.
type ArchiveResult = Result<(), AppWriteFailure>;

/// The status that archives an invoice in `status`: `Ok(None)` when it already is.
///
/// # Errors
///
/// A status Xero cannot delete or void from (PAID), or one it does not document.
pub fn invoice_archive_status(status: &str) -> Result<Option<&'static str>, RecordError> {
    match status {
        "DRAFT" | "SUBMITTED" => Ok(Some("DELETED")),
        "AUTHORISED" => Ok(Some("VOIDED")),
        "DELETED" | "VOIDED" => Ok(None),
        "PAID" => Err(RecordError::new(
            None,
            "a paid Xero invoice cannot be voided: delete its payments first",
        )),
        _ => Err(RecordError::new(
            None,
            "the Xero invoice's status allows neither deleting nor voiding",
        )),
    }
}

impl XeroConnector {
    /// Archives records; one result per id, in order.
    pub(crate) async fn archive_records(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<ArchiveResult>, AppError> {
        let kind = Kind::of(entity)?;
        let mut run: Run<()> = Run::new(ids.len());
        match kind {
            Kind::Contacts | Kind::Companies => {
                let contacts = ids
                    .iter()
                    .enumerate()
                    .map(|(index, id)| (index, id.to_string()))
                    .collect();
                self.archive_contacts(contacts, &mut run).await?;
            }
            Kind::Persons => self.archive_persons(ids, &mut run).await?,
            Kind::Items => {
                for (index, id) in ids.iter().enumerate() {
                    if run.stopped(&[index]) {
                        continue;
                    }
                    let call = Call {
                        method: Method::DELETE,
                        ..Call::get(format!("Items/{id}"))
                    };
                    match self.call(&call).await {
                        Ok(_) => {
                            run.answered = true;
                            run.settle(index, Ok(()));
                        }
                        Err(error) if status_of(&error) == Some(404) => {
                            run.settle(index, Err(AppWriteFailure::NotFound));
                        }
                        Err(error) => run.failed(&[index], error)?,
                    }
                }
            }
            Kind::Invoices => self.archive_invoices(ids, &mut run).await?,
            Kind::Payments => {
                let body = json!({ "Status": "DELETED" });
                for (index, id) in ids.iter().enumerate() {
                    if run.stopped(&[index]) {
                        continue;
                    }
                    let path = format!("Payments/{id}");
                    let call = Call::send(Method::POST, path.clone(), &body);
                    match self.json(&call).await {
                        Ok(answer) => {
                            run.answered = true;
                            let records = records_of(&answer, "Payments", &path)?;
                            let refused = records.iter().find_map(validation_messages);
                            run.settle(
                                index,
                                match refused {
                                    Some(message) => Err(AppWriteFailure::Rejected(
                                        RecordError::new(Some(400), message),
                                    )),
                                    None => Ok(()),
                                },
                            );
                        }
                        Err(error) if status_of(&error) == Some(404) => {
                            run.settle(index, Err(AppWriteFailure::NotFound));
                        }
                        Err(error) => run.failed(&[index], error)?,
                    }
                }
            }
        }
        Ok(run.finish("archive"))
    }

    /// `ContactStatus: ARCHIVED` for `(index, ContactID)`s.
    pub(crate) async fn archive_contacts(
        &self,
        contacts: Vec<(usize, String)>,
        run: &mut Run<()>,
    ) -> Result<(), AppError> {
        let prepared = contacts
            .into_iter()
            .map(|(index, id)| Prepared {
                index,
                hub_id: None,
                body: json!({ "ContactID": id, "ContactStatus": "ARCHIVED" }),
                id: Some(id),
            })
            .collect();
        self.send_archives(Kind::Contacts, prepared, run).await
    }

    /// Reads the invoices' statuses, then deletes or voids each.
    async fn archive_invoices(&self, ids: &[AppId], run: &mut Run<()>) -> Result<(), AppError> {
        let all: Vec<usize> = (0..ids.len()).collect();
        if ids.is_empty() || run.stopped(&all) {
            return Ok(());
        }
        let wanted: Vec<&str> = ids.iter().map(AppId::as_str).collect();
        let current = match self.by_ids(Kind::Invoices, &wanted).await {
            Ok(current) => current,
            Err(error) => return run.failed(&all, error),
        };
        run.answered = true;
        let mut prepared = Vec::new();
        for (index, id) in ids.iter().enumerate() {
            let Some(invoice) = current
                .iter()
                .find(|i| text(i, "InvoiceID") == Some(id.as_str()))
            else {
                run.settle(index, Err(AppWriteFailure::NotFound));
                continue;
            };
            match invoice_archive_status(text(invoice, "Status").unwrap_or_default()) {
                Ok(Some(status)) => prepared.push(Prepared {
                    index,
                    hub_id: None,
                    id: Some(id.to_string()),
                    body: json!({ "InvoiceID": id.as_str(), "Status": status }),
                }),
                Ok(None) => run.settle(index, Ok(())),
                Err(error) => run.reject(index, error),
            }
        }
        self.send_archives(Kind::Invoices, prepared, run).await
    }

    /// Sends status changes in batches, element by element.
    async fn send_archives(
        &self,
        kind: Kind,
        prepared: Vec<Prepared>,
        run: &mut Run<()>,
    ) -> Result<(), AppError> {
        for chunk in prepared.chunks(self.config.batch()) {
            let indexes: Vec<usize> = chunk.iter().map(|p| p.index).collect();
            if run.stopped(&indexes) {
                continue;
            }
            let bodies: Vec<&Value> = chunk.iter().map(|p| &p.body).collect();
            match self.send_batch(kind, false, chunk, &bodies).await {
                Ok(results) => {
                    run.answered = true;
                    for (p, result) in chunk.iter().zip(results) {
                        run.settle(p.index, result.map(|_| ()));
                    }
                }
                Err(error) => run.failed(&indexes, error)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoices_are_deleted_or_voided_by_their_status() {
        let cases: &[(&str, Result<Option<&str>, ()>)] = &[
            ("DRAFT", Ok(Some("DELETED"))),
            ("SUBMITTED", Ok(Some("DELETED"))),
            ("AUTHORISED", Ok(Some("VOIDED"))),
            ("DELETED", Ok(None)),
            ("VOIDED", Ok(None)),
            ("PAID", Err(())),
            ("", Err(())),
        ];
        for (status, expected) in cases {
            assert_eq!(
                invoice_archive_status(status).map_err(|_| ()),
                *expected,
                "{status}"
            );
        }
    }
}
