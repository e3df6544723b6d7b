//! A fake app on the seam (feature `testing`): [`FakeProvider`] wraps the in-memory
//! [`FakeApp`] of `sync_core::testing` under any id, with signed webhooks in a small JSON format,
//! so that the framework's use cases can be tested with several apps and no app's code.

use std::sync::Arc;

use async_trait::async_trait;
use http_client::{NoRateLimitHeaders, RateLimitPolicy};
use linking::OAuthApp;
use serde::Deserialize;
use sync_core::domain::{AppEntityName, AppId, Provider, Realm};
use sync_core::entity::{EntityGroup, EntityPair};
use sync_core::ports::{AppConnector, TokenSource};
use sync_core::testing::{FakeApp, GroupedApp};
use webhooks::{BodyHmacVerifier, ParseError, Verifier};

use crate::{Account, AppEvent, AppProvider, AppWebhooks, ChangeKind, ProviderError};

/// The header carrying `base64(HMAC-SHA256(FAKE_WEBHOOK_SECRET, body))`.
pub const FAKE_SIGNATURE_HEADER: &str = "x-fake-signature";
/// The secret the fake app signs its webhooks with.
pub const FAKE_WEBHOOK_SECRET: &str = "fake-webhook-secret";

/// One event of the fake app's webhook body (a JSON array of them).
#[derive(Deserialize)]
struct FakeEvent {
    realm: String,
    entity: String,
    id: String,
    event: String,
    #[serde(default)]
    deleted: bool,
}

/// An app that is a [`FakeApp`] (its records in memory), linked by a configured account;
/// or, built with [`FakeProvider::grouped`], the same app seen through the complex entity of
/// a [`GroupedApp`].
pub struct FakeProvider {
    id: Provider,
    app: FakeApp,
    grouped: Option<GroupedApp>,
    realm: Realm,
    webhooks: FakeWebhooks,
}

impl FakeProvider {
    /// The fake app `app` under the id `id`, whose configured account is `realm`. The app's
    /// [`AppConnector::provider`] should be `id` too (see [`FakeApp::new`]).
    pub fn new(id: &str, realm: &str, app: FakeApp) -> Self {
        Self {
            id: Provider::new(id),
            app,
            grouped: None,
            realm: Realm::new(realm),
            webhooks: FakeWebhooks {
                verifier: BodyHmacVerifier::new(FAKE_SIGNATURE_HEADER, FAKE_WEBHOOK_SECRET),
            },
        }
    }

    /// Like [`FakeProvider::new`], with its connector a [`GroupedApp`] over `app`: its
    /// complex entity `accounts` is read and split, and its webhooks may name accounts.
    pub fn grouped(id: &str, realm: &str, app: FakeApp) -> Self {
        let grouped = GroupedApp::new(app.clone());
        Self {
            grouped: Some(grouped),
            ..Self::new(id, realm, app)
        }
    }

    /// The fake app behind it, to seed and inspect records.
    pub fn app(&self) -> &FakeApp {
        &self.app
    }
}

#[async_trait]
impl AppProvider for FakeProvider {
    fn id(&self) -> &Provider {
        &self.id
    }

    fn display_name(&self) -> &str {
        self.id.as_str()
    }

    fn entities(&self) -> &[EntityPair] {
        AppConnector::entities(&self.app)
    }

    fn groups(&self) -> &[EntityGroup] {
        self.grouped.as_ref().map_or(&[], |g| g.groups())
    }

    fn oauth(&self) -> Option<&OAuthApp> {
        None
    }

    async fn discover_account(&self, _access_token: &str) -> Result<Account, ProviderError> {
        Ok(Account {
            realm: self.realm.clone(),
            name: None,
        })
    }

    fn webhooks(&self) -> Option<&dyn AppWebhooks> {
        Some(&self.webhooks)
    }

    fn rate_limits(&self) -> Arc<dyn RateLimitPolicy> {
        Arc::new(NoRateLimitHeaders)
    }

    fn connector(
        &self,
        _realm: &Realm,
        _token: Arc<dyn TokenSource>,
    ) -> Result<Arc<dyn AppConnector>, ProviderError> {
        Ok(match &self.grouped {
            Some(grouped) => Arc::new(grouped.clone()),
            None => Arc::new(self.app.clone()),
        })
    }

    fn static_account(&self) -> Option<(Account, Arc<dyn TokenSource>)> {
        Some((
            Account {
                realm: self.realm.clone(),
                name: None,
            },
            Arc::new(sync_core::ports::StaticToken::new("fake-token")),
        ))
    }
}

struct FakeWebhooks {
    verifier: BodyHmacVerifier,
}

impl AppWebhooks for FakeWebhooks {
    fn verifier(&self) -> &dyn Verifier {
        &self.verifier
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<AppEvent>, ParseError> {
        let value = webhooks::parse::parse_json(body)?;
        let events: Vec<FakeEvent> =
            serde_json::from_value(value).map_err(|_| ParseError::UnexpectedBody {
                expected: "array of {realm, entity, id, event}",
                found: "something else",
            })?;
        Ok(events
            .into_iter()
            .map(|e| AppEvent {
                dedupe_key: format!("fake:{}:{}", e.realm, e.event),
                realm: Realm::new(e.realm),
                entity: AppEntityName::new(e.entity),
                id: AppId::new(e.id),
                kind: if e.deleted {
                    ChangeKind::Deleted
                } else {
                    ChangeKind::Changed
                },
            })
            .collect())
    }
}
