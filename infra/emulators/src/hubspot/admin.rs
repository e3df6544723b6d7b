//! The HubSpot-only `/_emulator/...` admin routes, next to the shared ones: scheduled faults
//! and seeding.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::objects::ObjType;
use super::{HubSpotEmulator, Inner, JSON, ScheduledFault};
use crate::common::admin::{bad_request, items, ok, parse};
use crate::common::{PathParams, json_response, otherwise, unmatched};

/// The routes; other methods on them are unknown admin routes.
pub(super) fn routes() -> Router<Arc<Inner>> {
    let only = || otherwise(unmatched::<Inner>);
    Router::new()
        .route("/_emulator/faults/scheduled", only().post(schedule_fault))
        .route("/_emulator/seed/{objectType}", only().post(seed))
        // Whatever follows the type is ignored.
        .route("/_emulator/seed/{objectType}/{*rest}", only().post(seed))
}

/// `POST /_emulator/faults/scheduled` with a [`ScheduledFault`].
async fn schedule_fault(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    match parse::<ScheduledFault>(&body, "scheduled fault") {
        Ok(fault) => {
            HubSpotEmulator { inner }.schedule_fault(fault);
            ok::<Inner>()
        }
        Err(message) => bad_request::<Inner>(message),
    }
}

/// `POST /_emulator/seed/{objectType}` with one object or an array, each `{"properties":
/// {...}}` or a bare property map: created as a third party would (no faults), in the default
/// portal; answers the created objects.
async fn seed(State(inner): State<Arc<Inner>>, params: PathParams, body: Bytes) -> Response {
    let type_seg = params.get("objectType");
    let Some(t) = ObjType::parse(type_seg) else {
        return bad_request::<Inner>(format!("unknown object type '{type_seg}'"));
    };
    let items = match items(&body) {
        Ok(items) => items,
        Err(message) => return bad_request::<Inner>(message),
    };
    let mut out = Vec::new();
    for item in items {
        let props = item.get("properties").cloned().unwrap_or(item);
        match inner.seed(inner.default_portal(), t, props.as_object()) {
            Ok(v) => out.push(v),
            Err(e) => return bad_request::<Inner>(e.to_string()),
        }
    }
    json_response(StatusCode::CREATED, JSON, &Value::Array(out))
}
