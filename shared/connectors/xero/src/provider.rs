//! Xero on the provider seam: its factory, OAuth app, tenant discovery, unlinking, webhooks,
//! rate limits, and one connector per tenant sharing the tenant's call budget.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_sdk::prelude::*;
use http_client::Budgets;
use linking::ClientAuth;
use serde_json::Value;
use url::Url;

use crate::config::{XeroConfig, base_url_of, url_of};
use crate::connector::XeroConnector;
use crate::identity::{Connection, auth_event_id, choose_connection};
use crate::limits::{MAX_CONCURRENCY, XeroRateLimits};
use crate::settings::XeroSettings;
use crate::webhooks::{XeroVerifier, parse_xero_events};
use crate::{PROVIDER, SetupError};

/// Builds [`XeroProvider`]s (id `xero`). The environment form is the default one: `XERO_*`
/// variables and the app's secret (`client_secret`, `webhook_key`).
#[derive(Clone, Copy, Debug, Default)]
pub struct XeroFactory;

impl ProviderFactory for XeroFactory {
    fn id(&self) -> &'static str {
        PROVIDER
    }

    fn build(
        &self,
        settings: Value,
        context: &BuildContext,
    ) -> Result<Arc<dyn AppProvider>, ProviderError> {
        let settings: XeroSettings =
            connector_sdk::read_settings(settings).map_err(settings_error)?;
        Ok(Arc::new(XeroProvider::new(settings, context)?))
    }
}

fn settings_error(detail: String) -> ProviderError {
    ProviderError::Settings {
        provider: PROVIDER.into(),
        detail,
    }
}

fn answer_error(detail: impl Into<String>) -> ProviderError {
    ProviderError::Answer {
        provider: PROVIDER.into(),
        detail: detail.into(),
    }
}

impl From<SetupError> for ProviderError {
    fn from(e: SetupError) -> Self {
        match e {
            SetupError::Mapping(source) => ProviderError::Mapping {
                provider: PROVIDER.into(),
                source: Box::new(source),
            },
            SetupError::Http(e) => ProviderError::Http(e),
            other => settings_error(other.to_string()),
        }
    }
}

/// Xero, as the framework sees it.
pub struct XeroProvider {
    provider: Provider,
    settings: XeroSettings,
    /// Mappings loaded once; [`AppProvider::connector`] gives each tenant its own client.
    prototype: XeroConnector,
    oauth: Option<OAuthApp>,
    webhooks: Option<XeroWebhooks>,
    budgets: Budgets,
    connections_url: Url,
    revocation_url: Url,
    http: reqwest::Client,
    timeout: Duration,
}

