//! The Webhooks API v3 of the emulated app (`/webhooks/v3/{appId}/settings` and
//! `/webhooks/v3/{appId}/subscriptions[/{subscriptionId}]`): target URL, throttling and
//! subscriptions. Calls are counted and need a bearer token (static or OAuth) or a `hapikey`
//! equal to the app's client secret (standing in for the developer API key) or to a static
//! access token; they are neither rate limited nor failed by call faults.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, MatchedPath, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

use super::auth::{Auth, Family, authenticate};
use super::errors::{Outcome, error_response, parse_json, reply};
use super::webhooks::{EVENT_TYPES, Settings, Subscription};
use super::{Inner, oauth};
use crate::common::{ApiError, Gate, PathParams, Reads, iso, lock, not_supported, otherwise};

/// The webhooks API routes; other methods on them are `405`, after the gate and the app check.
pub(super) fn routes(inner: &Arc<Inner>) -> Router<Arc<Inner>> {
    let gate = Gate::new(Family::Webhooks, Reads::IfGet);
    Router::new()
        .route(
            "/webhooks/v3/{appId}/settings",
            gate.all(
                inner,
                otherwise(unlisted_method)
                    .get(get_settings)
                    .put(put_settings)
                    .delete(delete_settings),
            ),
        )
        .route(
            "/webhooks/v3/{appId}/subscriptions",
            gate.all(
                inner,
                otherwise(unlisted_method)
                    .get(list_subscriptions)
                    .post(create_subscription),
            ),
        )
        .route(
            "/webhooks/v3/{appId}/subscriptions/{subscriptionId}",
            gate.all(
                inner,
                otherwise(subscription_not_supported)
                    .get(get_subscription)
                    .patch(patch_subscription)
                    .delete(delete_subscription),
            ),
        )
}

/// `hapikey` (client secret or static token) or a bearer token.
pub(super) fn allowed(inner: &Inner, q: &[(String, String)], headers: &HeaderMap) -> bool {
    if let Some(key) = q.iter().find(|(k, _)| k == "hapikey").map(|(_, v)| v) {
        let secret_ok = inner
            .config
            .oauth
            .as_ref()
            .is_some_and(|a| oauth::secret_eq(key, &a.client_secret));
        return secret_ok || inner.config.access_tokens.iter().any(|t| t == key);
    }
    matches!(authenticate(inner, headers), Auth::Valid { .. })
}

/// The `{appId}` of the path is the configured app's; otherwise `404 App {appId} not found`.
struct KnownApp;

impl FromRequestParts<Arc<Inner>> for KnownApp {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, inner: &Arc<Inner>) -> Result<Self, Response> {
        let Ok(params) = PathParams::from_request_parts(parts, inner).await;
        let app = params.get("appId");
        let known = inner
            .config
            .oauth
            .as_ref()
            .is_some_and(|a| app.parse::<u64>().ok() == Some(a.app_id));
        if known {
            Ok(Self)
        } else {
            Err(error_response(&ApiError::NotFound(format!(
                "App {app} not found"
            ))))
        }
    }
}

/// The `{subscriptionId}` of the path, of an existing subscription (checked after the app);
/// otherwise `404 Subscription not found`.
struct SubscriptionId(u64);

impl FromRequestParts<Arc<Inner>> for SubscriptionId {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, inner: &Arc<Inner>) -> Result<Self, Response> {
        let Ok(params) = PathParams::from_request_parts(parts, inner).await;
        params
            .get("subscriptionId")
            .parse::<u64>()
            .ok()
            .filter(|id| lock(&inner.webhooks).subs.contains_key(id))
            .map(Self)
            .ok_or_else(not_found)
    }
}

fn not_found() -> Response {
    error_response(&ApiError::NotFound("Subscription not found".into()))
}

/// `{method} is not supported on {route}`.
fn method_not_allowed(method: &Method, route: &MatchedPath) -> Response {
    reply(Err(not_supported(method, route.as_str())))
}

async fn unlisted_method(_: KnownApp, method: Method, route: MatchedPath) -> Response {
    method_not_allowed(&method, &route)
}

async fn subscription_not_supported(
    _: KnownApp,
    _: SubscriptionId,
    method: Method,
    route: MatchedPath,
) -> Response {
    method_not_allowed(&method, &route)
}

/// `GET .../settings`.
async fn get_settings(_: KnownApp, State(inner): State<Arc<Inner>>) -> Response {
    reply(
        lock(&inner.webhooks)
            .settings
            .as_ref()
            .map(|s| (StatusCode::OK, Some(s.render())))
            .ok_or_else(|| ApiError::NotFound("No webhook settings for this app".into())),
    )
}

/// `PUT .../settings`.
async fn put_settings(_: KnownApp, State(inner): State<Arc<Inner>>, body: Bytes) -> Response {
    reply(parse_json(&body).and_then(|b| save_settings(&inner, &b)))
}

