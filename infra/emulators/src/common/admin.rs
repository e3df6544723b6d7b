//! The `/_emulator/...` admin routes both emulators share (fault rules, call statistics,
//! state dump) and the answers every admin route gives. Admin routes need no credentials,
//! are not counted and never fail by injected faults.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::app::{Emulator, unmatched};
use super::http::{empty_response, json_response};
use super::routing::otherwise;
use super::{CallFault, RecordFault};

/// The shared admin routes; every other method on them is an unknown admin route.
pub(crate) fn routes<E: Emulator>() -> Router<Arc<E>> {
    let only = || otherwise(unmatched::<E>);
    Router::new()
        .route(
            "/_emulator/faults/record",
            only().post(add_record_fault::<E>),
        )
        .route("/_emulator/faults/call", only().post(add_call_fault::<E>))
        .route("/_emulator/faults", only().delete(clear_faults::<E>))
        .route("/_emulator/stats", only().get(stats::<E>))
        .route("/_emulator/stats/reset", only().post(reset_stats::<E>))
        .route("/_emulator/state", only().get(state::<E>))
}

/// `200 {"ok": true}`.
pub(crate) fn ok<E: Emulator>() -> Response {
    json_response(StatusCode::OK, E::ADMIN_JSON, &json!({ "ok": true }))
}

/// `400 {"error": message}`.
pub(crate) fn bad_request<E: Emulator>(message: String) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        E::ADMIN_JSON,
        &json!({ "error": message }),
    )
}

/// `404 {"error": "unknown admin route"}`.
pub(crate) fn unknown<E: Emulator>() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        E::ADMIN_JSON,
        &json!({ "error": "unknown admin route" }),
    )
}

/// The records of a seeding body: one JSON value or an array of them.
pub(crate) fn items(body: &[u8]) -> Result<Vec<serde_json::Value>, String> {
    match parse(body, "JSON")? {
        serde_json::Value::Array(items) => Ok(items),
        item => Ok(vec![item]),
    }
}

/// Parses an admin body as a `what`, or says why not (`invalid {what}: ...`).
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid {what}: {e}"))
}

async fn add_record_fault<E: Emulator>(State(emu): State<Arc<E>>, body: Bytes) -> Response {
    match parse::<RecordFault>(&body, "record fault") {
        Ok(rule) => {
            emu.instruments().faults.fail_record(rule);
            ok::<E>()
        }
        Err(message) => bad_request::<E>(message),
    }
}

async fn add_call_fault<E: Emulator>(State(emu): State<Arc<E>>, body: Bytes) -> Response {
    match parse::<CallFault>(&body, "call fault") {
        Ok(rule) => {
            emu.instruments().faults.fail_calls(rule);
            ok::<E>()
        }
        Err(message) => bad_request::<E>(message),
    }
}

async fn clear_faults<E: Emulator>(State(emu): State<Arc<E>>) -> Response {
    emu.clear_faults();
    empty_response(StatusCode::NO_CONTENT)
}

async fn stats<E: Emulator>(State(emu): State<Arc<E>>) -> Response {
    json_response(
        StatusCode::OK,
        E::ADMIN_JSON,
        &serde_json::to_value(emu.instruments().stats()).unwrap_or_default(),
    )
}

async fn reset_stats<E: Emulator>(State(emu): State<Arc<E>>) -> Response {
    emu.instruments().reset_stats();
    empty_response(StatusCode::NO_CONTENT)
}

async fn state<E: Emulator>(State(emu): State<Arc<E>>) -> Response {
    json_response(StatusCode::OK, E::ADMIN_JSON, &emu.dump())
}
