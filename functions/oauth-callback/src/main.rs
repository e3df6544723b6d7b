//! The OAuth callback function: the connector's page (`/connector/...`), its JSON API
//! (`/api/v1/...`) and linking (`/oauth/{provider}/start` and `/callback`), the routes of the
//! one HTTP router's `http_api::oauth_routes`, served on API Gateway HTTP API events by
//! `lambda_http::run`.
//! `main` wires the service once per execution environment.

use std::sync::Arc;

use lambda_http::{Error, run};

// The allocator: mimalloc (thread-local free lists for the runtime's small allocations). It adds
// about 45 KB to the zip; the cold start measured the same within noise (bench-lambda.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime_aws::init_tracing();
    let function = runtime_aws::Function::OAuthCallback;
    let service = Arc::new(runtime_aws::service_from_env(function).await?);
    let routes = http_api::oauth_routes(service);
    runtime_aws::log_ready(function);
    run(routes).await
}
