//! The Connec! API client: the hub adapter of the [`Hub`] port.
//!
//! `GET /api/v2/{group_id}/{collection}` with `$filter=updated_at gt '...'`, `$top`, and
//! `pagination.next`; `POST /batch` (50 ops per call by default) with each op's status checked;
//! HTTP Basic with the tenant's API id and key; `CONNEC-EXTERNAL-IDS: true` so that ids and
//! references come as `[{id, provider, realm}]` arrays.
//!
//! # Paging
//!
//! Listings page by offset (`$top`/`$skip`, following `pagination.next`) in the order
//! [`ConnecConfig::list_order`], `created_at asc, id asc` by default. `created_at` never changes,
//! so a record updated between two pages keeps its place (a record that *enters* an
//! `updated_at gt` listing between pages can only push later ones forward: a repeat, which the
//! engine's content hashes make a no-op, never a skip). `id` breaks the ties of records created in
//! the same second: offset paging over a non-unique sort key is not stable between queries on a
//! document store (MongoDB documents that ties come back "in any order" unless the sort holds a
//! unique field), and skipping a record at a page boundary loses it.
//!
//! # Writes
//!
//! Every [`HubWrite`] is one `/batch` op:
//! - [`HubChange::Fields`] without a hub id: `POST` (Connec! upserts on the external id in `id`,
//!   and smart-merges on `opts.matching_fields`);
//! - [`HubChange::Fields`] with a hub id: `PUT`, a merge (omitted fields are kept);
//! - [`HubChange::Archive`]: `PUT {status: "INACTIVE"}` (Connec! has no hard delete);
//! - [`HubChange::LinkOnly`]: the id write-back, `PUT {id: [{id, provider, realm}]}` and no field,
//!   as the original framework's `push_entities_to_external_to` does. Connec! adds the triple to
//!   the record's id array and keeps the entries it had (the wiki's "Working with records
//!   external IDs": the id mapping is "updated to include" the app's id).
//!
//! A write's `source` goes into `id` on each of them, so every write also links.
//!
//! # Reads by id
//!
//! [`Hub::fetch_by_ids`] sends one `get` op per distinct id through `POST /batch`, with a single
//! `GET` for an op Connec! does not answer with the record or 404 (the `batch_reads` module).
//!
//! # Match-before-create
//!
//! [`Hub::find_matches`] reads the records Connec!'s smart merge would merge a new record into,
//! so that the engine can check them against its id-maps *before* writing (see [`matching`]).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{Value, json};
use url::Url;

use http_client::{ApiClient, HttpConfig, Idempotency, parse_json};
use sync_core::domain::{
    AppId, EntityName, GroupId, HubId, PageCursor, Provider, Realm, Timestamp,
};
use sync_core::error::{HttpError, HubError, RecordError};
use sync_core::ports::{Hub, HubChange, HubRecordMeta, HubWrite, HubWriteOutcome, Page};

mod batch_answer;
mod batch_reads;
mod hub;
pub mod matching;
pub mod notify;
pub mod record;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(test)]
mod tests;

const API: &str = "connec";

/// The default [`ConnecConfig::list_order`].
pub const DEFAULT_LIST_ORDER: &str = "created_at asc, id asc";

/// Where Connec! is and how to authenticate.
#[derive(Clone)]
pub struct ConnecConfig {
    /// Base URL (`https://api-connec.example`, or an emulator's loopback URL).
    pub base_url: Url,
    /// The tenant's API id (Basic user).
    pub api_id: String,
    /// The tenant's API key (Basic password).
    pub api_key: String,
    /// `$top` of list calls.
    pub page_size: usize,
    /// Ops per `/batch` call (writes, and the `get` ops of [`Hub::fetch_by_ids`]).
    pub batch_size: usize,
    /// `$orderby` of list calls: a stable order with a unique last key
    /// ([`DEFAULT_LIST_ORDER`]). The sources show single-key orders (`name ASC`,
    /// `updated_at asc`) and no limit on keys; if a Connec! deployment refuses the `id`
    /// tiebreaker, set another unique key here rather than dropping it.
    pub list_order: String,
    /// HTTP tunables; `http.max_concurrency` also bounds the calls of [`Hub::fetch_by_ids`]
    /// (its `/batch`es of `get` ops) and the GETs of [`Hub::find_matches`] in flight.
    pub http: HttpConfig,
}

impl std::fmt::Debug for ConnecConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnecConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_id", &self.api_id)
            .field("api_key", &"<redacted>")
            .field("page_size", &self.page_size)
            .field("batch_size", &self.batch_size)
            .field("list_order", &self.list_order)
            .finish()
    }
}

