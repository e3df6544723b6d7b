//! Typed errors of the core crate.

use thiserror::Error;

/// A per-record rejection by an API (validation error, conflict...). Never fails a run.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct RecordError {
    /// HTTP status of the rejection, when there was one.
    pub status: Option<u16>,
    /// What the API said (no record content).
    pub message: String,
}

impl RecordError {
    /// A rejection with a status.
    pub fn new(status: Option<u16>, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// Errors talking to an HTTP API (shared by the Connec! client and the connectors).
#[derive(Debug, Error)]
pub enum HttpError {
    /// The request could not be sent or timed out, after retries.
    #[error("{api}: {method} {path}: request failed after {attempts} attempt(s): {detail}")]
    Transport {
        /// API name.
        api: &'static str,
        /// HTTP method.
        method: String,
        /// Path (no query string: it may hold personal data).
        path: String,
        /// Attempts made.
        attempts: u32,
        /// Cause.
        detail: String,
    },
    /// The API answered with an error status.
    #[error("{api}: {method} {path}: HTTP {status}: {detail}")]
    Status {
        /// API name.
        api: &'static str,
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// Status code.
        status: u16,
        /// The API's own message.
        detail: String,
    },
    /// The API answered 2xx with a body we cannot understand.
    #[error("{api}: {method} {path}: malformed response: {detail}")]
    Malformed {
        /// API name.
        api: &'static str,
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The account's call quota is used up (a daily budget, say): no call is made until
    /// `retry_after` has passed. A run that meets it stops where it is, keeps its checkpoint and
    /// ends as partial; the next run resumes there.
    #[error("{api}: the call quota is used up; calls resume in {} s", retry_after.as_secs())]
    QuotaExhausted {
        /// API name.
        api: &'static str,
        /// How long until calls may be made again.
        retry_after: std::time::Duration,
    },
    /// A URL could not be built (bad base URL in the configuration).
    #[error("{api}: invalid URL: {detail}")]
    Url {
        /// API name.
        api: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl HttpError {
    /// The HTTP status, when the API answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this is [`HttpError::QuotaExhausted`].
    pub fn is_quota_exhausted(&self) -> bool {
        matches!(self, HttpError::QuotaExhausted { .. })
    }
}

/// Errors of the Connec! hub.
pub type HubError = HttpError;

/// Errors of an app connector.
#[derive(Debug, Error)]
pub enum AppError {
    /// HTTP-level failure.
    #[error(transparent)]
    Http(#[from] HttpError),
    /// The app answered something that does not fit its contract.
    #[error("{app}: {detail}")]
    Invalid {
        /// App name.
        app: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The link to the app account needs a person to authorise it again.
    #[error(
        "{app}: the account link needs re-authorisation ({reason}); run `connector link` again"
    )]
    NeedsReauthorization {
        /// App name.
        app: &'static str,
        /// Why.
        reason: String,
    },
    /// Credentials could not be obtained for now (token endpoint down).
    #[error("{app}: cannot get an access token: {detail}")]
    Credentials {
        /// App name.
        app: &'static str,
        /// What went wrong (never the token).
        detail: String,
    },
    /// The connector does not know this entity.
    #[error("{app}: unknown entity `{entity}`")]
    UnknownEntity {
        /// App name.
        app: &'static str,
        /// Entity asked for.
        entity: String,
    },
}

impl AppError {
    /// Whether the account's call quota is used up (see [`HttpError::QuotaExhausted`]).
    pub fn is_quota_exhausted(&self) -> bool {
        matches!(self, AppError::Http(e) if e.is_quota_exhausted())
    }
}

/// Errors of a store backend.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A uniqueness rule would be broken (e.g. an app id already mapped to another hub id).
    #[error("store conflict: {0}")]
    Conflict(String),
    /// Stored data cannot be read back.
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    /// The backend failed.
    #[error("store backend error: {0}")]
    Backend(String),
    /// A value is larger than the store accepts (what, and the limit; never the value).
    #[error("store refused a value that is too large: {0}")]
    TooLarge(String),
}

/// Errors that stop a sync run before or outside per-entity work.
#[derive(Debug, Error)]
pub enum SyncError {
    /// Unknown organization.
    #[error("organization `{0}` is not linked; run `connector link` first")]
    UnknownOrganization(String),
    /// Sync switched off for this organization.
    #[error("sync is disabled for organization `{0}`")]
    Disabled(String),
    /// Another run holds the organization's lease.
    #[error("another sync of organization `{0}` is running")]
    Locked(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A mapping failed to build (bad configuration).
    #[error("mapping error: {0}")]
    Mapping(String),
    /// The connector has no such entity pair.
    #[error("unknown entity `{0}`")]
    UnknownEntity(String),
    /// The organization does not sync this entity in this direction.
    #[error("`{entity}` does not travel {direction} for this organization")]
    DirectionOff {
        /// Entity pair.
        entity: String,
        /// Direction label.
        direction: &'static str,
    },
    /// Applying real-time changes failed (reading or writing an API, or the store).
    #[error("applying changes failed: {0}")]
    Apply(String),
}
