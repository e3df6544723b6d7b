//! Settings read from JSON (a configuration section, the environment, a secret) into a typed
//! struct, with errors that name the field and what it expects, never the value found: a
//! secret pasted into the wrong field must not be printed.

use serde::de::DeserializeOwned;

/// Reads `value` into `T`.
///
/// # Errors
///
/// The field's path and what it expects (`` `oauth.app_id`: expected u64 ``); missing, unknown
/// and duplicate fields name keys only.
///
/// ```
/// #[derive(serde::Deserialize, Debug)]
/// struct Settings { app_id: u64 }
/// let error = connector_sdk::read_settings::<Settings>(serde_json::json!({ "app_id": "TOPSECRET" }))
///     .unwrap_err();
/// assert_eq!(error, "`app_id`: expected u64");
/// ```
pub fn read_settings<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| describe(&e))
}

/// serde's messages put the value first (`invalid type: string "...", expected u64`,
/// `unknown variant `...`, expected one of ...`): only the part after the last `, expected ` is
/// kept.
fn describe(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    let detail = if ["missing field", "unknown field", "duplicate field"]
        .iter()
        .any(|prefix| message.starts_with(prefix))
    {
        message
    } else if let Some((_, expected)) = message.rsplit_once(", expected ") {
        format!("expected {expected}")
    } else {
        "invalid value".to_owned()
    };
    if path == "." {
        detail
    } else {
        format!("`{path}`: {detail}")
    }
}
