//! The `events/` samples of the OAuth routes through `http_api::oauth_routes`, as
//! `lambda_http::run` hands them over.

use std::sync::Arc;

use runtime_aws::testing::{PUBLIC_URL, fixture, in_memory, invoke, settings};
use service::ConnectorService;

fn service() -> (
    Arc<ConnectorService>,
    Arc<runtime_aws::testing::RecordingBus>,
) {
    let apps = connectors::fixture_registry("http://127.0.0.1:9", PUBLIC_URL);
    let (service, bus) = in_memory(settings("http://127.0.0.1:9"), apps);
    (Arc::new(service), bus)
}

#[tokio::test]
async fn the_start_sample_without_a_session_is_refused_with_401_and_stores_nothing() {
    let (service, bus) = service();
    let routes = http_api::oauth_routes(service);
    let answer = invoke(&routes, &fixture("oauth-start.json")).await;
    assert_eq!(answer.status, 401, "{}", answer.text());
    // curl accepts anything but HTML: the refusal is JSON, saying how to get a launch link.
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("admin-url")
    );
    assert!(bus.items().is_empty());
}

#[tokio::test]
async fn a_launch_sets_the_session_cookie_and_a_percent_encoded_start_path_reaches_the_app() {
    let (service, _) = service();
    let routes = http_api::oauth_routes(service.clone());
    let url = service
        .launch_url(
            &sync_core::domain::GroupId::new("cld-1"),
            "usr-ada",
            std::time::Duration::from_secs(300),
        )
        .unwrap();
    let token = url.split_once("token=").unwrap().1.to_owned();
    let mut launch = fixture("connector-launch.json");
    launch["rawQueryString"] = format!("token={token}").into();
    launch["queryStringParameters"] = serde_json::json!({ "token": token });
    let answer = invoke(&routes, &launch).await;
    assert_eq!(answer.status, 303, "{}", answer.text());
    let cookie = answer.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Secure"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();

    // API Gateway HTTP APIs deliver `rawPath` decoded, other sources leave it encoded, as here:
    // either way the confirmation names the app.
    let mut start = fixture("oauth-start.json");
    start["rawPath"] = "/oauth/hub%73pot/start".into();
    start["rawQueryString"] = "".into();
    start["headers"]["accept"] = "text/html".into();
    start["cookies"] = serde_json::json!([session]);
    let answer = invoke(&routes, &start).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(
        answer.text().contains("Continue to HubSpot"),
        "{}",
        answer.text()
    );
}

#[tokio::test]
async fn a_callback_with_a_state_we_never_issued_is_refused_with_a_page_saying_what_to_do() {
    let (service, bus) = service();
    let routes = http_api::oauth_routes(service);
    let answer = invoke(&routes, &fixture("oauth-callback.json")).await;
    assert_eq!(answer.status, 400);
    assert!(
        answer.text().to_lowercase().contains("start linking again"),
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