/// `DELETE .../settings`.
async fn delete_settings(_: KnownApp, State(inner): State<Arc<Inner>>) -> Response {
    lock(&inner.webhooks).settings = None;
    reply(Ok((StatusCode::NO_CONTENT, None)))
}

/// `GET .../subscriptions`.
async fn list_subscriptions(_: KnownApp, State(inner): State<Arc<Inner>>) -> Response {
    let hs = lock(&inner.webhooks);
    let results: Vec<Value> = hs.subs.values().map(Subscription::render).collect();
    reply(Ok((StatusCode::OK, Some(json!({ "results": results })))))
}

/// `POST .../subscriptions`.
async fn create_subscription(
    _: KnownApp,
    State(inner): State<Arc<Inner>>,
    body: Bytes,
) -> Response {
    reply(parse_json(&body).and_then(|b| subscribe(&inner, &b)))
}

/// `GET .../subscriptions/{subscriptionId}`.
async fn get_subscription(
    _: KnownApp,
    SubscriptionId(id): SubscriptionId,
    State(inner): State<Arc<Inner>>,
) -> Response {
    match lock(&inner.webhooks).subs.get(&id) {
        Some(sub) => reply(Ok((StatusCode::OK, Some(sub.render())))),
        None => not_found(),
    }
}

/// `DELETE .../subscriptions/{subscriptionId}`.
async fn delete_subscription(
    _: KnownApp,
    SubscriptionId(id): SubscriptionId,
    State(inner): State<Arc<Inner>>,
) -> Response {
    lock(&inner.webhooks).subs.remove(&id);
    reply(Ok((StatusCode::NO_CONTENT, None)))
}

/// `PATCH .../subscriptions/{subscriptionId}`: `{"active": bool}`.
async fn patch_subscription(
    _: KnownApp,
    SubscriptionId(id): SubscriptionId,
    State(inner): State<Arc<Inner>>,
    body: Bytes,
) -> Response {
    reply(parse_json(&body).and_then(|b| {
        let active = b.get("active").and_then(Value::as_bool).ok_or_else(|| {
            ApiError::BadRequest("Invalid input JSON: 'active' must be a boolean".into())
        })?;
        let mut hs = lock(&inner.webhooks);
        let sub = hs
            .subs
            .get_mut(&id)
            .ok_or_else(|| ApiError::NotFound("Subscription not found".into()))?;
        sub.active = active;
        sub.updated_at = iso(&Utc::now());
        Ok((StatusCode::OK, Some(sub.render())))
    }))
}

fn save_settings(inner: &Inner, body: &Value) -> Outcome {
    let target = body
        .get("targetUrl")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::BadRequest("Invalid input JSON: targetUrl is required".into()))?;
    match url::Url::parse(target) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => {
            return Err(ApiError::BadRequest(
                "targetUrl must be an absolute http(s) URL".into(),
            ));
        }
    }
    let max_concurrent = body
        .pointer("/throttling/maxConcurrentRequests")
        .and_then(Value::as_u64)
        .unwrap_or(10);
    let now = iso(&Utc::now());
    let mut hs = lock(&inner.webhooks);
    let created_at = hs
        .settings
        .as_ref()
        .map(|s| s.created_at.clone())
        .unwrap_or_else(|| now.clone());
    let s = Settings {
        target_url: target.to_string(),
        max_concurrent,
        created_at,
        updated_at: now,
    };
    let v = s.render();
    hs.settings = Some(s);
    Ok((StatusCode::OK, Some(v)))
}

fn subscribe(inner: &Inner, body: &Value) -> Outcome {
    let event_type = body
        .get("eventType")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::BadRequest("Invalid input JSON: eventType is required".into()))?;
    if !EVENT_TYPES.contains(&event_type) {
        return Err(ApiError::BadRequest(format!(
            "Unsupported eventType '{event_type}'; use one of {EVENT_TYPES:?}"
        )));
    }
    let property_name = body
        .get("propertyName")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let property_name = if event_type.ends_with(".propertyChange") {
        Some(property_name.ok_or_else(|| {
            ApiError::BadRequest(format!("propertyName is required for {event_type}"))
        })?)
    } else {
        // Creation and deletion subscriptions ignore propertyName.
        None
    };
    let active = body.get("active").and_then(Value::as_bool).unwrap_or(true);
    let mut hs = lock(&inner.webhooks);
    if hs
        .subs
        .values()
        .any(|s| s.event_type == event_type && s.property_name == property_name)
    {
        return Err(ApiError::Conflict(format!(
            "A subscription for {event_type}{} already exists",
            property_name
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        )));
    }
    hs.next_sub += 1;
    let id = 1000 + hs.next_sub;
    let now = iso(&Utc::now());
    let sub = Subscription {
        id,
        event_type: event_type.to_string(),
        property_name,
        active,
        created_at: now.clone(),
        updated_at: now,
    };
    let v = sub.render();
    hs.subs.insert(id, sub);
    Ok((StatusCode::CREATED, Some(v)))
}
