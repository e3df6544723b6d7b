//! The product's one HTTP router, the same locally and on AWS Lambda.
//!
//! | route | use case | answers |
//! |---|---|---|
//! | `GET /oauth/{provider}/start?group_id=` | [`ConnectorService::link_start`] | `303` to the app's consent page; an HTML page on error |
//! | `GET /oauth/{provider}/callback?code=&state=` (or `?error=`) | [`ConnectorService::link_callback`] | an HTML page: `200` linked, or what to do |
//! | `POST /webhooks/connec/{tenant}` | [`ConnectorService::connec_webhook`] | `200` JSON counts; a JSON error |
//! | `POST /webhooks/{provider}` | [`ConnectorService::app_webhook`] | `200` JSON counts (or the empty body the sender's scheme requires); a JSON error |
//! | `GET /health` ([`router`] only) | - | `200 ok` |
//!
//! `connector serve` runs [`router`] with `axum::serve`; the two HTTP Lambda functions run
//! [`oauth_routes`] and [`webhook_routes`] with `lambda_http::run` (API Gateway HTTP API
//! events), so that each function keeps its own routes and IAM permissions.
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
use axum::routing::{get, post};
use service::ConnectorService;

mod extract;
mod respond;
mod routes;

pub use extract::RawRequest;
pub use respond::{Acknowledged, JsonError, LinkedPage, PageError, RequestError};

/// The largest request body accepted (6 MiB, AWS Lambda's limit for a synchronous invocation's
/// payload, so the limit is the same locally and on Lambda); larger bodies get a `413`.
pub const BODY_LIMIT: usize = 6 * 1024 * 1024;

/// Every route: OAuth linking, both kinds of webhooks and `GET /health` (`connector serve`).
pub fn router(service: Arc<ConnectorService>) -> Router {
    let routes = Router::new().route("/health", get(|| async { "ok" }));
    finish(webhooks(oauth(routes)), service)
}

/// `GET /oauth/{provider}/start` and `GET /oauth/{provider}/callback` (the `oauth-callback`
/// Lambda function).
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
    routes
        .route("/oauth/{provider}/start", get(routes::link_start))
        .route("/oauth/{provider}/callback", get(routes::link_callback))
}

fn webhooks(routes: Routes) -> Routes {
    routes
        .route("/webhooks/connec/{tenant}", post(routes::connec_webhook))
        .route("/webhooks/{provider}", post(routes::app_webhook))
}

/// Our own answers for unknown routes and methods, the body limit, and the service.
fn finish(routes: Routes, service: Arc<ConnectorService>) -> Router {
    routes
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(service)
}
