//! The configuration file of `connector sync`, `serve`, `status` and `idmaps`.
//!
//! YAML, naming the Connec! endpoint and credentials and, under `apps:`, one section per app
//! keyed by its id (each app's factory reads its own section), so the same binary can point at
//! the real services or at emulators started with `connector emulate`. Any string written as
//! `env:NAME` is read from the environment variable `NAME` instead of the file.
//!
//! The one-app form of before (an app's section at the top level, e.g. `hubspot:`) is still
//! read, as `apps:` with that one app; move it under `apps:` to add another app.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;
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
    /// An `env:NAME` credential whose variable is set but empty (or blank, or not UTF-8).
    #[error(
        "{path}: `{field}` says `env:{variable}` but the environment variable {variable} is empty: \
         export the value"
    )]
    EmptyEnv {
        /// File.
        path: String,
        /// Field.
        field: String,
        /// Variable.
        variable: String,
    },
}

/// The whole file. `Debug` shows the apps' ids, never their settings (they hold secrets).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Embedded database file (relative paths are relative to the config file).
    pub database: PathBuf,
    /// Connec!.
    pub connec: ConnecSection,
    /// Each app's settings, by app id (`hubspot: {...}`), as its factory reads them.
    #[serde(default)]
    pub apps: BTreeMap<String, Value>,
    /// The organization synced.
    pub organization: OrganizationSection,
    /// Engine settings.
    #[serde(default)]
    pub sync: SyncSection,
    /// `connector serve`: the local HTTP endpoints (OAuth callback, webhooks) and schedule.
    #[serde(default)]
    pub serve: Option<ServeSection>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database", &self.database)
            .field("connec", &self.connec)
            .field("apps", &self.apps.keys().collect::<Vec<_>>())
            .field("organization", &self.organization)
            .field("sync", &self.sync)
            .field("serve", &self.serve)
            .finish()
    }
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

/// Connec! endpoint and the tenant's credentials. `Debug` redacts the API key.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnecSection {
    /// Base URL.
    pub base_url: String,
    /// API id (Basic user).
    pub api_id: String,
    /// API key (Basic password), or `env:NAME`.
    pub api_key: String,
}

impl std::fmt::Debug for ConnecSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnecSection")
            .field("base_url", &self.base_url)
            .field("api_id", &self.api_id)
            .field("api_key", &"<redacted>")
            .finish()
    }
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
        let invalid = |message: String| ConfigError::Invalid {
            path: shown.clone(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let mut raw: Value = serde_norway::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        if let Value::Object(top) = &mut raw {
            lift_one_app_form(top).map_err(&invalid)?;
        }
        let mut config: Config = connector_sdk::read_settings(raw).map_err(&invalid)?;
        config.connec.api_key = resolve(&shown, "connec.api_key", &config.connec.api_key)?;
        let base = path.parent().unwrap_or(Path::new("."));
        if config.apps.is_empty() {
            return Err(invalid(format!(
                "no app is configured: add an `apps:` section with one of: {}",
                connectors::ids().join(", ")
            )));
        }
        for (id, section) in &mut config.apps {
            if connectors::factory(id).is_none() {
                return Err(invalid(format!(
                    "`apps.{id}`: unknown app; known apps: {}",
                    connectors::ids().join(", ")
                )));
            }
            resolve_section(&shown, &format!("apps.{id}"), section, base)?;
        }
        url::Url::parse(&config.connec.base_url).map_err(|e| {
            invalid(format!(
                "`connec.base_url` is not a URL ({e}): write it like http://127.0.0.1:8081"
            ))
        })?;
        if config.organization.group_id.trim().is_empty() {
            return Err(invalid(
                "`organization.group_id` is empty: give the Connec! group id (cld-...)".into(),
            ));
        }
        if config.database.is_relative() {
            config.database = base.join(&config.database);
        }
        Ok(config)
    }
}

