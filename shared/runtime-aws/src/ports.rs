//! Which ports each function builds: only those its routes or events use. A port a function
//! does not use is [`NotWired`]: it is never called on that function's paths, and if a change
//! ever calls it, the call fails with an error naming the function and the port instead of
//! quietly reaching a table or a secret the function should not touch.

use async_trait::async_trait;
use linking::ports::{PendingAuthorization, StoredCredentials};
use linking::{AccountKey, AuthorizationStateStore, CredentialStore, TokenSet};
use sync_core::domain::Timestamp;
use sync_core::error::StoreError;
use sync_core::ports::Dedupe;

/// The function being started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    /// Linking (`/oauth/{app}/start` and `/callback`) and the connector's page and JSON API:
    /// states, credentials, the bus (first sync, sync now), the launch secret.
    OAuthCallback,
    /// `POST /webhooks/...`: dedupe keys and the bus.
    Webhook,
    /// Work items and the schedule: credentials (token refresh) and the bus.
    Sync,
}

impl Function {
    /// Its name, in errors.
    pub fn name(self) -> &'static str {
        match self {
            Function::OAuthCallback => "oauth-callback",
            Function::Webhook => "webhook",
            Function::Sync => "sync",
        }
    }

    /// Whether it reads or writes stored credentials.
    pub fn uses_credentials(self) -> bool {
        matches!(self, Function::OAuthCallback | Function::Sync)
    }

    /// Whether it keeps OAuth states.
    pub fn uses_states(self) -> bool {
        self == Function::OAuthCallback
    }

    /// Whether it checks launch tokens and sessions (the connector's page and linking).
    pub fn uses_launch_secret(self) -> bool {
        self == Function::OAuthCallback
    }

    /// Whether it records webhook dedupe keys.
    pub fn uses_dedupe(self) -> bool {
        self == Function::Webhook
    }
}

/// A port this function does not use.
#[derive(Clone, Copy, Debug)]
pub struct NotWired {
    /// The function.
    pub function: Function,
    /// The port.
    pub port: &'static str,
}

impl NotWired {
    fn fail(&self) -> StoreError {
        StoreError::Backend(format!(
            "{} is not wired in the {} function",
            self.port,
            self.function.name()
        ))
    }
}

#[async_trait]
impl CredentialStore for NotWired {
    async fn load(&self, _key: &AccountKey) -> Result<Option<StoredCredentials>, StoreError> {
        Err(self.fail())
    }

    async fn save(
        &self,
        _key: &AccountKey,
        _tokens: &TokenSet,
        _expected_version: Option<u64>,
    ) -> Result<linking::ports::SaveOutcome, StoreError> {
        Err(self.fail())
    }

    async fn mark_needs_reauth(&self, _key: &AccountKey, _reason: &str) -> Result<(), StoreError> {
        Err(self.fail())
    }

    async fn delete(&self, _key: &AccountKey) -> Result<(), StoreError> {
        Err(self.fail())
    }
}

#[async_trait]
impl AuthorizationStateStore for NotWired {
    async fn put(
        &self,
        _pending: &PendingAuthorization,
        _now: Timestamp,
    ) -> Result<(), StoreError> {
        Err(self.fail())
    }

    async fn take(
        &self,
        _state: &str,
        _now: Timestamp,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        Err(self.fail())
    }
}

#[async_trait]
impl Dedupe for NotWired {
    async fn first_time(
        &self,
        _key: &str,
        _now: Timestamp,
        _ttl: std::time::Duration,
    ) -> Result<bool, StoreError> {
        Err(self.fail())
    }

    async fn forget(&self, _key: &str) -> Result<(), StoreError> {
        Err(self.fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_function_uses_only_its_ports() {
        let uses = |f: Function| (f.uses_credentials(), f.uses_states(), f.uses_dedupe());
        assert_eq!(uses(Function::OAuthCallback), (true, true, false));
        assert_eq!(uses(Function::Webhook), (false, false, true));
        assert_eq!(uses(Function::Sync), (true, false, false));
    }

    #[tokio::test]
    async fn a_port_not_wired_fails_naming_the_function_and_the_port() {
        let port = NotWired {
            function: Function::Webhook,
            port: "the credential store",
        };
        let key = AccountKey::new(sync_core::domain::Provider::new("app"), "r");
        let error = CredentialStore::load(&port, &key)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("the credential store is not wired in the webhook function"),
            "{error}"
        );
    }
}
