//! Reading: the full listing, the incremental search (keyset paging by id), archived
//! records, and reads by id.
//!
//! The incremental search never pages by offset, nor by the last-modified date it filters on:
//! that date moves when a record changes (an offset would skip a record for every record read
//! earlier and modified since), and HubSpot sorts by one property only, so records sharing a
//! millisecond (a bulk edit stamps hundreds) come back in no defined order. Every query asks
//! for what was modified at or after the watermark with an object id above the last one read,
//! by id: ids never change, so nothing is skipped or read twice, and every query is a page of
//! records. A record modified again behind the cursor carries a date after the fetch's start,
//! which the next run's watermark covers. Every query reads only its first page, so the search
//! API's 10,000 cap is never reached.

use std::collections::HashSet;

use http_client::Idempotency;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sync_core::domain::{AppEntityName, AppId, PageCursor, Timestamp};
use sync_core::error::AppError;
use sync_core::ports::Page;

use crate::API;
use crate::connector::{HubSpotConnector, ObjectType};
use crate::http::{filter, next_after, record_id, results_of};

/// Queries one `fetch_page` may make before it returns (an empty page, and the cursor) when
/// none of them had a record to hand over (archived ones older than the watermark, say).
const MAX_QUERIES_PER_PAGE: usize = 8;

/// Where an incremental or full read stands (the engine stores it as an opaque checkpoint).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
enum Cursor {
    /// Full listing.
    List {
        after: String,
    },
    /// Records modified at or after `since_ms` with an id above `after_id`, by id.
    ById {
        since_ms: i64,
        #[serde(default)]
        after_id: Option<String>,
    },
    /// Checkpoints of earlier versions of the search (offset, then last-modified keyset),
    /// resumed from their own lower bound by id: a re-read is a no-op for the engine.
    Search {
        since_ms: i64,
    },
    Keyset {
        from_ms: i64,
    },
    SameMillisecond {
        at_ms: i64,
    },
    /// Archived objects (deletions) after the search.
    Archived {
        after: Option<String>,
    },
}

fn encode(cursor: &Cursor) -> PageCursor {
    PageCursor::new(serde_json::to_string(cursor).expect("cursor serializes"))
}

