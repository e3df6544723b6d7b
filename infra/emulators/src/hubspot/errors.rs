//! HubSpot's error envelope (`status`, `message`, `correlationId`, `category`), how a
//! handler's outcome becomes an answer, and the JSON body parsing every route shares.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Inner, JSON};
use crate::common::{ApiError, json_response};

/// What a handler produced: a status and a JSON body (none for `204`), or an error.
pub(super) type Outcome = Result<(StatusCode, Option<Value>), ApiError>;

/// The answer for `outcome` (see [`crate::common::reply`]).
pub(super) fn reply(outcome: Outcome) -> Response {
    crate::common::reply::<Inner>(outcome)
}

/// The `category` HubSpot gives an error.
pub(super) fn category(e: &ApiError) -> &'static str {
    match e {
        ApiError::BadRequest(_) | ApiError::MethodNotAllowed(_) => "VALIDATION_ERROR",
        ApiError::Unauthorized(_) => "INVALID_AUTHENTICATION",
        ApiError::NotFound(_) => "OBJECT_NOT_FOUND",
        ApiError::Conflict(_) => "CONFLICT",
        ApiError::Status { status: 429, .. } => "RATE_LIMITS",
        ApiError::Status {
            status: 400..500, ..
        } => "VALIDATION_ERROR",
        ApiError::Status { .. } => "INTERNAL_ERROR",
    }
}

/// HubSpot's error body for `e`.
pub(super) fn error_body(e: &ApiError) -> Value {
    json!({
        "status": "error",
        "message": e.to_string(),
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "category": category(e),
    })
}

/// `e` in HubSpot's envelope, with its status.
pub(super) fn error_response(e: &ApiError) -> Response {
    json_response(e.status(), JSON, &error_body(e))
}

/// A JSON request body; an empty one is `{}`.
pub(super) fn parse_json(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("Invalid input JSON on line 1: {e}")))
}
