//! The Connec!-only `/_emulator/...` admin routes, next to the shared ones: seeding and
//! notification subscribers.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{ConnecEmulator, Inner, JSON, NotificationSubscriber};
use crate::common::admin::{bad_request, items, parse};
use crate::common::{PathParams, empty_response, json_response, otherwise, unmatched};

/// The routes; other methods on them are unknown admin routes.
pub(super) fn routes() -> Router<Arc<Inner>> {
    let only = || otherwise(unmatched::<Inner>);
    Router::new()
        .route("/_emulator/seed/{group_id}/{collection}", only().post(seed))
        .route(
            "/_emulator/subscribers",
            only()
                .post(subscribe)
                .get(subscribers)
                .delete(clear_subscribers),
        )
}

/// `POST /_emulator/seed/{group_id}/{collection}` with one record or an array of them,
/// inserted as a third party would (no faults); answers them in external-ids shape.
async fn seed(State(inner): State<Arc<Inner>>, params: PathParams, body: Bytes) -> Response {
    let items = match items(&body) {
        Ok(items) => items,
        Err(message) => return bad_request::<Inner>(message),
    };
    if items.iter().any(|v| !v.is_object()) {
        return bad_request::<Inner>("records must be JSON objects".into());
    }
    let emu = ConnecEmulator { inner };
    let (group, coll) = (params.get("group_id"), params.get("collection"));
    let out: Vec<Value> = items
        .into_iter()
        .map(|r| emu.seed(group, coll, r))
        .collect();
    json_response(StatusCode::CREATED, JSON, &Value::Array(out))
}

/// `POST /_emulator/subscribers` with a [`NotificationSubscriber`].
async fn subscribe(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    match parse::<NotificationSubscriber>(&body, "subscriber") {
        Ok(sub) => {
            ConnecEmulator { inner }.subscribe(sub);
            json_response(StatusCode::CREATED, JSON, &json!({ "ok": true }))
        }
        Err(message) => bad_request::<Inner>(message),
    }
}

/// `GET /_emulator/subscribers`, without their `api_key`s.
async fn subscribers(State(inner): State<Arc<Inner>>) -> Response {
    let subs: Vec<Value> = ConnecEmulator { inner }
        .subscribers()
        .into_iter()
        .map(|s| json!({ "url": s.url, "api_id": s.api_id, "groups": s.groups }))
        .collect();
    json_response(StatusCode::OK, JSON, &Value::Array(subs))
}

/// `DELETE /_emulator/subscribers`.
async fn clear_subscribers(State(inner): State<Arc<Inner>>) -> Response {
    ConnecEmulator { inner }.clear_subscribers();
    empty_response(StatusCode::NO_CONTENT)
}
