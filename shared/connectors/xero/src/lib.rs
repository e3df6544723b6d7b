//! The Xero Accounting connector.
//!
//! Entity pairs, in sync order (mappings are data: `mappings/*.yaml`, compiled in, replaceable
//! at run time with files of the same names in `mappings_dir`):
//! - Connec! `organizations` <-> `companies`, and Connec! `people` <-> `persons`: the two parts
//!   of the complex entity **contacts** ([`contacts`]). A Xero contact is read once and split
//!   into a company and its contact persons, or a person; writes of a part join it back;
//! - Connec! `items` <-> Xero items (matched on `Code`);
//! - Connec! `invoices` <-> Xero invoices and bills (matched on `InvoiceNumber`), lines with
//!   their items;
//! - Connec! `payments` <-> Xero payments (created and deleted, never updated).
//!
//! The folder, by seam:
//! - [`settings`] and `provider`: [`XeroFactory`] (id `xero`) reads [`XeroSettings`] and builds
//!   the [`XeroProvider`]: the OAuth app (PKCE, `offline_access`, client credentials in HTTP
//!   Basic), the tenant discovery ([`identity`]: `GET /connections`, by the token's
//!   authentication event), unlinking (connection deleted, refresh token revoked), the webhooks
//!   ([`webhooks`]: `x-xero-signature`, intent-to-receive, events of contacts and invoices) and
//!   one [`XeroConnector`] per tenant, every connector of a tenant drawing from the tenant's one
//!   call budget;
//! - [`limits`]: what Xero's rate-limit headers mean (the minute's pause, the day's quota);
//! - `http`: every call sends `xero-tenant-id` and `Accept: application/json`; Xero's
//!   `/Date(ms+0000)/` timestamps ([`parse_xero_timestamp`]) and `If-Modified-Since`
//!   ([`if_modified_since`]);
//! - `read`: pages since a watermark (`If-Modified-Since`, `order=UpdatedDateUTC ASC`, `page`
//!   and `pageSize`; items unpaged) and reads by id (`IDs=`);
//! - `matching`: match-before-create on natural keys (Xero has no custom field for a marker);
//! - `write`: batches of `POST /{Collection}?summarizeErrors=false` with per-element results and
//!   an `Idempotency-Key` on creates ([`idempotency_key`]); `persons`: contact persons joined
//!   into their company contact; `archive`: archived, deleted or voided as each entity allows.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use sync_core::domain::{AppEntityName, AppId, PageCursor, Provider, Timestamp};
use sync_core::entity::{EntityGroup, EntityPair, Part};
use sync_core::error::{AppError, HttpError, RecordError};
use sync_core::ports::{
    AppConnector, AppMatches, AppRecordMeta, AppWrite, AppWriteFailure, AppWriteOutcome,
    MatchQuery, Page,
};

pub mod archive;
pub mod config;
mod connector;
pub mod contacts;
mod http;
pub mod identity;
pub mod limits;
pub mod lines;
pub mod matching;
mod persons;
mod provider;
pub mod read;
mod run;
pub mod settings;
pub mod webhooks;
pub mod write;

pub use config::XeroConfig;
pub use connector::{COMPANIES, CONTACTS, INVOICES, ITEMS, Kind, PAYMENTS, PERSONS, XeroConnector};
pub use contacts::{JoinOp, Joined, PersonRef, join_persons, split_contact};
pub use http::{
    IDEMPOTENCY_HEADER, TENANT_HEADER, format_xero_timestamp, if_modified_since,
    parse_xero_timestamp, validation_messages,
};
pub use limits::XeroRateLimits;
pub use provider::{XeroFactory, XeroProvider};
pub use settings::XeroSettings;
pub use write::idempotency_key;

const API: &str = "xero";
/// The provider name Xero records carry in Connec! external ids.
pub const PROVIDER: &str = "xero";

/// Errors building the connector.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A mapping file is invalid.
    #[error(transparent)]
    Mapping(#[from] mapping::MappingError),
    /// A setting is invalid (its value is never shown: it may be a secret).
    #[error("`{key}`: {detail}")]
    Setting {
        /// The setting.
        key: &'static str,
        /// What is expected.
        detail: &'static str,
    },
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] HttpError),
}

#[async_trait]
impl AppConnector for XeroConnector {
    fn provider(&self) -> &Provider {
        &self.provider
    }

    fn entities(&self) -> &[EntityPair] {
        &self.entities
    }

    fn describe(&self, entity: &AppEntityName, record: &Value) -> Result<AppRecordMeta, AppError> {
        read::describe_record(Kind::of(entity)?, record)
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
        self.read_by_ids(entity, ids).await
    }

    async fn find_matches(
        &self,
        entity: &AppEntityName,
        queries: &[MatchQuery],
    ) -> Result<Vec<AppMatches>, AppError> {
        self.match_records(entity, queries).await
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

    fn groups(&self) -> &[EntityGroup] {
        &self.groups
    }

    fn split(&self, group: &AppEntityName, record: Value) -> Result<Vec<Part>, RecordError> {
        if group.as_str() != CONTACTS {
            return Err(RecordError::new(
                None,
                format!("`{group}` is not a complex entity of the Xero connector"),
            ));
        }
        split_contact(&record)
    }
}

/// A shared connector handle.
pub fn shared(connector: XeroConnector) -> Arc<dyn AppConnector> {
    Arc::new(connector)
}
