//! The HubSpot CRM v3 reference connector.
//!
//! Entity pairs, in sync order:
//! - Connec! `organizations` <-> HubSpot `companies` (matched on domain, then name);
//! - Connec! `people` <-> HubSpot `contacts` (matched on e-mail), the contact's primary company
//!   (`associatedcompanyid`) <-> the person's `organization_id`.
//!
//! Archived HubSpot records become `status: INACTIVE` in Connec! and INACTIVE Connec! records are
//! archived in HubSpot. Mappings are data (`mappings/*.yaml`, compiled in, replaceable at run time).
//!
//! - Reading ([`read`]): a first sync lists every object (`GET /crm/v3/objects/{type}`, cursor
//!   `after`); an incremental one searches for what was modified since the watermark,
//!   paged by object id (keyset), then lists archived objects.
//! - Matching ([`matching`]): by the create marker (a custom property holding the Connec! id,
//!   written on every create), then contacts by e-mail and companies by domain, then name.
//! - Writing ([`write`]): `batch/create` stamped with the marker and `batch/update`, grouped so
//!   that no call names one id twice; created records are linked to their inputs by their
//!   marker; a chunk that fails fails only its own inputs.
//! - Archiving ([`archive`]): `batch/archive`, counted as done only when the answer says so.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sync_core::domain::{AppEntityName, AppId, PageCursor, Provider, Timestamp};
use sync_core::entity::EntityPair;
use sync_core::error::{AppError, HttpError};
use sync_core::ports::{
    AppConnector, AppMatches, AppRecordMeta, AppWrite, AppWriteFailure, AppWriteOutcome,
    MatchQuery, Page,
};

pub mod archive;
mod config;
mod connector;
mod http;
pub mod matching;
mod provider;
pub mod read;
pub mod webhooks;
pub mod write;

pub use config::{DEFAULT_MARKER_PROPERTY, HubSpotConfig};
pub use connector::HubSpotConnector;
pub use provider::{HubSpotFactory, HubSpotProvider, HubSpotSettings, OAuthSettings};

const API: &str = "hubspot";
/// The provider name HubSpot records carry in Connec! external ids.
pub const PROVIDER: &str = "hubspot";

/// Errors building the connector.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A mapping file is invalid.
    #[error(transparent)]
    Mapping(#[from] mapping::MappingError),
    /// The base URL is invalid.
    #[error("invalid HubSpot base URL `{url}`: {detail}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong.
        detail: String,
    },
    /// The create-marker property name is not a HubSpot internal name.
    #[error(
        "invalid HubSpot marker property name `{name}`: use lower-case letters, digits and underscores, starting with a letter"
    )]
    Marker {
        /// The name given.
        name: String,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] HttpError),
}

#[async_trait]
impl AppConnector for HubSpotConnector {
    fn provider(&self) -> &Provider {
        &self.provider
    }

    fn entities(&self) -> &[EntityPair] {
        &self.entities
    }

    fn describe(&self, entity: &AppEntityName, record: &Value) -> Result<AppRecordMeta, AppError> {
        let object = self.object(entity)?;
        let invalid = |detail: &str| AppError::Invalid {
            app: API,
            detail: format!("{} object {detail}", object.name),
        };
        let id = http::record_id(record)
            .map(AppId::new)
            .ok_or_else(|| invalid("without an `id`"))?;
        let updated_at = record
            .get("updatedAt")
            .and_then(Value::as_str)
            .or_else(|| http::property_str(record, object.modified_property))
            .and_then(Timestamp::parse)
            .ok_or_else(|| invalid(&format!("{id} without a valid `updatedAt`")))?;
        let created_at = record
            .get("createdAt")
            .and_then(Value::as_str)
            .or_else(|| http::property_str(record, "createdate"))
            .and_then(Timestamp::parse);
        let archived = record
            .get("archived")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Ok(AppRecordMeta {
            id,
            updated_at,
            created_at,
            archived,
            marker: http::property(record, &self.config.marker_property)
                .map(sync_core::domain::HubId::new),
        })
    }

    async fn fetch_page(
        &self,
        entity: &AppEntityName,
        since: Option<Timestamp>,
        cursor: Option<&PageCursor>,
    ) -> Result<Page, AppError> {
        self.read_page(entity, since, cursor).await
    }

    async fn fetch_by_ids(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Value>, AppError> {
        self.batch_read(entity, ids).await
    }

    async fn find_matches(
        &self,
        entity: &AppEntityName,
        queries: &[MatchQuery],
    ) -> Result<Vec<AppMatches>, AppError> {
        self.match_records(entity, queries).await
    }

    /// The full listing (`GET /crm/v3/objects/{type}`) and the match searches both see the
    /// live records, and only them.
    fn listing_shows_every_match(&self, _entity: &AppEntityName) -> bool {
        true
    }

    async fn write(
        &self,
        entity: &AppEntityName,
        writes: Vec<AppWrite>,
    ) -> Result<Vec<Result<AppWriteOutcome, AppWriteFailure>>, AppError> {
        self.write_records(entity, writes).await
    }

    async fn archive(
        &self,
        entity: &AppEntityName,
        ids: &[AppId],
    ) -> Result<Vec<Result<(), AppWriteFailure>>, AppError> {
        self.archive_records(entity, ids).await
    }
}

/// A shared connector handle.
pub fn shared(connector: HubSpotConnector) -> Arc<dyn AppConnector> {
    Arc::new(connector)
}
