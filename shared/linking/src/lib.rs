//! Linking app accounts to organizations, and keeping their credentials usable.
//!
//! A connector syncs one Connec! group with one app account (a HubSpot portal, a Xero
//! organisation). This crate holds the logic of creating that link and of handing out working
//! access tokens afterwards; HTTP servers, Lambda handlers and the CLI are thin layers on top.
//!
//! - [`Linker`]: OAuth2 authorization code with PKCE (S256). [`Linker::start`] stores a
//!   one-time `state` (10 minutes) and returns the authorize URL; [`Linker::callback`] checks
//!   and consumes the state and exchanges the code. Missing, unknown, expired and reused states
//!   are distinct [`LinkError`]s with messages a person can act on.
//! - [`complete_link`]: creates (or, on a re-link, re-enables) the [`Organization`] and stores
//!   the tokens; one app account links to one organization. [`unlink`] removes the tokens and
//!   switches sync off; [`link_with_api_key`] links API-key apps through the same checks.
//! - [`TokenManager`]: refresh by expiry time, single-flight per account, rotated refresh tokens
//!   stored with a conditional save so that a newer one is never overwritten, and a failed
//!   refresh marks the link as needing re-authorisation instead of retrying forever.
//! - Ports: [`CredentialStore`] (tokens, encrypted at rest by the backend) and
//!   [`AuthorizationStateStore`] (pending authorizations). `store_embedded::secrets` implements
//!   them in the embedded SQLite file; [`memory`] has in-memory ones for tests.
//!
//! Secrets are [`SecretString`]s, which print as `<redacted>`. Nothing here logs a token, an
//! authorization code, a state, a client secret or a PKCE verifier: logs name the account
//! (`provider/account`) and the outcome.
//!
//! The token endpoint is called through the `oauth2` crate (default features off) over the
//! caller's `reqwest::Client`, adapted by [`OAuthHttpClient`].
//!
//! [`Organization`]: sync_core::domain::Organization

mod endpoint;
pub mod error;
mod link;
pub mod memory;
pub mod oauth;
pub mod ports;
mod secret;
pub mod tokens;

pub use endpoint::{OAuthHttpClient, OAuthHttpError, TOKEN_REQUEST_TIMEOUT};
pub use error::{LinkError, TokenError};
pub use link::{UnlinkMode, complete_link, link_with_api_key, new_org_id, unlink};
pub use oauth::{AuthorizeRedirect, Authorized, ClientAuth, Linker, OAuthApp, STATE_TTL};
pub use ports::{
    AccountKey, AuthorizationStateStore, CredentialStore, LinkStatus, PendingAuthorization,
    SaveOutcome, StoredCredentials, TokenSet,
};
pub use secret::{SealError, Sealed, SealingKey, SecretString};
pub use tokens::{DEFAULT_MARGIN, DEFAULT_ROTATION_GRACE, TokenManager};