impl XeroProvider {
    /// Builds the provider, checking the settings and loading the mappings.
    ///
    /// # Errors
    ///
    /// A setting that is invalid (named, its value not shown), or a mapping file that is.
    pub fn new(settings: XeroSettings, context: &BuildContext) -> Result<Self, SetupError> {
        if let Some((key, detail)) = settings.problem() {
            return Err(SetupError::Setting { key, detail });
        }
        let mut config = XeroConfig::new(&settings.base_url)?;
        config.page_size = settings.page_size;
        config.batch_size = settings.batch_size;
        config.payment_account_code = settings
            .payment_account_code
            .clone()
            .filter(|c| !c.trim().is_empty());
        config.overlap = Duration::from_secs(settings.overlap_seconds as u64);
        config.http = context.http.clone();
        config.conflict_policy = context.conflict_policy;
        config.mappings_dir = settings.mappings_dir.clone();
        let authorize_url = url_of("authorize_url", &settings.authorize_url)?;
        let token_url = url_of("token_url", &settings.token_url)?;
        let connections_url = base_url_of("connections_url", &settings.connections_url)?;
        let revocation_url = match &settings.revocation_url {
            Some(url) => url_of("revocation_url", url)?,
            None => token_url
                .join("revocation")
                .map_err(|_| SetupError::Setting {
                    key: "token_url",
                    detail: "cannot derive the revocation URL from it",
                })?,
        };
        let prototype = XeroConnector::new(
            config,
            Realm::new(""),
            Arc::new(StaticToken::new(String::new())),
        )?;
        let oauth = match (&settings.client_id, &settings.client_secret) {
            (Some(id), Some(secret)) if !id.trim().is_empty() => {
                let mut app = OAuthApp::new(
                    Provider::new(PROVIDER),
                    id.trim(),
                    SecretString::new(secret.clone()),
                    authorize_url.as_str(),
                    token_url.as_str(),
                    context.redirect_uri(PROVIDER),
                );
                app.scopes = settings.scopes.clone();
                app.pkce = true;
                app.client_auth = ClientAuth::BasicAuth;
                Some(app)
            }
            _ => None,
        };
        let webhooks = settings
            .webhook_key
            .as_deref()
            .filter(|k| !k.is_empty())
            .map(|key| XeroWebhooks {
                verifier: XeroVerifier::new(key),
            });
        let http = http_client::shared().map_err(|_| SetupError::Setting {
            key: "http",
            detail: "cannot build the HTTP client",
        })?;
        Ok(Self {
            provider: Provider::new(PROVIDER),
            settings,
            prototype,
            oauth,
            webhooks,
            budgets: Budgets::new(MAX_CONCURRENCY),
            connections_url,
            revocation_url,
            http,
            timeout: context.http.timeout,
        })
    }

    /// A request on this provider's client (`http_client::shared`, without a timeout of its
    /// own): this sets the configured one.
    fn request(
        &self,
        method: reqwest::Method,
        url: impl reqwest::IntoUrl,
    ) -> reqwest::RequestBuilder {
        self.http.request(method, url).timeout(self.timeout)
    }

    /// `GET /connections` with a token.
    async fn connections(
        &self,
        access_token: &str,
        event: Option<&str>,
    ) -> Result<Vec<Connection>, ProviderError> {
        let mut url = self.connections_url.clone();
        // The connections URL is kept with a trailing `/` for joins; the list has none.
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        if let Some(event) = event {
            url.query_pairs_mut().append_pair("authEventId", event);
        }
        let answer = self
            .request(reqwest::Method::GET, url)
            .bearer_auth(access_token)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|_| answer_error("the connections request failed"))?;
        if !answer.status().is_success() {
            return Err(answer_error(format!(
                "connections answered {}",
                answer.status().as_u16()
            )));
        }
        answer
            .json()
            .await
            .map_err(|_| answer_error("the connections answer is not a list of connections"))
    }
}

#[async_trait]
impl AppProvider for XeroProvider {
    fn id(&self) -> &Provider {
        &self.provider
    }

    fn display_name(&self) -> &str {
        "Xero"
    }

    fn entities(&self) -> &[EntityPair] {
        self.prototype.entity_pairs()
    }

    fn groups(&self) -> &[EntityGroup] {
        AppConnector::groups(&self.prototype)
    }

    fn oauth(&self) -> Option<&OAuthApp> {
        self.oauth.as_ref()
    }

    /// The tenant the consent connected: `GET /connections` (of the token's authentication
    /// event when the token names one), the most recently created organisation.
    async fn discover_account(&self, access_token: &str) -> Result<Account, ProviderError> {
        let event = auth_event_id(access_token);
        let connections = self.connections(access_token, event.as_deref()).await?;
        let chosen = choose_connection(&connections, event.as_deref()).ok_or_else(|| {
            answer_error(
                "the consent connected no Xero organisation: link again and pick an organisation",
            )
        })?;
        Ok(Account {
            realm: Realm::new(chosen.tenant_id.clone()),
            name: chosen.tenant_name.clone(),
        })
    }

