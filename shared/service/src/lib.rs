//! The product's use cases, over its ports and its registry of apps, for every way it runs.
//!
//! `connector serve` (embedded backend, in-process queue) and the Lambda functions (DynamoDB,
//! Secrets Manager, EventBridge) are thin shells around [`ConnectorService`], one module per use
//! case:
//! - `link`: OAuth linking of one account of an app to a Connec! group;
//! - `receive`: webhooks (Connec! notifications, app webhooks), verified, deduplicated and
//!   queued ([`WebhookReceiver`]);
//! - `work`: one queued work item (a sync, with a deadline and a continuation; Connec! records;
//!   app changes);
//! - `schedule`: the hourly fan-out, one sync request per linked organization of every app;
//! - `queue`: the in-process adapters of the queue ports ([`LocalQueue`], [`MemoryDedupe`]).
//!
//! The use cases speak no HTTP: they return typed outcomes ([`LinkStart`], [`Linked`] and
//! [`LinkError`]; [`Received`] and [`ReceiveError`]), and the one HTTP router (`http-api`), run
//! by `connector serve` and by the HTTP Lambda functions, decides statuses and bodies.
//!
//! The service never names an app: everything app-specific comes from the [`Registry`] of
//! [`AppProvider`]s it is built with.

use std::collections::HashMap;
use std::sync::Arc;

use connector_sdk::{AppProvider, Registry};
use linking::{AuthorizationStateStore, CredentialStore, Linker, TokenManager};
use sync_core::domain::{Organization, Provider, Tenant};
use sync_core::engine::SyncEngine;
use sync_core::ports::{Dedupe, EventBus, StaticToken, SyncStore, SystemClock, TokenSource};

mod console;
mod link;
mod queue;
mod receive;
mod schedule;
mod sessions;
mod wiring;
mod work;

pub use access::{LaunchSecret, Session};
pub use console::{
    AppView, ConsoleError, CountsView, EntityView, FailureView, GroupView, IdMapView, LinkState,
    Retried, RunView, Unlinked,
};
pub use link::{LinkError, LinkStart, Linked};
pub use queue::{LocalQueue, MemoryDedupe};
pub use receive::{MAX_EVENTS_PER_REQUEST, ReceiveError, Received, Unavailable, WebhookReceiver};
pub use sessions::AccessError;
pub use wiring::{HubEndpoint, Stack, Tuning, WiringError, build, build_static};
pub use work::{WorkFailure, WorkOutcome, classify};

use wiring::ManagedToken;

