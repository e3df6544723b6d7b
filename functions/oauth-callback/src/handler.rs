//! Routes an API Gateway request to the linking use cases.

use lambda_http::{Body, Error, Request, Response};
use runtime_aws::{not_found, query_param, to_response};
use service::ConnectorService;

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
        ("GET", ["oauth", provider, "callback"]) => {
            service
                .link_callback(
                    provider,
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

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_aws::testing::{PUBLIC_URL, fixture, in_memory, settings};

    fn apps() -> connector_sdk::Registry {
        connectors::fixture_registry("http://127.0.0.1:9", PUBLIC_URL)
    }

    fn request(name: &str) -> Request {
        lambda_http::request::from_str(&fixture(name).to_string()).expect("an API Gateway v2 event")
    }

    fn text(response: &Response<Body>) -> String {
        String::from_utf8_lossy(response.body().as_ref()).into_owned()
    }

    #[tokio::test]
    async fn start_redirects_to_the_consent_page_with_state_and_pkce() {
        let (service, _) = in_memory(settings("http://127.0.0.1:9"), apps());
        let response = handle(&service, request("oauth-start.json")).await.unwrap();
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().unwrap();
        assert!(
            location.starts_with("http://127.0.0.1:9/oauth/authorize?"),
            "{location}"
        );
        for part in [
            "client_id=demo-client-id",
            "state=",
            "code_challenge=",
            "code_challenge_method=S256",
        ] {
            assert!(location.contains(part), "{part} missing in {location}");
        }
    }

    #[tokio::test]
    async fn a_callback_with_a_state_we_never_issued_is_refused_with_a_page_saying_what_to_do() {
        let (service, bus) = in_memory(settings("http://127.0.0.1:9"), apps());
        let response = handle(&service, request("oauth-callback.json"))
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert!(
            text(&response).contains("start linking again"),
            "{}",
            text(&response)
        );
        let denied = handle(&service, request("oauth-callback-denied.json"))
            .await
            .unwrap();
        assert_eq!(denied.status(), 400);
        assert!(bus.items().is_empty(), "nothing was queued");
    }
}
