//! Ports: what the engine needs from the outside world, as traits.
//!
//! Each backend (embedded file, DynamoDB, an app's API) implements them; the engine never knows
//! which one it talks to.

/// Time, injectable so that tests can pin it.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(chrono::Utc::now())
    }
}

mod app;
mod hub;
mod queue;
mod store;

pub use app::{
    AppConnector, AppMatches, AppRecordMeta, AppWrite, AppWriteFailure, AppWriteKind,
    AppWriteOutcome, MatchQuery, SharedConnector,
};
pub use hub::{ExternalId, Hub, HubChange, HubRecordMeta, HubWrite, HubWriteOutcome};
pub use queue::{BusError, Dedupe, EventBus, WorkItem};
pub use store::{LeaseHolder, SharedStore, SyncStore, idmap_matches};

use async_trait::async_trait;
use serde_json::Value;

use crate::domain::{PageCursor, Timestamp};
use crate::error::AppError;

/// A page of records and where the next one starts.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// Records of this page.
    pub records: Vec<Value>,
    /// Cursor of the next page; `None` on the last page.
    pub next: Option<PageCursor>,
}

/// Where an API client gets its bearer token: a static token, or OAuth tokens refreshed on
/// expiry. Asked before every request, so a refresh between pages is picked up.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The current access token.
    async fn bearer(&self) -> Result<String, AppError>;
    /// A new token after the API refused the current one (401): refresh now. Sources that
    /// cannot refresh hand back the same token.
    async fn renew(&self) -> Result<String, AppError> {
        self.bearer().await
    }
}

/// A token that never changes (private-app tokens, API keys, tests).
pub struct StaticToken(String);

impl StaticToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

impl std::fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn bearer(&self) -> Result<String, AppError> {
        Ok(self.0.clone())
    }
}