/// Moves top-level app sections (the one-app form) under `apps`.
fn lift_one_app_form(top: &mut serde_json::Map<String, Value>) -> Result<(), String> {
    for id in connectors::ids() {
        let Some(section) = top.remove(id) else {
            continue;
        };
        let apps = top
            .entry("apps")
            .or_insert_with(|| Value::Object(Default::default()));
        let Some(apps) = apps.as_object_mut() else {
            return Err("`apps` must be a map of app id to settings".into());
        };
        if apps.contains_key(id) {
            return Err(format!(
                "`{id}` is configured twice, at the top level and under `apps`: keep `apps.{id}`"
            ));
        }
        apps.insert(id.to_owned(), section);
    }
    Ok(())
}

/// Resolves `env:NAME` strings, makes `mappings_dir` relative to the file, and checks
/// `base_url`s, in one app's section.
fn resolve_section(
    path: &str,
    field: &str,
    value: &mut Value,
    base: &Path,
) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            *text = resolve(path, field, text)?;
            if field.ends_with(".base_url") {
                url::Url::parse(text).map_err(|e| ConfigError::Invalid {
                    path: path.to_owned(),
                    message: format!(
                        "`{field}` is not a URL ({e}): write it like http://127.0.0.1:8082"
                    ),
                })?;
            }
            if field.ends_with(".mappings_dir") && Path::new(text.as_str()).is_relative() {
                *text = base.join(text.as_str()).display().to_string();
            }
        }
        Value::Object(members) => {
            for (key, inner) in members {
                resolve_section(path, &format!("{field}.{key}"), inner, base)?;
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter_mut().enumerate() {
                resolve_section(path, &format!("{field}[{i}]"), inner, base)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn resolve(path: &str, field: &str, value: &str) -> Result<String, ConfigError> {
    let Some(variable) = value.strip_prefix("env:") else {
        return Ok(value.to_owned());
    };
    let (path, field, variable) = (path.to_owned(), field.to_owned(), variable.to_owned());
    match std::env::var(&variable) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        Ok(_) | Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::EmptyEnv {
            path,
            field,
            variable,
        }),
        Err(std::env::VarError::NotPresent) => Err(ConfigError::MissingEnv {
            path,
            field,
            variable,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connector.yaml");
        std::fs::write(&path, text).unwrap();
        Config::load(&path)
    }

    const CONNEC: &str = "database: c.db\nconnec: { base_url: 'http://c', api_id: i, api_key: k }\n\
                          organization: { group_id: cld-1 }\n";

    #[test]
    fn the_one_app_form_is_read_as_apps_with_that_app() {
        let config = load(&format!(
            "{CONNEC}hubspot: {{ base_url: 'http://h', access_token: t, portal_id: '1' }}\n"
        ))
        .unwrap();
        assert_eq!(config.apps.keys().collect::<Vec<_>>(), vec!["hubspot"]);
        assert_eq!(config.apps["hubspot"]["access_token"], "t");
    }

    #[test]
    fn apps_sections_resolve_env_values_and_relative_mapping_folders() {
        let config = load(&format!(
            "{CONNEC}apps:\n  hubspot:\n    base_url: 'http://h'\n    mappings_dir: maps\n    \
             oauth: {{ client_id: c, client_secret: 'env:PATH', app_id: 7 }}\n"
        ))
        .unwrap();
        let hubspot = &config.apps["hubspot"];
        // Any variable will do; PATH is set wherever tests run.
        assert_eq!(
            hubspot["oauth"]["client_secret"],
            std::env::var("PATH").unwrap().as_str()
        );
        assert!(
            Path::new(hubspot["mappings_dir"].as_str().unwrap()).is_absolute(),
            "{hubspot}"
        );
    }

    #[test]
    fn type_errors_name_the_field_and_the_type_never_the_value() {
        let secret = "TOPSECRETVALUE123";
        let cases = [
            (
                format!(
                    "database: c.db\nconnec: {{ base_url: 'http://c', api_id: i, api_key: k }}\n\
                     organization: {{ group_id: cld-1, historical_data: '{secret}' }}\n\
                     apps: {{ hubspot: {{ base_url: 'http://h' }} }}\n"
                ),
                "`organization.historical_data`: expected a boolean",
            ),
            (
                format!(
                    "{CONNEC}sync: {{ overlap_seconds: '{secret}' }}\napps: {{ hubspot: {{ base_url: 'http://h' }} }}\n"
                ),
                "`sync.overlap_seconds`: expected u64",
            ),
            (
                format!(
                    "{CONNEC}sync: {{ conflict_policy: '{secret}' }}\napps: {{ hubspot: {{ base_url: 'http://h' }} }}\n"
                ),
                "`sync.conflict_policy`: expected one of",
            ),
            (
                format!(
                    "database: c.db\nconnec: {{ base_url: 'http://c', api_id: 7, api_key: k }}\n\
                     organization: {{ group_id: '{secret}, expected x' }}\n\
                     apps: {{ hubspot: {{ base_url: 'http://h' }} }}\nserve: {{ listen: ['{secret}'] }}\n"
                ),
                "`connec.api_id`: expected a string",
            ),
        ];
        for (text, expected) in cases {
            let error = load(&text).expect_err("refused").to_string();
            assert!(error.contains(expected), "{error}\nexpected: {expected}");
            assert!(!error.contains(secret), "the value is echoed: {error}");
        }
    }

    #[test]
    fn an_env_variable_set_but_empty_is_an_error_naming_it() {
        // SAFETY: only this test reads or writes this variable.
        unsafe { std::env::set_var("CONFIG_TEST_EMPTY", "") };
        let error = load(&format!(
            "{CONNEC}apps: {{ hubspot: {{ base_url: 'http://h', access_token: 'env:CONFIG_TEST_EMPTY' }} }}\n"
        ))
        .expect_err("refused")
        .to_string();
        assert!(error.contains("CONFIG_TEST_EMPTY"), "{error}");
        assert!(error.contains("is empty"), "{error}");
        assert!(error.contains("apps.hubspot.access_token"), "{error}");
        let error = load(&CONNEC.replace("api_key: k", "api_key: 'env:CONFIG_TEST_EMPTY'"))
            .expect_err("refused")
            .to_string();
        assert!(error.contains("`connec.api_key`"), "{error}");
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let config = load(
            "database: c.db\nconnec: { base_url: 'http://c', api_id: i, api_key: CONNEC-SECRET-1 }\n\
             organization: { group_id: cld-1 }\n\
             apps: { hubspot: { base_url: 'http://h', access_token: HUBSPOT-SECRET-2, portal_id: '1', \
             oauth: { client_id: c, client_secret: HUBSPOT-SECRET-3, app_id: 7 } } }\n",
        )
        .unwrap();
        let shown = format!("{config:?} {:?}", config.connec);
        for secret in ["CONNEC-SECRET-1", "HUBSPOT-SECRET-2", "HUBSPOT-SECRET-3"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("hubspot"), "{shown}");
        assert!(shown.contains("cld-1"), "{shown}");
    }

    #[test]
    fn bad_app_sections_are_refused_with_what_to_do() {
        let cases = [
            (
                format!("{CONNEC}apps: {{ shopify: {{ base_url: 'http://s' }} }}\n"),
                "`apps.shopify`: unknown app; known apps: hubspot",
            ),
            (
                format!(
                    "{CONNEC}hubspot: {{ base_url: 'http://h' }}\napps: {{ hubspot: {{ base_url: 'http://h' }} }}\n"
                ),
                "configured twice",
            ),
            (CONNEC.to_owned(), "no app is configured"),
            (
                format!("{CONNEC}apps: {{ hubspot: {{ base_url: 'not a url' }} }}\n"),
                "`apps.hubspot.base_url` is not a URL",
            ),
            (
                format!(
                    "{CONNEC}apps: {{ hubspot: {{ base_url: 'http://h', access_token: 'env:CONFIG_TEST_UNSET' }} }}\n"
                ),
                "CONFIG_TEST_UNSET is not set",
            ),
        ];
        for (text, expected) in cases {
            let error = load(&text).expect_err("refused").to_string();
            assert!(error.contains(expected), "{error}\nexpected: {expected}");
        }
    }
}
