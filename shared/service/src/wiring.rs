//! Wiring an engine: the hub client, one app's connector and the store.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connec::{ConnecClient, ConnecConfig};
use connector_sdk::{AppProvider, ProviderError};
use http_client::HttpConfig;
use linking::{AccountKey, SecretString, TokenError, TokenManager};
use sync_core::domain::{ConflictPolicy, Realm};
use sync_core::engine::{EngineConfig, SyncEngine};
use sync_core::error::AppError;
use sync_core::ports::{AppConnector, Clock, SyncStore, SystemClock, TokenSource};

/// Errors wiring the engine.
#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    /// Connec! client.
    #[error("Connec! configuration: {0}")]
    Connec(#[from] sync_core::error::HttpError),
    /// An app's provider.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// OAuth configuration.
    #[error(transparent)]
    Link(#[from] linking::LinkError),
    /// An app is not registered, or twice.
    #[error(transparent)]
    Registry(#[from] connector_sdk::RegistryError),
    /// The process's HTTP client (its TLS configuration).
    #[error(transparent)]
    HttpClient(#[from] http_client::ClientBuildError),
}

/// Where Connec! is, and the tenant's credentials. `Debug` redacts the API key.
#[derive(Clone)]
pub struct HubEndpoint {
    /// Connec! base URL.
    pub url: String,
    /// Connec! API id.
    pub api_id: String,
    /// Connec! API key.
    pub api_key: String,
}

impl std::fmt::Debug for HubEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubEndpoint")
            .field("url", &self.url)
            .field("api_id", &self.api_id)
            .field("api_key", &SecretString::new(""))
            .finish()
    }
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
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            http: HttpConfig::default(),
            overlap: Duration::from_secs(120),
            conflict_policy: ConflictPolicy::default(),
        }
    }
}

impl Tuning {
    /// What an app's provider is built with, for a deployment reached at `public_url`.
    pub fn build_context(&self, public_url: &str) -> connector_sdk::BuildContext {
        connector_sdk::BuildContext {
            public_url: public_url.trim_end_matches('/').to_owned(),
            http: self.http.clone(),
            conflict_policy: self.conflict_policy,
        }
    }
}

/// An engine and its app connector.
pub struct Stack {
    /// The engine.
    pub engine: SyncEngine,
    /// The app connector (for checks and mappings).
    pub connector: Arc<dyn AppConnector>,
}

/// Builds the engine with the credential configured with the app itself (a private-app token or
/// an API key; see [`AppProvider::static_account`]).
pub fn build_static(
    store: Arc<dyn SyncStore>,
    hub: &HubEndpoint,
    tuning: &Tuning,
    provider: &dyn AppProvider,
) -> Result<Stack, WiringError> {
    let (account, token) = provider
        .static_account()
        .ok_or_else(|| ProviderError::Settings {
            provider: provider.id().to_string(),
            detail:
                "no credential is configured with the app (a token or key); link an account instead"
                    .into(),
        })?;
    build(store, hub, tuning, provider, &account.realm, token)
}

/// Builds the engine over a store, Connec! and one app's connector for the account `realm`
/// with tokens from `token`.
pub fn build(
    store: Arc<dyn SyncStore>,
    hub: &HubEndpoint,
    tuning: &Tuning,
    provider: &dyn AppProvider,
    realm: &Realm,
    token: Arc<dyn TokenSource>,
) -> Result<Stack, WiringError> {
    let mut connec = ConnecConfig::new(&hub.url, &hub.api_id, &hub.api_key)?;
    connec.http = tuning.http.clone();
    let hub = Arc::new(ConnecClient::new(connec)?);
    let connector = provider.connector(realm, token)?;
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

/// The OAuth tokens of one linked account, refreshed on expiry.
pub(crate) struct ManagedToken {
    pub(crate) tokens: Arc<TokenManager>,
    pub(crate) key: AccountKey,
    /// The app's name, for errors.
    pub(crate) app: &'static str,
}

impl ManagedToken {
    fn answer(&self, outcome: Result<SecretString, TokenError>) -> Result<String, AppError> {
        match outcome {
            Ok(token) => Ok(token.expose().to_owned()),
            Err(TokenError::NeedsReauthorization { reason, .. }) => {
                Err(AppError::NeedsReauthorization {
                    app: self.app,
                    reason,
                })
            }
            Err(e) => Err(AppError::Credentials {
                app: self.app,
                detail: e.to_string(),
            }),
        }
    }
}

#[async_trait]
impl TokenSource for ManagedToken {
    async fn bearer(&self) -> Result<String, AppError> {
        self.answer(self.tokens.access_token(&self.key, SystemClock.now()).await)
    }

    async fn renew(&self) -> Result<String, AppError> {
        self.answer(
            self.tokens
                .force_refresh(&self.key, SystemClock.now())
                .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::HubEndpoint;

    #[test]
    fn debug_redacts_the_api_key() {
        let hub = HubEndpoint {
            url: "http://connec".into(),
            api_id: "demo-id".into(),
            api_key: "CONNEC-KEY-123".into(),
        };
        let shown = format!("{hub:?}");
        assert!(!shown.contains("CONNEC-KEY-123"), "{shown}");
        assert!(
            shown.contains("<redacted>") && shown.contains("demo-id"),
            "{shown}"
        );
    }
}
