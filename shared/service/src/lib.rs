//! The product's use cases, over its ports, for every way it runs.
//!
//! `connector serve` (embedded backend, in-process queue) and the Lambda functions (DynamoDB,
//! Secrets Manager, EventBridge) are thin shells around [`ConnectorService`]:
//! - [`ConnectorService::link_start`] / [`ConnectorService::link_callback`]: OAuth linking;
//! - [`ConnectorService::connec_webhook`] / [`ConnectorService::app_webhook`]: webhooks in,
//!   verified and queued;
//! - [`ConnectorService::process`]: one queued work item (a sync, with a deadline and a
//!   continuation; Connec! records; app changes);
//! - [`ConnectorService::fan_out`]: the hourly schedule, one sync request per organization.
//!
//! Every outcome becomes an [`HttpReply`] or a logged result: handlers only translate.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connec::{ConnecClient, ConnecConfig};
use http_client::HttpConfig;
use hubspot::{HubSpotConfig, HubSpotConnector};
use linking::{
    AccountKey, AuthorizationStateStore, CredentialStore, Linker, OAuthApp, SecretString,
    TokenError, TokenManager,
};
use realtime::{AppWebhooks, Dedupe, EventBus, WebhookReceiver, WorkItem};
use serde_json::json;
use sync_core::domain::{
    ConflictPolicy, EntityName, GroupId, OrgId, Organization, Provider, Tenant, Timestamp,
};
use sync_core::engine::{EngineConfig, RunOptions, SyncEngine};
use sync_core::error::AppError;
use sync_core::ports::{Clock, SyncStore, SystemClock, TokenSource};

/// Errors wiring the engine.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// Connec! client.
    #[error("Connec! configuration: {0}")]
    Connec(#[from] sync_core::error::HttpError),
    /// HubSpot connector.
    #[error("HubSpot configuration: {0}")]
    HubSpot(#[from] hubspot::SetupError),
    /// OAuth configuration.
    #[error(transparent)]
    Link(#[from] linking::LinkError),
}

/// Endpoints and credentials of both sides.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// Connec! base URL.
    pub connec_url: String,
    /// Connec! API id.
    pub connec_api_id: String,
    /// Connec! API key.
    pub connec_api_key: String,
    /// HubSpot base URL.
    pub hubspot_url: String,
    /// HubSpot static token (private app); unused for OAuth-linked organizations.
    pub hubspot_token: String,
    /// Mapping overrides.
    pub mappings_dir: Option<std::path::PathBuf>,
}

/// Engine knobs.
#[derive(Clone, Debug)]
pub struct Tuning {
    /// HTTP timeouts and retries.
    pub http: HttpConfig,
    /// Watermark overlap.
    pub overlap: Duration,
    /// Conflict policy.
    pub conflict_policy: ConflictPolicy,
    /// HubSpot's search result cap (10,000; smaller against an emulator configured so).
    pub hubspot_search_cap: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            http: HttpConfig::default(),
            overlap: Duration::from_secs(120),
            conflict_policy: ConflictPolicy::default(),
            hubspot_search_cap: 10_000,
        }
    }
}

/// An engine and its connector.
pub struct Stack {
    /// The engine.
    pub engine: SyncEngine,
    /// The connector (for checks and mappings).
    pub connector: Arc<HubSpotConnector>,
}

/// Builds the engine over a store and both APIs, with the endpoints' static HubSpot token.
pub fn build(
    store: Arc<dyn SyncStore>,
    endpoints: &Endpoints,
    tuning: &Tuning,
) -> Result<Stack, WiringError> {
    let token = Arc::new(sync_core::ports::StaticToken::new(
        endpoints.hubspot_token.clone(),
    ));
    build_with_token(store, endpoints, tuning, token)
}