/// What the service needs to know about where it runs.
#[derive(Clone, Debug)]
pub struct ServiceSettings {
    /// Where Connec! is, and the tenant's Connec! credentials.
    pub hub: HubEndpoint,
    /// Engine knobs.
    pub tuning: Tuning,
    /// The URL apps reach us at (no trailing slash).
    pub public_url: String,
    /// The tenant whose credentials sign Connec! notifications.
    pub tenant: String,
    /// The tenant's launch secret: launch tokens for the connector's page are signed with it,
    /// and so are sessions. `None`: the page and linking are closed (every start gets `401`).
    pub launch_secret: Option<access::LaunchSecret>,
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

/// One app's OAuth machinery.
struct OAuthOf {
    linker: Linker,
    tokens: Arc<TokenManager>,
}

/// The use cases.
pub struct ConnectorService {
    settings: ServiceSettings,
    ports: Ports,
    apps: Registry,
    oauth: HashMap<Provider, OAuthOf>,
    receiver: WebhookReceiver,
    /// The tenant's API credentials, for the JSON API (the same as Connec!'s notifications).
    api_verifier: webhooks::BasicAuthVerifier,
}

/// Organizations read per page by the fan-out.
const FAN_OUT_PAGE: usize = 500;

impl ConnectorService {
    /// Wires the service once (at process start) for every app of `apps`.
    pub fn new(
        ports: Ports,
        settings: ServiceSettings,
        apps: Registry,
    ) -> Result<Self, WiringError> {
        // A client on the process's one TLS configuration; the token endpoint's calls get the
        // configured timeout.
        let http = http_client::shared()?;
        let timeout = settings.tuning.http.timeout;
        let mut oauth = HashMap::new();
        for app in apps.iter() {
            let Some(oauth_app) = app.oauth() else {
                continue;
            };
            let linker = Linker::new(oauth_app.clone(), ports.states.clone(), http.clone())?
                .with_request_timeout(timeout);
            let tokens = Arc::new(
                TokenManager::new(
                    ports.credentials.clone(),
                    oauth_app.clone(),
                    http.clone(),
                    linking::DEFAULT_MARGIN,
                )
                .with_request_timeout(timeout),
            );
            oauth.insert(app.id().clone(), OAuthOf { linker, tokens });
        }
        let receiver = WebhookReceiver::new(
            ports.store.clone(),
            ports.bus.clone(),
            ports.dedupe.clone(),
            Arc::new(SystemClock),
            apps.clone(),
        )
        .tenant(
            Tenant::new(settings.tenant.clone()),
            Box::new(webhooks::BasicAuthVerifier::new(
                settings.hub.api_id.clone(),
                settings.hub.api_key.clone(),
            )),
        );
        let api_verifier = webhooks::BasicAuthVerifier::new(
            settings.hub.api_id.clone(),
            settings.hub.api_key.clone(),
        );
        Ok(Self {
            settings,
            ports,
            apps,
            oauth,
            receiver,
            api_verifier,
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

    /// The apps served.
    pub fn apps(&self) -> &Registry {
        &self.apps
    }

    /// A Connec! notification for `tenant` (`POST /webhooks/connec/{tenant}`): verified on the
    /// raw request, routed, deduplicated and queued.
    pub async fn connec_webhook(
        &self,
        tenant: &str,
        request: &webhooks::RawRequest<'_>,
    ) -> Result<Received, ReceiveError> {
        self.receiver.connec(tenant, request).await
    }

    /// A webhook of the app `provider` (`POST /webhooks/{provider}`): verified on the raw
    /// request, parsed, routed, deduplicated and queued.
    pub async fn app_webhook(
        &self,
        provider: &str,
        request: &webhooks::RawRequest<'_>,
    ) -> Result<Received, ReceiveError> {
        self.receiver.app_webhook(provider, request).await
    }

    /// The full URI a webhook sender signed: our public URL plus the path and query.
    pub fn signed_uri(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.settings.public_url)
    }

    /// The engine of one organization, on its app's connector with the account's own tokens
    /// (OAuth tokens refreshed on expiry, or the app's configured credential).
    pub fn engine_for(&self, org: &Organization) -> Result<SyncEngine, WiringError> {
        let app = self.apps.require(org.provider.as_str())?;
        let token = self.token_for(app.as_ref(), org);
        Ok(build(
            self.ports.store.clone(),
            &self.settings.hub,
            &self.settings.tuning,
            app.as_ref(),
            &org.realm,
            token,
        )?
        .engine)
    }

    fn token_for(&self, app: &dyn AppProvider, org: &Organization) -> Arc<dyn TokenSource> {
        if let Some(oauth) = self.oauth.get(app.id()) {
            return Arc::new(ManagedToken {
                tokens: oauth.tokens.clone(),
                key: linking::AccountKey::new(org.provider.clone(), org.realm.to_string()),
                app: leak_name(app.id()),
            });
        }
        match app.static_account() {
            Some((_, token)) => token,
            None => Arc::new(StaticToken::new(String::new())),
        }
    }
}

/// App names in errors are `&'static str`; the registry is built once per process, so the few
/// names leaked here are bounded by the number of apps.
fn leak_name(provider: &Provider) -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<Vec<&'static str>>> = OnceLock::new();
    let names = NAMES.get_or_init(Default::default);
    let mut names = names.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = names.iter().find(|n| **n == provider.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(provider.as_str().to_owned().into_boxed_str());
    names.push(leaked);
    leaked
}
