//! Configuration from the environment.

use aws_config::{BehaviorVersion, SdkConfig};

/// Names of the AWS resources the adapters use, read from the environment of the Lambda
/// function (set by the SAM template) or of a local run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsConfig {
    /// `TABLE_NAME`: the DynamoDB table (see the crate docs for its items).
    pub table_name: String,
    /// `EVENT_BUS_NAME`: the EventBridge bus work items go to.
    pub event_bus_name: String,
    /// `SECRETS_PREFIX`: secrets are named `<prefix>/tokens/<provider>/<account>`.
    pub secrets_prefix: String,
}

/// A configuration problem, naming the variable and what to do.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is not set (or empty).
    #[error("environment variable {0} is not set; set it to the {1}")]
    Missing(&'static str, &'static str),
}

const VARS: [(&str, &str); 3] = [
    ("TABLE_NAME", "name of the DynamoDB table"),
    ("EVENT_BUS_NAME", "name of the EventBridge bus"),
    (
        "SECRETS_PREFIX",
        "prefix of the Secrets Manager secret names (e.g. `connector`)",
    ),
];

impl AwsConfig {
    /// Reads `TABLE_NAME`, `EVENT_BUS_NAME` and `SECRETS_PREFIX`. The SDK's own settings
    /// (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` for a local emulator) are read by
    /// [`load_sdk_config`].
    ///
    /// # Errors
    ///
    /// [`ConfigError::Missing`] naming the first variable that is missing or empty.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`AwsConfig::from_env`], with the variables read through `lookup` (tests).
    ///
    /// ```
    /// use store_aws::{AwsConfig, ConfigError};
    /// let config = AwsConfig::from_lookup(|name| match name {
    ///     "TABLE_NAME" => Some("sync".into()),
    ///     "EVENT_BUS_NAME" => Some("work".into()),
    ///     _ => None,
    /// });
    /// assert!(matches!(config, Err(ConfigError::Missing("SECRETS_PREFIX", _))));
    /// ```
    ///
    /// # Errors
    ///
    /// [`ConfigError::Missing`] naming the first variable that is missing or empty.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut values = VARS.iter().map(|(name, what)| {
            lookup(name)
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
                .ok_or(ConfigError::Missing(name, what))
        });
        let mut next = || values.next().unwrap_or(Err(ConfigError::Missing("?", "?")));
        Ok(Self {
            table_name: next()?,
            event_bus_name: next()?,
            secrets_prefix: next()?,
        })
    }
}

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`...),
/// with the latest behavior version. Build the clients from it once, at cold start.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}
