//! The Xero-only `/_emulator/...` admin routes, next to the shared ones (faults, stats,
//! state):
//!
//! - `POST /_emulator/seed/{tenantId}/{Collection}`: one record or an array, written as a
//!   third party would (no faults; validation applies); answers the records.
//! - `POST /_emulator/clock/advance` `{"seconds": n}` (or `"ms"`): moves the clock forward.
//! - `POST /_emulator/consent` `{"tenants": [ids]}`: the tenants the next consents grant.
//! - `POST /_emulator/tokens` `{"tenants": [ids]}`: tokens as after a consent to them.
//! - `PUT /_emulator/webhook` `{"url", "key"}` (`DELETE` removes it).
//! - `POST /_emulator/webhooks/intent-to-receive`: runs the check, answers its outcome;
//!   `GET` answers the last outcome (`404` if none ran).
//! - `POST /_emulator/webhooks/flush`; `GET /_emulator/webhooks/deliveries`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Inner, JSON, WebhookTarget, XeroEmulator};
use crate::common::admin::{bad_request, items, ok, parse, unknown};
use crate::common::{PathParams, json_response, otherwise, unmatched};

pub(super) fn routes() -> Router<Arc<Inner>> {
    let only = || otherwise(unmatched::<Inner>);
    Router::new()
        .route("/_emulator/seed/{tenant}/{collection}", only().post(seed))
        .route("/_emulator/clock/advance", only().post(advance))
        .route("/_emulator/consent", only().post(consent))
        .route("/_emulator/tokens", only().post(tokens))
        .route(
            "/_emulator/webhook",
            only().put(set_webhook).delete(remove_webhook),
        )
        .route(
            "/_emulator/webhooks/intent-to-receive",
            only().post(run_intent).get(last_intent),
        )
        .route("/_emulator/webhooks/flush", only().post(flush))
        .route("/_emulator/webhooks/deliveries", only().get(deliveries))
}

fn emu(inner: Arc<Inner>) -> XeroEmulator {
    XeroEmulator { inner }
}

async fn seed(State(inner): State<Arc<Inner>>, params: PathParams, body: Bytes) -> Response {
    let records = match items(&body) {
        Ok(r) => r,
        Err(m) => return bad_request::<Inner>(m),
    };
    match emu(inner).try_seed_in(params.get("tenant"), params.get("collection"), records) {
        Ok(v) => json_response(StatusCode::CREATED, JSON, &Value::Array(v)),
        Err(e) => bad_request::<Inner>(e.to_string()),
    }
}

#[derive(Deserialize)]
struct Advance {
    #[serde(default)]
    seconds: Option<u64>,
    #[serde(default)]
    ms: Option<u64>,
}

async fn advance(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    match parse::<Advance>(&body, "clock advance") {
        Ok(a) => {
            let ms = a.ms.unwrap_or(0) + a.seconds.unwrap_or(0) * 1000;
            emu(inner).advance(std::time::Duration::from_millis(ms));
            ok::<Inner>()
        }
        Err(m) => bad_request::<Inner>(m),
    }
}

#[derive(Deserialize)]
struct Tenants {
    tenants: Vec<String>,
}

async fn consent(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    match parse::<Tenants>(&body, "consent") {
        Ok(t) => {
            let ids: Vec<&str> = t.tenants.iter().map(String::as_str).collect();
            emu(inner).consent_as_tenants(&ids);
            ok::<Inner>()
        }
        Err(m) => bad_request::<Inner>(m),
    }
}

async fn tokens(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    match parse::<Tenants>(&body, "tokens") {
        Ok(t) => {
            let ids: Vec<&str> = t.tenants.iter().map(String::as_str).collect();
            let tokens = emu(inner).grant(&ids);
            json_response(StatusCode::OK, JSON, &json!(tokens))
        }
        Err(m) => bad_request::<Inner>(m),
    }
}

#[derive(Deserialize)]
struct Target {
    url: String,
    key: String,
}

async fn set_webhook(State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    match parse::<Target>(&body, "webhook target") {
        Ok(t) => {
            emu(inner).set_webhook_target(Some(WebhookTarget::new(t.url, t.key)));
            ok::<Inner>()
        }
        Err(m) => bad_request::<Inner>(m),
    }
}

async fn remove_webhook(State(inner): State<Arc<Inner>>) -> Response {
    emu(inner).set_webhook_target(None);
    ok::<Inner>()
}

async fn run_intent(State(inner): State<Arc<Inner>>) -> Response {
    let result = emu(inner).intent_to_receive().await;
    json_response(StatusCode::OK, JSON, &json!(result))
}

async fn last_intent(State(inner): State<Arc<Inner>>) -> Response {
    match emu(inner).last_intent_to_receive() {
        Some(r) => json_response(StatusCode::OK, JSON, &json!(r)),
        None => unknown::<Inner>(),
    }
}

async fn flush(State(inner): State<Arc<Inner>>) -> Response {
    emu(inner).flush_webhooks().await;
    ok::<Inner>()
}

async fn deliveries(State(inner): State<Arc<Inner>>) -> Response {
    json_response(StatusCode::OK, JSON, &json!(emu(inner).deliveries()))
}
