//! `connector serve`: the OAuth and webhook endpoints over HTTP on the embedded backend, an
//! in-process queue for webhook work and an in-process scheduler, so the whole product runs
//! locally with no AWS.
//!
//! Routes: `GET /oauth/hubspot/start?group_id=..`, `GET /oauth/hubspot/callback`,
//! `POST /webhooks/connec/{tenant}`, `POST /webhooks/{provider}`, `GET /health`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use linking::{
    AccountKey, CredentialStore, Linker, OAuthApp, SecretString, TokenError, TokenManager,
};
use realtime::{AppWebhooks, LocalQueue, MemoryDedupe, WebhookReceiver, WorkItem};
use serde::Deserialize;
use serde_json::json;
use store_embedded::EmbeddedStore;
use store_embedded::secrets::{EncryptedCredentialStore, SecretKey, SqliteAuthorizationStateStore};
use sync_core::domain::{EntityName, GroupId, Organization, Provider, Tenant};
use sync_core::engine::{RunOptions, SyncEngine};
use sync_core::error::AppError;
use sync_core::ports::{Clock, SyncStore, SystemClock, TokenSource};

use crate::wiring::{self, Endpoints, Tuning};

/// Settings of the local server.
#[derive(Clone, Debug)]
pub struct ServeSettings {
    /// Where Connec! and HubSpot are, and the tenant's Connec! credentials.
    pub endpoints: Endpoints,
    /// Engine knobs.
    pub tuning: Tuning,
    /// The URL apps reach us at (no trailing slash).
    pub public_url: String,
    /// The tenant whose credentials sign Connec! notifications.
    pub tenant: String,
    /// HubSpot OAuth client id.
    pub client_id: String,
    /// HubSpot OAuth client secret (also signs HubSpot webhooks).
    pub client_secret: String,
    /// HubSpot app id.
    pub app_id: u64,
    /// HubSpot authorize URL.
    pub authorize_url: String,
    /// Time between scheduled syncs.
    pub sync_interval: Duration,
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Store or secrets.
    #[error(transparent)]
    Store(#[from] sync_core::error::StoreError),
    /// The encryption key.
    #[error(transparent)]
    Key(#[from] store_embedded::secrets::KeyError),
    /// OAuth configuration.
    #[error(transparent)]
    Link(#[from] linking::LinkError),
}

/// Everything the server needs, built once.
pub struct LocalRuntime {
    settings: ServeSettings,
    store: Arc<dyn SyncStore>,
    credentials: Arc<dyn CredentialStore>,
    linker: Linker,
    tokens: Arc<TokenManager>,
    receiver: WebhookReceiver,
    queue: LocalQueue,
    http: reqwest::Client,
}

/// HubSpot tokens of one linked account, refreshed on expiry.
struct ManagedToken {
    tokens: Arc<TokenManager>,
    key: AccountKey,
}

impl ManagedToken {
    fn answer(outcome: Result<SecretString, TokenError>) -> Result<String, AppError> {
        match outcome {
            Ok(token) => Ok(token.expose().to_owned()),
            Err(TokenError::NeedsReauthorization { reason, .. }) => {
                Err(AppError::NeedsReauthorization {
                    app: "hubspot",
                    reason,
                })
            }
            Err(e) => Err(AppError::Credentials {
                app: "hubspot",
                detail: e.to_string(),
            }),
        }
    }
}

#[async_trait]
impl TokenSource for ManagedToken {
    async fn bearer(&self) -> Result<String, AppError> {
        Self::answer(self.tokens.access_token(&self.key, SystemClock.now()).await)
    }

    async fn renew(&self) -> Result<String, AppError> {
        Self::answer(
            self.tokens
                .force_refresh(&self.key, SystemClock.now())
                .await,
        )
    }
}

impl LocalRuntime {
    /// Opens the database file (id-maps, encrypted credentials, OAuth states) and wires
    /// everything. The worker and the scheduler start with [`LocalRuntime::start`].
    pub fn open(
        database: &std::path::Path,
        key: SecretKey,
        settings: ServeSettings,
    ) -> Result<(Arc<Self>, tokio::sync::mpsc::UnboundedReceiver<WorkItem>), ServeError> {
        let store: Arc<dyn SyncStore> = Arc::new(EmbeddedStore::open(database)?);
        let credentials: Arc<dyn CredentialStore> =
            Arc::new(EncryptedCredentialStore::open(database, key.clone())?);
        let states = Arc::new(SqliteAuthorizationStateStore::open(database, key)?);
        let hubspot = settings
            .endpoints
            .hubspot_url
            .trim_end_matches('/')
            .to_owned();
        let mut app = OAuthApp::new(
            Provider::new(connector_hubspot::PROVIDER),
            settings.client_id.clone(),
            SecretString::new(settings.client_secret.clone()),
            settings.authorize_url.clone(),
            format!("{hubspot}/oauth/v1/token"),
            format!("{}/oauth/hubspot/callback", settings.public_url),
        );
        app.scopes = vec![
            "crm.objects.contacts.write".into(),
            "crm.objects.companies.write".into(),
        ];
        let http = reqwest::Client::builder()
            .timeout(settings.tuning.http.timeout)
            .build()
            .unwrap_or_default();
        let linker = Linker::new(app.clone(), states, http.clone())?;
        let tokens = Arc::new(TokenManager::new(
            credentials.clone(),
            app,
            http.clone(),
            linking::DEFAULT_MARGIN,
        ));
        let (queue, receiver_end) = LocalQueue::new();
        let mut objects = HashMap::new();
        objects.insert("contact".to_owned(), EntityName::new("people"));
        objects.insert("company".to_owned(), EntityName::new("organizations"));
        let receiver = WebhookReceiver::new(
            store.clone(),
            Arc::new(queue.clone()),
            Arc::new(MemoryDedupe::default()),
            Arc::new(SystemClock),
            vec![EntityName::new("organizations"), EntityName::new("people")],
        )
        .tenant(
            Tenant::new(settings.tenant.clone()),
            Box::new(webhooks::BasicAuthVerifier::new(
                settings.endpoints.connec_api_id.clone(),
                settings.endpoints.connec_api_key.clone(),
            )),
        )
        .app(
            Provider::new(connector_hubspot::PROVIDER),
            AppWebhooks {
                verifier: Box::new(webhooks::HubSpotV3Verifier::new(
                    settings.client_secret.clone(),
                )),
                object_entities: objects,
            },
        );
        let runtime = Arc::new(Self {
            settings,
            store,
            credentials,
            linker,
            tokens,
            receiver,
            queue,
            http,
        });
        Ok((runtime, receiver_end))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SyncStore> {
        &self.store
    }

    /// The credential store.
    pub fn credentials(&self) -> &Arc<dyn CredentialStore> {
        &self.credentials
    }

    /// Starts the worker (webhook and sync work, in order) and the scheduler.
    pub fn start(
        self: &Arc<Self>,
        work: tokio::sync::mpsc::UnboundedReceiver<WorkItem>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let worker = {
            let runtime = self.clone();
            LocalQueue::spawn_worker(work, move |item| {
                let runtime = runtime.clone();
                async move { runtime.process(item).await }
            })
        };
        let scheduler = {
            let runtime = self.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(runtime.settings.sync_interval);
                ticks.tick().await; // the first tick is immediate: links request their own first sync
                loop {
                    ticks.tick().await;
                    runtime.schedule_all().await;
                }
            })
        };
        vec![worker, scheduler]
    }

    /// Queues a sync of every enabled organization whose link is healthy.
    pub async fn schedule_all(&self) {
        let organizations = match self.store.list_organizations().await {
            Ok(orgs) => orgs,
            Err(e) => {
                tracing::error!(error = %e, "scheduler cannot read organizations");
                return;
            }
        };
        for org in organizations.into_iter().filter(|o| o.sync_enabled) {
            if self.needs_reauth(&org).await {
                tracing::warn!(org = %org.id, "scheduled sync skipped: the link needs re-authorisation");
                continue;
            }
            let _ = self.queue_publish(WorkItem::Sync { org: org.id }).await;
        }
    }

    async fn needs_reauth(&self, org: &Organization) -> bool {
        let key = AccountKey::new(org.provider.clone(), org.realm.to_string());
        matches!(
            self.credentials.load(&key).await,
            Ok(Some(stored)) if matches!(stored.status, linking::ports::LinkStatus::NeedsReauthorization { .. })
        )
    }

    async fn queue_publish(&self, item: WorkItem) -> Result<(), realtime::BusError> {
        use realtime::EventBus;
        self.queue.publish(item).await
    }

    /// The engine of one organization, with its own refreshed tokens.
    pub fn engine_for(&self, org: &Organization) -> Result<SyncEngine, wiring::WiringError> {
        let token = Arc::new(ManagedToken {
            tokens: self.tokens.clone(),
            key: AccountKey::new(org.provider.clone(), org.realm.to_string()),
        });
        Ok(wiring::build_with_token(
            self.store.clone(),
            &self.settings.endpoints,
            &self.settings.tuning,
            token,
        )?
        .engine)
    }

    /// Carries out one work item.
    pub async fn process(&self, item: WorkItem) {
        let org_id = match &item {
            WorkItem::Sync { org }
            | WorkItem::HubRecords { org, .. }
            | WorkItem::AppChanges { org, .. } => org.clone(),
        };
        let org = match self.store.get_organization(&org_id).await {
            Ok(Some(org)) => org,
            Ok(None) => {
                tracing::warn!(org = %org_id, "work for an unknown organization dropped");
                return;
            }
            Err(e) => {
                tracing::error!(org = %org_id, error = %e, "cannot read the organization");
                return;
            }
        };
        let engine = match self.engine_for(&org) {
            Ok(engine) => engine,
            Err(e) => {
                tracing::error!(org = %org_id, error = %e, "cannot build the engine");
                return;
            }
        };
        let outcome = match item {
            WorkItem::Sync { .. } => engine.sync(&org_id, RunOptions::default()).await.map(|run| {
                tracing::info!(org = %org_id, status = run.status.as_str(), "scheduled sync done");
            }),
            WorkItem::HubRecords { entity, records, .. } => engine.apply_hub_records(&org_id, &entity, records).await.map(|_| ()),
            WorkItem::AppChanges { entity, ids, .. } => engine.apply_app_changes(&org_id, &entity, ids).await.map(|_| ()),
        };
        if let Err(e) = outcome {
            tracing::warn!(org = %org_id, error = %e, "work item not completed; the next scheduled sync repairs it");
        }
    }

    /// The HTTP routes.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/health", get(|| async { "ok" }))
            .route("/oauth/hubspot/start", get(start))
            .route("/oauth/hubspot/callback", get(callback))
            .route("/webhooks/connec/{tenant}", post(connec_webhook))
            .route("/webhooks/{provider}", post(app_webhook))
            .with_state(self.clone())
    }

    /// Registers HubSpot webhooks for the app (target URL and subscriptions).
    async fn register_hubspot_webhooks(&self, access_token: &str) -> Result<(), String> {
        let base = self.settings.endpoints.hubspot_url.trim_end_matches('/');
        let app_id = self.settings.app_id;
        let target = format!("{}/webhooks/hubspot", self.settings.public_url);
        let settings = self
            .http
            .put(format!("{base}/webhooks/v3/{app_id}/settings"))
            .bearer_auth(access_token)
            .query(&[("hapikey", self.settings.client_secret.as_str())])
            .json(&json!({ "targetUrl": target, "throttling": { "maxConcurrentRequests": 10 } }))
            .send()
            .await
            .map_err(|e| format!("webhook settings: {e}"))?;
        if !settings.status().is_success() {
            return Err(format!("webhook settings answered {}", settings.status()));
        }
        let mut subscriptions = Vec::new();
        for object in ["contact", "company"] {
            subscriptions
                .push(json!({ "eventType": format!("{object}.creation"), "active": true }));
            subscriptions
                .push(json!({ "eventType": format!("{object}.deletion"), "active": true }));
        }
        for property in [
            "firstname",
            "lastname",
            "email",
            "jobtitle",
            "phone",
            "mobilephone",
            "city",
            "country",
            "associatedcompanyid",
        ] {
            subscriptions.push(json!({ "eventType": "contact.propertyChange", "propertyName": property, "active": true }));
        }
        for property in [
            "name",
            "domain",
            "industry",
            "numberofemployees",
            "phone",
            "city",
            "country",
        ] {
            subscriptions.push(json!({ "eventType": "company.propertyChange", "propertyName": property, "active": true }));
        }
        for subscription in subscriptions {
            let answer = self
                .http
                .post(format!("{base}/webhooks/v3/{app_id}/subscriptions"))
                .bearer_auth(access_token)
                .query(&[("hapikey", self.settings.client_secret.as_str())])
                .json(&subscription)
                .send()
                .await
                .map_err(|e| format!("webhook subscription: {e}"))?;
            if !answer.status().is_success() && answer.status() != reqwest::StatusCode::CONFLICT {
                return Err(format!("webhook subscription answered {}", answer.status()));
            }
        }
        Ok(())
    }

    /// HubSpot's account id for a token (`GET /oauth/v1/access-tokens/{token}`).
    async fn portal_of(&self, access_token: &str) -> Result<String, String> {
        let base = self.settings.endpoints.hubspot_url.trim_end_matches('/');
        let info: serde_json::Value = self
            .http
            .get(format!("{base}/oauth/v1/access-tokens/{access_token}"))
            .send()
            .await
            .map_err(|e| format!("token info: {e}"))?
            .error_for_status()
            .map_err(|e| {
                format!(
                    "token info: {}",
                    e.status().map(|s| s.to_string()).unwrap_or_default()
                )
            })?
            .json()
            .await
            .map_err(|e| format!("token info: {e}"))?;
        info.get("hub_id")
            .and_then(|v| {
                v.as_u64()
                    .map(|n| n.to_string())
                    .or_else(|| v.as_str().map(str::to_owned))
            })
            .ok_or_else(|| "token info has no hub_id".to_owned())
    }

    /// The link URL a person opens to link `group_id`.
    pub fn link_url(&self, group_id: &str) -> String {
        format!(
            "{}/oauth/hubspot/start?group_id={group_id}",
            self.settings.public_url
        )
    }
}

#[derive(Deserialize)]
struct StartQuery {
    group_id: Option<String>,
}

async fn start(
    State(runtime): State<Arc<LocalRuntime>>,
    Query(query): Query<StartQuery>,
) -> Response {
    let Some(group) = query.group_id.filter(|g| !g.trim().is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Missing group_id",
            "Open this page with ?group_id=cld-... (the Connec! group to link).",
        );
    };
    let tenant = Tenant::new(runtime.settings.tenant.clone());
    match runtime
        .linker
        .start(tenant, GroupId::new(group), SystemClock.now())
        .await
    {
        Ok(redirect) => Redirect::to(&redirect.url).into_response(),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Cannot start linking",
            &e.to_string(),
        ),
    }
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(runtime): State<Arc<LocalRuntime>>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let now = SystemClock.now();
    let authorized = match runtime
        .linker
        .callback(
            query.code.as_deref(),
            query.state.as_deref(),
            query.error.as_deref(),
            now,
        )
        .await
    {
        Ok(authorized) => authorized,
        Err(e) => {
            tracing::warn!(error = %e, "OAuth callback refused");
            return page(StatusCode::BAD_REQUEST, "Linking failed", &e.to_string());
        }
    };
    let access_token = authorized.tokens.access_token.expose().to_owned();
    let portal = match runtime.portal_of(&access_token).await {
        Ok(portal) => portal,
        Err(e) => {
            return page(
                StatusCode::BAD_GATEWAY,
                "Linking failed",
                &format!("HubSpot did not say which account this is ({e}); try again"),
            );
        }
    };
    let group = authorized.group_id.to_string();
    let org = match linking::complete_link(
        runtime.store.as_ref(),
        runtime.credentials.as_ref(),
        authorized,
        portal.clone(),
        &group,
        now,
    )
    .await
    {
        Ok(org) => org,
        Err(e) => return page(StatusCode::CONFLICT, "Linking refused", &e.to_string()),
    };
    if let Err(e) = runtime.register_hubspot_webhooks(&access_token).await {
        tracing::warn!(org = %org.id, error = %e, "webhooks not registered; scheduled syncs still run");
    }
    let _ = runtime
        .queue_publish(WorkItem::Sync {
            org: org.id.clone(),
        })
        .await;
    tracing::info!(org = %org.id, portal = %portal, "account linked; first sync requested");
    page(
        StatusCode::OK,
        "Linked",
        &format!(
            "Connec! group {} is now linked to HubSpot account {portal}. The first sync has started.",
            org.group_id
        ),
    )
}