    /// Deletes the tenant's connection (`DELETE /connections/{id}`, with the access token) and
    /// revokes the refresh token (`POST …/connect/revocation`). Each step runs when its token is
    /// there; a connection already gone is fine.
    async fn after_unlink(&self, unlink: &UnlinkContext<'_>) -> Result<(), ProviderError> {
        let mut failures = Vec::new();
        // With an expired access token the connections cannot be listed: revoking the refresh
        // token below removes them too.
        if let Some(access) = unlink.access_token
            && let Ok(connections) = self.connections(access, None).await
        {
            for connection in connections
                .iter()
                .filter(|c| c.tenant_id == unlink.realm.as_str())
            {
                let url = self
                    .connections_url
                    .join(&connection.id)
                    .map_err(|_| answer_error("a connection id does not fit in a URL"))?;
                match self
                    .request(reqwest::Method::DELETE, url)
                    .bearer_auth(access)
                    .send()
                    .await
                {
                    Ok(a) if a.status().is_success() || a.status().as_u16() == 404 => {}
                    Ok(a) => failures.push(format!(
                        "deleting the connection answered {}",
                        a.status().as_u16()
                    )),
                    Err(_) => failures.push("deleting the connection failed".to_owned()),
                }
            }
        }
        if let (Some(refresh), Some(oauth)) = (unlink.refresh_token, &self.oauth) {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("token", refresh)
                .append_pair("token_type_hint", "refresh_token")
                .finish();
            let answer = self
                .request(reqwest::Method::POST, self.revocation_url.clone())
                .basic_auth(&oauth.client_id, Some(oauth.client_secret.expose()))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await;
            match answer {
                Ok(a) if a.status().is_success() => {}
                Ok(a) => failures.push(format!(
                    "revoking the refresh token answered {}",
                    a.status().as_u16()
                )),
                Err(_) => failures.push("revoking the refresh token failed".to_owned()),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(answer_error(failures.join("; ")))
        }
    }

    fn webhooks(&self) -> Option<&dyn AppWebhooks> {
        self.webhooks.as_ref().map(|w| w as &dyn AppWebhooks)
    }

    fn rate_limits(&self) -> Arc<dyn RateLimitPolicy> {
        Arc::new(XeroRateLimits)
    }

    /// The tenant's connector, drawing from the tenant's one call budget.
    fn connector(
        &self,
        realm: &Realm,
        token: Arc<dyn TokenSource>,
    ) -> Result<Arc<dyn AppConnector>, ProviderError> {
        let budget = self.budgets.of(realm.as_str());
        Ok(Arc::new(self.prototype.for_account(
            realm.clone(),
            token,
            budget,
        )?))
    }

    fn static_account(&self) -> Option<(Account, Arc<dyn TokenSource>)> {
        let token = self
            .settings
            .access_token
            .clone()
            .filter(|t| !t.is_empty())?;
        let tenant = self.settings.tenant_id.clone().filter(|t| !t.is_empty())?;
        Some((
            Account {
                realm: Realm::new(tenant),
                name: None,
            },
            Arc::new(StaticToken::new(token)) as Arc<dyn TokenSource>,
        ))
    }
}

/// Xero's webhooks: `x-xero-signature` over the body with the webhook key, intent-to-receive
/// answered with empty bodies, events with ids only.
struct XeroWebhooks {
    verifier: XeroVerifier,
}

impl AppWebhooks for XeroWebhooks {
    fn verifier(&self) -> &dyn Verifier {
        &self.verifier
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<AppEvent>, ParseError> {
        Ok(parse_xero_events(body)?
            .events
            .into_iter()
            .filter_map(|event| {
                let entity = match event.event_category.as_str() {
                    "CONTACT" => crate::connector::CONTACTS,
                    "INVOICE" => crate::connector::INVOICES,
                    _ => return None,
                };
                Some(AppEvent {
                    realm: Realm::new(event.tenant_id.clone()),
                    entity: AppEntityName::new(entity),
                    id: AppId::new(event.resource_id.clone()),
                    dedupe_key: event.dedupe_key(),
                    kind: ChangeKind::Changed,
                })
            })
            .collect())
    }
}
