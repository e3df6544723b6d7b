//! The Connec! API client: the hub adapter of the [`Hub`] port.
//!
//! `GET /api/v2/{group_id}/{collection}` with `$filter=updated_at gt '...'`, `$top`, and
//! `pagination.next`; `POST /batch` (50 ops per call by default) with each op's status checked;
//! HTTP Basic with the tenant's API id and key; `CONNEC-EXTERNAL-IDS: true` so that ids and
//! references come as `[{id, provider, realm}]` arrays.

use async_trait::async_trait;
use serde_json::{Value, json};
use url::Url;

use crate::domain::{AppId, EntityName, GroupId, HubId, PageCursor, Provider, Realm, Timestamp};
use crate::error::{HttpError, HubError, RecordError};
use crate::http::{ApiClient, HttpConfig, Idempotency, parse_json};
use crate::ports::{ExternalId, Hub, HubChange, HubRecordMeta, HubWrite, HubWriteOutcome, Page};

const API: &str = "connec";

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
    /// Ops per `/batch` call.
    pub batch_size: usize,
    /// HTTP tunables.
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
            http: HttpConfig::default(),
        })
    }
}

/// The Connec! client.
#[derive(Clone, Debug)]
pub struct ConnecClient {
    api: ApiClient,
    config: ConnecConfig,
}

impl ConnecClient {
    /// A client for one tenant's credentials.
    pub fn new(config: ConnecConfig) -> Result<Self, HubError> {
        Ok(Self {
            api: ApiClient::new(API, config.http.clone(), connec_error_detail)?,
            config,
        })
    }

    fn url(&self, path: &str) -> Result<Url, HubError> {
        self.config.base_url.join(path).map_err(|e| HttpError::Url {
            api: API,
            detail: format!("cannot join `{path}` to the base URL: {e}"),
        })
    }

    fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        self.api
            .http()
            .request(method, url)
            .basic_auth(&self.config.api_id, Some(&self.config.api_key))
            .header("Accept", "application/vnd.api+json")
            .header("CONNEC-EXTERNAL-IDS", "true")
    }

    /// The first page URL of a listing.
    fn list_url(
        &self,
        group: &GroupId,
        collection: &EntityName,
        since: Option<Timestamp>,
    ) -> Result<Url, HubError> {
        let mut url = self.url(&format!(
            "api/v2/{}/{}",
            group.as_str(),
            collection.as_str()
        ))?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("$top", &self.config.page_size.to_string());
            // A stable order: updates do not move records, so offset paging never skips one.
            query.append_pair("$orderby", "created_at asc");
            if let Some(since) = since {
                query.append_pair(
                    "$filter",
                    &format!("updated_at gt '{}'", since.to_rfc3339()),
                );
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
        let url = self.url(&format!(
            "api/v2/{}/{}/{}",
            group.as_str(),
            collection.as_str(),
            id.as_str()
        ))?;
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

    async fn send_batch(&self, ops: Vec<Value>) -> Result<Vec<Value>, HubError> {
        let url = self.url("batch")?;
        let count = ops.len();
        let body = json!({ "sequential": true, "ops": ops });
        let response = self
            .api
            .send("POST", "/batch", Idempotency::Idempotent, || {
                self.request(reqwest::Method::POST, url.clone()).json(&body)
            })
            .await?;
        let parsed: Value = parse_json(API, "POST", "/batch", &response.body)?;
        let results = parsed
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("POST", "/batch", "response has no `results` array".into()))?;
        if results.len() != count {
            return Err(malformed(
                "POST",
                "/batch",
                format!("{count} ops sent but {} results returned", results.len()),
            ));
        }
        Ok(results.clone())
    }
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

#[async_trait]
impl Hub for ConnecClient {
    fn describe(&self, collection: &EntityName, record: &Value) -> Result<HubRecordMeta, HubError> {
        record::describe(record).ok_or_else(|| {
            malformed(
                "GET",
                collection.as_str(),
                "record without a Connec! id or a valid `updated_at`".into(),
            )
        })
    }

    fn reference_target(&self, value: &Value) -> Option<HubId> {
        record::connec_ref(value)
    }

    fn reference_external(
        &self,
        value: &Value,
        provider: &Provider,
        realm: &Realm,
    ) -> Option<AppId> {
        record::external_id(value, provider, realm)
    }

    fn reference_value(&self, group: &GroupId, id: &HubId) -> Value {
        record::connec_triple(id, &format!("org-{group}"))
    }

    async fn find_matches(
        &self,
        _group: &GroupId,
        _collection: &EntityName,
        _fields: &[String],
        records: &[Value],
    ) -> Result<Vec<Vec<HubRecordMeta>>, HubError> {
        // Placeholder until the `$filter` search lands: Connec! smart-merges on the fields.
        Ok(vec![Vec::new(); records.len()])
    }

    async fn fetch_page(
        &self,
        group: &GroupId,
        collection: &EntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, HubError> {
        let url = match cursor {
            Some(cursor) => self.next_url(cursor.as_str())?,
            None => self.list_url(group, collection, since)?,
        };
        let path = url.path().to_owned();
        let response = self
            .api
            .send("GET", &path, Idempotency::Idempotent, || {
                self.request(reqwest::Method::GET, url.clone())
            })
            .await?;
        let body: Value = parse_json(API, "GET", &path, &response.body)?;
        let records = match body.get(collection.as_str()) {
            Some(Value::Array(records)) => records.clone(),
            // A singleton collection answers with one object.
            Some(record @ Value::Object(_)) => vec![record.clone()],
            Some(Value::Null) | None if body.get("pagination").is_some() => Vec::new(),
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

    async fn fetch_by_ids(
        &self,
        group: &GroupId,
        collection: &EntityName,
        ids: &[HubId],
    ) -> Result<Vec<Value>, HubError> {
        let fetches = ids.iter().map(|id| self.get(group, collection, id));
        let mut records = Vec::with_capacity(ids.len());
        for found in futures::future::join_all(fetches).await {
            if let Some(record) = found? {
                records.push(record);
            }
        }
        Ok(records)
    }

    async fn write(
        &self,
        group: &GroupId,
        collection: &EntityName,
        writes: Vec<HubWrite>,
    ) -> Result<Vec<Result<HubWriteOutcome, RecordError>>, HubError> {
        let mut outcomes = Vec::with_capacity(writes.len());
        for chunk in writes.chunks(self.config.batch_size.max(1)) {
            let ops: Vec<Value> = chunk
                .iter()
                .map(|write| batch_op(group, collection, write))
                .collect();
            for result in self.send_batch(ops).await? {
                outcomes.push(batch_outcome(collection, &result));
            }
        }
        Ok(outcomes)
    }
}

fn batch_op(group: &GroupId, collection: &EntityName, write: &HubWrite) -> Value {
    let mut record = match &write.change {
        HubChange::Fields(fields) => fields.clone(),
        HubChange::Archive => json!({ "status": "INACTIVE" }),
        HubChange::LinkOnly => json!({}),
    };
    if let Some(source) = &write.source {
        record["id"] = json!([{
            "id": source.id.as_str(),
            "provider": source.provider.as_str(),
            "realm": source.realm.as_str(),
        }]);
    }
    if write.hub_id.is_none() && !write.matching_fields.is_empty() {
        record["opts"] = json!({ "matching_fields": write.matching_fields });
    }
    let (method, url) = match &write.hub_id {
        Some(id) => (
            "put",
            format!(
                "/api/v2/{}/{}/{}",
                group.as_str(),
                collection.as_str(),
                id.as_str()
            ),
        ),
        None => (
            "post",
            format!("/api/v2/{}/{}", group.as_str(), collection.as_str()),
        ),
    };
    json!({ "method": method, "url": url, "params": { collection.as_str(): record } })
}

fn batch_outcome(collection: &EntityName, result: &Value) -> Result<HubWriteOutcome, RecordError> {
    let status = result
        .get("status")
        .and_then(Value::as_u64)
        .map(|s| s as u16);
    let body = result.get("body").cloned().unwrap_or(Value::Null);
    match status {
        Some(status @ (200 | 201)) => {
            match body.get(collection.as_str()).and_then(record::describe) {
                Some(meta) => Ok(HubWriteOutcome {
                    meta,
                    created: status == 201,
                }),
                None => Err(RecordError::new(
                    Some(status),
                    format!(
                        "batch op answered {status} without a `{collection}` record carrying an id and `updated_at`"
                    ),
                )),
            }
        }
        Some(status) => Err(RecordError::new(
            Some(status),
            error_message(&body).unwrap_or_else(|| format!("batch op failed with status {status}")),
        )),
        None => Err(RecordError::new(None, "batch result without a status")),
    }
}

/// Reading Connec! records (id arrays, timestamps, status).
pub mod record {
    use super::*;

    /// The Connec! id of a record: the `connec` entry of its id array, or a plain id.
    pub fn hub_id(record: &Value) -> Option<HubId> {
        match record.get("id")? {
            Value::String(id) => Some(HubId::new(id.clone())),
            Value::Array(entries) => entries
                .iter()
                .find(|e| e.get("provider").and_then(Value::as_str) == Some("connec"))
                .and_then(|e| e.get("id"))
                .and_then(Value::as_str)
                .map(HubId::new),
            _ => None,
        }
    }

    /// What the engine needs of a record; `None` without an id or a valid `updated_at`.
    pub fn describe(record: &Value) -> Option<HubRecordMeta> {
        let external_ids = record
            .get("id")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                let provider = e.get("provider").and_then(Value::as_str)?;
                if provider == "connec" {
                    return None;
                }
                Some(ExternalId {
                    provider: Provider::new(provider),
                    realm: Realm::new(e.get("realm").and_then(Value::as_str).unwrap_or("")),
                    id: AppId::new(e.get("id").and_then(id_text)?),
                })
            })
            .collect();
        Some(HubRecordMeta {
            id: hub_id(record)?,
            updated_at: updated_at(record)?,
            created_at: created_at(record),
            inactive: is_inactive(record),
            external_ids,
        })
    }

    /// Our app's id in an id array (`provider` and `realm` match), if Connec! knows it.
    pub fn external_id(ids: &Value, provider: &Provider, realm: &Realm) -> Option<AppId> {
        ids.as_array()?
            .iter()
            .find(|e| {
                e.get("provider").and_then(Value::as_str) == Some(provider.as_str())
                    && e.get("realm").and_then(Value::as_str) == Some(realm.as_str())
            })
            .and_then(|e| e.get("id"))
            .and_then(id_text)
            .map(AppId::new)
    }

    /// The connec id inside a reference value (array of triples, or a plain string).
    pub fn connec_ref(value: &Value) -> Option<HubId> {
        match value {
            Value::String(id) if !id.is_empty() => Some(HubId::new(id.clone())),
            Value::Array(entries) => entries
                .iter()
                .find(|e| e.get("provider").and_then(Value::as_str) == Some("connec"))
                .and_then(|e| e.get("id"))
                .and_then(Value::as_str)
                .map(HubId::new),
            _ => None,
        }
    }

    fn id_text(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// `updated_at`, parsed to UTC.
    pub fn updated_at(record: &Value) -> Option<Timestamp> {
        record
            .get("updated_at")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
    }

    /// `created_at`, parsed to UTC.
    pub fn created_at(record: &Value) -> Option<Timestamp> {
        record
            .get("created_at")
            .and_then(Value::as_str)
            .and_then(Timestamp::parse)
    }

    /// INACTIVE or ARCHIVED: deleted, Connec!'s way.
    pub fn is_inactive(record: &Value) -> bool {
        matches!(
            record.get("status").and_then(Value::as_str),
            Some("INACTIVE" | "ARCHIVED")
        )
    }

    /// The `channel_id` (realm of connec ids).
    pub fn channel_id(record: &Value) -> Option<&str> {
        record.get("channel_id").and_then(Value::as_str)
    }

    /// A `[{id, provider, realm}]` reference to a hub record.
    pub fn connec_triple(id: &HubId, channel: &str) -> Value {
        json!([{ "id": id.as_str(), "provider": "connec", "realm": channel }])
    }
}
