//! The `/_emulator/faults/...` and `/_emulator/stats...` admin routes both emulators share.

use std::sync::Mutex;

use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::http::{empty_response, json_response};
use super::{CallFault, CallStats, Faults, RecordFault, lock};

/// The `/_emulator/faults/...` and `/_emulator/stats...` admin routes both emulators share;
/// `None` for any other route. Answers are JSON of `content_type`.
pub(crate) fn faults_and_stats_admin(
    content_type: &'static str,
    faults: &Faults,
    stats: &Mutex<CallStats>,
    method: &Method,
    segs: &[&str],
    bytes: &[u8],
) -> Option<Response> {
    let ok = || {
        json_response(
            StatusCode::OK,
            content_type,
            &serde_json::json!({ "ok": true }),
        )
    };
    let bad = |m: String| {
        json_response(
            StatusCode::BAD_REQUEST,
            content_type,
            &serde_json::json!({ "error": m }),
        )
    };
    Some(match (method, segs) {
        (&Method::POST, ["faults", "record"]) => match serde_json::from_slice::<RecordFault>(bytes)
        {
            Ok(rule) => {
                faults.fail_record(rule);
                ok()
            }
            Err(e) => bad(format!("invalid record fault: {e}")),
        },
        (&Method::POST, ["faults", "call"]) => match serde_json::from_slice::<CallFault>(bytes) {
            Ok(rule) => {
                faults.fail_calls(rule);
                ok()
            }
            Err(e) => bad(format!("invalid call fault: {e}")),
        },
        (&Method::DELETE, ["faults"]) => {
            faults.clear();
            empty_response(StatusCode::NO_CONTENT)
        }
        (&Method::GET, ["stats"]) => json_response(
            StatusCode::OK,
            content_type,
            &serde_json::to_value(lock(stats).clone()).unwrap_or_default(),
        ),
        (&Method::POST, ["stats", "reset"]) => {
            *lock(stats) = CallStats::default();
            empty_response(StatusCode::NO_CONTENT)
        }
        _ => return None,
    })
}