/// Builds the engine with HubSpot tokens from `token` (OAuth tokens refreshed on expiry).
pub fn build_with_token(
    store: Arc<dyn SyncStore>,
    endpoints: &Endpoints,
    tuning: &Tuning,
    token: Arc<dyn TokenSource>,
) -> Result<Stack, WiringError> {
    let mut connec = ConnecConfig::new(
        &endpoints.connec_url,
        &endpoints.connec_api_id,
        &endpoints.connec_api_key,
    )?;
    connec.http = tuning.http.clone();
    let hub = Arc::new(ConnecClient::new(connec)?);
    let mut hubspot = HubSpotConfig::with_token_source(&endpoints.hubspot_url, token)?;
    hubspot.http = tuning.http.clone();
    hubspot.conflict_policy = tuning.conflict_policy;
    hubspot.mappings_dir = endpoints.mappings_dir.clone();
    hubspot.search_cap = tuning.hubspot_search_cap;
    let connector = Arc::new(HubSpotConnector::new(hubspot)?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = SyncEngine::new(
        store,
        hub,
        connector.clone(),
        clock,
        EngineConfig {
            overlap: tuning.overlap,
            ..EngineConfig::default()
        },
    );
    Ok(Stack { engine, connector })
}

/// What the service needs to know about where it runs.
#[derive(Clone, Debug)]
pub struct ServiceSettings {
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
}

/// The ports the service runs on (embedded or AWS).
#[derive(Clone)]
pub struct Ports {
    /// Organizations, id-maps, runs, leases.
    pub store: Arc<dyn SyncStore>,
    /// Encrypted tokens.
    pub credentials: Arc<dyn CredentialStore>,
    /// One-time OAuth states.
    pub states: Arc<dyn AuthorizationStateStore>,
    /// Webhook event ids already accepted.
    pub dedupe: Arc<dyn Dedupe>,
    /// Where work goes.
    pub bus: Arc<dyn EventBus>,
}

/// An HTTP answer, for whichever HTTP layer serves it.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpReply {
    /// Status.
    pub status: u16,
    /// Headers (content type, location).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl HttpReply {
    fn page(status: u16, title: &str, message: &str) -> Self {
        let escape = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        Self {
            status,
            headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
            body: format!(
                "<!doctype html><title>{0}</title><h1>{0}</h1><p>{1}</p>",
                escape(title),
                escape(message)
            )
            .into_bytes(),
        }
    }

    fn redirect(location: &str) -> Self {
        Self {
            status: 303,
            headers: vec![("location".into(), location.to_owned())],
            body: Vec::new(),
        }
    }

    fn from_receiver(reply: realtime::Reply) -> Self {
        Self {
            status: reply.status,
            headers: reply
                .content_type
                .map(|t| vec![("content-type".to_owned(), t.to_owned())])
                .unwrap_or_default(),
            body: reply.body,
        }
    }
}

/// How a work item ended.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkOutcome {
    /// Done.
    Done,
    /// A sync stopped at its deadline; a continuation was queued.
    Continued,
    /// Not done now (lease held, link needs re-authorisation...): the next scheduled sync
    /// repairs it. The message says why.
    Skipped(String),
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

/// The use cases.
pub struct ConnectorService {
    settings: ServiceSettings,
    ports: Ports,
    linker: Linker,
    tokens: Arc<TokenManager>,
    receiver: WebhookReceiver,
    http: reqwest::Client,
}

/// Organizations read per page by the fan-out.
const FAN_OUT_PAGE: usize = 500;

impl ConnectorService {
    /// Wires the service once (at process start).
    pub fn new(ports: Ports, settings: ServiceSettings) -> Result<Self, WiringError> {
        let hubspot = settings
            .endpoints
            .hubspot_url
            .trim_end_matches('/')
            .to_owned();
        let mut app = OAuthApp::new(
            Provider::new(hubspot::PROVIDER),
            settings.client_id.clone(),
            SecretString::new(settings.client_secret.clone()),
            settings.authorize_url.clone(),
            format!("{hubspot}/oauth/v1/token"),
            format!("{}/oauth/hubspot/callback", settings.public_url),
        );
        // The schema scopes let the connector define its create-marker property.
        app.scopes = vec![
            "crm.objects.contacts.write".into(),
            "crm.objects.companies.write".into(),
            "crm.schemas.contacts.read".into(),
            "crm.schemas.contacts.write".into(),
            "crm.schemas.companies.read".into(),
            "crm.schemas.companies.write".into(),
        ];
        let http = reqwest::Client::builder()
            .timeout(settings.tuning.http.timeout)
            .build()
            .unwrap_or_default();
        let linker = Linker::new(app.clone(), ports.states.clone(), http.clone())?;
        let tokens = Arc::new(TokenManager::new(
            ports.credentials.clone(),
            app,
            http.clone(),
            linking::DEFAULT_MARGIN,
        ));
        let mut objects = HashMap::new();
        objects.insert("contact".to_owned(), EntityName::new("people"));
        objects.insert("company".to_owned(), EntityName::new("organizations"));
        let receiver = WebhookReceiver::new(
            ports.store.clone(),
            ports.bus.clone(),
            ports.dedupe.clone(),
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
            Provider::new(hubspot::PROVIDER),
            AppWebhooks {
                verifier: Box::new(hubspot::webhooks::HubSpotV3Verifier::new(
                    settings.client_secret.clone(),
                )),
                object_entities: objects,
            },
        );
        Ok(Self {
            settings,
            ports,
            linker,
            tokens,
            receiver,
            http,
        })
    }