impl ConnecConfig {
    /// Configuration with the default page (100) and batch (50) sizes.
    pub fn new(base_url: &str, api_id: &str, api_key: &str) -> Result<Self, HubError> {
        let base_url = Url::parse(base_url).map_err(|e| HttpError::Url {
            api: API,
            detail: format!("`{base_url}` is not a valid Connec! base URL: {e}"),
        })?;
        Ok(Self {
            base_url,
            api_id: api_id.to_owned(),
            api_key: api_key.to_owned(),
            page_size: 100,
            batch_size: 50,
            list_order: DEFAULT_LIST_ORDER.to_owned(),
            http: HttpConfig::default(),
        })
    }
}

/// The Connec! client.
#[derive(Clone, Debug)]
pub struct ConnecClient {
    api: ApiClient,
    config: ConnecConfig,
    /// Cleared for good once Connec! refuses a `/batch` of `get` ops as a whole (see
    /// [`batch_reads`]); shared by the clones of this client.
    batch_reads: Arc<AtomicBool>,
}

impl ConnecClient {
    /// A client for one tenant's credentials.
    pub fn new(config: ConnecConfig) -> Result<Self, HubError> {
        Ok(Self {
            api: ApiClient::new(API, config.http.clone(), connec_error_detail)?,
            config,
            batch_reads: Arc::new(AtomicBool::new(true)),
        })
    }

    /// The URL of `segments` under the base URL, each segment percent-encoded as one segment
    /// (see [`api_url`]).
    fn url(&self, segments: &[&str]) -> Result<Url, HubError> {
        api_url(&self.config.base_url, segments)
            .map_err(|detail| HttpError::Url { api: API, detail })
    }

    fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.api
            .http()
            .request(method, url)
            .basic_auth(&self.config.api_id, Some(&self.config.api_key))
            .header("Accept", "application/vnd.api+json")
            .header("CONNEC-EXTERNAL-IDS", "true")
    }

    /// Requests in flight at once for fan-out reads.
    fn fan_out(&self) -> usize {
        self.config.http.max_concurrency.max(1)
    }

    /// The first page URL of a listing filtered by `filter` (clauses joined with `and`).
    fn list_url(
        &self,
        group: &GroupId,
        collection: &EntityName,
        filter: Option<&str>,
    ) -> Result<Url, HubError> {
        let mut url = self.url(&["api", "v2", group.as_str(), collection.as_str()])?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("$top", &self.config.page_size.to_string());
            // A stable order with a unique tiebreaker (see the module docs).
            query.append_pair("$orderby", &self.config.list_order);
            if let Some(filter) = filter {
                query.append_pair("$filter", filter);
            }
        }
        Ok(url)
    }

    /// A `pagination.next` URL, checked to stay on our host (credentials go with it).
    fn next_url(&self, next: &str) -> Result<Url, HubError> {
        let url = self
            .config
            .base_url
            .join(next)
            .map_err(|e| HttpError::Url {
                api: API,
                detail: format!("pagination.next is not a URL: {e}"),
            })?;
        if url.origin() != self.config.base_url.origin() {
            return Err(HttpError::Malformed {
                api: API,
                method: "GET".into(),
                path: url.path().to_owned(),
                detail:
                    "pagination.next points to another host; refusing to send credentials there"
                        .into(),
            });
        }
        Ok(url)
    }

    /// One record by id; `None` when Connec! says 404.
    pub async fn get(
        &self,
        group: &GroupId,
        collection: &EntityName,
        id: &HubId,
    ) -> Result<Option<Value>, HubError> {
        let url = self.url(&[
            "api",
            "v2",
            group.as_str(),
            collection.as_str(),
            id.as_str(),
        ])?;
        let path = url.path().to_owned();
        let response = match self
            .api
            .send("GET", &path, Idempotency::Idempotent, || {
                self.request(reqwest::Method::GET, url.clone())
            })
            .await
        {
            Ok(response) => response,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let body: Value = parse_json(API, "GET", &path, &response.body)?;
        match body.get(collection.as_str()) {
            Some(record @ Value::Object(_)) => Ok(Some(record.clone())),
            _ => Err(malformed(
                "GET",
                &path,
                format!("response has no `{collection}` object"),
            )),
        }
    }

    /// One listing page at `url`. Errors name the path only: the query may hold personal data
    /// (a `$filter` on an e-mail address).
    async fn list_page(&self, url: Url, collection: &EntityName) -> Result<Page, HubError> {
        let path = url.path().to_owned();
        let response = self
            .api
            .send("GET", &path, Idempotency::Idempotent, || {
                self.request(reqwest::Method::GET, url.clone())
            })
            .await?;
        let mut body: Value = parse_json(API, "GET", &path, &response.body)?;
        let paginated = body.get("pagination").is_some();
        // The page is moved out of the answer, not copied.
        let records = match body.get_mut(collection.as_str()) {
            Some(Value::Array(records)) => std::mem::take(records),
            // A singleton collection answers with one object.
            Some(record @ Value::Object(_)) => vec![record.take()],
            Some(Value::Null) | None if paginated => Vec::new(),
            _ => {
                return Err(malformed(
                    "GET",
                    &path,
                    format!("response has no `{collection}` array"),
                ));
            }
        };
        if let Some(bad) = records.iter().position(|r| !r.is_object()) {
            return Err(malformed(
                "GET",
                &path,
                format!("record {bad} of the page is not an object"),
            ));
        }
        let next = body
            .get("pagination")
            .and_then(|p| p.get("next"))
            .and_then(Value::as_str)
            .filter(|next| !next.is_empty())
            .map(PageCursor::new);
        Ok(Page { records, next })
    }

    /// The records one match filter selects (its first page: enough to tell none, one or
    /// several).
    async fn search(
        &self,
        group: &GroupId,
        collection: &EntityName,
        filter: &str,
    ) -> Result<Vec<HubRecordMeta>, HubError> {
        let url = self.list_url(group, collection, Some(filter))?;
        let page = self.list_page(url, collection).await?;
        let mut found = Vec::with_capacity(page.records.len());
        for candidate in &page.records {
            match record::describe(candidate) {
                Some(meta) => found.push(meta),
                None => tracing::warn!(
                    collection = %collection,
                    "match candidate without a Connec! id or a valid `updated_at`: ignored"
                ),
            }
        }
        Ok(found)
    }

    /// One `/batch` call: its answer's body, unread.
    async fn post_batch(&self, ops: &[Value]) -> Result<Vec<u8>, HubError> {
        let url = self.url(&["batch"])?;
        let body = json!({ "sequential": true, "ops": ops });
        let response = self
            .api
            .send("POST", "/batch", Idempotency::Idempotent, || {
                self.request(reqwest::Method::POST, url.clone()).json(&body)
            })
            .await?;
        Ok(response.body)
    }

    /// A `/batch` of `ops`, each result whole.
    async fn send_batch(&self, ops: Vec<Value>) -> Result<Vec<Value>, HubError> {
        let body = self.post_batch(&ops).await?;
        let mut parsed: Value = parse_json(API, "POST", "/batch", &body)?;
        let results = match parsed.get_mut("results") {
            Some(Value::Array(results)) => std::mem::take(results),
            _ => return Err(no_results()),
        };
        one_result_per_op(ops.len(), results)
    }

    /// A `/batch` of writes to `collection`, each result reduced to what the engine keeps
    /// ([`batch_answer::write_results`]).
    async fn send_write_batch(
        &self,
        ops: Vec<Value>,
        collection: &EntityName,
    ) -> Result<Vec<Value>, HubError> {
        let body = self.post_batch(&ops).await?;
        let results = batch_answer::write_results(&body, collection)?.ok_or_else(no_results)?;
        one_result_per_op(ops.len(), results)
    }
}