impl HubSpotConnector {
    /// One page: the full listing without a watermark, else the keyset search then the
    /// archived records.
    pub(crate) async fn read_page(
        &self,
        entity: &AppEntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, AppError> {
        let object = self.object(entity)?;
        let mut state = match cursor {
            Some(cursor) => {
                serde_json::from_str::<Cursor>(cursor.as_str()).map_err(|e| AppError::Invalid {
                    app: API,
                    detail: format!("unreadable page checkpoint: {e}"),
                })?
            }
            None => match since {
                // No watermark: a full listing (no search cap, archived records irrelevant).
                None => Cursor::List {
                    after: String::new(),
                },
                // Inclusive: a record at the watermark's millisecond is read again, never lost.
                Some(since) => Cursor::ById {
                    since_ms: since.epoch_millis(),
                    after_id: None,
                },
            },
        };
        let since_ms = since.map(|s| s.epoch_millis());
        for _ in 0..MAX_QUERIES_PER_PAGE {
            let (records, next) = match state {
                Cursor::List { after } => {
                    let after = (!after.is_empty()).then_some(after);
                    let (records, next) = self.list_page(&object, after.as_deref(), false).await?;
                    (records, next.map(|after| Cursor::List { after }))
                }
                Cursor::Search { since_ms: from }
                | Cursor::Keyset { from_ms: from }
                | Cursor::SameMillisecond { at_ms: from } => {
                    state = Cursor::ById {
                        since_ms: from,
                        after_id: None,
                    };
                    continue;
                }
                Cursor::ById { since_ms, after_id } => {
                    self.by_id_page(&object, since_ms, after_id).await?
                }
                Cursor::Archived { after } => {
                    let (records, next) = self.list_page(&object, after.as_deref(), true).await?;
                    // Deletions since the watermark only.
                    let floor = since_ms.unwrap_or(i64::MIN);
                    let records = records
                        .into_iter()
                        .filter(|r| {
                            r.get("archivedAt")
                                .or_else(|| r.get("updatedAt"))
                                .and_then(Value::as_str)
                                .and_then(Timestamp::parse)
                                .is_none_or(|at| at.epoch_millis() > floor)
                        })
                        .collect();
                    (
                        records,
                        next.map(|after| Cursor::Archived { after: Some(after) }),
                    )
                }
            };
            match next {
                Some(next) if records.is_empty() => state = next,
                next => {
                    return Ok(Page {
                        records,
                        next: next.as_ref().map(encode),
                    });
                }
            }
        }
        Ok(Page {
            records: Vec::new(),
            next: Some(encode(&state)),
        })
    }

    /// Records modified at or after `since_ms` with an id above `after_id`, by id.
    async fn by_id_page(
        &self,
        object: &ObjectType,
        since_ms: i64,
        after_id: Option<String>,
    ) -> Result<(Vec<Value>, Option<Cursor>), AppError> {
        let limit = self.config.search_page();
        let mut filters = vec![filter(
            object.modified_property,
            "GTE",
            since_ms.to_string(),
        )];
        if let Some(after) = &after_id {
            filters.push(filter("hs_object_id", "GT", after.clone()));
        }
        let body = json!({
            "filterGroups": [{ "filters": filters }],
            "sorts": [{ "propertyName": "hs_object_id", "direction": "ASCENDING" }],
            "properties": object.properties,
            "limit": limit,
        });
        let page = self.search(object, &body).await?;
        let next = match page.iter().filter_map(record_id).next_back() {
            Some(last) if page.len() >= limit => Cursor::ById {
                since_ms,
                after_id: Some(last),
            },
            // Everything modified since `since_ms` has been read: the deletions next.
            _ => Cursor::Archived { after: None },
        };
        Ok((page, Some(next)))
    }

    /// `POST /crm/v3/objects/{type}/search`, first page only.
    pub(crate) async fn search(
        &self,
        object: &ObjectType,
        body: &Value,
    ) -> Result<Vec<Value>, AppError> {
        let path = format!("crm/v3/objects/{}/search", object.name);
        let (_, mut answer) = self.post(&path, body, Idempotency::Idempotent).await?;
        results_of(&mut answer, "POST", &path)
    }

    /// `GET /crm/v3/objects/{type}`: one page of the full listing.
    async fn list_page(
        &self,
        object: &ObjectType,
        after: Option<&str>,
        archived: bool,
    ) -> Result<(Vec<Value>, Option<String>), AppError> {
        let path = format!("crm/v3/objects/{}", object.name);
        let mut query = vec![
            ("limit", self.config.list_limit.to_string()),
            ("properties", object.properties.join(",")),
            ("archived", archived.to_string()),
        ];
        if let Some(after) = after {
            query.push(("after", after.to_owned()));
        }
        let mut body = self.get(&path, &query).await?;
        let results = results_of(&mut body, "GET", &path)?;
        Ok((results, next_after(&body)))
    }

    /// `batch/read` in chunks, each id once; missing (and archived) ids are just absent.
    pub(crate) async fn batch_read(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Value>, AppError> {
        let object = self.object(entity)?;
        let mut unique = HashSet::new();
        let ids: Vec<&AppId> = ids.iter().filter(|id| unique.insert(id.as_str())).collect();
        let path = format!("crm/v3/objects/{}/batch/read", object.name);
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(self.config.batch()) {
            let body = json!({
                "inputs": chunk.iter().map(|id| json!({ "id": id.as_str() })).collect::<Vec<_>>(),
                "properties": object.properties,
            });
            let (_, mut answer) = self.post(&path, &body, Idempotency::Idempotent).await?;
            found.extend(results_of(&mut answer, "POST", &path)?);
        }
        Ok(found)
    }
}
