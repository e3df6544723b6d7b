//! Connec!'s JSON:API error envelope (`errors: [{id, status, code, title, detail}]`), the
//! rendering of injected faults in it, and body parsing.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::JSONAPI;
use crate::common::{ApiError, FaultKind, json_response, raw_response, set_header};

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

pub(super) fn error_response(e: &ApiError) -> Response {
    json_response(e.status(), JSONAPI, &error_body(e.status(), &e.to_string()))
}

pub(super) fn parse_json(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("Malformed JSON body: {e}")))
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
            raw_response(StatusCode::OK, JSONAPI, b"{\"unexpected\": true".to_vec())
        }
        FaultKind::WrongShape => json_response(StatusCode::OK, JSONAPI, &json!({ "data": [] })),
        FaultKind::Reset => crate::common::reset_response(),
        FaultKind::AfterCommit { then } => Box::pin(fault_response(*then)).await,
    }
}
