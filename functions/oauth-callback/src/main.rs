//! The OAuth callback function: `GET /oauth/{provider}/start` and `GET /oauth/{provider}/callback`.
//! `main` wires the service once per execution environment; `handler` does the work.

use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_wiring::init_tracing();
    let service = lambda_wiring::service_from_env().await?;
    run(service_fn(|request| {
        oauth_callback_fn::handler::handle(&service, request)
    }))
    .await
}
