//! The configuration file of `connector sync`, `status` and `idmaps`.
//!
//! YAML, naming Connec! and HubSpot endpoints and credentials, so the same binary can point at
//! the real services or at emulators started with `connector emulate`. A credential written as
//! `env:NAME` is read from the environment variable `NAME` instead of the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sync_core::domain::ConflictPolicy;

/// Errors reading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error(
        "{path}: cannot read the configuration file: {source}. Create one from `connector.example.yaml`."
    )]
    Read {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An `env:NAME` credential whose variable is unset.
    #[error(
        "{path}: `{field}` says `env:{variable}` but the environment variable {variable} is not set"
    )]
    MissingEnv {
        /// File.
        path: String,
        /// Field.
        field: String,
        /// Variable.
        variable: String,
    },
}

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Embedded database file (relative paths are relative to the config file).
    pub database: PathBuf,
    /// Connec!.
    pub connec: ConnecSection,
    /// HubSpot.
    pub hubspot: HubSpotSection,
    /// The organization synced.
    pub organization: OrganizationSection,
    /// Engine settings.
    #[serde(default)]
    pub sync: SyncSection,
    /// `connector serve`: the local HTTP endpoints (OAuth callback, webhooks) and schedule.
    #[serde(default)]
    pub serve: Option<ServeSection>,
}

/// The local server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSection {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// The URL apps reach us at (webhook targets, OAuth redirect); defaults to `http://{listen}`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Seconds between scheduled syncs of every organization.
    #[serde(default = "default_interval")]
    pub sync_interval_seconds: u64,
    /// The tenant whose Connec! credentials sign notifications (`/webhooks/connec/{tenant}`).
    #[serde(default = "default_tenant")]
    pub tenant: String,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

fn default_interval() -> u64 {
    3600
}

fn default_tenant() -> String {
    "default".into()
}

/// The HubSpot OAuth app (public app) used by `connector link` and `connector serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSection {
    /// Client id.
    pub client_id: String,
    /// Client secret, or `env:NAME` (also signs HubSpot webhooks).
    pub client_secret: String,
    /// HubSpot app id (webhook settings live under it).
    pub app_id: u64,
    /// Authorize URL (default: `{base_url}/oauth/authorize`, as the emulator serves it).
    #[serde(default)]
    pub authorize_url: Option<String>,
}

/// Connec! endpoint and the tenant's credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnecSection {
    /// Base URL.
    pub base_url: String,
    /// API id (Basic user).
    pub api_id: String,
    /// API key (Basic password), or `env:NAME`.
    pub api_key: String,
}

/// HubSpot endpoint and token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotSection {
    /// Base URL.
    pub base_url: String,
    /// Bearer token of a private app, or `env:NAME` (not needed with `oauth`).
    #[serde(default)]
    pub access_token: String,
    /// Portal id (the realm of HubSpot ids in Connec!) of the private-app token.
    #[serde(default)]
    pub portal_id: String,
    /// Folder of mapping files replacing the built-in ones.
    #[serde(default)]
    pub mappings_dir: Option<PathBuf>,
    /// OAuth app, for linking accounts (instead of a static `access_token`).
    #[serde(default)]
    pub oauth: Option<OAuthSection>,
}

/// The organization.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationSection {
    /// Connec! group id.
    pub group_id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Sync records created before linking too (an explicit, logged choice).
    #[serde(default)]
    pub historical_data: bool,
}

/// Engine settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSection {
    /// Watermark overlap in seconds.
    #[serde(default = "default_overlap")]
    pub overlap_seconds: u64,
    /// `most_recent` (default), `hub_wins` or `app_wins`.
    #[serde(default)]
    pub conflict_policy: ConflictPolicy,
}

impl Default for SyncSection {
    fn default() -> Self {
        Self {
            overlap_seconds: default_overlap(),
            conflict_policy: ConflictPolicy::default(),
        }
    }
}

fn default_overlap() -> u64 {
    120
}

impl Config {
    /// Reads and validates a configuration file, resolving `env:` credentials.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut config: Config =
            serde_norway::from_str(&text).map_err(|e| ConfigError::Invalid {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        config.connec.api_key = resolve(&shown, "connec.api_key", &config.connec.api_key)?;
        config.hubspot.access_token =
            resolve(&shown, "hubspot.access_token", &config.hubspot.access_token)?;
        if let Some(oauth) = &mut config.hubspot.oauth {
            oauth.client_secret =
                resolve(&shown, "hubspot.oauth.client_secret", &oauth.client_secret)?;
        }
        for (field, value) in [
            ("connec.base_url", &config.connec.base_url),
            ("hubspot.base_url", &config.hubspot.base_url),
        ] {
            url::Url::parse(value).map_err(|e| ConfigError::Invalid {
                path: shown.clone(),
                message: format!(
                    "`{field}` is not a URL ({e}): write it like http://127.0.0.1:8081"
                ),
            })?;
        }
        if config.hubspot.oauth.is_none()
            && (config.hubspot.access_token.is_empty() || config.hubspot.portal_id.is_empty())
        {
            return Err(ConfigError::Invalid {
                path: shown,
                message: "`hubspot` needs either `access_token` and `portal_id` (private app) or \
                          an `oauth` section (public app, linked with `connector link`)"
                    .into(),
            });
        }
        if config.organization.group_id.trim().is_empty() {
            return Err(ConfigError::Invalid {
                path: shown,
                message: "`organization.group_id` is empty: give the Connec! group id (cld-...)"
                    .into(),
            });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        if config.database.is_relative() {
            config.database = base.join(&config.database);
        }
        if let Some(dir) = &config.hubspot.mappings_dir
            && dir.is_relative()
        {
            config.hubspot.mappings_dir = Some(base.join(dir));
        }
        Ok(config)
    }
}

fn resolve(path: &str, field: &str, value: &str) -> Result<String, ConfigError> {
    match value.strip_prefix("env:") {
        Some(variable) => std::env::var(variable).map_err(|_| ConfigError::MissingEnv {
            path: path.to_owned(),
            field: field.to_owned(),
            variable: variable.to_owned(),
        }),
        None => Ok(value.to_owned()),
    }
}
