//! The OAuth callback function: `GET /oauth/{provider}/start` and `GET /oauth/{provider}/callback`.
//! `main` wires the service once per execution environment; `handler` does the work.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime_aws::init_tracing();
    let service = runtime_aws::service_from_env().await?;
    run(service_fn(|request| {
        oauth_callback::handler::handle(&service, request)
    }))
    .await
}
