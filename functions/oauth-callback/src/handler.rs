//! Routes an API Gateway request to the linking use cases.

use connector_service::ConnectorService;
use lambda_http::{Body, Error, Request, Response};
use lambda_wiring::{not_found, query_param, to_response};

/// `GET /oauth/{provider}/start?group_id=` and `GET /oauth/{provider}/callback?code&state`.
pub async fn handle(service: &ConnectorService, request: Request) -> Result<Response<Body>, Error> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let reply = match (request.method().as_str(), segments.as_slice()) {
        ("GET", ["oauth", provider, "start"]) => {
            service
                .link_start(provider, query_param(&request, "group_id").as_deref())
                .await
        }
        ("GET", ["oauth", _provider, "callback"]) => {
            service
                .link_callback(
                    query_param(&request, "code").as_deref(),
                    query_param(&request, "state").as_deref(),
                    query_param(&request, "error").as_deref(),
                )
                .await
        }
        _ => return Ok(not_found(&path)),
    };
    Ok(to_response(reply))
}
