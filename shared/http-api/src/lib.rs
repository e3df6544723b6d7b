//! The product's one HTTP router, the same locally and on AWS Lambda.
//!
//! | route | use case | answers |
//! |---|---|---|
//! | `GET /connector/launch?token=` | [`ConnectorService::launch`] | `303` to `/connector` with the session cookie; `401` page |
//! | `GET /connector` and the screens under `/connector/apps/{app}/` | `console` use cases | HTML pages; forms post back with the session's CSRF token |
//! | `/api/v1/groups/{group}/...` | the same use cases | JSON, under a session or the tenant's API credentials (see `api`) |
//! | `GET /oauth/{provider}/start` | - | a confirmation page (session needed; `401` otherwise) |
//! | `POST /oauth/{provider}/start` | [`ConnectorService::link_start`] | `303` to the app's consent page, with the browser-binding cookie |
//! | `GET /oauth/{provider}/callback?code=&state=` (or `?error=`) | [`ConnectorService::link_callback`] | an HTML page: `200` linked, or what to do |
//! | `POST /webhooks/connec/{tenant}` | [`ConnectorService::connec_webhook`] | `200` JSON counts; a JSON error |
//! | `POST /webhooks/{provider}` | [`ConnectorService::app_webhook`] | `200` JSON counts (or the empty body the sender's scheme requires); a JSON error |
//! | `GET /health` ([`router`] only) | - | `200 ok` |
//!
//! `connector serve` runs [`router`] with `axum::serve`; the two HTTP Lambda functions run
//! [`oauth_routes`] (linking and the connector's page) and [`webhook_routes`] with
//! `lambda_http::run` (API Gateway HTTP API events), so that each function keeps its own routes
//! and IAM permissions. Every answer carries the security headers of [`headers`] (no caching,
//! no framing, no referrer, a strict content security policy).
//!
//! The service returns typed outcomes; this crate alone decides statuses and bodies
//! (`respond`), in the manner of axum's error-handling example: every answer, including
//! unknown routes (`404`), wrong methods (`405`), bodies over [`BODY_LIMIT`] (`413`) and path
//! segments that are not UTF-8 (`400`), is a small JSON document (`{"error": "..."}`) on the
//! webhook routes and an HTML page on the OAuth routes. None of them echoes a secret, a token,
//! a code, a state or a value from the request body. Webhooks are verified on the raw request
//! ([`RawRequest`]): the URI the sender signed (rebuilt from the service's public URL), the raw
//! headers and the raw body bytes.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use service::ConnectorService;

mod api;
pub mod auth;
mod console;
mod extract;
pub mod headers;
mod respond;
mod routes;

pub use extract::RawRequest;
pub use respond::{Acknowledged, ApiError, JsonError, LinkedPage, PageError, RequestError};

/// The largest request body accepted (6 MiB, AWS Lambda's limit for a synchronous invocation's
/// payload, so the limit is the same locally and on Lambda); larger bodies get a `413`.
pub const BODY_LIMIT: usize = 6 * 1024 * 1024;

/// Every route: the connector's page and its API, OAuth linking, both kinds of webhooks and
/// `GET /health` (`connector serve`).
pub fn router(service: Arc<ConnectorService>) -> Router {
    let routes = Router::new().route("/health", get(|| async { "ok" }));
    finish(webhooks(oauth(routes)), service)
}

/// The connector's page, its JSON API and OAuth linking (the `oauth-callback` Lambda function).
pub fn oauth_routes(service: Arc<ConnectorService>) -> Router {
    finish(oauth(Router::new()), service)
}

/// `POST /webhooks/connec/{tenant}` and `POST /webhooks/{provider}` (the `webhook` Lambda
/// function).
pub fn webhook_routes(service: Arc<ConnectorService>) -> Router {
    finish(webhooks(Router::new()), service)
}

type Routes = Router<Arc<ConnectorService>>;

fn oauth(routes: Routes) -> Routes {
    const APP: &str = "/connector/apps/{app}";
    const API: &str = "/api/v1/groups/{group}";
    routes
        .route(
            "/oauth/{provider}/start",
            get(routes::link_confirm).post(routes::link_start),
        )
        .route("/oauth/{provider}/callback", get(routes::link_callback))
        .route("/connector/launch", get(console::launch))
        .route("/connector", get(console::home))
        .route("/connector/assets/app.css", get(console::css))
        .route("/connector/assets/app.js", get(console::js))
        .route(
            &format!("{APP}/entities/{{entity}}"),
            post(console::set_directions),
        )
        .route(&format!("{APP}/historical"), post(console::set_historical))
        .route(&format!("{APP}/sync"), post(console::sync_now))
        .route(&format!("{APP}/runs"), get(console::runs))
        .route(&format!("{APP}/failures"), get(console::failures))
        .route(&format!("{APP}/retry"), post(console::retry))
        .route(&format!("{APP}/search"), get(console::search))
        .route(
            &format!("{APP}/unlink"),
            get(console::unlink_confirm).post(console::unlink),
        )
        .route(API, get(api::group))
        .route(
            &format!("{API}/apps/{{app}}/entities/{{entity}}"),
            put(api::set_directions),
        )
        .route(
            &format!("{API}/apps/{{app}}/historical-data"),
            put(api::set_historical),
        )
        .route(&format!("{API}/apps/{{app}}/sync"), post(api::sync_now))
        .route(&format!("{API}/apps/{{app}}/runs"), get(api::runs))
        .route(&format!("{API}/apps/{{app}}/failures"), get(api::failures))
        .route(&format!("{API}/apps/{{app}}/retry"), post(api::retry))
        .route(&format!("{API}/apps/{{app}}/idmaps"), get(api::idmaps))
        .route(&format!("{API}/apps/{{app}}/unlink"), post(api::unlink))
}

fn webhooks(routes: Routes) -> Routes {
    routes
        .route("/webhooks/connec/{tenant}", post(routes::connec_webhook))
        .route("/webhooks/{provider}", post(routes::app_webhook))
}

/// Our own answers for unknown routes and methods, the body limit, the security headers, and
/// the service.
fn finish(routes: Routes, service: Arc<ConnectorService>) -> Router {
    routes
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn(headers::secure))
        .with_state(service)
}
