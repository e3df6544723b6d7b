//! `connector serve`: the OAuth and webhook endpoints over HTTP on the embedded backend, an
//! in-process queue for webhook work and an in-process scheduler, so the whole product runs
//! locally with no AWS. The use cases themselves live in `service`; this module only
//! wires the embedded ports and translates HTTP.
//!
//! Routes: `GET /oauth/{provider}/start?group_id=..`, `GET /oauth/{provider}/callback`,
//! `POST /webhooks/connec/{tenant}`, `POST /webhooks/{provider}`, `GET /health`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use linking::CredentialStore;
use serde::Deserialize;
use service::{ConnectorService, HttpReply, LocalQueue, Ports, ServiceSettings};
use store_embedded::secrets::{EncryptedCredentialStore, SecretKey, SqliteAuthorizationStateStore};
use store_embedded::{EmbeddedStore, SqliteDedupe};
use sync_core::ports::{SyncStore, WorkItem};

/// Settings of the local server.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    /// The service's settings.
    pub service: ServiceSettings,
    /// The apps served.
    pub apps: connector_sdk::Registry,
    /// Time between scheduled syncs.
    pub sync_interval: Duration,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Store or secrets.
    #[error(transparent)]
    Store(#[from] sync_core::error::StoreError),
    /// Wiring.
    #[error(transparent)]
    Wiring(#[from] service::WiringError),
}

/// The service on the embedded backend, with its queue and schedule.
pub struct LocalRuntime {
    service: ConnectorService,
    sync_interval: Duration,
}

impl LocalRuntime {
    /// Opens the database file (id-maps, encrypted credentials, OAuth states) and wires
    /// everything. The worker and the scheduler start with [`LocalRuntime::start`].
    pub fn open(
        database: &std::path::Path,
        key: SecretKey,
        settings: ServeSettings,
    ) -> Result<(Arc<Self>, tokio::sync::mpsc::UnboundedReceiver<WorkItem>), ServeError> {
        let (queue, work) = LocalQueue::new();
        let ports = Ports {
            store: Arc::new(EmbeddedStore::open(database)?),
            credentials: Arc::new(EncryptedCredentialStore::open(database, key.clone())?),
            states: Arc::new(SqliteAuthorizationStateStore::open(database, key)?),
            // In the file: a redelivered webhook is still recognised after a restart.
            dedupe: Arc::new(SqliteDedupe::open(database)?),
            bus: Arc::new(queue),
        };
        let service = ConnectorService::new(ports, settings.service, settings.apps)?;
        Ok((
            Arc::new(Self {
                service,
                sync_interval: settings.sync_interval,
            }),
            work,
        ))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SyncStore> {
        &self.service.ports().store
    }

    /// The credential store.
    pub fn credentials(&self) -> &Arc<dyn CredentialStore> {
        &self.service.ports().credentials
    }

    /// Carries out one work item now (the worker does this for queued items).
    pub async fn process(&self, item: WorkItem) -> service::WorkOutcome {
        self.service.process(item, None).await
    }

    /// Starts the worker (queued work, in order) and the scheduler.
    pub fn start(
        self: &Arc<Self>,
        work: tokio::sync::mpsc::UnboundedReceiver<WorkItem>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let worker = {
            let runtime = self.clone();
            LocalQueue::spawn_worker(work, move |item| {
                let runtime = runtime.clone();
                async move {
                    runtime.service.process(item, None).await;
                }
            })
        };
        let scheduler = {
            let runtime = self.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(runtime.sync_interval);
                // The first tick is immediate; linking requests its own first sync.
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    if let Err(e) = runtime.service.fan_out().await {
                        tracing::error!(error = %e, "scheduled fan-out failed");
                    }
                }
            })
        };
        vec![worker, scheduler]
    }

    /// The HTTP routes.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/oauth/{provider}/start", get(start))
            .route("/oauth/{provider}/callback", get(callback))
            .route("/webhooks/connec/{tenant}", post(connec_webhook))
            .route("/webhooks/{provider}", post(app_webhook))
            .with_state(self.clone())
    }
}

fn reply(answer: HttpReply) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, answer.body).into_response();
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[derive(Deserialize)]
struct StartQuery {
    group_id: Option<String>,
}

async fn start(
    State(runtime): State<Arc<LocalRuntime>>,
    Path(provider): Path<String>,
    Query(query): Query<StartQuery>,
) -> Response {
    reply(
        runtime
            .service
            .link_start(&provider, query.group_id.as_deref())
            .await,
    )
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(runtime): State<Arc<LocalRuntime>>,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    reply(
        runtime
            .service
            .link_callback(
                &provider,
                query.code.as_deref(),
                query.state.as_deref(),
                query.error.as_deref(),
            )
            .await,
    )
}

fn raw_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect()
}

fn path_and_query(uri: &Uri) -> &str {
    uri.path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(uri.path())
}

async fn connec_webhook(
    State(runtime): State<Arc<LocalRuntime>>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let full = runtime.service.signed_uri(path_and_query(&uri));
    let headers = raw_headers(&headers);
    let request = webhooks::RawRequest {
        method: method.as_str(),
        uri: &full,
        headers: &headers,
        body: &body,
    };
    reply(runtime.service.connec_webhook(&tenant, &request).await)
}

async fn app_webhook(
    State(runtime): State<Arc<LocalRuntime>>,
    Path(provider): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let full = runtime.service.signed_uri(path_and_query(&uri));
    let headers = raw_headers(&headers);
    let request = webhooks::RawRequest {
        method: method.as_str(),
        uri: &full,
        headers: &headers,
        body: &body,
    };
    reply(runtime.service.app_webhook(&provider, &request).await)
}
