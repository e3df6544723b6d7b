//! The webhook function: `POST /webhooks/connec/{tenant}` and `POST /webhooks/{provider}`, the
//! webhook routes of the one HTTP router (`http_api::webhook_routes`) served on API Gateway HTTP
//! API events by `lambda_http::run`. Webhooks are verified and queued on EventBridge, and
//! answered at once (the work runs in the sync function). `main` wires the service once per
//! execution environment.

use std::sync::Arc;

use lambda_http::{Error, run};

// The allocator: mimalloc (thread-local free lists for the runtime's small allocations). It adds
// about 45 KB to the zip; the cold start measured the same within noise (bench-lambda.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime_aws::init_tracing();
    let function = runtime_aws::Function::Webhook;
    let service = Arc::new(runtime_aws::service_from_env(function).await?);
    let routes = http_api::webhook_routes(service);
    runtime_aws::log_ready(function);
    run(routes).await
}
