//! The HubSpot CRM v3 reference connector.
//!
//! Entity pairs, in sync order:
//! - Connec! `organizations` <-> HubSpot `companies` (matched on domain, then name);
//! - Connec! `people` <-> HubSpot `contacts` (matched on e-mail), the contact's primary company
//!   (`associatedcompanyid`) <-> the person's `organization_id`.
//!
//! Archived HubSpot records become `status: INACTIVE` in Connec! and INACTIVE Connec! records are
//! archived in HubSpot. Mappings are data (`mappings/*.yaml`, compiled in, replaceable at run time).
//!
//! Reading: a first sync lists every object (`GET /crm/v3/objects/{type}`, cursor `after`); an
//! incremental one searches on the last-modified property, sorted ascending, restarting from the
//! last timestamp when the search API's 10,000-result cap is reached, then lists archived objects.
//! Writing: `batch/update`, `batch/upsert` keyed by e-mail (match-and-merge and idempotency in
//! one call) and `batch/create` after a search for matches; per-input errors of a 207 answer fail
//! only their own record.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use mapping::{EntityMapping, FunctionRegistry};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sync_core::domain::{AppEntityName, AppId, ConflictPolicy, PageCursor, Provider, Timestamp};
use sync_core::entity::EntityPair;
use sync_core::error::{AppError, HttpError, RecordError};
use sync_core::http::{ApiClient, HttpConfig, Idempotency, parse_json};
use sync_core::ports::{
    AppConnector, AppMatches, AppRecordMeta, AppWrite, AppWriteFailure, AppWriteKind,
    AppWriteOutcome, MatchQuery, Page, StaticToken, TokenSource,
};
use url::Url;

const API: &str = "hubspot";
/// The provider name HubSpot records carry in Connec! external ids.
pub const PROVIDER: &str = "hubspot";

const PEOPLE_MAPPING: &str = include_str!("../mappings/people.yaml");
const ORGANIZATIONS_MAPPING: &str = include_str!("../mappings/organizations.yaml");

