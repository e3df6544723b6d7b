//! HubSpot on the provider seam: its settings, OAuth app, account lookup, webhook registration
//! (subscriptions derived from the mapping files) and webhook reading.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_sdk::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::connector::HubSpotConnector;
use crate::webhooks::{HubSpotChange, HubSpotObject, HubSpotV3Verifier, parse_hubspot_events};
use crate::{HubSpotConfig, PROVIDER, SetupError};

/// The OAuth scopes asked for. The schema scopes let the connector define its create-marker
/// property.
const SCOPES: &[&str] = &[
    "crm.objects.contacts.write",
    "crm.objects.companies.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.companies.read",
    "crm.schemas.companies.write",
];

/// HubSpot's settings: the `apps.hubspot` section of `connector.yaml` (or, in the one-app form,
/// the top-level `hubspot` section), or `HUBSPOT_*` variables and the `hubspot/client` secret on
/// AWS.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotSettings {
    /// API base URL.
    pub base_url: String,
    /// Bearer token of a private app (not needed with `oauth`).
    #[serde(default)]
    pub access_token: String,
    /// Portal id of the private-app token (the realm of HubSpot ids in Connec!).
    #[serde(default)]
    pub portal_id: String,
    /// Folder of mapping files replacing the built-in ones.
    #[serde(default)]
    pub mappings_dir: Option<PathBuf>,
    /// The search API's result cap (10,000 at HubSpot; smaller against an emulator set so).
    #[serde(default)]
    pub search_cap: Option<usize>,
    /// The public app, for linking accounts by OAuth.
    #[serde(default)]
    pub oauth: Option<OAuthSettings>,
}

impl HubSpotSettings {
    /// A private app: a base URL, its token and the portal it belongs to.
    pub fn private_app(base_url: &str, access_token: &str, portal_id: &str) -> Self {
        Self {
            base_url: base_url.to_owned(),
            access_token: access_token.to_owned(),
            portal_id: portal_id.to_owned(),
            mappings_dir: None,
            search_cap: None,
            oauth: None,
        }
    }
}

/// HubSpot's public app.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    /// Client id.
    pub client_id: String,
    /// Client secret (also signs HubSpot's webhooks).
    pub client_secret: String,
    /// App id (webhook settings live under it).
    #[serde(deserialize_with = "number_or_text")]
    pub app_id: u64,
    /// Authorize URL (default `{base_url}/oauth/authorize`, as the emulator serves it).
    #[serde(default)]
    pub authorize_url: Option<String>,
}

fn number_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| serde::de::Error::custom("app_id must be a positive number")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom("app_id must be a number")),
        _ => Err(serde::de::Error::custom("app_id must be a number")),
    }
}

/// Builds [`HubSpotProvider`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct HubSpotFactory;

impl ProviderFactory for HubSpotFactory {
    fn id(&self) -> &'static str {
        PROVIDER
    }

    fn build(
        &self,
        settings: Value,
        context: &BuildContext,
    ) -> Result<Arc<dyn AppProvider>, ProviderError> {
        let settings: HubSpotSettings =
            connector_sdk::read_settings(settings).map_err(settings_error)?;
        let provider = HubSpotProvider::new(settings, context)?;
        let settings = &provider.settings;
        if settings.oauth.is_none()
            && (settings.access_token.is_empty() || settings.portal_id.is_empty())
        {
            return Err(settings_error(
                "give either `access_token` and `portal_id` (private app) or an `oauth` section \
                 (public app, linked with `connector link`)"
                    .into(),
            ));
        }
        Ok(Arc::new(provider))
    }

    /// `HUBSPOT_BASE_URL`, `HUBSPOT_CLIENT_ID`, `HUBSPOT_APP_ID`, optional
    /// `HUBSPOT_AUTHORIZE_URL`, and the secret `{"client_secret": "..."}`.
    fn build_from_environment(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        _names: &[String],
        secret: Value,
        context: &BuildContext,
    ) -> Result<Arc<dyn AppProvider>, ProviderError> {
        let need = |name: &str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| settings_error(format!("{name} is not set")))
        };
        let client_secret = secret
            .get("client_secret")
            .and_then(Value::as_str)
            .ok_or_else(|| settings_error("the secret has no `client_secret`".into()))?;
        let mut oauth = json!({
            "client_id": need("HUBSPOT_CLIENT_ID")?,
            "client_secret": client_secret,
            "app_id": need("HUBSPOT_APP_ID")?,
        });
        if let Some(url) = lookup("HUBSPOT_AUTHORIZE_URL").filter(|v| !v.trim().is_empty()) {
            oauth["authorize_url"] = Value::String(url);
        }
        let settings = json!({ "base_url": need("HUBSPOT_BASE_URL")?, "oauth": oauth });
        self.build(settings, context)
    }
}

