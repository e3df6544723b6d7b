//! The router with `tower::ServiceExt::oneshot` (axum's testing example): the webhook routes
//! and the router's own refusals, on the service over in-memory ports.

mod support;

use axum::http::{StatusCode, header};
use serde_json::json;
use support::*;
use webhooks::{basic_auth_header, body_hmac_signature};

// ---- Webhook routes -----------------------------------------------------------------------

#[tokio::test]
async fn a_connec_notification_is_answered_with_its_counts() {
    let world = linked_world().await;
    let router = http_api::webhook_routes(world.service.clone());
    let body = json!({ "people": [
        { "id": "p1", "group_id": "cld-1", "first_name": "A" },
        { "id": "p2", "group_id": "cld-unknown", "first_name": "B" }
    ]})
    .to_string();
    // `def%61ult` is the tenant `default` once decoded.
    let answer = send(
        &router,
        post("/webhooks/connec/def%61ult", &[basic()], body.clone()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        answer.json(),
        json!({ "accepted": 1, "duplicates": 0, "ignored": 1 })
    );
    assert_eq!(world.bus.items().len(), 1);
    let again = send(&router, post("/webhooks/connec/default", &[basic()], body)).await;
    assert_eq!(
        again.json(),
        json!({ "accepted": 0, "duplicates": 1, "ignored": 1 })
    );
}

#[tokio::test]
async fn connec_notifications_that_are_not_authentic_or_readable_get_json_errors_only() {
    let world = linked_world().await;
    let router = http_api::webhook_routes(world.service.clone());
    let body =
        json!({ "people": [{ "id": "p1", "group_id": "cld-1", "first_name": "Secretive" }] })
            .to_string();
    let wrong = (
        "authorization",
        basic_auth_header("demo-id", "wrong-key-789"),
    );
    let refused = send(
        &router,
        post("/webhooks/connec/default", &[wrong], body.clone()),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let error = refused.json()["error"].as_str().unwrap().to_owned();
    assert!(!error.is_empty());
    for secret in ["wrong-key-789", "demo-key", "Secretive"] {
        assert!(!refused.text().contains(secret), "{}", refused.text());
    }

    // An unknown tenant gets the answer of wrong credentials: tenants cannot be enumerated.
    let unknown = send(&router, post("/webhooks/connec/other", &[basic()], body)).await;
    assert_eq!(
        (unknown.status, unknown.json()),
        (refused.status, refused.json())
    );

    let broken = r#"{"people": [{"id": "p1", "first_name": "Secretive""#;
    let bad = send(
        &router,
        post("/webhooks/connec/default", &[basic()], broken),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    assert!(!bad.text().contains("Secretive"));

    let not_utf8 = send(
        &router,
        post(
            "/webhooks/connec/default",
            &[basic()],
            vec![0xff, 0xfe, b'{'],
        ),
    )
    .await;
    assert_eq!(not_utf8.status, StatusCode::BAD_REQUEST);
    assert!(not_utf8.json()["error"].is_string());
    assert!(world.bus.items().is_empty(), "nothing was queued");
}

#[tokio::test]
async fn app_webhooks_are_verified_on_the_signed_uri_path_and_query_as_sent() {
    let world = linked_world().await;
    let router = http_api::webhook_routes(world.service.clone());
    // The sender signs the URI as it sends it, still encoded, with its query.
    let uri = "/webhooks/hub%73pot?source=crm";
    let body = hubspot_event(1);
    let answer = send(
        &router,
        post(uri, &hubspot_headers(uri, &body), body.clone()),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(
        answer.json(),
        json!({ "accepted": 1, "duplicates": 0, "ignored": 0 })
    );
    assert_eq!(world.bus.items().len(), 1);

    // Signed for another URI (the query left out): refused, nothing queued.
    let body = hubspot_event(2);
    let forged = send(
        &router,
        post(
            "/webhooks/hubspot?source=crm",
            &hubspot_headers("/webhooks/hubspot", &body),
            body,
        ),
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert!(
        forged.json()["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    assert!(!forged.text().contains("ann@acme.example"));
    assert_eq!(world.bus.items().len(), 1);

    let none = send(&router, post("/webhooks/nope", &[], "[]")).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
    assert_eq!(
        none.json(),
        json!({ "error": "no webhooks configured for `nope`" })
    );
}

#[tokio::test]
async fn a_sender_that_requires_empty_bodies_gets_empty_200s_and_401s() {
    let world = linked_world().await;
    let router = http_api::webhook_routes(world.service.clone());
    let body = r#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"X"}"#;
    let good = (
        "x-xero-signature",
        body_hmac_signature(XERO_KEY, body.as_bytes()),
    );
    let accepted = send(&router, post("/webhooks/xero", &[good], body)).await;
    assert_eq!(accepted.status, StatusCode::OK);
    assert!(accepted.body.is_empty(), "{}", accepted.text());
    assert!(accepted.headers.get(header::CONTENT_TYPE).is_none());

    let bad = (
        "x-xero-signature",
        body_hmac_signature("other-key", body.as_bytes()),
    );
    let refused = send(&router, post("/webhooks/xero", &[bad], body)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.is_empty(), "{}", refused.text());
    assert!(refused.headers.get(header::CONTENT_TYPE).is_none());
}

#[tokio::test]
async fn webhook_work_that_cannot_be_queued_is_a_503_to_retry() {
    let world = linked_world().await;
    world
        .bus
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let router = http_api::webhook_routes(world.service.clone());
    let body = hubspot_event(3);
    let uri = "/webhooks/hubspot";
    let answer = send(&router, post(uri, &hubspot_headers(uri, &body), body)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        answer.json(),
        json!({ "error": "temporarily unable to accept webhooks; retry later" })
    );
    let body = json!({ "people": [{ "id": "p1", "group_id": "cld-1" }] }).to_string();
    let answer = send(&router, post("/webhooks/connec/default", &[basic()], body)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        answer.json(),
        json!({ "error": "temporarily unable to accept notifications; retry later" })
    );
}

// ---- The router's own answers -------------------------------------------------------------

#[tokio::test]
async fn unknown_routes_and_methods_get_our_own_small_answers() {
    let world = world("http://127.0.0.1:9");
    let router = http_api::router(world.service.clone());

    let answer = send(&router, get("/nope?token=secret-token-1")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json(), json!({ "error": "no such route" }));

    let answer = send(&router, get("/oauth/hubspot/elsewhere?code=secret-code-2")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let page = answer.page();
    assert!(page.contains("<h1>Not found</h1>"), "{page}");
    assert!(!page.contains("secret-code-2"));

    let answer = send(&router, get("/webhooks/hubspot")).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        answer.json(),
        json!({ "error": "this route does not take this method" })
    );
    assert_eq!(answer.headers[header::ALLOW], "POST");

    let answer = send(
        &router,
        post(
            "/oauth/hubspot/callback",
            &[("accept", "text/html".into())],
            "",
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(answer.page().contains("<h1>Method not allowed</h1>"));

    // Scripts get JSON everywhere (security review finding 10): unknown page routes, wrong
    // methods, and queries the router cannot read.
    for (request, status) in [
        (get_json("/oauth/hubspot/elsewhere"), StatusCode::NOT_FOUND),
        (
            post("/oauth/hubspot/callback", &[], ""),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            get_json("/oauth/hubspot/callback?state=a&state=b"),
            StatusCode::BAD_REQUEST,
        ),
        (get_json("/connector/nope"), StatusCode::NOT_FOUND),
    ] {
        let answer = send(&router, request).await;
        assert_eq!(answer.status, status);
        assert!(answer.json()["error"].is_string(), "{}", answer.text());
    }

    let health = send(&router, get("/health")).await;
    assert_eq!(
        (health.status, health.text().as_str()),
        (StatusCode::OK, "ok")
    );
}

#[tokio::test]
async fn each_lambda_serves_only_its_own_routes() {
    let world = world("http://127.0.0.1:9");
    let oauth = http_api::oauth_routes(world.service.clone());
    let webhooks = http_api::webhook_routes(world.service.clone());
    let answer = send(&oauth, post("/webhooks/connec/default", &[basic()], "{}")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.json(), json!({ "error": "no such route" }));
    let answer = send(&webhooks, get("/oauth/hubspot/start?group_id=cld-1")).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(answer.page().contains("<h1>Not found</h1>"));
    for router in [&oauth, &webhooks] {
        assert_eq!(
            send(router, get("/health")).await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_and_a_path_that_is_not_utf8_a_400() {
    let world = linked_world().await;
    let router = http_api::router(world.service.clone());
    let big = vec![b' '; http_api::BODY_LIMIT + 1];
    let answer = send(&router, post("/webhooks/connec/default", &[basic()], big)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        answer.json(),
        json!({ "error": "the body is too large (at most 6 MiB)" })
    );

    let answer = send(&router, post("/webhooks/%FF%FE", &[], "[]")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer.json(),
        json!({ "error": "the path cannot be read: a segment is not valid UTF-8" })
    );
    let answer = send(&router, get("/oauth/%FF/start?group_id=cld-1")).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.page().contains("<h1>Bad request</h1>"));
    assert!(world.bus.items().is_empty());
}