/// Errors building the connector.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A mapping file is invalid.
    #[error(transparent)]
    Mapping(#[from] mapping::MappingError),
    /// The base URL is invalid.
    #[error("invalid HubSpot base URL `{url}`: {detail}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Where HubSpot is and how to authenticate.
#[derive(Clone)]
pub struct HubSpotConfig {
    /// API base URL (`https://api.hubapi.com`, or an emulator's loopback URL).
    pub base_url: Url,
    /// Where the bearer token comes from (a private-app token, or OAuth tokens refreshed on expiry).
    pub token: Arc<dyn TokenSource>,
    /// Conflict policy of both entity pairs.
    pub conflict_policy: ConflictPolicy,
    /// Folder with `people.yaml` / `organizations.yaml` replacing the built-in mappings.
    pub mappings_dir: Option<std::path::PathBuf>,
    /// HTTP tunables.
    pub http: HttpConfig,
    /// Page size of list calls (max 100).
    pub list_limit: usize,
    /// Page size of search calls (max 200).
    pub search_limit: usize,
    /// Inputs per batch call (max 100).
    pub batch_size: usize,
    /// The search API's result cap.
    pub search_cap: usize,
}

impl std::fmt::Debug for HubSpotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotConfig")
            .field("base_url", &self.base_url.as_str())
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl HubSpotConfig {
    /// Defaults for a base URL and a static token.
    pub fn new(base_url: &str, access_token: &str) -> Result<Self, SetupError> {
        Self::with_token_source(base_url, Arc::new(StaticToken::new(access_token)))
    }

    /// Defaults for a base URL and a token source (OAuth).
    pub fn with_token_source(
        base_url: &str,
        token: Arc<dyn TokenSource>,
    ) -> Result<Self, SetupError> {
        let parsed = Url::parse(base_url).map_err(|e| SetupError::Url {
            url: base_url.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            base_url: parsed,
            token,
            conflict_policy: ConflictPolicy::default(),
            mappings_dir: None,
            http: HttpConfig::default(),
            list_limit: 100,
            search_limit: 200,
            batch_size: 100,
            search_cap: 10_000,
        })
    }
}

/// What the connector knows of one HubSpot object type.
#[derive(Clone, Debug)]
struct ObjectType {
    name: &'static str,
    /// The last-modified property searched on.
    modified_property: &'static str,
    /// Properties requested on reads.
    properties: Vec<String>,
}

/// The HubSpot connector.
pub struct HubSpotConnector {
    api: ApiClient,
    config: HubSpotConfig,
    provider: Provider,
    entities: Vec<EntityPair>,
    objects: HashMap<String, ObjectType>,
}

impl HubSpotConnector {
    /// Builds the connector, loading (and validating) its mappings.
    pub fn new(config: HubSpotConfig) -> Result<Self, SetupError> {
        let functions = FunctionRegistry::default();
        let load =
            |file: &str, builtin: &str| -> Result<(EntityMapping, Vec<String>), SetupError> {
                let (text, origin) = match &config.mappings_dir {
                    Some(dir) if dir.join(file).exists() => {
                        let path = dir.join(file);
                        let text = std::fs::read_to_string(&path).map_err(|source| {
                            mapping::MappingError::Io {
                                origin: path.display().to_string(),
                                source,
                            }
                        })?;
                        (text, path.display().to_string())
                    }
                    _ => (builtin.to_owned(), format!("hubspot/{file}")),
                };
                let mapping = EntityMapping::from_yaml_str(&text, &origin, &functions)?;
                Ok((mapping, app_properties(&text)))
            };
        let (org_mapping, org_props) = load("organizations.yaml", ORGANIZATIONS_MAPPING)?;
        let (people_mapping, people_props) = load("people.yaml", PEOPLE_MAPPING)?;
        let entities = vec![
            EntityPair::new("organizations", "companies", org_mapping)
                .matching(&["name"])
                .policy(config.conflict_policy)
                .labelled_by(&["name"]),
            EntityPair::new("people", "contacts", people_mapping)
                .matching(&["email.address"])
                .policy(config.conflict_policy)
                .labelled_by(&["first_name", "last_name"]),
        ];
        let mut objects = HashMap::new();
        objects.insert(
            "companies".to_owned(),
            ObjectType {
                name: "companies",
                modified_property: "hs_lastmodifieddate",
                properties: with_system(org_props, "hs_lastmodifieddate"),
            },
        );
        objects.insert(
            "contacts".to_owned(),
            ObjectType {
                name: "contacts",
                modified_property: "lastmodifieddate",
                properties: with_system(people_props, "lastmodifieddate"),
            },
        );
        Ok(Self {
            api: ApiClient::new(API, config.http.clone(), hubspot_error_detail)?,
            config,
            provider: Provider::new(PROVIDER),
            entities,
            objects,
        })
    }

    /// Loads a mapping file written by a user, to check it before use.
    pub fn check_mapping_file(path: &Path) -> Result<(), SetupError> {
        EntityMapping::from_file(path, &FunctionRegistry::default())?;
        Ok(())
    }

    fn object(&self, entity: &AppEntityName) -> Result<&ObjectType, AppError> {
        self.objects
            .get(entity.as_str())
            .ok_or_else(|| AppError::UnknownEntity {
                app: API,
                entity: entity.to_string(),
            })
    }

    fn url(&self, path: &str) -> Result<Url, HttpError> {
        self.config.base_url.join(path).map_err(|e| HttpError::Url {
            api: API,
            detail: format!("cannot join `{path}`: {e}"),
        })
    }

    fn request(&self, method: reqwest::Method, url: Url, token: &str) -> reqwest::RequestBuilder {
        self.api
            .http()
            .request(method, url)
            .bearer_auth(token)
            .header("Accept", "application/json")
    }

    async fn post(
        &self,
        path: &str,
        body: &Value,
        idempotency: Idempotency,
    ) -> Result<(u16, Value), AppError> {
        let url = self.url(path)?;
        let response = self
            .authorized("POST", path, idempotency, |token| {
                self.request(reqwest::Method::POST, url.clone(), token)
                    .json(body)
            })
            .await?;
        if response.body.is_empty() {
            return Ok((response.status.as_u16(), Value::Null));
        }
        Ok((
            response.status.as_u16(),
            parse_json(API, "POST", path, &response.body)?,
        ))
    }

    /// Sends with the current token; on a 401 (an expired or revoked token) renews it once and
    /// tries again, so a token that died early costs one retry instead of a failed run.
    async fn authorized(
        &self,
        method: &str,
        path: &str,
        idempotency: Idempotency,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<sync_core::http::HttpResponse, AppError> {
        let token = self.config.token.bearer().await?;
        match self
            .api
            .send(method, path, idempotency, || build(&token))
            .await
        {
            Err(HttpError::Status { status: 401, .. }) => {
                let token = self.config.token.renew().await?;
                Ok(self
                    .api
                    .send(method, path, idempotency, || build(&token))
                    .await?)
            }
            other => Ok(other?),
        }
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, AppError> {
        let mut url = self.url(path)?;
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let response = self
            .authorized("GET", path, Idempotency::Idempotent, |token| {
                self.request(reqwest::Method::GET, url.clone(), token)
            })
            .await?;
        Ok(parse_json(API, "GET", path, &response.body)?)
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
        let body = self.get(&path, &query).await?;
        let results = results_of(&body, "GET", &path)?;
        let next = body
            .pointer("/paging/next/after")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok((results, next))
    }

    /// `POST /crm/v3/objects/{type}/search` on the last-modified property.
    async fn search_page(
        &self,
        object: &ObjectType,
        since: Timestamp,
        inclusive: bool,
        after: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>, u64), AppError> {
        let path = format!("crm/v3/objects/{}/search", object.name);
        let mut body = json!({
            "filterGroups": [{ "filters": [{
                "propertyName": object.modified_property,
                "operator": if inclusive { "GTE" } else { "GT" },
                "value": since.epoch_millis().to_string(),
            }]}],
            "sorts": [{ "propertyName": object.modified_property, "direction": "ASCENDING" }],
            "properties": object.properties,
            "limit": self.config.search_limit,
        });
        if let Some(after) = after {
            body["after"] = json!(after);
        }
        let (_, answer) = self.post(&path, &body, Idempotency::Idempotent).await?;
        let results = results_of(&answer, "POST", &path)?;
        let next = answer
            .pointer("/paging/next/after")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let total = answer.get("total").and_then(Value::as_u64).unwrap_or(0);
        Ok((results, next, total))
    }

    /// `batch/read` in chunks; missing ids are just absent.
    async fn batch_read(&self, object: &ObjectType, ids: &[AppId]) -> Result<Vec<Value>, AppError> {
        let path = format!("crm/v3/objects/{}/batch/read", object.name);
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(self.config.batch_size.max(1)) {
            let body = json!({
                "inputs": chunk.iter().map(|id| json!({ "id": id.as_str() })).collect::<Vec<_>>(),
                "properties": object.properties,
            });
            let (_, answer) = self.post(&path, &body, Idempotency::Idempotent).await?;
            found.extend(results_of(&answer, "POST", &path)?);
        }
        Ok(found)
    }

    /// Sends one batch write; turns a 207 into per-input failures keyed by trace id.
    async fn batch_write(
        &self,
        object: &ObjectType,
        operation: &str,
        inputs: Vec<Value>,
        idempotency: Idempotency,
    ) -> Result<BatchAnswer, AppError> {
        let path = format!("crm/v3/objects/{}/batch/{operation}", object.name);
        let body = json!({ "inputs": inputs });
        match self.post(&path, &body, idempotency).await {
            Ok((_, answer)) => {
                let results = results_of(&answer, "POST", &path)?;
                let mut failures = HashMap::new();
                for error in answer
                    .get("errors")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let message = hubspot_message(error);
                    let not_found =
                        error.get("category").and_then(Value::as_str) == Some("OBJECT_NOT_FOUND");
                    let failure = if not_found {
                        AppWriteFailure::NotFound
                    } else {
                        AppWriteFailure::Rejected(RecordError::new(Some(400), message))
                    };
                    for trace in error
                        .pointer("/context/objectWriteTraceId")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        failures.insert(trace.to_owned(), failure.clone());
                    }
                }
                Ok(BatchAnswer {
                    results,
                    failures,
                    whole: None,
                })
            }
            // The whole batch was refused (e.g. one input HubSpot validates batch-wide).
            Err(AppError::Http(HttpError::Status { status, detail, .. }))
                if (400..500).contains(&status) && status != 429 =>
            {
                Ok(BatchAnswer {
                    results: Vec::new(),
                    failures: HashMap::new(),
                    whole: Some(RecordError::new(Some(status), detail)),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Finds existing companies for new ones: by domain first, then by name.
    async fn match_companies(
        &self,
        object: &ObjectType,
        records: &[&Value],
    ) -> Result<Vec<Option<AppId>>, AppError> {
        let domains: Vec<String> = records
            .iter()
            .filter_map(|r| property(r, "domain"))
            .map(|d| d.to_lowercase())
            .collect();
        let names: Vec<String> = records.iter().filter_map(|r| property(r, "name")).collect();
        let mut groups = Vec::new();
        if !domains.is_empty() {
            groups.push(json!({ "filters": [{ "propertyName": "domain", "operator": "IN", "values": domains }] }));
        }
        if !names.is_empty() {
            groups.push(json!({ "filters": [{ "propertyName": "name", "operator": "IN", "values": names }] }));
        }
        if groups.is_empty() {
            return Ok(vec![None; records.len()]);
        }
        let path = format!("crm/v3/objects/{}/search", object.name);
        let mut by_domain: HashMap<String, AppId> = HashMap::new();
        let mut by_name: HashMap<String, AppId> = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let mut body = json!({
                "filterGroups": groups,
                "properties": ["domain", "name"],
                "limit": self.config.search_limit,
                "sorts": [{ "propertyName": "hs_object_id", "direction": "ASCENDING" }],
            });
            if let Some(after) = &after {
                body["after"] = json!(after);
            }
            let (_, answer) = self.post(&path, &body, Idempotency::Idempotent).await?;
            for found in results_of(&answer, "POST", &path)? {
                let Some(id) = found.get("id").and_then(Value::as_str) else {
                    continue;
                };
                if let Some(domain) = property(&found, "domain") {
                    by_domain
                        .entry(domain.to_lowercase())
                        .or_insert_with(|| AppId::new(id));
                }
                if let Some(name) = property(&found, "name") {
                    by_name
                        .entry(name.to_lowercase())
                        .or_insert_with(|| AppId::new(id));
                }
            }
            after = answer
                .pointer("/paging/next/after")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if after.is_none() {
                break;
            }
        }
        Ok(records
            .iter()
            .map(|r| {
                property(r, "domain")
                    .and_then(|d| by_domain.get(&d.to_lowercase()).cloned())
                    .or_else(|| {
                        property(r, "name").and_then(|n| by_name.get(&n.to_lowercase()).cloned())
                    })
            })
            .collect())
    }
}

/// One batch call's answer.
struct BatchAnswer {
    results: Vec<Value>,
    /// Per-input failures by trace id.
    failures: HashMap<String, AppWriteFailure>,
    /// The whole batch was refused.
    whole: Option<RecordError>,
}

/// Where an incremental or full read stands (the engine stores it as an opaque checkpoint).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
enum Cursor {
    /// Full listing.
    List { after: String },
    /// Search on last-modified since `since_ms` (inclusive after a cap restart).
    Search {
        since_ms: i64,
        inclusive: bool,
        after: Option<String>,
        /// Timestamp of the last record read: where to restart at the cap.
        last_ms: i64,
    },
    /// Archived objects (deletions) after the search.
    Archived { after: Option<String> },
}

fn encode(cursor: &Cursor) -> PageCursor {
    PageCursor::new(serde_json::to_string(cursor).expect("cursor serializes"))
}

#[async_trait]
impl AppConnector for HubSpotConnector {
    fn provider(&self) -> &Provider {
        &self.provider
    }

    fn entities(&self) -> &[EntityPair] {
        &self.entities
    }

    fn describe(&self, entity: &AppEntityName, record: &Value) -> Result<AppRecordMeta, AppError> {
        let object = self.object(entity)?;
        let invalid = |detail: &str| AppError::Invalid {
            app: API,
            detail: format!("{} object {detail}", object.name),
        };
        let id = match record.get("id") {
            Some(Value::String(id)) if !id.is_empty() => AppId::new(id.clone()),
            Some(Value::Number(n)) => AppId::new(n.to_string()),
            _ => return Err(invalid("without an `id`")),
        };
        let updated_at = record
            .get("updatedAt")
            .and_then(Value::as_str)
            .or_else(|| property_str(record, object.modified_property))
            .and_then(Timestamp::parse)
            .ok_or_else(|| invalid(&format!("{id} without a valid `updatedAt`")))?;
        let created_at = record
            .get("createdAt")
            .and_then(Value::as_str)
            .or_else(|| property_str(record, "createdate"))
            .and_then(Timestamp::parse);
        let archived = record
            .get("archived")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(AppRecordMeta {
            id,
            updated_at,
            created_at,
            archived,
            marker: None,
        })
    }

    async fn fetch_page(
        &self,
        entity: &AppEntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, AppError> {
        let object = self.object(entity)?.clone();
        let state = match cursor {
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
                Some(since) => Cursor::Search {
                    since_ms: since.epoch_millis(),
                    inclusive: false,
                    after: None,
                    last_ms: since.epoch_millis(),
                },
            },
        };
        match state {
            Cursor::List { after } => {
                let after = (!after.is_empty()).then_some(after);
                let (records, next) = self.list_page(&object, after.as_deref(), false).await?;
                Ok(Page {
                    records,
                    next: next.map(|after| encode(&Cursor::List { after })),
                })
            }
            Cursor::Search {
                since_ms,
                inclusive,
                after,
                last_ms,
            } => {
                let since = Timestamp::parse(&since_ms.to_string())
                    .unwrap_or_else(|| Timestamp::parse("0").expect("epoch"));
                let offset: usize = after.as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
                let (records, next, total) = self
                    .search_page(&object, since, inclusive, after.as_deref())
                    .await?;
                let mut newest = last_ms;
                for record in &records {
                    if let Ok(meta) = self.describe(entity, record) {
                        newest = newest.max(meta.updated_at.epoch_millis());
                    }
                }
                let read = offset + records.len();
                let next = match next {
                    Some(after) if offset + self.config.search_limit < self.config.search_cap => {
                        Cursor::Search {
                            since_ms,
                            inclusive,
                            after: Some(after),
                            last_ms: newest,
                        }
                    }
                    // At the cap with more to read: search again from the newest timestamp read.
                    _ if (read as u64) < total && !records.is_empty() => {
                        if inclusive && newest == since_ms {
                            return Err(AppError::Invalid {
                                app: API,
                                detail: format!(
                                    "more than {} {} share one modification time; the search API cannot page past them",
                                    self.config.search_cap, object.name
                                ),
                            });
                        }
                        Cursor::Search {
                            since_ms: newest,
                            inclusive: true,
                            after: None,
                            last_ms: newest,
                        }
                    }
                    _ => Cursor::Archived { after: None },
                };
                Ok(Page {
                    records,
                    next: Some(encode(&next)),
                })
            }
            Cursor::Archived { after } => {
                let since_ms = since.map(|s| s.epoch_millis()).unwrap_or(i64::MIN);
                let (records, next) = self.list_page(&object, after.as_deref(), true).await?;
                // Deletions since the watermark only.
                let records = records
                    .into_iter()
                    .filter(|r| {
                        r.get("archivedAt")
                            .or_else(|| r.get("updatedAt"))
                            .and_then(Value::as_str)
                            .and_then(Timestamp::parse)
                            .is_none_or(|at| at.epoch_millis() > since_ms)
                    })
                    .collect();
                Ok(Page {
                    records,
                    next: next.map(|after| encode(&Cursor::Archived { after: Some(after) })),
                })
            }
        }
    }

    async fn fetch_by_ids(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Value>, AppError> {
        let object = self.object(entity)?.clone();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.batch_read(&object, ids).await
    }

    async fn find_matches(
        &self,
        entity: &AppEntityName,
        queries: &[MatchQuery],
    ) -> Result<Vec<AppMatches>, AppError> {
        // Interim: the natural-key match runs inside `write` (upsert by e-mail, company search).
        let _ = self.object(entity)?;
        Ok(vec![AppMatches::default(); queries.len()])
    }

    async fn write(
        &self,
        entity: &AppEntityName,
        writes: Vec<AppWrite>,
    ) -> Result<Vec<Result<AppWriteOutcome, AppWriteFailure>>, AppError> {
        let object = self.object(entity)?.clone();
        let mut outcomes: Vec<Option<Result<AppWriteOutcome, AppWriteFailure>>> =
            vec![None; writes.len()];

        // Sort writes into updates, upserts (contacts with an e-mail) and creates.
        let mut updates: Vec<(usize, AppId, Value, AppWriteKind)> = Vec::new();
        let mut upserts: Vec<(usize, String, Value)> = Vec::new();
        let mut creates: Vec<(usize, Value)> = Vec::new();
        let mut new_companies: Vec<(usize, Value)> = Vec::new();
        for (index, write) in writes.into_iter().enumerate() {
            match write {
                AppWrite::Update { id, record } => {
                    updates.push((index, id, properties_of(&record), AppWriteKind::Updated))
                }
                AppWrite::Create { record, .. } => {
                    let props = properties_of(&record);
                    match (object.name, property(&record, "email")) {
                        ("contacts", Some(email)) => {
                            upserts.push((index, email.to_lowercase(), props))
                        }
                        ("companies", _) => new_companies.push((index, record)),
                        _ => creates.push((index, props)),
                    }
                }
            }
        }
        // Match before create: companies by domain, then name.
        for chunk in new_companies.chunks(self.config.batch_size.max(1)) {
            let records: Vec<&Value> = chunk.iter().map(|(_, r)| r).collect();
            let matches = self.match_companies(&object, &records).await?;
            for ((index, record), found) in chunk.iter().zip(matches) {
                match found {
                    Some(id) => {
                        updates.push((*index, id, properties_of(record), AppWriteKind::Merged))
                    }
                    None => creates.push((*index, properties_of(record))),
                }
            }
        }

        for chunk in updates.chunks(self.config.batch_size.max(1)) {
            let inputs = chunk
                .iter()
                .map(|(index, id, props, _)| json!({ "id": id.as_str(), "properties": props, "objectWriteTraceId": index.to_string() }))
                .collect();
            let answer = self
                .batch_write(&object, "update", inputs, Idempotency::Idempotent)
                .await?;
            let by_id: HashMap<String, Value> = answer
                .results
                .into_iter()
                .filter_map(|r| {
                    r.get("id")
                        .and_then(Value::as_str)
                        .map(|id| (id.to_owned(), r.clone()))
                })
                .collect();
            for (index, id, _, kind) in chunk {
                outcomes[*index] = Some(settle(
                    &answer.whole,
                    &answer.failures,
                    *index,
                    by_id.get(id.as_str()).cloned(),
                    *kind,
                ));
            }
        }

        for chunk in upserts.chunks(self.config.batch_size.max(1)) {
            let inputs = chunk
                .iter()
                .map(|(index, email, props)| {
                    json!({ "idProperty": "email", "id": email, "properties": props, "objectWriteTraceId": index.to_string() })
                })
                .collect();
            let answer = self
                .batch_write(&object, "upsert", inputs, Idempotency::Idempotent)
                .await?;
            let mut by_email: HashMap<String, Value> = HashMap::new();
            for result in answer.results {
                if let Some(email) = property(&result, "email") {
                    by_email.insert(email.to_lowercase(), result);
                }
            }
            for (index, email, _) in chunk {
                let found = by_email.get(email).cloned();
                let kind = match found
                    .as_ref()
                    .and_then(|r| r.get("new"))
                    .and_then(Value::as_bool)
                {
                    Some(false) => AppWriteKind::Merged,
                    _ => AppWriteKind::Created,
                };
                outcomes[*index] =
                    Some(settle(&answer.whole, &answer.failures, *index, found, kind));
            }
        }

        for chunk in creates.chunks(self.config.batch_size.max(1)) {
            let inputs = chunk
                .iter()
                .map(|(index, props)| json!({ "properties": props, "objectWriteTraceId": index.to_string() }))
                .collect();
            // A create that timed out may have happened: not retried blindly. The next run's
            // match-before-create finds it instead of duplicating it.
            let answer = self
                .batch_write(&object, "create", inputs, Idempotency::NotIdempotent)
                .await?;
            // Results come in input order, without the failed inputs.
            let mut results = answer.results.into_iter();
            for (index, _) in chunk {
                let failed =
                    answer.whole.is_some() || answer.failures.contains_key(&index.to_string());
                let found = if failed { None } else { results.next() };
                outcomes[*index] = Some(settle(
                    &answer.whole,
                    &answer.failures,
                    *index,
                    found,
                    AppWriteKind::Created,
                ));
            }
        }

        Ok(outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or_else(|| {
                    Err(AppWriteFailure::Rejected(RecordError::new(
                        None,
                        "write was not sent",
                    )))
                })
            })
            .collect())
    }

    async fn archive(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Result<(), AppWriteFailure>>, AppError> {
        let object = self.object(entity)?.clone();
        let path = format!("crm/v3/objects/{}/batch/archive", object.name);
        let mut outcomes = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(self.config.batch_size.max(1)) {
            let body = json!({ "inputs": chunk.iter().map(|id| json!({ "id": id.as_str() })).collect::<Vec<_>>() });
            match self.post(&path, &body, Idempotency::Idempotent).await {
                Ok(_) => outcomes.extend(chunk.iter().map(|_| Ok(()))),
                Err(AppError::Http(HttpError::Status { status, detail, .. }))
                    if (400..500).contains(&status) && status != 429 =>
                {
                    outcomes.extend(chunk.iter().map(|_| {
                        Err(AppWriteFailure::Rejected(RecordError::new(
                            Some(status),
                            detail.clone(),
                        )))
                    }));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(outcomes)
    }
}

/// One input's outcome from a batch answer.
fn settle(
    whole: &Option<RecordError>,
    failures: &HashMap<String, AppWriteFailure>,
    index: usize,
    found: Option<Value>,
    kind: AppWriteKind,
) -> Result<AppWriteOutcome, AppWriteFailure> {
    if let Some(error) = whole {
        return Err(AppWriteFailure::Rejected(error.clone()));
    }
    if let Some(failure) = failures.get(&index.to_string()) {
        return Err(failure.clone());
    }
    match found {
        Some(record) => Ok(AppWriteOutcome { record, kind }),
        None => Err(AppWriteFailure::Rejected(RecordError::new(
            None,
            "HubSpot did not return the record it wrote",
        ))),
    }
}

fn results_of(body: &Value, method: &str, path: &str) -> Result<Vec<Value>, AppError> {
    match body.get("results") {
        Some(Value::Array(results)) => {
            if results.iter().any(|r| !r.is_object()) {
                return Err(HttpError::Malformed {
                    api: API,
                    method: method.to_owned(),
                    path: format!("/{path}"),
                    detail: "`results` holds something other than objects".into(),
                }
                .into());
            }
            Ok(results.clone())
        }
        _ => Err(HttpError::Malformed {
            api: API,
            method: method.to_owned(),
            path: format!("/{path}"),
            detail: "response has no `results` array".into(),
        }
        .into()),
    }
}

/// The `properties` object of a mapped record, values as strings (HubSpot's wire format).
fn properties_of(record: &Value) -> Value {
    let Some(Value::Object(props)) = record.get("properties") else {
        return json!({});
    };
    Value::Object(
        props
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::Number(n) => Value::String(n.to_string()),
                    Value::Bool(b) => Value::String(b.to_string()),
                    other => other.clone(),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

fn property_str<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record.get("properties")?.get(name)?.as_str()
}

fn property(record: &Value, name: &str) -> Option<String> {
    property_str(record, name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The HubSpot properties a mapping file names (`properties.x` app paths).
fn app_properties(yaml: &str) -> Vec<String> {
    fn walk(value: &serde_norway::Value, into: &mut Vec<String>) {
        match value {
            serde_norway::Value::Mapping(map) => {
                for (key, inner) in map {
                    if key.as_str() == Some("app")
                        && let Some(path) = inner.as_str()
                        && let Some(name) = path.strip_prefix("properties.")
                    {
                        into.push(name.to_owned());
                    }
                    walk(inner, into);
                }
            }
            serde_norway::Value::Sequence(items) => items.iter().for_each(|i| walk(i, into)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    if let Ok(value) = serde_norway::from_str::<serde_norway::Value>(yaml) {
        walk(&value, &mut names);
    }
    names
}

fn with_system(mut properties: Vec<String>, modified: &str) -> Vec<String> {
    for system in ["hs_object_id", "createdate", modified] {
        properties.push(system.to_owned());
    }
    let mut seen = HashSet::new();
    properties.retain(|p| seen.insert(p.clone()));
    properties
}

/// HubSpot's error envelope to a message.
fn hubspot_error_detail(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => hubspot_message(&value),
        Err(_) => format!("non-JSON error body ({} bytes)", body.len()),
    }
}

fn hubspot_message(value: &Value) -> String {
    let category = value
        .get("category")
        .and_then(Value::as_str)
        .unwrap_or("ERROR");
    let message = value
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message");
    format!("{category}: {message}")
}

/// A shared connector handle.
pub fn shared(connector: HubSpotConnector) -> Arc<dyn AppConnector> {
    Arc::new(connector)
}
