//! Typed errors of linking and token refresh. Messages say what a person can do; none of them
//! carries a token, a code, a secret or a PKCE verifier.

use sync_core::domain::{GroupId, OrgId, Provider};
use sync_core::error::StoreError;
use thiserror::Error;

/// Why linking (authorize, callback, completing or removing a link) failed.
#[derive(Debug, Error)]
pub enum LinkError {
    /// The app's OAuth configuration is unusable (a URL does not parse).
    #[error("OAuth configuration of {provider} is invalid: {detail}")]
    Config {
        /// The app.
        provider: Provider,
        /// What is wrong.
        detail: String,
    },
    /// The callback came without a `state`.
    #[error(
        "the authorization callback has no `state` parameter, so it cannot be matched to a \
         linking request: start linking again from the connector"
    )]
    MissingState,
    /// The `state` is not one we issued.
    #[error("this link was not started here (unknown state): start linking again")]
    UnknownState,
    /// The `state` was issued but its time ran out.
    #[error("this link has expired (links are valid for a few minutes): start linking again")]
    StateExpired,
    /// The `state` was already used by an earlier callback.
    #[error("this link was already used: start linking again")]
    StateAlreadyUsed,
    /// The callback had a valid state but no `code`.
    #[error(
        "the authorization callback has no `code` parameter: start linking again and approve \
         access"
    )]
    MissingCode,
    /// The person declined access on the app's consent screen (`error=access_denied`).
    #[error(
        "access was denied on the {provider} consent screen, so nothing was linked: start \
         linking again and approve access to link the account"
    )]
    Denied {
        /// The app.
        provider: Provider,
    },
    /// The authorize endpoint answered with another OAuth error (e.g. `invalid_scope`).
    #[error(
        "{provider} refused the authorization request (`{error}`): check the app's OAuth \
         settings (client id, redirect URI, scopes), then start linking again"
    )]
    AuthorizationFailed {
        /// The app.
        provider: Provider,
        /// The OAuth `error` code (sanitised).
        error: String,
    },
    /// The token endpoint refused the code exchange.
    #[error(
        "{provider} token endpoint refused the request (`{error}`): if it is `invalid_grant`, \
         the code expired or was already used, so start linking again; otherwise check the \
         client id and secret"
    )]
    TokenEndpoint {
        /// The app.
        provider: Provider,
        /// The OAuth `error` code (`invalid_grant`, `invalid_client`...), or `http_<status>`.
        error: String,
    },
    /// The token endpoint could not be reached or failed (timeout, 5xx, malformed answer).
    #[error("{provider} token endpoint is unavailable ({detail}): try again in a moment")]
    Transient {
        /// The app.
        provider: Provider,
        /// What happened (no secrets).
        detail: String,
    },
    /// This app account is already linked to another group: one app account links to one
    /// organization.
    #[error(
        "{provider} account {account} is already linked to group {group}: unlink it there \
         first, or link another {provider} account"
    )]
    AccountAlreadyLinked {
        /// The app.
        provider: Provider,
        /// The app account.
        account: String,
        /// The group it is linked to.
        group: GroupId,
    },
    /// This group is already linked to another account of the app; switching would mix two
    /// accounts' records in one id-map.
    #[error(
        "group {group} is already linked to {provider} account {linked}, not {account}: link \
         {account} from another group, or remove this group's organization first"
    )]
    GroupLinkedToAnotherAccount {
        /// The group.
        group: GroupId,
        /// The app.
        provider: Provider,
        /// The account the group is linked to.
        linked: String,
        /// The account that was just authorized.
        account: String,
    },
    /// No such organization.
    #[error("organization `{0}` is not linked")]
    UnknownOrganization(OrgId),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why no access token could be handed out.
#[derive(Debug, Error)]
pub enum TokenError {
    /// Nothing is stored for this account.
    #[error("{account} is not linked: link it first")]
    NotLinked {
        /// `provider/account`.
        account: String,
    },
    /// The link needs a person to authorize it again; nothing retries until then.
    #[error(
        "{account} needs to be linked again ({reason}): start linking again from the connector"
    )]
    NeedsReauthorization {
        /// `provider/account`.
        account: String,
        /// Why.
        reason: String,
    },
    /// The token endpoint refused the refresh for a reason other than a dead grant (e.g.
    /// `invalid_client`: the app's client id or secret is wrong). The link is not marked.
    #[error(
        "{account}: token endpoint refused the refresh (`{error}`): check the app's client id \
         and secret"
    )]
    Rejected {
        /// `provider/account`.
        account: String,
        /// The OAuth `error` code, or `http_<status>`.
        error: String,
    },
    /// Timeout, connection failure, 5xx or 429: try again later; the link is not marked.
    #[error("{account}: token endpoint unavailable ({detail}): will retry later")]
    Transient {
        /// `provider/account`.
        account: String,
        /// What happened (no secrets).
        detail: String,
    },
    /// The app's OAuth configuration is unusable.
    #[error("OAuth configuration is invalid: {0}")]
    Config(String),
    /// The credential store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
