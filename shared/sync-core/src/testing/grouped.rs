//! [`GroupedApp`]: the in-memory twin of a connector with a complex entity.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use serde_json::{Value, json};

use super::FakeApp;
use crate::domain::{AppEntityName, AppId, PageCursor, Provider, Timestamp};
use crate::entity::{EntityGroup, EntityPair, Part};
use crate::error::{AppError, RecordError};
use crate::ports::{
    AppConnector, AppMatches, AppRecordMeta, AppWrite, AppWriteFailure, AppWriteOutcome,
    MatchQuery, Page,
};

/// The complex entity of a [`GroupedApp`].
pub const ACCOUNTS: &str = "accounts";

/// A [`FakeApp`] of the sample pairs (`companies`, `contacts`) seen through one complex entity,
/// `accounts`: a company with its contacts (those whose `company_id` names it), or a contact
/// of no company on its own, like a Xero contact with its contact persons or a person contact.
///
/// - `fetch_page("accounts", since)`: one page of the accounts with a company or contact
///   changed after `since`, by their newest change; each is `{"id", "company"?, "contacts"}`,
///   the whole account however little of it changed. `fetch_by_ids("accounts", ids)` reads
///   accounts by their id (the company's, or the lone contact's).
/// - `split("accounts", account)`: the company part (`companies`) then one `contacts` part per
///   contact.
/// - Every other call is the [`FakeApp`]'s, on the part entities: writes of a contact "join" it
///   to its company through its `company_id`, as a connector would merge a contact person into
///   its contact.
///
/// [`GroupedApp::group_reads`] counts the pages and batch reads of `accounts`;
/// [`GroupedApp::part_pages`] the pages read of a part entity (the engine should read none).
#[derive(Clone)]
pub struct GroupedApp {
    app: FakeApp,
    groups: Arc<Vec<EntityGroup>>,
    group_reads: Arc<AtomicU64>,
    part_pages: Arc<AtomicU64>,
    broken: Arc<Mutex<BTreeSet<String>>>,
}

impl GroupedApp {
    /// The twin over `app` (built with [`super::sample_entities`]).
    pub fn new(app: FakeApp) -> Self {
        Self {
            app,
            groups: Arc::new(vec![EntityGroup::new(
                ACCOUNTS,
                &["organizations", "people"],
            )]),
            group_reads: Arc::default(),
            part_pages: Arc::default(),
            broken: Arc::default(),
        }
    }

    /// The app underneath, to seed and inspect the parts.
    pub fn parts(&self) -> &FakeApp {
        &self.app
    }

    /// Reads of `accounts` so far.
    pub fn group_reads(&self) -> u64 {
        self.group_reads.load(Ordering::SeqCst)
    }

    /// Pages read of `companies` or `contacts` so far.
    pub fn part_pages(&self) -> u64 {
        self.part_pages.load(Ordering::SeqCst)
    }

