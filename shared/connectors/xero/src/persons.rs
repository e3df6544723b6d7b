//! Writing and archiving `persons` parts: person contacts as contacts of their own, contact
//! persons joined back into their company contact.
//!
//! Xero replaces a contact's `ContactPersons` as a whole on update, so the writes of one call are
//! grouped by company contact; each contact is read (`GET /Contacts?IDs=`), its persons changed
//! with [`join_persons`] (an update finds its person by the key its id was derived from, so an
//! e-mail change is an update, not a new person; persons nobody wrote to are kept) and the whole
//! array sent back. A person that moves to another company is removed from the old one and added
//! to the new one.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sync_core::domain::AppId;
use sync_core::error::{AppError, RecordError};
use sync_core::ports::{AppWrite, AppWriteFailure, AppWriteKind, AppWriteOutcome};

use crate::connector::{Kind, XeroConnector};
use crate::contacts::{
    JoinOp, Joined, PARENT_ID, PersonRef, contact_person_of, join_persons, member_of,
    person_contact_of, person_digest, person_key,
};
use crate::http::text;
use crate::write::{Prepared, Run, element_results, key_source};

/// Why an update giving a person contact an organization is refused.
pub(crate) const PERSON_CONTACT_WITH_PARENT: &str = "this person is a Xero contact of its own, and Xero cannot make a contact the contact person of another: link the person to the company in Xero, or remove its organization in Connec!";

/// One change to a company contact's persons, from write (or archive) `index`.
pub(crate) struct Member {
    pub index: usize,
    pub contact: String,
    pub op: JoinOp,
    /// Whether this change decides the write's outcome (the removal half of a move does not).
    pub reports: bool,
}

/// What happened to one [`Member`] change.
pub(crate) enum Applied {
    /// Sent and answered: the contact as Xero now has it.
    Saved(Value),
    /// Not sent.
    Failed(AppWriteFailure),
}

impl XeroConnector {
    /// Writes `persons` parts.
    pub(crate) async fn write_persons(
        &self,
        writes: Vec<AppWrite>,
        run: &mut Run<AppWriteOutcome>,
    ) -> Result<(), AppError> {
        let mut standalone = Vec::new();
        let mut members = Vec::new();
        let mut kinds = vec![AppWriteKind::Created; writes.len()];
        for (index, write) in writes.into_iter().enumerate() {
            let (id, record) = match write {
                AppWrite::Create {
                    hub_id,
                    record,
                    attempt,
                } => {
                    match text(&record, PARENT_ID).map(str::to_owned) {
                        Some(contact) => members.push(Member {
                            index,
                            contact,
                            op: JoinOp::Upsert {
                                replaces: None,
                                person: contact_person_of(&record),
                            },
                            reports: true,
                        }),
                        None => match person_contact_of(&record) {
                            Ok(body) => standalone.push(Prepared {
                                index,
                                hub_id: Some(key_source(hub_id.as_str(), attempt)),
                                id: None,
                                body,
                            }),
                            Err(error) => run.reject(index, error),
                        },
                    }
                    continue;
                }
                AppWrite::Update { id, record } => (id, record),
            };
            kinds[index] = AppWriteKind::Updated;
            match PersonRef::parse(id.as_str()) {
                // Xero cannot make a contact a contact person of another: said once per run on
                // the record, never written half (which would differ from Connec! for ever).
                PersonRef::Contact(_) if text(&record, PARENT_ID).is_some() => {
                    run.reject(index, RecordError::new(None, PERSON_CONTACT_WITH_PARENT));
                }
                PersonRef::Contact(contact) => match person_contact_of(&record) {
                    Ok(mut body) => {
                        body["ContactID"] = Value::String(contact.clone());
                        standalone.push(Prepared {
                            index,
                            hub_id: None,
                            id: Some(contact),
                            body,
                        });
                    }
                    Err(error) => run.reject(index, error),
                },
                PersonRef::Member { contact, digest } => {
                    let person = contact_person_of(&record);
                    match text(&record, PARENT_ID).filter(|parent| *parent != contact) {
                        // Moved to another company contact.
                        Some(parent) => {
                            members.push(Member {
                                index,
                                contact: contact.clone(),
                                op: JoinOp::Remove { digest },
                                reports: false,
                            });
                            members.push(Member {
                                index,
                                contact: parent.to_owned(),
                                op: JoinOp::Upsert {
                                    replaces: None,
                                    person,
                                },
                                reports: true,
                            });
                        }
                        None => members.push(Member {
                            index,
                            contact,
                            op: JoinOp::Upsert {
                                replaces: Some(digest),
                                person,
                            },
                            reports: true,
                        }),
                    }
                }
            }
        }
        self.send_prepared(Kind::Persons, standalone, run).await?;
        let ops: Vec<(usize, JoinOp)> = members
            .iter()
            .filter(|m| m.reports)
            .map(|m| (m.index, m.op.clone()))
            .collect();
        let applied = self.apply_members(members, run).await?;
        for ((index, op), outcome) in ops.into_iter().zip(applied) {
            let result = match outcome {
                Applied::Failed(failure) => Err(failure),
                Applied::Saved(contact) => {
                    let JoinOp::Upsert { person, .. } = &op else {
                        unreachable!("only upserts report");
                    };
                    person_key(person)
                        .and_then(|key| member_of(&contact, &person_digest(&key)))
                        .map(|record| AppWriteOutcome {
                            record,
                            kind: kinds[index],
                        })
                        .ok_or_else(|| {
                            AppWriteFailure::Rejected(RecordError::new(
                                None,
                                "Xero did not keep the contact person (it needs an e-mail or a name)",
                            ))
                        })
                }
            };
            run.settle(index, result);
        }
        Ok(())
    }

