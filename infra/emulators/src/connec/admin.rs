//! The Connec!-only `/_emulator/...` admin routes (seeding, notification subscribers, state
//! dump) on top of the shared fault and stats routes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{ConnecEmulator, Inner, JSON, NotificationSubscriber};
use crate::common::{empty_response, json_response};

/// `/_emulator/...` admin routes: no auth, not counted.
pub(super) fn admin(inner: &Arc<Inner>, method: &Method, rest: &str, bytes: &Bytes) -> Response {
    let emu = ConnecEmulator {
        inner: inner.clone(),
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if let Some(answer) = crate::common::faults_and_stats_admin(
        JSON,
        &inner.instruments.faults,
        &inner.instruments.stats,
        method,
        &segs,
        bytes,
    ) {
        return answer;
    }
    let ok = |v: Value| json_response(StatusCode::OK, JSON, &v);
    let bad = |m: String| json_response(StatusCode::BAD_REQUEST, JSON, &json!({ "error": m }));
    match (method, segs.as_slice()) {
        (&Method::POST, ["seed", group, coll]) => {
            let body: Value = match serde_json::from_slice(bytes) {
                Ok(v) => v,
                Err(e) => return bad(format!("invalid JSON: {e}")),
            };
            let items = match body {
                Value::Array(a) => a,
                v => vec![v],
            };
            if items.iter().any(|v| !v.is_object()) {
                return bad("records must be JSON objects".into());
            }
            let out: Vec<Value> = items
                .into_iter()
                .map(|r| emu.seed(group, coll, r))
                .collect();
            json_response(StatusCode::CREATED, JSON, &Value::Array(out))
        }
        (&Method::POST, ["subscribers"]) => {
            match serde_json::from_slice::<NotificationSubscriber>(bytes) {
                Ok(sub) => {
                    emu.subscribe(sub);
                    json_response(StatusCode::CREATED, JSON, &json!({ "ok": true }))
                }
                Err(e) => bad(format!("invalid subscriber: {e}")),
            }
        }
        (&Method::GET, ["subscribers"]) => {
            // Never echo the api_key.
            let subs: Vec<Value> = emu
                .subscribers()
                .into_iter()
                .map(|s| json!({ "url": s.url, "api_id": s.api_id, "groups": s.groups }))
                .collect();
            ok(Value::Array(subs))
        }
        (&Method::DELETE, ["subscribers"]) => {
            emu.clear_subscribers();
            empty_response(StatusCode::NO_CONTENT)
        }
        (&Method::GET, ["state"]) => ok(emu.dump()),
        _ => json_response(
            StatusCode::NOT_FOUND,
            JSON,
            &json!({ "error": "unknown admin route" }),
        ),
    }
}
