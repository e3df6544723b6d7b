//! The webhook function: `POST /webhooks/connec/{tenant}` and `POST /webhooks/{provider}`.
//! `main` wires the service once per execution environment; `handler` does the work.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime_aws::init_tracing();
    let service = runtime_aws::service_from_env().await?;
    run(service_fn(|request| {
        webhook::handler::handle(&service, request)
    }))
    .await
}