    /// Archives `persons` parts: person contacts are archived, contact persons removed.
    pub(crate) async fn archive_persons(
        &self,
        ids: &[AppId],
        run: &mut Run<()>,
    ) -> Result<(), AppError> {
        let mut contacts = Vec::new();
        let mut members = Vec::new();
        for (index, id) in ids.iter().enumerate() {
            match PersonRef::parse(id.as_str()) {
                PersonRef::Contact(contact) => contacts.push((index, contact)),
                PersonRef::Member { contact, digest } => members.push(Member {
                    index,
                    contact,
                    op: JoinOp::Remove { digest },
                    reports: true,
                }),
            }
        }
        self.archive_contacts(contacts, run).await?;
        let indexes: Vec<usize> = members.iter().map(|m| m.index).collect();
        let applied = self.apply_members(members, run).await?;
        for (index, outcome) in indexes.into_iter().zip(applied) {
            run.settle(
                index,
                match outcome {
                    Applied::Saved(_) => Ok(()),
                    Applied::Failed(failure) => Err(failure),
                },
            );
        }
        Ok(())
    }

    /// Applies member changes contact by contact: one result per reporting member, in order.
    async fn apply_members<T: Clone>(
        &self,
        members: Vec<Member>,
        run: &mut Run<T>,
    ) -> Result<Vec<Applied>, AppError> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let mut by_contact: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (n, member) in members.iter().enumerate() {
            by_contact
                .entry(member.contact.clone())
                .or_default()
                .push(n);
        }
        let mut results: Vec<Option<Applied>> = members.iter().map(|_| None).collect();
        let contact_ids: Vec<&str> = by_contact.keys().map(String::as_str).collect();
        let all: Vec<usize> = members.iter().map(|m| m.index).collect();
        if run.stopped(&all) {
            return Ok(Vec::new());
        }
        let found = match self.by_ids(Kind::Contacts, &contact_ids).await {
            Ok(found) => {
                run.answered = true;
                found
            }
            Err(error) => {
                run.failed(&all, error)?;
                return Ok(Vec::new());
            }
        };
        // The joined contacts to send, with the members each one carries.
        let mut sends: Vec<(Value, Vec<usize>)> = Vec::new();
        for (contact_id, positions) in &by_contact {
            let Some(contact) = found
                .iter()
                .find(|c| text(c, "ContactID") == Some(contact_id.as_str()))
            else {
                for n in positions {
                    results[*n] = Some(Applied::Failed(match &members[*n].op {
                        JoinOp::Upsert { replaces: None, .. } => {
                            AppWriteFailure::Rejected(RecordError::new(
                                Some(404),
                                "the person's organization is not a Xero contact (any more)",
                            ))
                        }
                        _ => AppWriteFailure::NotFound,
                    }));
                }
                continue;
            };
            let existing: Vec<Value> = contact
                .get("ContactPersons")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let ops: Vec<JoinOp> = positions.iter().map(|n| members[*n].op.clone()).collect();
            let (persons, joined) = join_persons(&existing, &ops);
            let mut carried = Vec::new();
            for (n, outcome) in positions.iter().zip(joined) {
                match outcome {
                    Joined::Applied => carried.push(*n),
                    Joined::Missing => {
                        results[*n] = Some(Applied::Failed(AppWriteFailure::NotFound))
                    }
                }
            }
            if carried.is_empty() {
                continue;
            }
            sends.push((
                json!({ "ContactID": contact_id, "ContactPersons": persons }),
                carried,
            ));
        }
        for chunk in sends.chunks(self.config.batch()) {
            let carried: Vec<usize> = chunk.iter().flat_map(|(_, c)| c.iter().copied()).collect();
            let indexes: Vec<usize> = carried.iter().map(|n| members[*n].index).collect();
            if run.stopped(&indexes) {
                continue;
            }
            let bodies: Vec<&Value> = chunk.iter().map(|(body, _)| body).collect();
            let body = json!({ "Contacts": bodies });
            let call = crate::http::Call::send(reqwest::Method::POST, "Contacts", &body)
                .query("summarizeErrors", "false");
            let answer = match self.json(&call).await {
                Ok(answer) => answer,
                Err(error) => {
                    run.failed(&indexes, error)?;
                    continue;
                }
            };
            run.answered = true;
            let records = crate::http::records_of(&answer, "Contacts", "Contacts")?;
            for ((_, carried), result) in chunk.iter().zip(element_results(records, chunk.len())) {
                for n in carried {
                    results[*n] = Some(match &result {
                        Ok(contact) => Applied::Saved(contact.clone()),
                        Err(failure) => Applied::Failed(failure.clone()),
                    });
                }
            }
        }
        Ok(members
            .iter()
            .zip(results)
            .filter(|(m, _)| m.reports)
            .map(|(m, result)| match result {
                Some(result) => result,
                None => Applied::Failed(match run.outcomes[m.index].take() {
                    Some(Err(failure)) => failure,
                    _ => AppWriteFailure::Rejected(RecordError::new(None, "not sent")),
                }),
            })
            .collect())
    }
}