fn no_results() -> HubError {
    malformed("POST", "/batch", "response has no `results` array".into())
}

fn one_result_per_op(count: usize, results: Vec<Value>) -> Result<Vec<Value>, HubError> {
    if results.len() != count {
        return Err(malformed(
            "POST",
            "/batch",
            format!("{count} ops sent but {} results returned", results.len()),
        ));
    }
    Ok(results)
}

/// `segments` appended to the path of `base` (a trailing `/` of the base is dropped first), each
/// percent-encoded as one segment: a `/`, `?`, `#` or `%` in a group, collection or record id is
/// data, never a separator, a query or an escape, so no id can address another path. A segment
/// that is empty, `.` or `..` is refused: URL normalisation would drop or resolve it. The error
/// names the problem, not the segment.
fn api_url(base: &Url, segments: &[&str]) -> Result<Url, String> {
    if let Some(bad) = segments
        .iter()
        .position(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(format!(
            "URL path segment {bad} is empty, `.` or `..`: no Connec! id can be"
        ));
    }
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| "the Connec! base URL cannot carry a path".to_owned())?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// The absolute path (`/api/v2/...`) of `segments`, encoded as by [`api_url`]: the `url` of a
/// `/batch` op.
fn api_path(segments: &[&str]) -> Result<String, String> {
    let root = Url::parse("http://connec.invalid/").map_err(|e| e.to_string())?;
    Ok(api_url(&root, segments)?.path().to_owned())
}

fn malformed(method: &str, path: &str, detail: String) -> HubError {
    HttpError::Malformed {
        api: API,
        method: method.to_owned(),
        path: path.to_owned(),
        detail,
    }
}

/// Connec!'s JSON:API error envelope to a message.
fn connec_error_detail(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return format!("non-JSON error body ({} bytes)", body.len());
    };
    error_message(&value).unwrap_or_else(|| "error without a message".to_owned())
}

fn error_message(value: &Value) -> Option<String> {
    let first = value.get("errors")?.as_array()?.first()?;
    let title = first.get("title").and_then(Value::as_str).unwrap_or("");
    let detail = first.get("detail").and_then(Value::as_str).unwrap_or("");
    Some(match (title.is_empty(), detail.is_empty()) {
        (false, false) => format!("{title}: {detail}"),
        (false, true) => title.to_owned(),
        _ => detail.to_owned(),
    })
}
