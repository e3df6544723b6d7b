//! Mapping SDK errors to the ports' errors, without record contents.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use sync_core::error::StoreError;

/// `op on table T: Code: message` for a service error, the full error chain otherwise
/// (timeouts, connection failures). DynamoDB's messages name attributes and rules, not values.
pub(crate) fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or("(no message)")
        ),
        None => DisplayErrorContext(err).to_string(),
    }
}

/// A [`StoreError::Backend`] naming the operation and the table.
pub(crate) fn backend<E, R>(op: &str, table: &str, err: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    StoreError::Backend(format!("{op} on table {table}: {}", describe(err)))
}

/// A builder that misses a required field (a bug here, not a runtime condition).
pub(crate) fn build_error(op: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{op}: cannot build the request: {err}"))
}

/// Whether a service error has this code.
pub(crate) fn has_code<E, R>(err: &SdkError<E, R>, code: &str) -> bool
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().and_then(ProvideErrorMetadata::code) == Some(code)
}
