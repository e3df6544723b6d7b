//! Verifies and queues webhooks; answers at once (the work runs in the sync function).

use connector_service::ConnectorService;
use lambda_http::{Body, Error, Request, Response};
use lambda_wiring::{body_of, headers_of, not_found, path_and_query, to_response};

/// `POST /webhooks/connec/{tenant}` and `POST /webhooks/{provider}`.
pub async fn handle(service: &ConnectorService, request: Request) -> Result<Response<Body>, Error> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let signed_uri = service.signed_uri(&path_and_query(&request));
    let headers = headers_of(&request);
    let raw = webhooks::RawRequest {
        method: request.method().as_str(),
        uri: &signed_uri,
        headers: &headers,
        body: body_of(&request),
    };
    let reply = match (request.method().as_str(), segments.as_slice()) {
        ("POST", ["webhooks", "connec", tenant]) => service.connec_webhook(tenant, &raw).await,
        ("POST", ["webhooks", provider]) => service.app_webhook(provider, &raw).await,
        _ => return Ok(not_found(&path)),
    };
    Ok(to_response(reply))
}
