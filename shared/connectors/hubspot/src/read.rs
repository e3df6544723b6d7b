//! Reading: the full listing, the incremental search (keyset paging), archived records, and
//! reads by id.
//!
//! The incremental search never pages by offset: the sort key (the last-modified date) moves
//! when a record changes, so an offset would skip a record for every record read earlier and
//! modified since. Every query asks for what was modified at or after the newest timestamp read
//! so far (`GTE`), and the cursor carries the ids already read at that very millisecond so they
//! are dropped. When a whole page shares one millisecond, the cursor switches to paging that
//! millisecond by object id. Every query reads only its first page, so the search API's 10,000
//! cap is never reached.

use std::collections::HashSet;

use http_client::Idempotency;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sync_core::domain::{AppEntityName, AppId, PageCursor, Timestamp};
use sync_core::error::AppError;
use sync_core::ports::Page;

use crate::API;
use crate::connector::{HubSpotConnector, ObjectType};
use crate::http::{filter, next_after, property_str, record_id, results_of};

/// Queries one `fetch_page` may make before it returns (an empty page, and the cursor) when
/// every record it read had been read already.
const MAX_QUERIES_PER_PAGE: usize = 8;

/// Where an incremental or full read stands (the engine stores it as an opaque checkpoint).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
enum Cursor {
    /// Full listing.
    List { after: String },
    /// A checkpoint of the earlier offset-paged search: resumed from its start (re-reads are
    /// no-ops for the engine; a resumed offset could skip records).
    Search {
        since_ms: i64,
        inclusive: bool,
        #[serde(default)]
        after: Option<String>,
        #[serde(default)]
        last_ms: i64,
    },
    /// Records modified at or after `from_ms`, but for `seen` (ids already read at `from_ms`).
    Keyset {
        from_ms: i64,
        #[serde(default)]
        seen: Vec<String>,
    },
    /// More than a page of records modified at `at_ms`: those with an id above `after_id`,
    /// by id, but for `seen` (ids read at `at_ms` before this pass).
    SameMillisecond {
        at_ms: i64,
        #[serde(default)]
        after_id: Option<String>,
        #[serde(default)]
        seen: Vec<String>,
    },
    /// Archived objects (deletions) after the search.
    Archived { after: Option<String> },
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
                Some(since) => Cursor::Keyset {
                    from_ms: since.epoch_millis(),
                    seen: Vec::new(),
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
                Cursor::Search {
                    since_ms,
                    inclusive,
                    ..
                } => {
                    state = Cursor::Keyset {
                        from_ms: if inclusive { since_ms } else { since_ms + 1 },
                        seen: Vec::new(),
                    };
                    continue;
                }
                Cursor::Keyset { from_ms, seen } => {
                    self.keyset_page(&object, from_ms, seen).await?
                }
                Cursor::SameMillisecond {
                    at_ms,
                    after_id,
                    seen,
                } => {
                    self.same_millisecond_page(&object, at_ms, after_id, seen)
                        .await?
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

    /// Records modified at or after `from_ms`, oldest first, without the ids already read.
    async fn keyset_page(
        &self,
        object: &ObjectType,
        from_ms: i64,
        seen: Vec<String>,
    ) -> Result<(Vec<Value>, Option<Cursor>), AppError> {
        let limit = self.config.search_page();
        let body = json!({
            "filterGroups": [{ "filters": [
                filter(object.modified_property, "GTE", from_ms.to_string()),
            ]}],
            "sorts": [{ "propertyName": object.modified_property, "direction": "ASCENDING" }],
            "properties": object.properties,
            "limit": limit,
        });
        let page = self.search(object, &body).await?;
        let full = page.len() >= limit;
        let stamps: Vec<Option<i64>> = page.iter().map(|r| modified_ms(object, r)).collect();
        let first = stamps.iter().flatten().min().copied();
        let newest = stamps.iter().flatten().max().copied();
        if full && first == newest {
            // A full page of one millisecond: the order within it is not defined, so page it by id.
            let at_ms = newest.unwrap_or(from_ms);
            let seen = if at_ms == from_ms { seen } else { Vec::new() };
            return Ok((
                Vec::new(),
                Some(Cursor::SameMillisecond {
                    at_ms,
                    after_id: None,
                    seen,
                }),
            ));
        }
        let already: HashSet<&str> = seen.iter().map(String::as_str).collect();
        let mut records = Vec::with_capacity(page.len());
        let mut at_newest = Vec::new();
        for (record, stamp) in page.into_iter().zip(stamps) {
            let id = record_id(&record).unwrap_or_default();
            // Read at `from_ms` before and unchanged since: a repeat.
            if stamp == Some(from_ms) && already.contains(id.as_str()) {
                continue;
            }
            if stamp.is_some() && stamp == newest {
                at_newest.push(id);
            }
            records.push(record);
        }
        if !full {
            // Everything modified since `from_ms` is in this page: the search is done.
            return Ok((records, Some(Cursor::Archived { after: None })));
        }
        let next = match newest {
            Some(newest) if newest > from_ms => Cursor::Keyset {
                from_ms: newest,
                seen: at_newest,
            },
            // Nothing newer than `from_ms` was read (the page held only repeats and undated
            // records): page `from_ms` by id rather than asking the same question again.
            _ => Cursor::SameMillisecond {
                at_ms: from_ms,
                after_id: None,
                seen,
            },
        };
        Ok((records, Some(next)))
    }

    /// Records modified at `at_ms` with an id above `after_id`, by id.
    async fn same_millisecond_page(
        &self,
        object: &ObjectType,
        at_ms: i64,
        after_id: Option<String>,
        seen: Vec<String>,
    ) -> Result<(Vec<Value>, Option<Cursor>), AppError> {
        let limit = self.config.search_page();
        let mut filters = vec![
            filter(object.modified_property, "GTE", at_ms.to_string()),
            filter(object.modified_property, "LTE", at_ms.to_string()),
        ];
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
        let full = page.len() >= limit;
        let last = page.iter().filter_map(record_id).next_back();
        let already: HashSet<&str> = seen.iter().map(String::as_str).collect();
        let records: Vec<Value> = page
            .into_iter()
            .filter(|r| !record_id(r).is_some_and(|id| already.contains(id.as_str())))
            .collect();
        let next = match last {
            Some(last) if full => Cursor::SameMillisecond {
                at_ms,
                after_id: Some(last),
                seen,
            },
            // That millisecond is done: everything after it.
            _ => Cursor::Keyset {
                from_ms: at_ms + 1,
                seen: Vec::new(),
            },
        };
        Ok((records, Some(next)))
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

/// The last-modified time the search filters on, in epoch milliseconds.
fn modified_ms(object: &ObjectType, record: &Value) -> Option<i64> {
    property_str(record, object.modified_property)
        .or_else(|| record.get("updatedAt").and_then(Value::as_str))
        .and_then(Timestamp::parse)
        .map(|t| t.epoch_millis())
}