fn settings_error(detail: String) -> ProviderError {
    ProviderError::Settings {
        provider: PROVIDER.into(),
        detail,
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

/// HubSpot, as the framework sees it.
pub struct HubSpotProvider {
    provider: Provider,
    settings: HubSpotSettings,
    /// Mappings loaded once; [`AppProvider::connector`] gives each account its own client.
    prototype: HubSpotConnector,
    oauth: Option<OAuthApp>,
    webhooks: Option<HubSpotWebhooks>,
    webhook_url: String,
    http: reqwest::Client,
    timeout: Duration,
}

impl HubSpotProvider {
    /// Builds the provider, loading and checking the mappings.
    pub fn new(settings: HubSpotSettings, context: &BuildContext) -> Result<Self, SetupError> {
        let mut config = HubSpotConfig::new(&settings.base_url, &settings.access_token)?;
        config.http = context.http.clone();
        config.conflict_policy = context.conflict_policy;
        config.mappings_dir = settings.mappings_dir.clone();
        if let Some(cap) = settings.search_cap {
            config.search_cap = cap;
        }
        let prototype = HubSpotConnector::new(config)?;
        let base = settings.base_url.trim_end_matches('/');
        let oauth = settings.oauth.as_ref().map(|o| {
            let mut app = OAuthApp::new(
                Provider::new(PROVIDER),
                o.client_id.clone(),
                SecretString::new(o.client_secret.clone()),
                o.authorize_url
                    .clone()
                    .unwrap_or_else(|| format!("{base}/oauth/authorize")),
                format!("{base}/oauth/v1/token"),
                context.redirect_uri(PROVIDER),
            );
            app.scopes = SCOPES.iter().map(|s| (*s).to_owned()).collect();
            app
        });
        let webhooks = settings.oauth.as_ref().map(|o| HubSpotWebhooks {
            verifier: HubSpotV3Verifier::new(o.client_secret.clone()),
        });
        let http = http_client::shared().map_err(|e| HttpError::Url {
            api: PROVIDER,
            detail: e.to_string(),
        })?;
        Ok(Self {
            provider: Provider::new(PROVIDER),
            webhook_url: context.webhook_url(PROVIDER),
            settings,
            prototype,
            oauth,
            webhooks,
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

    fn base(&self) -> &str {
        self.settings.base_url.trim_end_matches('/')
    }

    /// The webhook subscriptions the mappings ask for: creation and deletion of every synced
    /// object type, and a property change of every mapped property.
    pub fn subscriptions(&self) -> Vec<Value> {
        let mut subscriptions = Vec::new();
        for (object, mapped) in self.prototype.webhook_objects() {
            for event in ["creation", "deletion"] {
                subscriptions
                    .push(json!({ "eventType": format!("{object}.{event}"), "active": true }));
            }
            for property in mapped {
                subscriptions.push(json!({
                    "eventType": format!("{object}.propertyChange"),
                    "propertyName": property,
                    "active": true,
                }));
            }
        }
        subscriptions
    }
}

#[async_trait]
impl AppProvider for HubSpotProvider {
    fn id(&self) -> &Provider {
        &self.provider
    }

    fn display_name(&self) -> &str {
        "HubSpot"
    }

    fn entities(&self) -> &[EntityPair] {
        self.prototype.entity_pairs()
    }

    fn oauth(&self) -> Option<&OAuthApp> {
        self.oauth.as_ref()
    }

    /// `GET /oauth/v1/access-tokens/{token}`: the portal (`hub_id`) and its domain.
    async fn discover_account(&self, access_token: &str) -> Result<Account, ProviderError> {
        let answer_error = |detail: &str| ProviderError::Answer {
            provider: PROVIDER.into(),
            detail: detail.to_owned(),
        };
        let answer = self
            .request(
                reqwest::Method::GET,
                format!("{}/oauth/v1/access-tokens/{access_token}", self.base()),
            )
            .send()
            .await
            .map_err(|_| answer_error("the token info request failed"))?;
        if !answer.status().is_success() {
            return Err(answer_error(&format!(
                "token info answered {}",
                answer.status()
            )));
        }
        let info: Value = answer
            .json()
            .await
            .map_err(|_| answer_error("token info is not JSON"))?;
        let realm = info
            .get("hub_id")
            .and_then(|v| {
                v.as_u64()
                    .map(|n| n.to_string())
                    .or_else(|| v.as_str().map(str::to_owned))
            })
            .ok_or_else(|| answer_error("token info has no hub_id"))?;
        Ok(Account {
            realm: Realm::new(realm),
            name: info
                .get("hub_domain")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
    }

    /// Points the app's webhooks at us and subscribes to what the mappings read. HubSpot's
    /// subscriptions belong to the app, not to one account: a re-link answers 409 for those
    /// already there, which is fine.
    async fn after_link(&self, link: &LinkContext<'_>) -> Result<(), ProviderError> {
        let Some(oauth) = &self.settings.oauth else {
            return Ok(());
        };
        let failed = |what: &str| ProviderError::Answer {
            provider: PROVIDER.into(),
            detail: what.to_owned(),
        };
        let base = self.base();
        let app_id = oauth.app_id;
        let settings = self
            .request(reqwest::Method::PUT, format!("{base}/webhooks/v3/{app_id}/settings"))
            .bearer_auth(link.access_token)
            .json(&json!({ "targetUrl": self.webhook_url, "throttling": { "maxConcurrentRequests": 10 } }))
            .send()
            .await
            .map_err(|_| failed("the webhook settings request failed"))?;
        if !settings.status().is_success() {
            return Err(failed(&format!(
                "webhook settings answered {}",
                settings.status()
            )));
        }
        for subscription in self.subscriptions() {
            let answer = self
                .request(
                    reqwest::Method::POST,
                    format!("{base}/webhooks/v3/{app_id}/subscriptions"),
                )
                .bearer_auth(link.access_token)
                .json(&subscription)
                .send()
                .await
                .map_err(|_| failed("a webhook subscription request failed"))?;
            if !answer.status().is_success() && answer.status() != reqwest::StatusCode::CONFLICT {
                return Err(failed(&format!(
                    "a webhook subscription answered {}",
                    answer.status()
                )));
            }
        }
        Ok(())
    }

    /// Revokes the account's refresh token (`DELETE /oauth/v1/refresh-tokens/{token}`; a token
    /// already gone answers 404, which is fine). The webhook subscriptions stay: at HubSpot they
    /// belong to the app, shared by every linked account.
    async fn after_unlink(&self, unlink: &UnlinkContext<'_>) -> Result<(), ProviderError> {
        let Some(refresh) = unlink.refresh_token else {
            return Ok(());
        };
        let failed = |detail: String| ProviderError::Answer {
            provider: PROVIDER.into(),
            detail,
        };
        let answer = self
            .request(
                reqwest::Method::DELETE,
                format!("{}/oauth/v1/refresh-tokens/{refresh}", self.base()),
            )
            .send()
            .await
            .map_err(|_| failed("the token revocation request failed".into()))?;
        if answer.status().is_success() || answer.status() == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(failed(format!(
                "token revocation answered {}",
                answer.status()
            )))
        }
    }

    fn webhooks(&self) -> Option<&dyn AppWebhooks> {
        self.webhooks.as_ref().map(|w| w as &dyn AppWebhooks)
    }

    fn rate_limits(&self) -> Arc<dyn RateLimitPolicy> {
        crate::connector::rate_limits()
    }

    fn connector(
        &self,
        _realm: &Realm,
        token: Arc<dyn TokenSource>,
    ) -> Result<Arc<dyn AppConnector>, ProviderError> {
        Ok(Arc::new(self.prototype.for_token(token)?))
    }

    fn static_account(&self) -> Option<(Account, Arc<dyn TokenSource>)> {
        (!self.settings.access_token.is_empty()).then(|| {
            (
                Account {
                    realm: Realm::new(self.settings.portal_id.clone()),
                    name: None,
                },
                Arc::new(StaticToken::new(self.settings.access_token.clone()))
                    as Arc<dyn TokenSource>,
            )
        })
    }
}

/// HubSpot's webhooks: `X-HubSpot-Signature-v3` with the app's client secret, JSON arrays of
/// events with ids only.
struct HubSpotWebhooks {
    verifier: HubSpotV3Verifier,
}

impl AppWebhooks for HubSpotWebhooks {
    fn verifier(&self) -> &dyn Verifier {
        &self.verifier
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<AppEvent>, ParseError> {
        Ok(parse_hubspot_events(body)?
            .into_iter()
            .filter_map(|event| {
                let entity = match &event.object_type {
                    HubSpotObject::Contact => "contacts",
                    HubSpotObject::Company => "companies",
                    _ => return None,
                };
                Some(AppEvent {
                    realm: Realm::new(event.portal_id.to_string()),
                    entity: AppEntityName::new(entity),
                    id: AppId::new(event.object_id.to_string()),
                    dedupe_key: event.dedupe_key(),
                    kind: match event.change {
                        HubSpotChange::Deletion => ChangeKind::Deleted,
                        _ => ChangeKind::Changed,
                    },
                })
            })
            .collect())
    }
}
