//! The provider seam: what one application tells the framework about itself.

use std::sync::Arc;

use async_trait::async_trait;
use http_client::{HttpConfig, HttpError, RateLimitPolicy};
use linking::OAuthApp;
use sync_core::domain::{AppEntityName, AppId, ConflictPolicy, Provider, Realm};
use sync_core::entity::{EntityGroup, EntityPair};
use sync_core::ports::{AppConnector, TokenSource};
use webhooks::{ParseError, Verifier};

/// Errors of a provider: its settings, its account discovery, its hooks.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The app's settings are missing something or are invalid.
    #[error("{provider} settings: {detail}")]
    Settings {
        /// The app.
        provider: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// A mapping file of the app cannot be loaded.
    #[error("{provider} mappings: {source}")]
    Mapping {
        /// The app.
        provider: String,
        /// The loader's error (names the file and the rule).
        source: Box<mapping::MappingError>,
    },
    /// The app's API failed.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The app answered, but not what the framework needs (no account id, ...).
    #[error("{provider}: {detail}")]
    Answer {
        /// The app.
        provider: String,
        /// What was wrong with the answer (never a token or a body).
        detail: String,
    },
}

/// The account behind an access token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The account id, the `realm` of the app's ids in Connec!.
    pub realm: Realm,
    /// A name to show people, when the app says one.
    pub name: Option<String>,
}

/// What a change notice says happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// Created or updated: fetch it.
    Changed,
    /// Deleted or archived: fetching it finds it gone.
    Deleted,
}

/// One change an app's webhook reports. Apps send ids only: the record is fetched later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppEvent {
    /// The account it happened in.
    pub realm: Realm,
    /// The app entity (`contacts`), as in the app's [`EntityPair`]s.
    pub entity: AppEntityName,
    /// The record.
    pub id: AppId,
    /// Unique per delivery attempt of one event, so a redelivery is recognised.
    pub dedupe_key: String,
    /// What happened.
    pub kind: ChangeKind,
}

/// An app's webhooks: verified on the raw request, then parsed into [`AppEvent`]s.
pub trait AppWebhooks: Send + Sync {
    /// Checks a request's authenticity on its raw bytes, and says how to acknowledge it.
    fn verifier(&self) -> &dyn Verifier;
    /// Reads a verified body. Events of entities the app does not sync may be returned: the
    /// receiver ignores them.
    fn parse(&self, body: &[u8]) -> Result<Vec<AppEvent>, ParseError>;
}

/// What a provider is built with, besides its own settings.
#[derive(Clone, Debug)]
pub struct BuildContext {
    /// The URL the apps reach the framework at (no trailing slash): OAuth redirect and webhook
    /// targets are under it.
    pub public_url: String,
    /// HTTP timeouts and retries.
    pub http: HttpConfig,
    /// The conflict policy of the deployment.
    pub conflict_policy: ConflictPolicy,
}

impl BuildContext {
    /// Where the app's OAuth consent comes back: `{public_url}/oauth/{provider}/callback`.
    pub fn redirect_uri(&self, provider: &str) -> String {
        format!("{}/oauth/{provider}/callback", self.public_url)
    }

    /// Where the app's webhooks are delivered: `{public_url}/webhooks/{provider}`.
    pub fn webhook_url(&self, provider: &str) -> String {
        format!("{}/webhooks/{provider}", self.public_url)
    }
}

/// Handed to [`AppProvider::after_link`].
pub struct LinkContext<'a> {
    /// The account just linked.
    pub account: &'a Account,
    /// Its access token.
    pub access_token: &'a str,
}

/// Handed to [`AppProvider::after_unlink`].
pub struct UnlinkContext<'a> {
    /// The account unlinked.
    pub realm: &'a Realm,
    /// Its access token, when one was stored.
    pub access_token: Option<&'a str>,
    /// Its refresh token, when one was stored (to revoke it).
    pub refresh_token: Option<&'a str>,
}

/// One application, as the framework sees it.
#[async_trait]
pub trait AppProvider: Send + Sync {
    /// The app's id (`hubspot`): URL path segment, configuration key, Connec! provider name.
    fn id(&self) -> &Provider;

    /// The name people know it by.
    fn display_name(&self) -> &str;

    /// The entity pairs it syncs, built from its mapping files.
    fn entities(&self) -> &[EntityPair];

    /// Its complex entities (as its connectors' [`AppConnector::groups`]): webhooks naming a
    /// group's app entity are routed to its members, and resetting watermarks resets the
    /// group's.
    fn groups(&self) -> &[EntityGroup] {
        &[]
    }

    /// Its OAuth app; `None` for apps linked by API key or Basic auth.
    fn oauth(&self) -> Option<&OAuthApp>;

