//! Match-before-create: what Xero already holds for records about to be created.
//!
//! Xero has no custom fields, so there is no create marker ([`AppMatches::marked`] is always
//! `None`): the `Idempotency-Key` of creates (see [`crate::write`]) covers a create whose answer
//! was lost. Natural keys, best first:
//! - companies: the exact `Name` (Xero contact names are unique among active contacts; spaces
//!   and case aside), then the e-mail; person contacts and archived contacts are not candidates;
//! - persons: a contact person of the record's company contact with the same key (e-mail, else
//!   name); without a company, a person contact with the same name, then the same e-mail;
//! - items: the `Code`; invoices: the `InvoiceNumber` of the same `Type`; payments: none.
//!
//! Contacts are found with `searchTerm` (Xero's case-insensitive search over names and e-mails),
//! one call per distinct term, then compared exactly.

use std::collections::HashMap;

use serde_json::Value;
use sync_core::domain::{AppEntityName, AppId};
use sync_core::error::AppError;
use sync_core::ports::{AppMatches, MatchQuery};

use crate::connector::{Kind, XeroConnector};
use crate::contacts::{PARENT_ID, contact_person_of, is_person_contact, member_id, person_key};
use crate::http::{Call, records_of, text};

impl XeroConnector {
    /// For each query, the records Xero already holds.
    pub(crate) async fn match_records(
        &self,
        entity: &AppEntityName,
        queries: &[MatchQuery],
    ) -> Result<Vec<AppMatches>, AppError> {
        let kind = Kind::of(entity)?;
        let mut searches = Searches::default();
        match kind {
            Kind::Contacts | Kind::Companies => {
                let mut out = Vec::with_capacity(queries.len());
                for query in queries {
                    let mut natural = Vec::new();
                    if let Some(name) = text(&query.record, "Name") {
                        let found = self.search(&mut searches, name).await?;
                        natural.extend(ids_where(&found, |c| {
                            !is_person_contact(c) && same(text(c, "Name"), Some(name))
                        }));
                    }
                    if let Some(email) = text(&query.record, "EmailAddress") {
                        let found = self.search(&mut searches, email).await?;
                        natural.extend(ids_where(&found, |c| {
                            !is_person_contact(c) && same(text(c, "EmailAddress"), Some(email))
                        }));
                    }
                    out.push(matches(natural));
                }
                Ok(out)
            }
            Kind::Persons => self.match_persons(queries, &mut searches).await,
            Kind::Items => {
                let items = self.all_items().await?;
                Ok(queries
                    .iter()
                    .map(|query| {
                        let code = text(&query.record, "Code");
                        matches(ids_where(&items, |item| {
                            code.is_some() && same(text(item, "Code"), code)
                        }))
                    })
                    .collect())
            }
            Kind::Invoices => {
                let numbers: Vec<&str> = queries
                    .iter()
                    .filter_map(|q| text(&q.record, "InvoiceNumber"))
                    .collect();
                let mut found = Vec::new();
                for chunk in numbers.chunks(self.config.batch()) {
                    let call = Call::get("Invoices")
                        .query("InvoiceNumbers", chunk.join(","))
                        .query("page", "1")
                        .query("pageSize", self.config.page().to_string());
                    found.extend(records_of(
                        &self.json(&call).await?,
                        "Invoices",
                        "Invoices",
                    )?);
                }
                Ok(queries
                    .iter()
                    .map(|query| {
                        let number = text(&query.record, "InvoiceNumber");
                        let kind = text(&query.record, "Type");
                        matches(ids_where(&found, |invoice| {
                            number.is_some()
                                && text(invoice, "InvoiceNumber") == number
                                && (kind.is_none() || text(invoice, "Type") == kind)
                                && !matches!(text(invoice, "Status"), Some("DELETED" | "VOIDED"))
                        }))
                    })
                    .collect())
            }
            Kind::Payments => Ok(vec![AppMatches::default(); queries.len()]),
        }
    }

    async fn match_persons(
        &self,
        queries: &[MatchQuery],
        searches: &mut Searches,
    ) -> Result<Vec<AppMatches>, AppError> {
        let mut parents: Vec<&str> = queries
            .iter()
            .filter_map(|q| text(&q.record, PARENT_ID))
            .collect();
        parents.sort_unstable();
        parents.dedup();
        let companies = if parents.is_empty() {
            Vec::new()
        } else {
            self.by_ids(Kind::Contacts, &parents).await?
        };
        let mut out = Vec::with_capacity(queries.len());
        for query in queries {
            let record = &query.record;
            let mut natural = Vec::new();
            if let Some(parent) = text(record, PARENT_ID) {
                let key = person_key(&contact_person_of(record));
                let company = companies
                    .iter()
                    .find(|c| text(c, "ContactID") == Some(parent));
                if let (Some(key), Some(company)) = (key, company) {
                    let held = company
                        .get("ContactPersons")
                        .and_then(Value::as_array)
                        .is_some_and(|persons| {
                            persons
                                .iter()
                                .any(|p| person_key(p).as_deref() == Some(&key))
                        });
                    if held {
                        natural.push(AppId::new(member_id(parent, &key)));
                    }
                }
                out.push(matches(natural));
                continue;
            }
            let names: Vec<&str> = ["FirstName", "LastName"]
                .iter()
                .filter_map(|f| text(record, f))
                .collect();
            if !names.is_empty() {
                let name = names.join(" ");
                let found = self.search(searches, &name).await?;
                natural.extend(ids_where(&found, |c| {
                    is_person_contact(c) && same(text(c, "Name"), Some(&name))
                }));
            }
            if let Some(email) = text(record, "EmailAddress") {
                let found = self.search(searches, email).await?;
                natural.extend(ids_where(&found, |c| {
                    is_person_contact(c) && same(text(c, "EmailAddress"), Some(email))
                }));
            }
            out.push(matches(natural));
        }
        Ok(out)
    }

    /// Active contacts found by `searchTerm` (cached per call of `find_matches`).
    async fn search(&self, searches: &mut Searches, term: &str) -> Result<Vec<Value>, AppError> {
        let key = term.trim().to_lowercase();
        if let Some(found) = searches.0.get(&key) {
            return Ok(found.clone());
        }
        let call = Call::get("Contacts")
            .query("searchTerm", term.trim())
            .query("page", "1")
            .query("pageSize", self.config.page().to_string());
        let found: Vec<Value> = records_of(&self.json(&call).await?, "Contacts", "Contacts")?
            .into_iter()
            .filter(|c| text(c, "ContactStatus").is_none_or(|s| s == "ACTIVE"))
            .collect();
        searches.0.insert(key, found.clone());
        Ok(found)
    }
}

#[derive(Default)]
struct Searches(HashMap<String, Vec<Value>>);

/// Equal, spaces and case aside.
fn same(a: Option<&str>, b: Option<&str>) -> bool {
    let norm = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    match (a, b) {
        (Some(a), Some(b)) => norm(a) == norm(b),
        _ => false,
    }
}

fn ids_where(records: &[Value], keep: impl Fn(&Value) -> bool) -> Vec<AppId> {
    records
        .iter()
        .filter(|r| keep(r))
        .filter_map(|r| {
            ["ContactID", "ItemID", "InvoiceID"]
                .iter()
                .find_map(|f| text(r, f))
                .map(AppId::new)
        })
        .collect()
}

fn matches(mut natural: Vec<AppId>) -> AppMatches {
    let mut seen = std::collections::HashSet::new();
    natural.retain(|id| seen.insert(id.as_str().to_owned()));
    AppMatches {
        marked: None,
        natural,
    }
}
