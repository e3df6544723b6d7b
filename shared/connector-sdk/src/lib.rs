//! The seam a connector author implements: one [`AppProvider`] per application, built by its
//! [`ProviderFactory`] from the app's own settings, and held with the others in a [`Registry`].
//!
//! The framework (the use cases, the webhook receiver, the HTTP router, the Lambda wiring and the
//! CLI) holds a [`Registry`] and never names an application. Everything about one app lives in
//! its folder (`shared/connectors/<app>/`): its API client (an
//! [`AppConnector`](sync_core::ports::AppConnector)), its mapping files, its OAuth app, how it
//! finds the account behind a token, what it registers after a link, how its webhooks are
//! verified and read, and what its rate-limit headers mean.
//!
//! This crate also re-exports what a connector needs from the framework, so that a connector
//! depends on it and on its HTTP client only ([`prelude`]).

mod provider;
mod registry;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use provider::{
    Account, AppEvent, AppProvider, AppWebhooks, BuildContext, ChangeKind, LinkContext,
    ProviderError, ProviderFactory, UnlinkContext,
};
pub use registry::{Registry, RegistryError};
pub use settings::read_settings;

/// What a connector imports from the framework.
pub mod prelude {
    pub use crate::{
        Account, AppEvent, AppProvider, AppWebhooks, BuildContext, ChangeKind, LinkContext,
        ProviderError, ProviderFactory, UnlinkContext,
    };
    pub use http_client::{
        ApiClient, Budgets, CallBudget, HeaderRateLimit, HttpConfig, HttpError, Idempotency,
        NoRateLimitHeaders, RateLimitPolicy,
    };
    pub use linking::{OAuthApp, SecretString};
    pub use mapping::{EntityMapping, FunctionRegistry};
    pub use sync_core::domain::{
        AppEntityName, AppId, ConflictPolicy, EntityName, Provider, Realm, Timestamp,
    };
    pub use sync_core::entity::{EntityGroup, EntityPair, Part};
    pub use sync_core::error::AppError;
    pub use sync_core::ports::{AppConnector, StaticToken, TokenSource};
    pub use webhooks::{ParseError, RawRequest, Verifier};
}
