//! HubSpot's error envelope (`status`, `message`, `correlationId`, `category`), the rendering
//! of injected faults in it, and the JSON body parsing every route shares.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::JSON;
use crate::common::{ApiError, FaultKind, json_response, raw_response, set_header};

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

pub(super) fn error_body(e: &ApiError) -> Value {
    json!({
        "status": "error",
        "message": e.to_string(),
        "correlationId": uuid::Uuid::new_v4().to_string(),
        "category": category(e),
    })
}

pub(super) fn error_response(e: &ApiError) -> Response {
    json_response(e.status(), JSON, &error_body(e))
}

pub(super) fn parse_json(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("Invalid input JSON on line 1: {e}")))
}

/// Renders an injected call fault.
pub(super) async fn fault_response(kind: FaultKind) -> Response {
    match kind {
        FaultKind::Status {
            status,
            retry_after_secs,
        } => {
            let e = ApiError::Status {
                status,
                message: format!("Injected fault: HTTP {status}"),
            };
            let mut r = error_response(&e);
            if let Some(s) = retry_after_secs {
                set_header(&mut r, "retry-after", s);
            }
            r
        }
        FaultKind::Timeout { delay_ms } => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            error_response(&ApiError::Status {
                status: 504,
                message: "Injected fault: gateway timeout".into(),
            })
        }
        FaultKind::Malformed => {
            raw_response(StatusCode::OK, JSON, b"{\"unexpected\": true".to_vec())
        }
        FaultKind::WrongShape => json_response(StatusCode::OK, JSON, &json!({ "data": [] })),
        FaultKind::Reset => crate::common::reset_response(),
        FaultKind::AfterCommit { then } => Box::pin(fault_response(*then)).await,
    }
}
