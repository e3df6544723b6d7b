//! Connec!'s JSON:API error envelope (`errors: [{id, status, code, title, detail}]`), how an
//! operation's outcome becomes an answer, and body parsing.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Inner, JSONAPI};
use crate::common::{ApiError, json_response};

/// What an API operation produced: a status and a JSON body, or an error.
pub(super) type Outcome = Result<(StatusCode, Value), ApiError>;

/// The answer for `outcome` (see [`crate::common::reply`]).
pub(super) fn reply(outcome: Outcome) -> Response {
    crate::common::reply::<Inner>(outcome)
}

/// Connec!'s error body: one error of `status` saying `detail`.
pub(super) fn error_body(status: StatusCode, detail: &str) -> Value {
    let code = status.as_u16().to_string();
    json!({ "errors": [{
        "id": uuid::Uuid::new_v4().to_string(),
        "status": code,
        "code": code,
        "title": status.canonical_reason().unwrap_or("Error"),
        "detail": detail,
    }]})
}

/// `e` in Connec!'s envelope, with its status.
pub(super) fn error_response(e: &ApiError) -> Response {
    json_response(e.status(), JSONAPI, &error_body(e.status(), &e.to_string()))
}

/// `DELETE`, directly or in a batch: Connec! deletes nothing.
pub(super) fn cannot_delete() -> ApiError {
    ApiError::MethodNotAllowed("Records cannot be deleted; set status to INACTIVE instead".into())
}

/// A JSON request body; an empty one is `null`.
pub(super) fn parse_json(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("Malformed JSON body: {e}")))
}