    /// The ports.
    pub fn ports(&self) -> &Ports {
        &self.ports
    }

    /// The settings.
    pub fn settings(&self) -> &ServiceSettings {
        &self.settings
    }

    /// The URL a person opens to link `group_id`.
    pub fn link_url(&self, group_id: &str) -> String {
        format!(
            "{}/oauth/hubspot/start?group_id={group_id}",
            self.settings.public_url
        )
    }

    /// `GET /oauth/{provider}/start?group_id=...`: redirect to the app's consent page.
    pub async fn link_start(&self, provider: &str, group_id: Option<&str>) -> HttpReply {
        if provider != hubspot::PROVIDER {
            return HttpReply::page(
                404,
                "Unknown app",
                &format!("`{provider}` cannot be linked here; use hubspot"),
            );
        }
        let Some(group) = group_id.filter(|g| !g.trim().is_empty()) else {
            return HttpReply::page(
                400,
                "Missing group_id",
                "Open this page with ?group_id=cld-... (the Connec! group to link).",
            );
        };
        let tenant = Tenant::new(self.settings.tenant.clone());
        match self
            .linker
            .start(tenant, GroupId::new(group), SystemClock.now())
            .await
        {
            Ok(redirect) => HttpReply::redirect(&redirect.url),
            Err(e) => HttpReply::page(500, "Cannot start linking", &e.to_string()),
        }
    }

    /// `GET /oauth/{provider}/callback`: exchange the code, store the tokens, link the
    /// organization, register webhooks, request the first sync.
    pub async fn link_callback(
        &self,
        code: Option<&str>,
        state: Option<&str>,
        error: Option<&str>,
    ) -> HttpReply {
        let now = SystemClock.now();
        let authorized = match self.linker.callback(code, state, error, now).await {
            Ok(authorized) => authorized,
            Err(e) => {
                tracing::warn!(error = %e, "OAuth callback refused");
                return HttpReply::page(400, "Linking failed", &e.to_string());
            }
        };
        let access_token = authorized.tokens.access_token.expose().to_owned();
        let portal = match self.portal_of(&access_token).await {
            Ok(portal) => portal,
            Err(e) => {
                return HttpReply::page(
                    502,
                    "Linking failed",
                    &format!("HubSpot did not say which account this is ({e}); try again"),
                );
            }
        };
        let group = authorized.group_id.to_string();
        let org = match linking::complete_link(
            self.ports.store.as_ref(),
            self.ports.credentials.as_ref(),
            authorized,
            portal.clone(),
            &group,
            now,
        )
        .await
        {
            Ok(org) => org,
            Err(e) => return HttpReply::page(409, "Linking refused", &e.to_string()),
        };
        if let Err(e) = self.register_hubspot_webhooks(&access_token).await {
            tracing::warn!(org = %org.id, error = %e, "webhooks not registered; scheduled syncs still run");
        }
        if let Err(e) = self
            .ports
            .bus
            .publish(WorkItem::Sync {
                org: org.id.clone(),
            })
            .await
        {
            tracing::warn!(org = %org.id, error = %e, "first sync not queued; the schedule will run it");
        }
        tracing::info!(org = %org.id, portal = %portal, "account linked; first sync requested");
        HttpReply::page(
            200,
            "Linked",
            &format!(
                "Connec! group {} is now linked to HubSpot account {portal}. The first sync has started.",
                org.group_id
            ),
        )
    }

    /// `POST /webhooks/connec/{tenant}`.
    pub async fn connec_webhook(
        &self,
        tenant: &str,
        request: &webhooks::RawRequest<'_>,
    ) -> HttpReply {
        HttpReply::from_receiver(self.receiver.connec(tenant, request).await)
    }

    /// `POST /webhooks/{provider}`.
    pub async fn app_webhook(
        &self,
        provider: &str,
        request: &webhooks::RawRequest<'_>,
    ) -> HttpReply {
        HttpReply::from_receiver(self.receiver.app_webhook(provider, request).await)
    }