/// The full URI as the sender signed it: our public URL plus path and query.
fn signed_uri(runtime: &LocalRuntime, uri: &Uri) -> String {
    format!(
        "{}{}",
        runtime.settings.public_url,
        uri.path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(uri.path())
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

fn reply(answer: realtime::Reply) -> Response {
    let mut response = (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        answer.body,
    )
        .into_response();
    if let Some(content_type) = answer.content_type {
        response.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static(content_type),
        );
    }
    response
}

async fn connec_webhook(
    State(runtime): State<Arc<LocalRuntime>>,
    Path(tenant): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let full = signed_uri(&runtime, &uri);
    let headers = raw_headers(&headers);
    let request = webhooks::RawRequest {
        method: method.as_str(),
        uri: &full,
        headers: &headers,
        body: &body,
    };
    reply(runtime.receiver.connec(&tenant, &request).await)
}

async fn app_webhook(
    State(runtime): State<Arc<LocalRuntime>>,
    Path(provider): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let full = signed_uri(&runtime, &uri);
    let headers = raw_headers(&headers);
    let request = webhooks::RawRequest {
        method: method.as_str(),
        uri: &full,
        headers: &headers,
        body: &body,
    };
    reply(runtime.receiver.app_webhook(&provider, &request).await)
}

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    (
        status,
        Html(format!(
            "<!doctype html><title>{0}</title><h1>{0}</h1><p>{1}</p>",
            escape(title),
            escape(message)
        )),
    )
        .into_response()
}
