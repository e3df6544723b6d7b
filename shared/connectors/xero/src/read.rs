//! Reading: pages changed since a watermark (`If-Modified-Since`, oldest first), records by id,
//! and what the engine needs to know of a record.
//!
//! Contacts, invoices and payments are paged (`page`, `pageSize`); the cursor is the next page's
//! number, and there is a next page when this one is full. Sorting by `UpdatedDateUTC ASC` keeps
//! page numbers safe while records change: a record modified during the read moves to the end,
//! where it is read (again), never skipped. Items are not paged: one call is one page.

use std::collections::HashSet;

use serde_json::Value;
use sync_core::domain::{AppEntityName, AppId, PageCursor, Timestamp};
use sync_core::error::{AppError, HttpError};
use sync_core::ports::{AppRecordMeta, Page};

use crate::API;
use crate::connector::{Kind, XeroConnector};
use crate::contacts::{PersonRef, split_contact};
use crate::http::{Call, parse_xero_timestamp, records_of, text};

/// Id, last update and archived flag of a record of `kind`.
pub fn describe_record(kind: Kind, record: &Value) -> Result<AppRecordMeta, AppError> {
    let invalid = |detail: String| AppError::Invalid {
        app: API,
        detail: format!("{} record {detail}", kind.collection()),
    };
    let id_field = kind.record_id();
    let id = text(record, id_field)
        .map(AppId::new)
        .ok_or_else(|| invalid(format!("without `{id_field}`")))?;
    let updated_at = record
        .get("UpdatedDateUTC")
        .and_then(Value::as_str)
        .and_then(parse_xero_timestamp)
        .ok_or_else(|| invalid(format!("{id} without a valid `UpdatedDateUTC`")))?;
    let status = |field: &str| record.get(field).and_then(Value::as_str).unwrap_or("");
    let archived = match kind {
        Kind::Contacts | Kind::Companies | Kind::Persons => {
            matches!(status("ContactStatus"), "ARCHIVED" | "GDPRREQUEST")
        }
        Kind::Items => false,
        Kind::Invoices => matches!(status("Status"), "DELETED" | "VOIDED"),
        Kind::Payments => status("Status") == "DELETED",
    };
    Ok(AppRecordMeta {
        id,
        updated_at,
        created_at: None,
        archived,
        marker: None,
    })
}

/// A page cursor: the number of the page to read.
fn page_number(cursor: Option<&PageCursor>) -> Result<u32, AppError> {
    match cursor {
        None => Ok(1),
        Some(cursor) => cursor
            .as_str()
            .parse::<u32>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| AppError::Invalid {
                app: API,
                detail: "unreadable page checkpoint (expected a page number)".to_owned(),
            }),
    }
}

impl XeroConnector {
    /// One page of `entity` changed since `since`.
    pub(crate) async fn read_page(
        &self,
        entity: &AppEntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, AppError> {
        let kind = Kind::of(entity)?;
        let page = page_number(cursor)?;
        let collection = kind.collection();
        let mut call = Call::get(collection).query("order", "UpdatedDateUTC ASC");
        call.since = since;
        if kind != Kind::Items {
            call = call
                .query("page", page.to_string())
                .query("pageSize", self.config.page().to_string());
        }
        if matches!(
            kind,
            Kind::Contacts | Kind::Companies | Kind::Persons | Kind::Invoices
        ) {
            call = call.query("includeArchived", "true");
        }
        let body = self.json(&call).await?;
        let records = records_of(&body, collection, collection)?;
        let full = kind != Kind::Items && records.len() >= self.config.page();
        let next = full.then(|| PageCursor::new((page + 1).to_string()));
        let records = match kind {
            Kind::Companies | Kind::Persons => parts_of(&records, entity),
            _ => records,
        };
        Ok(Page { records, next })
    }

    /// Records of `entity` by id; missing ones are absent.
    pub(crate) async fn read_by_ids(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Value>, AppError> {
        let kind = Kind::of(entity)?;
        let mut unique = HashSet::new();
        let ids: Vec<&str> = ids
            .iter()
            .map(AppId::as_str)
            .filter(|id| unique.insert(*id))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        match kind {
            Kind::Contacts | Kind::Invoices => self.by_ids(kind, &ids).await,
            Kind::Companies => {
                let contacts = self.by_ids(kind, &ids).await?;
                Ok(keep_ids(parts_of(&contacts, entity), kind, &ids))
            }
            Kind::Persons => {
                let mut parents: Vec<String> = Vec::new();
                for id in &ids {
                    let parent = PersonRef::parse(id).contact().to_owned();
                    if !parents.contains(&parent) {
                        parents.push(parent);
                    }
                }
                let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
                let contacts = self.by_ids(kind, &parents).await?;
                Ok(keep_ids(parts_of(&contacts, entity), kind, &ids))
            }
            Kind::Items => {
                let items = self.all_items().await?;
                Ok(keep_ids(items, kind, &ids))
            }
            Kind::Payments => {
                let mut found = Vec::new();
                for id in ids {
                    let path = format!("Payments/{id}");
                    match self.json(&Call::get(path.clone())).await {
                        Ok(body) => found.extend(records_of(&body, "Payments", &path)?),
                        Err(AppError::Http(HttpError::Status { status: 404, .. })) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(found)
            }
        }
    }

    /// `GET /{Collection}?IDs=...` in chunks (with `page=1`, which makes Xero send every field).
    pub(crate) async fn by_ids(&self, kind: Kind, ids: &[&str]) -> Result<Vec<Value>, AppError> {
        let collection = kind.collection();
        let mut found = Vec::new();
        for chunk in ids.chunks(self.config.batch()) {
            let mut call = Call::get(collection)
                .query("IDs", chunk.join(","))
                .query("page", "1")
                .query("pageSize", self.config.page().max(chunk.len()).to_string());
            if matches!(
                kind,
                Kind::Contacts | Kind::Companies | Kind::Persons | Kind::Invoices
            ) {
                call = call.query("includeArchived", "true");
            }
            let body = self.json(&call).await?;
            found.extend(records_of(&body, collection, collection)?);
        }
        Ok(found)
    }

    /// `GET /Items`: every item (Xero does not page them).
    pub(crate) async fn all_items(&self) -> Result<Vec<Value>, AppError> {
        let body = self.json(&Call::get("Items")).await?;
        records_of(&body, "Items", "Items")
    }
}

/// The parts of `entity` among the splits of `contacts` (contacts that do not split are skipped
/// with a warning: the engine reports them when it splits the group itself).
pub(crate) fn parts_of(contacts: &[Value], entity: &AppEntityName) -> Vec<Value> {
    contacts
        .iter()
        .filter_map(|contact| match split_contact(contact) {
            Ok(parts) => Some(parts),
            Err(e) => {
                tracing::warn!(error = %e, "a Xero contact could not be split");
                None
            }
        })
        .flatten()
        .filter(|part| &part.entity == entity)
        .map(|part| part.record)
        .collect()
}

fn keep_ids(records: Vec<Value>, kind: Kind, ids: &[&str]) -> Vec<Value> {
    records
        .into_iter()
        .filter(|r| text(r, kind.record_id()).is_some_and(|id| ids.contains(&id)))
        .collect()
}
