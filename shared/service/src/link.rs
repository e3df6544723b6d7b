//! Linking one account of an app to a Connec! group: the OAuth start and callback, the account
//! discovery and the provider's after-link hook, then the first sync.

use connector_sdk::LinkContext;
use sync_core::domain::{GroupId, Tenant};
use sync_core::ports::{Clock, SystemClock, WorkItem};

use crate::{ConnectorService, HttpReply};

impl ConnectorService {
    /// The URL a person opens to link `group_id` to `provider`.
    pub fn link_url(&self, provider: &str, group_id: &str) -> String {
        let group: String = url::form_urlencoded::byte_serialize(group_id.as_bytes()).collect();
        format!(
            "{}/oauth/{provider}/start?group_id={group}",
            self.settings.public_url
        )
    }

    fn unknown_app(&self, provider: &str) -> HttpReply {
        let known: Vec<&str> = self.oauth.keys().map(|p| p.as_str()).collect();
        HttpReply::page(
            404,
            "Unknown app",
            &format!(
                "`{provider}` cannot be linked here; use one of: {}",
                known.join(", ")
            ),
        )
    }

    /// `GET /oauth/{provider}/start?group_id=...`: redirect to the app's consent page.
    pub async fn link_start(&self, provider: &str, group_id: Option<&str>) -> HttpReply {
        let Some(oauth) = self.oauth.iter().find(|(p, _)| p.as_str() == provider) else {
            return self.unknown_app(provider);
        };
        let Some(group) = group_id.filter(|g| !g.trim().is_empty()) else {
            return HttpReply::page(
                400,
                "Missing group_id",
                "Open this page with ?group_id=cld-... (the Connec! group to link).",
            );
        };
        let tenant = Tenant::new(self.settings.tenant.clone());
        match oauth
            .1
            .linker
            .start(tenant, GroupId::new(group), SystemClock.now())
            .await
        {
            Ok(redirect) => HttpReply::redirect(&redirect.url),
            Err(e) => HttpReply::page(500, "Cannot start linking", &e.to_string()),
        }
    }

    /// `GET /oauth/{provider}/callback`: exchange the code, find the account, store the tokens,
    /// link the organization, run the app's after-link hook, request the first sync.
    pub async fn link_callback(
        &self,
        provider: &str,
        code: Option<&str>,
        state: Option<&str>,
        error: Option<&str>,
    ) -> HttpReply {
        let (Some(app), Some(oauth)) = (
            self.apps.get(provider),
            self.oauth.iter().find(|(p, _)| p.as_str() == provider),
        ) else {
            return self.unknown_app(provider);
        };
        let now = SystemClock.now();
        let authorized = match oauth.1.linker.callback(code, state, error, now).await {
            Ok(authorized) => authorized,
            Err(e) => {
                tracing::warn!(provider, error = %e, "OAuth callback refused");
                return HttpReply::page(400, "Linking failed", &e.to_string());
            }
        };
        let access_token = authorized.tokens.access_token.expose().to_owned();
        let account = match app.discover_account(&access_token).await {
            Ok(account) => account,
            Err(e) => {
                return HttpReply::page(
                    502,
                    "Linking failed",
                    &format!(
                        "{} did not say which account this is ({e}); try again",
                        app.display_name()
                    ),
                );
            }
        };
        let group = authorized.group_id.to_string();
        let org = match linking::complete_link(
            self.ports.store.as_ref(),
            self.ports.credentials.as_ref(),
            authorized,
            account.realm.to_string(),
            &group,
            now,
        )
        .await
        {
            Ok(org) => org,
            Err(e) => return HttpReply::page(409, "Linking refused", &e.to_string()),
        };
        let link = LinkContext {
            account: &account,
            access_token: &access_token,
        };
        if let Err(e) = app.after_link(&link).await {
            tracing::warn!(org = %org.id, error = %e, "after-link step failed (webhooks not registered?); scheduled syncs still run");
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
        tracing::info!(org = %org.id, provider, realm = %account.realm, "account linked; first sync requested");
        HttpReply::page(
            200,
            "Linked",
            &format!(
                "Connec! group {} is now linked to {} account {}. The first sync has started.",
                org.group_id,
                app.display_name(),
                account.realm
            ),
        )
    }
}