    /// The account behind an access token just obtained (the `realm`).
    async fn discover_account(&self, access_token: &str) -> Result<Account, ProviderError>;

    /// Runs after an account is linked: register webhooks, define properties...
    /// A failure is logged; scheduled syncs still run.
    async fn after_link(&self, _link: &LinkContext<'_>) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Runs after an account is unlinked: remove what `after_link` registered for this account
    /// and revoke its tokens where the app allows it.
    async fn after_unlink(&self, _unlink: &UnlinkContext<'_>) -> Result<(), ProviderError> {
        Ok(())
    }

    /// Its webhooks, when it sends any.
    fn webhooks(&self) -> Option<&dyn AppWebhooks> {
        None
    }

    /// What its rate-limit headers mean (its API client reads them with this policy).
    fn rate_limits(&self) -> Arc<dyn RateLimitPolicy>;

    /// Its API client for one account (`realm`: Xero sends it as `xero-tenant-id`, and calls of
    /// one account share one call budget), whose tokens come from `token`.
    fn connector(
        &self,
        realm: &Realm,
        token: Arc<dyn TokenSource>,
    ) -> Result<Arc<dyn AppConnector>, ProviderError>;

    /// A credential configured with the app itself (a private-app token or an API key) and the
    /// account it belongs to, for running without OAuth linking.
    fn static_account(&self) -> Option<(Account, Arc<dyn TokenSource>)> {
        None
    }
}

/// Builds an [`AppProvider`] from its own settings: a section of `connector.yaml` locally, the
/// environment and one secret on AWS.
pub trait ProviderFactory: Send + Sync {
    /// The id of the providers it builds (`hubspot`).
    fn id(&self) -> &'static str;

    /// From a configuration section (YAML or JSON, already read): unknown keys are errors.
    fn build(
        &self,
        settings: serde_json::Value,
        context: &BuildContext,
    ) -> Result<Arc<dyn AppProvider>, ProviderError>;

    /// From environment variables (`lookup`) and the app's secret (a JSON object read from the
    /// secret store). By default: every variable `<ID>_<KEY>` becomes the setting `<key>` (lower
    /// case; `__` nests, `OAUTH__CLIENT_ID` is `oauth.client_id`) and the secret's members are
    /// merged in at the top.
    fn build_from_environment(
        &self,
        lookup: &dyn Fn(&str) -> Option<String>,
        names: &[String],
        secret: serde_json::Value,
        context: &BuildContext,
    ) -> Result<Arc<dyn AppProvider>, ProviderError> {
        let settings = settings_from_environment(self.id(), lookup, names, secret);
        self.build(settings, context)
    }
}

/// The default reading of environment variables into settings (see
/// [`ProviderFactory::build_from_environment`]). `names` are the variables that exist.
pub fn settings_from_environment(
    id: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    names: &[String],
    secret: serde_json::Value,
) -> serde_json::Value {
    use serde_json::{Map, Value};
    let prefix = format!("{}_", id.to_ascii_uppercase().replace('-', "_"));
    let mut root = Map::new();
    for name in names {
        let Some(key) = name.strip_prefix(&prefix) else {
            continue;
        };
        let Some(value) = lookup(name).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        let path: Vec<String> = key.split("__").map(|p| p.to_ascii_lowercase()).collect();
        let mut node = &mut root;
        for part in &path[..path.len() - 1] {
            let entry = node
                .entry(part.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            // `X_A=1` and `X_A__B=2` together: the nested one wins rather than failing.
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(inner) = entry else {
                unreachable!("made an object above")
            };
            node = inner;
        }
        node.insert(path[path.len() - 1].clone(), Value::String(value));
    }
    if let Value::Object(members) = secret {
        for (key, value) in members {
            root.insert(key, value);
        }
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn environment_variables_become_settings_and_the_secret_is_merged_in() {
        let env = [
            ("ACME_BASE_URL", "http://acme"),
            ("ACME_OAUTH__CLIENT_ID", "id-1"),
            ("ACME_EMPTY", " "),
            ("ACME_LEVEL", "flat"),
            ("ACME_LEVEL__DEEP", "nested"),
            ("OTHER_BASE_URL", "http://other"),
        ];
        let lookup = |name: &str| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let names: Vec<String> = env.iter().map(|(n, _)| (*n).to_owned()).collect();
        let settings =
            settings_from_environment("acme", &lookup, &names, json!({ "client_secret": "s" }));
        assert_eq!(
            settings,
            json!({
                "base_url": "http://acme",
                "oauth": { "client_id": "id-1" },
                "level": { "deep": "nested" },
                "client_secret": "s",
            })
        );
    }
}
