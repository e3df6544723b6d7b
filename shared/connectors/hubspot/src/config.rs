//! Where HubSpot is, how to authenticate, and the connector's tunables.

use std::sync::Arc;

use http_client::HttpConfig;
use sync_core::domain::ConflictPolicy;
use sync_core::ports::{StaticToken, TokenSource};
use url::Url;

use crate::SetupError;

/// The custom property that holds, on every record the connector creates, the id of the Connec!
/// record it was created from (the create marker).
pub const DEFAULT_MARKER_PROPERTY: &str = "connec_id";

/// Where HubSpot is and how to authenticate.
#[derive(Clone)]
pub struct HubSpotConfig {
    /// API base URL (HubSpot's API host, or an emulator's loopback URL).
    pub base_url: Url,
    /// Where the bearer token comes from (a private-app token, or OAuth tokens refreshed on expiry).
    pub token: Arc<dyn TokenSource>,
    /// Conflict policy of both entity pairs.
    pub conflict_policy: ConflictPolicy,
    /// Folder with `people.yaml` / `organizations.yaml` replacing the built-in mappings.
    pub mappings_dir: Option<std::path::PathBuf>,
    /// HTTP tunables.
    pub http: HttpConfig,
    /// Page size of list calls (max 100).
    pub list_limit: usize,
    /// Page size of search calls (max 200).
    pub search_limit: usize,
    /// Inputs per batch call (max 100).
    pub batch_size: usize,
    /// The search API's result cap (10,000). The incremental search pages by key (every query
    /// reads only its first page), so it never pages towards the cap; a `search_limit` above the
    /// cap is lowered to it.
    pub search_cap: usize,
    /// Name of the create-marker property (a single-line text property the connector creates
    /// on contacts and companies when it first needs it).
    pub marker_property: String,
}

impl std::fmt::Debug for HubSpotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubSpotConfig")
            .field("base_url", &self.base_url.as_str())
            .field("token", &"<redacted>")
            .field("marker_property", &self.marker_property)
            .finish_non_exhaustive()
    }
}

impl HubSpotConfig {
    /// Defaults for a base URL and a static token.
    pub fn new(base_url: &str, access_token: &str) -> Result<Self, SetupError> {
        Self::with_token_source(base_url, Arc::new(StaticToken::new(access_token)))
    }

    /// Defaults for a base URL and a token source (OAuth).
    pub fn with_token_source(
        base_url: &str,
        token: Arc<dyn TokenSource>,
    ) -> Result<Self, SetupError> {
        let parsed = Url::parse(base_url).map_err(|e| SetupError::Url {
            url: base_url.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(Self {
            base_url: parsed,
            token,
            conflict_policy: ConflictPolicy::default(),
            mappings_dir: None,
            http: HttpConfig::default(),
            list_limit: 100,
            search_limit: 200,
            batch_size: 100,
            search_cap: 10_000,
            marker_property: DEFAULT_MARKER_PROPERTY.to_owned(),
        })
    }

    /// Inputs per batch call, at least one.
    pub(crate) fn batch(&self) -> usize {
        self.batch_size.max(1)
    }

    /// Results per search call, at least one and within the cap.
    pub(crate) fn search_page(&self) -> usize {
        self.search_limit.clamp(1, self.search_cap.max(1))
    }
}