    /// The full URI a webhook sender signed: our public URL plus the path and query.
    pub fn signed_uri(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.settings.public_url)
    }

    /// Queues a sync of every enabled organization whose link is healthy, paging through the
    /// organizations. Returns how many were queued.
    pub async fn fan_out(&self) -> Result<usize, sync_core::error::StoreError> {
        let mut after: Option<OrgId> = None;
        let mut queued = 0;
        loop {
            let page = self
                .ports
                .store
                .list_organizations_page(after.as_ref(), FAN_OUT_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            let mut items = Vec::new();
            for org in page.into_iter().filter(|o| o.sync_enabled) {
                if self.needs_reauth(&org).await {
                    tracing::warn!(org = %org.id, "scheduled sync skipped: the link needs re-authorisation");
                    continue;
                }
                items.push(WorkItem::Sync { org: org.id });
            }
            queued += items.len();
            if let Err(e) = self.ports.bus.publish_all(items).await {
                tracing::error!(error = %e, "fan-out could not queue every sync");
            }
        }
        tracing::info!(queued, "scheduled syncs requested");
        Ok(queued)
    }

    async fn needs_reauth(&self, org: &Organization) -> bool {
        let key = AccountKey::new(org.provider.clone(), org.realm.to_string());
        matches!(
            self.ports.credentials.load(&key).await,
            Ok(Some(stored)) if matches!(stored.status, linking::ports::LinkStatus::NeedsReauthorization { .. })
        )
    }

    /// The engine of one organization, with its own refreshed tokens.
    pub fn engine_for(&self, org: &Organization) -> Result<SyncEngine, WiringError> {
        let token = Arc::new(ManagedToken {
            tokens: self.tokens.clone(),
            key: AccountKey::new(org.provider.clone(), org.realm.to_string()),
        });
        Ok(build_with_token(
            self.ports.store.clone(),
            &self.settings.endpoints,
            &self.settings.tuning,
            token,
        )?
        .engine)
    }

    /// Carries out one work item. A sync stops cleanly at `deadline` and queues its
    /// continuation.
    pub async fn process(&self, item: WorkItem, deadline: Option<Timestamp>) -> WorkOutcome {
        let org_id = match &item {
            WorkItem::Sync { org }
            | WorkItem::HubRecords { org, .. }
            | WorkItem::AppChanges { org, .. } => org.clone(),
        };
        let org = match self.ports.store.get_organization(&org_id).await {
            Ok(Some(org)) => org,
            Ok(None) => return WorkOutcome::Skipped(format!("unknown organization {org_id}")),
            Err(e) => return WorkOutcome::Skipped(format!("cannot read the organization: {e}")),
        };
        let engine = match self.engine_for(&org) {
            Ok(engine) => engine,
            Err(e) => return WorkOutcome::Skipped(format!("cannot build the engine: {e}")),
        };
        let outcome = match item {
            WorkItem::Sync { .. } => {
                let options = RunOptions {
                    deadline,
                    ..RunOptions::default()
                };
                match engine.sync(&org_id, options).await {
                    Ok(run) if run.needs_continuation => {
                        match self
                            .ports
                            .bus
                            .publish(WorkItem::Sync {
                                org: org_id.clone(),
                            })
                            .await
                        {
                            Ok(()) => return WorkOutcome::Continued,
                            Err(e) => Err(format!("continuation not queued: {e}")),
                        }
                    }
                    Ok(run) => {
                        tracing::info!(org = %org_id, run = %run.id, status = run.status.as_str(), "sync done");
                        Ok(())
                    }
                    Err(e) => Err(e.to_string()),
                }
            }
            WorkItem::HubRecords {
                entity, records, ..
            } => engine
                .apply_hub_records(&org_id, &entity, records)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            WorkItem::AppChanges { entity, ids, .. } => engine
                .apply_app_changes(&org_id, &entity, ids)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        match outcome {
            Ok(()) => WorkOutcome::Done,
            Err(reason) => {
                tracing::warn!(org = %org_id, reason = %reason, "work item not completed; the next scheduled sync repairs it");
                WorkOutcome::Skipped(reason)
            }
        }
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
                .json(&subscription)
                .send()
                .await
                .map_err(|e| format!("webhook subscription: {e}"))?;
            // 409: already subscribed (a re-link).
            if !answer.status().is_success() && answer.status() != reqwest::StatusCode::CONFLICT {
                return Err(format!("webhook subscription answered {}", answer.status()));
            }
        }
        Ok(())
    }

    /// HubSpot's account id for a token (`GET /oauth/v1/access-tokens/{token}`).
    async fn portal_of(&self, access_token: &str) -> Result<String, String> {
        let base = self.settings.endpoints.hubspot_url.trim_end_matches('/');
        let answer = self
            .http
            .get(format!("{base}/oauth/v1/access-tokens/{access_token}"))
            .send()
            .await
            .map_err(|_| "token info request failed".to_owned())?;
        if !answer.status().is_success() {
            return Err(format!("token info answered {}", answer.status()));
        }
        let info: serde_json::Value = answer
            .json()
            .await
            .map_err(|_| "token info is not JSON".to_owned())?;
        info.get("hub_id")
            .and_then(|v| {
                v.as_u64()
                    .map(|n| n.to_string())
                    .or_else(|| v.as_str().map(str::to_owned))
            })
            .ok_or_else(|| "token info has no hub_id".to_owned())
    }
}