    /// The account `id` is read without its `contacts`, which `split` refuses.
    pub fn break_account(&self, id: &str) {
        self.broken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_owned());
    }

    fn accounts(&self, since: Option<Timestamp>) -> Vec<Value> {
        let changed = |record: &Value| {
            let at = record["updatedAt"].as_str().and_then(Timestamp::parse);
            match (since, at) {
                (None, _) => true,
                (Some(since), Some(at)) => at > since,
                (Some(_), None) => false,
            }
        };
        let companies = self.app.all("companies");
        let contacts = self.app.all("contacts");
        let mut newest: BTreeMap<String, (String, Value)> = BTreeMap::new();
        let mut touch = |id: &str, record: &Value| {
            let at = record["updatedAt"].as_str().unwrap_or_default().to_owned();
            let entry = newest
                .entry(id.to_owned())
                .or_insert_with(|| (at.clone(), Value::Null));
            if at > entry.0 {
                entry.0 = at;
            }
        };
        for company in companies.iter().filter(|c| changed(c)) {
            touch(company["id"].as_str().unwrap_or_default(), company);
        }
        for contact in contacts.iter().filter(|c| changed(c)) {
            let id = self.account_of(contact, &companies);
            touch(&id, contact);
        }
        let mut accounts: Vec<(String, Value)> = newest
            .into_keys()
            .filter_map(|id| self.account(&id))
            .map(|a| (a["updatedAt"].as_str().unwrap_or_default().to_owned(), a))
            .collect();
        accounts.sort_by(|a, b| a.0.cmp(&b.0));
        accounts.into_iter().map(|(_, a)| a).collect()
    }

    /// The account a contact belongs to: its company's id, or its own.
    fn account_of(&self, contact: &Value, companies: &[Value]) -> String {
        let company = contact["properties"]["company_id"].as_str();
        match company.filter(|id| companies.iter().any(|c| c["id"] == *id)) {
            Some(id) => id.to_owned(),
            None => contact["id"].as_str().unwrap_or_default().to_owned(),
        }
    }

    fn account(&self, id: &str) -> Option<Value> {
        let contacts = self.app.all("contacts");
        if let Some(company) = self.app.get("companies", id) {
            let members: Vec<Value> = contacts
                .into_iter()
                .filter(|c| c["properties"]["company_id"] == *id)
                .collect();
            let newest = members
                .iter()
                .chain(std::iter::once(&company))
                .filter_map(|r| r["updatedAt"].as_str())
                .max()
                .unwrap_or_default()
                .to_owned();
            let broken = self
                .broken
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(id);
            if broken {
                return Some(json!({ "id": id, "updatedAt": newest, "company": company }));
            }
            return Some(
                json!({ "id": id, "updatedAt": newest, "company": company, "contacts": members }),
            );
        }
        let contact = self.app.get("contacts", id)?;
        Some(json!({ "id": id, "updatedAt": contact["updatedAt"], "contacts": [contact] }))
    }

    fn is_group(entity: &AppEntityName) -> bool {
        entity.as_str() == ACCOUNTS
    }
}

#[async_trait]
impl AppConnector for GroupedApp {
    fn provider(&self) -> &Provider {
        self.app.provider()
    }

    fn entities(&self) -> &[EntityPair] {
        self.app.entities()
    }

    fn describe(&self, entity: &AppEntityName, record: &Value) -> Result<AppRecordMeta, AppError> {
        self.app.describe(entity, record)
    }

    async fn fetch_page(
        &self,
        entity: &AppEntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, AppError> {
        if Self::is_group(entity) {
            self.group_reads.fetch_add(1, Ordering::SeqCst);
            return Ok(Page {
                records: self.accounts(since),
                next: None,
            });
        }
        self.part_pages.fetch_add(1, Ordering::SeqCst);
        self.app.fetch_page(entity, since, cursor).await
    }

    async fn fetch_by_ids(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Value>, AppError> {
        if Self::is_group(entity) {
            self.group_reads.fetch_add(1, Ordering::SeqCst);
            return Ok(ids
                .iter()
                .filter_map(|id| self.account(id.as_str()))
                .collect());
        }
        self.app.fetch_by_ids(entity, ids).await
    }

    async fn find_matches(
        &self,
        entity: &AppEntityName,
        queries: &[MatchQuery],
    ) -> Result<Vec<AppMatches>, AppError> {
        self.app.find_matches(entity, queries).await
    }

    async fn write(
        &self,
        entity: &AppEntityName,
        writes: Vec<AppWrite>,
    ) -> Result<Vec<Result<AppWriteOutcome, AppWriteFailure>>, AppError> {
        self.app.write(entity, writes).await
    }

    async fn archive(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Result<(), AppWriteFailure>>, AppError> {
        self.app.archive(entity, ids).await
    }

    fn groups(&self) -> &[EntityGroup] {
        &self.groups
    }

    fn split(&self, group: &AppEntityName, record: Value) -> Result<Vec<Part>, RecordError> {
        if !Self::is_group(group) {
            return Err(RecordError::new(None, format!("`{group}` is not a group")));
        }
        let mut parts = Vec::new();
        if let Some(company) = record.get("company").filter(|c| c.is_object()) {
            parts.push(Part {
                entity: AppEntityName::new("companies"),
                record: company.clone(),
            });
        }
        let Some(contacts) = record.get("contacts").and_then(Value::as_array) else {
            return Err(RecordError::new(None, "an account without `contacts`"));
        };
        parts.extend(contacts.iter().map(|c| Part {
            entity: AppEntityName::new("contacts"),
            record: c.clone(),
        }));
        Ok(parts)
    }
}
