//! How an emulator's routes become the app it serves ([`app`]), and what that needs to know
//! about the emulator ([`Emulator`]).
//!
//! Around the routes, for every request (admin routes included):
//! 1. the path as sent is kept ([`RawPath`]) and the request is routed on its
//!    [`canonical_path`];
//! 2. the body is read whole (at most [`MAX_BODY`]); an unreadable one is refused with `400`
//!    in the vendor's envelope before any route runs;
//! 3. after the route answered, a [`FaultKind::AfterCommit`] rule matching the call (admin
//!    routes excluded) replaces the answer: the call was processed, its answer is lost.
//!
//! Requests no route takes get [`Emulator::unmatched`] (admin paths: `404 {"error": "unknown
//! admin route"}`). So do the methods a route does not list where the hand-written routing
//! took them for unknown paths (admin and OAuth routes, HubSpot's account info, Connec!'s
//! `/batch`).
//!
//! The checks of the counted API routes (credentials, rate limit, call faults, statistics)
//! are the gate of [`super::guard`].

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use serde_json::Value;

use super::faults::render;
use super::http::{empty_response, json_response};
use super::routing::{RawPath, canonical_path};
use super::{ApiError, FaultKind, Instruments, MAX_BODY, admin};

/// What the shared HTTP layer needs from an emulator (implemented by its shared state).
pub(crate) trait Emulator: Send + Sync + Sized + 'static {
    /// Content type of the API's JSON answers, injected faults included.
    const API_JSON: &'static str;
    /// Content type of the admin routes' answers.
    const ADMIN_JSON: &'static str;

    /// The fault registry, call statistics, rate limiter and change hooks.
    fn instruments(&self) -> &Instruments;

    /// `e` in the vendor's error envelope.
    fn error_response(e: &ApiError) -> Response;

    /// The answer to a request that no route takes; `path` as sent, not an admin path.
    /// By default the vendor's `404` "No route for {method} {path}".
    fn unmatched(&self, method: &Method, path: &str) -> Response {
        Self::error_response(&no_route(method, path))
    }

    /// Removes every fault rule (`DELETE /_emulator/faults`).
    fn clear_faults(&self) {
        self.instruments().faults.clear();
    }

    /// The whole state as JSON (`GET /_emulator/state`).
    fn dump(self: &Arc<Self>) -> Value;

    /// An injected call fault, in the vendor's envelope.
    fn fault_response(kind: FaultKind) -> impl Future<Output = Response> + Send {
        render(kind, Self::API_JSON, Self::error_response)
    }
}

/// The error of a request no route takes.
pub(crate) fn no_route(method: &Method, path: &str) -> ApiError {
    ApiError::NotFound(format!("No route for {method} {path}"))
}

/// The error of a method a route does not have (`on`: the path or route named).
pub(crate) fn not_supported(method: impl std::fmt::Display, on: &str) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not supported on {on}"))
}

/// The answer for a handler's outcome: the status and JSON body (an empty body for `None`),
/// or the error in the vendor's envelope.
pub(crate) fn reply<E: Emulator>(
    outcome: Result<(StatusCode, impl Into<Option<Value>>), ApiError>,
) -> Response {
    match outcome.map(|(status, body)| (status, body.into())) {
        Ok((status, Some(body))) => json_response(status, E::API_JSON, &body),
        Ok((status, None)) => empty_response(status),
        Err(e) => E::error_response(&e),
    }
}

/// The app serving `routes` (an emulator's API and admin routes) plus the shared admin routes,
/// with the fallback and the request handling described in the [module docs](self).
pub(crate) fn app<E: Emulator>(emulator: &Arc<E>, routes: Router<Arc<E>>) -> Router {
    let routed = routes
        .merge(admin::routes::<E>())
        .fallback(unmatched::<E>)
        .layer(from_fn_with_state(emulator.clone(), lost_answers::<E>))
        // The body is already read whole, within `MAX_BODY`.
        .layer(DefaultBodyLimit::disable())
        .with_state(emulator.clone());
    // Routing happens inside `routed`: the outer router only prepares every request for it.
    Router::new()
        .fallback_service(routed)
        .layer(from_fn_with_state(emulator.clone(), prepare::<E>))
}

/// Steps 1 and 2 of the [module docs](self): keeps the path as sent, routes on the canonical
/// one, reads the body.
async fn prepare<E: Emulator>(State(emu): State<Arc<E>>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let raw = RawPath(parts.uri.path().to_owned());
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let refused = E::error_response(&ApiError::BadRequest(format!("Unreadable body: {e}")));
            return lose_answer::<E>(&emu, &parts.method, &raw, refused).await;
        }
    };
    if let Some(path) = canonical_path(&raw.0) {
        parts.uri = with_path(&parts.uri, &path);
    }
    parts.extensions.insert(raw);
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// `uri` with its path replaced (the rest kept).
fn with_path(uri: &Uri, path: &str) -> Uri {
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// Step 3 of the [module docs](self), around every route and the fallback.
async fn lost_answers<E: Emulator>(
    State(emu): State<Arc<E>>,
    raw: RawPath,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let answer = next.run(request).await;
    lose_answer::<E>(&emu, &method, &raw, answer).await
}

/// `answer`, or the fault of the after-commit rule matching the call (never for admin routes).
async fn lose_answer<E: Emulator>(
    emu: &E,
    method: &Method,
    path: &RawPath,
    answer: Response,
) -> Response {
    if path.is_admin() {
        return answer;
    }
    match emu
        .instruments()
        .faults
        .take_after_commit(method.as_str(), &path.0)
    {
        Some(kind) => E::fault_response(kind).await,
        None => answer,
    }
}

/// The answer to a request no route (or no method of its route) takes.
pub(crate) async fn unmatched<E: Emulator>(
    State(emu): State<Arc<E>>,
    method: Method,
    path: RawPath,
) -> Response {
    if path.is_admin() {
        admin::unknown::<E>()
    } else {
        emu.unmatched(&method, &path.0)
    }
}
