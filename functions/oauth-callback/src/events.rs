//! The `events/` samples of the OAuth routes through `http_api::oauth_routes`, as
//! `lambda_http::run` hands them over.

use std::sync::Arc;

use runtime_aws::testing::{PUBLIC_URL, fixture, in_memory, invoke, settings};
use service::ConnectorService;
use sync_core::ports::{Clock, SystemClock};

fn service() -> (
    Arc<ConnectorService>,
    Arc<runtime_aws::testing::RecordingBus>,
) {
    let apps = connectors::fixture_registry("http://127.0.0.1:9", PUBLIC_URL);
    let (service, bus) = in_memory(settings("http://127.0.0.1:9"), apps);
    (Arc::new(service), bus)
}

fn state_of(location: &str) -> String {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("state="))
        .expect("a state")
        .to_owned()
}

#[tokio::test]
async fn start_redirects_to_the_consent_page_with_state_and_pkce() {
    let (service, _) = service();
    let routes = http_api::oauth_routes(service);
    let answer = invoke(&routes, &fixture("oauth-start.json")).await;
    assert_eq!(answer.status, 303, "{}", answer.text());
    let location = answer.header("location").unwrap();
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
async fn a_percent_encoded_path_and_query_reach_the_service_decoded() {
    let (service, _) = service();
    let routes = http_api::oauth_routes(service.clone());
    // API Gateway HTTP APIs deliver `rawQueryString` as the browser sent it, percent-encoded
    // (and `rawPath` already decoded, while other sources leave it encoded, as here): either
    // way the service gets each value decoded once.
    let mut event = fixture("oauth-start.json");
    event["rawPath"] = "/oauth/hub%73pot/start".into();
    event["rawQueryString"] = "group_id=cld%2D1".into();
    event["queryStringParameters"] = serde_json::json!({ "group_id": "cld-1" });
    let answer = invoke(&routes, &event).await;
    assert_eq!(answer.status, 303, "{}", answer.text());
    let state = state_of(answer.header("location").unwrap());
    let pending = service
        .ports()
        .states
        .take(&state, SystemClock.now())
        .await
        .unwrap()
        .expect("the state was stored");
    assert_eq!(pending.provider.as_str(), "hubspot");
    assert_eq!(pending.group_id.as_str(), "cld-1");
}

#[tokio::test]
async fn a_callback_with_a_state_we_never_issued_is_refused_with_a_page_saying_what_to_do() {
    let (service, bus) = service();
    let routes = http_api::oauth_routes(service);
    let answer = invoke(&routes, &fixture("oauth-callback.json")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(
        answer.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(
        answer.text().contains("start linking again"),
        "{}",
        answer.text()
    );
    let denied = invoke(&routes, &fixture("oauth-callback-denied.json")).await;
    assert_eq!(denied.status, 400);
    assert!(bus.items().is_empty(), "nothing was queued");
}

#[tokio::test]
async fn the_function_serves_no_webhook_route() {
    let (service, _) = service();
    let routes = http_api::oauth_routes(service);
    let answer = invoke(&routes, &fixture("webhook-connec.json")).await;
    assert_eq!(answer.status, 404);
    assert_eq!(
        answer.json(),
        serde_json::json!({ "error": "no such route" })
    );
}
