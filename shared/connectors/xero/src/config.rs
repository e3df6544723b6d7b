//! Where Xero is and the connector's tunables.

use std::path::PathBuf;
use std::time::Duration;

use http_client::HttpConfig;
use sync_core::domain::ConflictPolicy;
use url::Url;

use crate::SetupError;

/// Xero's Accounting API.
pub const DEFAULT_BASE_URL: &str = "https://api.xero.com/api.xro/2.0";
/// Records per page of `GET /Contacts`, `/Invoices`, `/Payments` (Xero allows up to 1,000).
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Records per `POST` (Xero accepts more; 50 keeps one rejected batch small).
pub const DEFAULT_BATCH_SIZE: usize = 50;
/// Extra overlap of `If-Modified-Since` behind the engine's watermark (clock skew with Xero).
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(60);

/// The connector's settings for one deployment (every account shares them).
#[derive(Clone, Debug)]
pub struct XeroConfig {
    /// Accounting API base URL (Xero's, or an emulator's loopback URL), ending in `/`.
    pub base_url: Url,
    /// Page size of paged reads.
    pub page_size: usize,
    /// Records per write call.
    pub batch_size: usize,
    /// The bank account (its code) payments are made to; payments cannot be created without it.
    pub payment_account_code: Option<String>,
    /// How far behind the watermark `If-Modified-Since` asks.
    pub overlap: Duration,
    /// HTTP tunables.
    pub http: HttpConfig,
    /// Conflict policy of every pair.
    pub conflict_policy: ConflictPolicy,
    /// Folder with mapping files replacing the built-in ones.
    pub mappings_dir: Option<PathBuf>,
}

impl XeroConfig {
    /// Defaults for a base URL.
    ///
    /// # Errors
    ///
    /// [`SetupError::Setting`] when it is not an absolute http(s) URL (the value is not echoed).
    pub fn new(base_url: &str) -> Result<Self, SetupError> {
        Ok(Self {
            base_url: base_url_of("base_url", base_url)?,
            page_size: DEFAULT_PAGE_SIZE,
            batch_size: DEFAULT_BATCH_SIZE,
            payment_account_code: None,
            overlap: DEFAULT_OVERLAP,
            http: HttpConfig::default(),
            conflict_policy: ConflictPolicy::default(),
            mappings_dir: None,
        })
    }

    /// Records per write call, at least one.
    pub(crate) fn batch(&self) -> usize {
        self.batch_size.max(1)
    }

    /// Records per page, at least one.
    pub(crate) fn page(&self) -> usize {
        self.page_size.max(1)
    }
}

/// An absolute http(s) URL ending in `/` (so that relative paths join under it).
pub(crate) fn base_url_of(key: &'static str, text: &str) -> Result<Url, SetupError> {
    let mut url = url_of(key, text)?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// An absolute http(s) URL; the error names the setting, never the value.
pub(crate) fn url_of(key: &'static str, text: &str) -> Result<Url, SetupError> {
    match Url::parse(text.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        _ => Err(SetupError::Setting {
            key,
            detail: "expected an absolute http(s) URL",
        }),
    }
}
