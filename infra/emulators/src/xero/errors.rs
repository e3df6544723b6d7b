//! Xero's error answers: the ValidationException (`ErrorNumber` 10) of refused writes, the
//! PostDataInvalidException (`ErrorNumber` 14) of unreadable bodies, and the problem-style
//! bodies (`Title`, `Status`, `Detail`) of 401, 403, 404, 429 and injected faults.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::JSON;
use crate::common::{ApiError, json_response};

/// `400` ValidationException with `elements` (each carrying its `ValidationErrors`).
pub(super) fn validation_exception(elements: Vec<Value>) -> Value {
    json!({
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": elements,
    })
}

/// A problem-style body.
pub(super) fn problem(status: StatusCode, detail: &str) -> Response {
    json_response(
        status,
        JSON,
        &json!({
            "Type": Value::Null,
            "Title": status.canonical_reason().unwrap_or("Error"),
            "Status": status.as_u16(),
            "Detail": detail,
            "Instance": uuid::Uuid::new_v4().to_string(),
            "Extensions": {},
        }),
    )
}

/// `e` as Xero answers it.
pub(super) fn error_response(e: &ApiError) -> Response {
    match e {
        ApiError::BadRequest(message) => json_response(
            StatusCode::BAD_REQUEST,
            JSON,
            &json!({
                "ErrorNumber": 14,
                "Type": "PostDataInvalidException",
                "Message": message,
            }),
        ),
        ApiError::Unauthorized(detail) => problem(StatusCode::UNAUTHORIZED, detail),
        other => problem(other.status(), &other.to_string()),
    }
}

/// `404` for a record or route that does not exist.
pub(super) fn not_found() -> ApiError {
    ApiError::NotFound("The resource you're looking for cannot be found".into())
}
