//! The HubSpot-only `/_emulator/...` admin routes (scheduled faults, seeding, state dump) on
//! top of the shared fault and stats routes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::objects::ObjType;
use super::state::Source;
use super::{HubSpotEmulator, Inner, JSON, ScheduledFault};
use crate::common::{ApiError, json_response, lock};

/// `/_emulator/...` admin routes: no auth, not counted.
pub(super) fn admin(inner: &Arc<Inner>, method: &Method, rest: &str, bytes: &Bytes) -> Response {
    let emu = HubSpotEmulator {
        inner: inner.clone(),
    };
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match (method, segs.as_slice()) {
        (&Method::POST, ["faults", "scheduled"]) => {
            return match serde_json::from_slice::<ScheduledFault>(bytes) {
                Ok(fault) => {
                    emu.schedule_fault(fault);
                    json_response(StatusCode::OK, JSON, &json!({ "ok": true }))
                }
                Err(e) => json_response(
                    StatusCode::BAD_REQUEST,
                    JSON,
                    &json!({ "error": format!("invalid scheduled fault: {e}") }),
                ),
            };
        }
        // The shared handler clears the other faults.
        (&Method::DELETE, ["faults"]) => lock(&inner.scheduled).clear(),
        _ => {}
    }
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
        (&Method::POST, ["seed", type_seg, ..]) => {
            let Some(t) = ObjType::parse(type_seg) else {
                return bad(format!("unknown object type '{type_seg}'"));
            };
            let items = match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Array(a)) => a,
                Ok(v) => vec![v],
                Err(e) => return bad(format!("invalid JSON: {e}")),
            };
            let mut out = Vec::new();
            for item in items {
                // Accept `{"properties": {...}}` or a bare property map.
                let props = item.get("properties").cloned().unwrap_or(item);
                let res = inner.with_state(Source::ui(inner.default_portal()), |st| {
                    let p = st.prepare(None, t, None, props.as_object(), None)?;
                    let (id, _) = st.commit(t, None, p);
                    Ok::<_, ApiError>(
                        st.obj(t, id)
                            .map(|o| o.render(t, None, true))
                            .unwrap_or_default(),
                    )
                });
                match res {
                    Ok(v) => out.push(v),
                    Err(e) => return bad(e.to_string()),
                }
            }
            json_response(StatusCode::CREATED, JSON, &Value::Array(out))
        }
        (&Method::GET, ["state"]) => ok(emu.dump()),
        _ => json_response(
            StatusCode::NOT_FOUND,
            JSON,
            &json!({ "error": "unknown admin route" }),
        ),
    }
}
