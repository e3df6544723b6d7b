//! Linking one account of an app to a Connec! group: the OAuth start and callback, the account
//! discovery and the provider's after-link hook, then the first sync.
//!
//! The outcomes are typed ([`LinkStart`], [`Linked`], [`LinkError`]); the HTTP edge
//! (`http-api`) turns them into a redirect or a page.

use connector_sdk::{LinkContext, ProviderError};
use sync_core::domain::{GroupId, OrgId, Realm, Tenant};
use sync_core::ports::{Clock, SystemClock, WorkItem};

use crate::ConnectorService;

/// Where a person starting to link goes next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkStart {
    /// To the app's consent page: its authorize URL with our one-time `state` and PKCE
    /// challenge. The HTTP edge binds `state` to the browser (a cookie the callback checks).
    Redirect {
        /// The app's authorize URL.
        url: String,
        /// The one-time state in it.
        state: String,
    },
}

/// An account linked to a Connec! group; its first sync is requested.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linked {
    /// The organization (created or updated).
    pub org: OrgId,
    /// The Connec! group.
    pub group: GroupId,
    /// The app's name, as people know it.
    pub app_name: String,
    /// The app account.
    pub realm: Realm,
}

/// Why linking did not start or did not complete. `Display` says what a person can do; it never
/// contains a token, a code, a state, a secret or a PKCE verifier.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The app is not served here, or is not linked through OAuth.
    #[error("`{provider}` cannot be linked here; use one of: {}", known.join(", "))]
    UnknownApp {
        /// The app asked for.
        provider: String,
        /// The apps that can be linked here, sorted.
        known: Vec<String>,
    },
    /// The authorization could not be started (the state could not be stored...).
    #[error(transparent)]
    CannotStart(linking::LinkError),
    /// The callback was refused: missing, unknown, expired or reused state, access denied, or
    /// the code exchange failed.
    #[error(transparent)]
    Refused(linking::LinkError),
    /// The callback reached another browser than the one that started linking (or the binding
    /// cookie expired): refused before the state is consumed.
    #[error(
        "This page was opened in another browser than the one that started linking, or too \
         late. Start linking again from the connector's page."
    )]
    OtherBrowser,
    /// The app did not say which account the token belongs to.
    #[error("{app_name} did not say which account this is ({error}); try again")]
    AccountUnknown {
        /// The app's name.
        app_name: String,
        /// What went wrong.
        error: ProviderError,
    },
    /// The link breaks a linking rule (the account is linked to another group, the group to
    /// another account), or could not be saved. The message names no other group or account
    /// (the details go to the logs only).
    #[error(
        "This account was not linked: it may already be linked to another Connec! group, or this \
         group to another account of the app. Unlink the other link first, or ask the \
         connector's operator (the details are in the connector's logs)."
    )]
    NotLinked(linking::LinkError),
}

impl ConnectorService {
    fn unknown_app(&self, provider: &str) -> LinkError {
        let mut known: Vec<String> = self.oauth.keys().map(|p| p.to_string()).collect();
        known.sort();
        LinkError::UnknownApp {
            provider: provider.to_owned(),
            known,
        }
    }

    /// Starts linking `group` to `provider`: a one-time state and a PKCE verifier are stored,
    /// and the person is sent to the app's consent page. The caller has checked that the person
    /// may act for `group` (a session for it).
    pub async fn link_start(
        &self,
        provider: &str,
        group: &GroupId,
    ) -> Result<LinkStart, LinkError> {
        let Some(oauth) = self.oauth.iter().find(|(p, _)| p.as_str() == provider) else {
            return Err(self.unknown_app(provider));
        };
        let tenant = Tenant::new(self.settings.tenant.clone());
        let redirect = oauth
            .1
            .linker
            .start(tenant, group.clone(), SystemClock.now())
            .await
            .map_err(LinkError::CannotStart)?;
        Ok(LinkStart::Redirect {
            url: redirect.url,
            state: redirect.state,
        })
    }

    /// Whether `provider` is an app served here that links through OAuth.
    pub fn links_by_oauth(&self, provider: &str) -> bool {
        self.oauth.keys().any(|p| p.as_str() == provider)
    }

    /// The app's OAuth callback: exchange the code, find the account, store the tokens, link
    /// the organization, run the app's after-link hook, request the first sync.
    pub async fn link_callback(
        &self,
        provider: &str,
        code: Option<&str>,
        state: Option<&str>,
        error: Option<&str>,
    ) -> Result<Linked, LinkError> {
        let (Some(app), Some(oauth)) = (
            self.apps.get(provider),
            self.oauth.iter().find(|(p, _)| p.as_str() == provider),
        ) else {
            return Err(self.unknown_app(provider));
        };
        let now = SystemClock.now();
        let authorized = match oauth.1.linker.callback(code, state, error, now).await {
            Ok(authorized) => authorized,
            Err(e) => {
                tracing::warn!(provider, error = %e, "OAuth callback refused");
                return Err(LinkError::Refused(e));
            }
        };
        let access_token = authorized.tokens.access_token.expose().to_owned();
        let account = app.discover_account(&access_token).await.map_err(|error| {
            LinkError::AccountUnknown {
                app_name: app.display_name().to_owned(),
                error,
            }
        })?;
        let group = authorized.group_id.to_string();
        let org = linking::complete_link(
            self.ports.store.as_ref(),
            self.ports.credentials.as_ref(),
            authorized,
            account.realm.to_string(),
            &group,
            now,
        )
        .await
        .map_err(|e| {
            tracing::warn!(provider, error = %e, "link refused");
            LinkError::NotLinked(e)
        })?;
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
        Ok(Linked {
            org: org.id,
            group: org.group_id,
            app_name: app.display_name().to_owned(),
            realm: account.realm,
        })
    }
}
