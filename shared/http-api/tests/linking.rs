//! Linking through the router: only a session for the group may start it (security review
//! finding 1), after a confirmation naming the group and the app; the OAuth `state` comes back
//! to the browser that started the flow only; refusals name no other group or account (11).

mod support;

use axum::Router;
use axum::http::{StatusCode, header};
use serde_json::json;
use support::*;
use sync_core::domain::OrgId;
use sync_core::ports::WorkItem;

/// A session on `group` starts linking HubSpot: the consent page's redirect back to us, as the
/// path and query of the callback.
async fn consent(router: &Router, agent: &mut Agent, group: &str) -> String {
    let csrf = agent.launch(router, group).await;
    let start = agent
        .form(router, "/oauth/hubspot/start", &[("csrf", &csrf)])
        .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.text());
    let authorize = start.headers[header::LOCATION].to_str().unwrap().to_owned();
    let consent = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&authorize)
        .send()
        .await
        .unwrap();
    let callback = url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        format!("{}://{}", callback.scheme(), callback.authority()),
        PUBLIC_URL
    );
    format!("{}?{}", callback.path(), callback.query().unwrap())
}

async fn emulated_hubspot() -> (emulators::HubSpotEmulator, emulators::RunningServer) {
    let hubspot = emulators::HubSpotEmulator::new(emulators::HubSpotConfig {
        oauth: Some(emulators::OAuthApp::default()),
        ..emulators::HubSpotConfig::default()
    });
    hubspot.pause_webhooks(true);
    let server = hubspot.start().await.unwrap();
    (hubspot, server)
}

#[tokio::test]
async fn the_curl_only_link_of_finding_1_is_refused_with_401_and_how_to_get_in() {
    let world = world("http://127.0.0.1:9");
    let router = http_api::router(world.service.clone());
    for request in [
        get("/oauth/hubspot/start?group_id=cld-victim"),
        get("/oauth/hubspot/start"),
        post(
            "/oauth/hubspot/start",
            &[
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("accept", "text/html".into()),
            ],
            "csrf=x",
        ),
        get("/connector"),
    ] {
        let answer = send(&router, request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text());
        let page = answer.page();
        assert!(page.contains("open the connector from Connec!"), "{page}");
        assert!(page.contains("connector admin-url"), "{page}");
        assert!(!page.contains("cld-victim"), "{page}");
    }
    // A script (no HTML) gets the same refusal as JSON.
    let answer = send(
        &router,
        get_json("/oauth/hubspot/start?group_id=cld-victim"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer.json()["error"]
            .as_str()
            .unwrap()
            .contains("admin-url")
    );
    assert!(world.bus.items().is_empty());
}

#[tokio::test]
async fn a_launch_opens_a_short_lived_http_only_session_and_bad_tokens_get_401() {
    let world = world("http://127.0.0.1:9");
    let router = http_api::router(world.service.clone());
    let mut agent = Agent::default();
    let answer = agent
        .send(
            &router,
            get(&format!(
                "/connector/launch?token={}",
                launch_token("cld-1", 0, 300)
            )),
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.headers[header::LOCATION], "/connector");
    let cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    for part in [
        "connector_session=",
        "Path=/",
        "HttpOnly",
        "SameSite=Lax",
        "Secure",
        "Max-Age=1800",
    ] {
        assert!(cookie.contains(part), "{part} missing in {cookie}");
    }
    let home = agent.send(&router, get("/connector")).await;
    let page = home.page();
    assert!(page.contains("cld-1") && page.contains("HubSpot"), "{page}");

    let forged = {
        let token = launch_token("cld-1", 0, 300);
        let (rest, _) = token.rsplit_once('.').unwrap();
        format!("{rest}.AAAA")
    };
    let other_key = {
        let secret = service::LaunchSecret::new(&"k".repeat(40)).unwrap();
        let now = chrono::Utc::now().timestamp();
        access::LaunchToken::mint(
            &secret,
            &access::LaunchClaims {
                tenant: "default".into(),
                group_id: "cld-1".into(),
                sub: "mallory".into(),
                name: None,
                iat: now,
                exp: now + 60,
            },
        )
    };
    for (name, token) in [
        ("forged", forged),
        ("expired", launch_token("cld-1", 900, 300)),
        ("too long-lived", launch_token("cld-1", 0, 3600)),
        ("another key", other_key),
        ("a path as group", launch_token("x/../cld-1", 0, 300)),
        ("empty", String::new()),
    ] {
        let mut agent = Agent::default();
        let answer = agent
            .send(&router, get(&format!("/connector/launch?token={token}")))
            .await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert!(agent.cookies.is_empty(), "{name}: no session");
        assert!(
            !answer.page().contains(&token[..token.len().min(30)]) || token.is_empty(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_session_starts_linking_after_a_confirmation_and_needs_its_csrf_token() {
    let world = world("http://127.0.0.1:9");
    let router = http_api::router(world.service.clone());
    let mut agent = Agent::default();
    let csrf = agent.launch(&router, "cld-1").await;

    let confirm = agent.send(&router, get("/oauth/hubspot/start")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    let page = confirm.page();
    assert!(
        page.contains("Connec! group <strong>cld-1</strong>"),
        "{page}"
    );
    assert!(page.contains("Continue to HubSpot"), "{page}");

    let no_token = agent.form(&router, "/oauth/hubspot/start", &[]).await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    let wrong = agent
        .form(&router, "/oauth/hubspot/start", &[("csrf", "guess")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    let start = agent
        .form(&router, "/oauth/hubspot/start", &[("csrf", &csrf)])
        .await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.text());
    let location = start.headers[header::LOCATION].to_str().unwrap();
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
    let binding = start.headers[header::SET_COOKIE].to_str().unwrap();
    for part in [
        "connector_oauth_hubspot=",
        "Path=/oauth/hubspot/callback",
        "HttpOnly",
        "SameSite=Lax",
        "Max-Age=600",
    ] {
        assert!(binding.contains(part), "{part} missing in {binding}");
    }
    let unknown = agent.send(&router, get("/oauth/nope/start")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_callback_in_another_browser_is_refused_before_its_state_is_used() {
    let (hubspot, server) = emulated_hubspot().await;
    let world = world(&server.base_url);
    let router = http_api::router(world.service.clone());
    let mut victim = Agent::default();
    let callback = consent(&router, &mut victim, "cld-1").await;

    // The link lands in another browser (sent to someone, or forged): refused, nothing linked.
    let mut other = Agent::default();
    let refused = other.send(&router, get(&callback)).await;
    assert_eq!(
        refused.status,
        StatusCode::BAD_REQUEST,
        "{}",
        refused.text()
    );
    assert!(refused.page().contains("another browser"));
    assert!(
        world
            .service
            .ports()
            .store
            .list_organizations()
            .await
            .unwrap()
            .is_empty()
    );

    // The browser that started it still completes it: the state was not consumed.
    let linked = victim.send(&router, get(&callback)).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
    let page = linked.page();
    let portal = hubspot.config().portal_id;
    assert!(
        page.contains(&format!(
            "Connec! group cld-1 is now linked to HubSpot account {portal}."
        )),
        "{page}"
    );
    assert_eq!(
        world.bus.items(),
        vec![WorkItem::Sync {
            org: OrgId::new("cld-1")
        }]
    );
    let replay = victim.send(&router, get(&callback)).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.page().contains("already used"));
}

#[tokio::test]
async fn a_second_group_for_the_same_account_is_refused_naming_neither() {
    let (hubspot, server) = emulated_hubspot().await;
    let world = world(&server.base_url);
    let router = http_api::router(world.service.clone());
    let mut first = Agent::default();
    let callback = consent(&router, &mut first, "cld-1").await;
    assert_eq!(
        first.send(&router, get(&callback)).await.status,
        StatusCode::OK
    );

    let mut second = Agent::default();
    let callback = consent(&router, &mut second, "cld-2").await;
    let refused = second.send(&router, get(&callback)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    let page = refused.page();
    assert!(page.contains("<h1>Linking refused</h1>"), "{page}");
    assert!(
        page.contains("already be linked to another Connec! group"),
        "{page}"
    );
    let portal = hubspot.config().portal_id.to_string();
    assert!(!page.contains("cld-1") && !page.contains(&portal), "{page}");
    assert_eq!(world.bus.items().len(), 1, "no second first sync");
}

#[tokio::test]
async fn made_up_and_denied_callbacks_are_refused_without_echoing_them() {
    let world = world("http://127.0.0.1:9");
    let router = http_api::oauth_routes(world.service.clone());
    let forged = send(
        &router,
        get("/oauth/hubspot/callback?code=secret-code-123&state=made-up-state-456"),
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    let page = forged.page();
    assert!(page.contains("<h1>Linking failed</h1>"), "{page}");
    for secret in ["secret-code-123", "made-up-state-456"] {
        assert!(!page.contains(secret), "{page}");
    }
    // Denied at the consent page, in the browser that started: the state is consumed.
    let mut agent = Agent::default();
    let csrf = agent.launch(&router, "cld-1").await;
    let start = agent
        .form(&router, "/oauth/hubspot/start", &[("csrf", &csrf)])
        .await;
    let state = state_of(&start);
    let denied = agent
        .send(
            &router,
            get(&format!(
                "/oauth/hubspot/callback?error=access_denied&state={state}"
            )),
        )
        .await;
    assert_eq!(denied.status, StatusCode::BAD_REQUEST);
    assert!(denied.page().contains("start linking again"));
    let unknown = send(&router, get("/oauth/nope/callback?code=x&state=y")).await;
    assert_ne!(unknown.status, StatusCode::OK);
    assert!(world.bus.items().is_empty(), "nothing was queued");
}

fn state_of(start: &Answer) -> String {
    let authorize = url::Url::parse(start.headers[header::LOCATION].to_str().unwrap()).unwrap();
    authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// An app whose token endpoint grants any code, and whose account lookup fails.
async fn app_without_account_lookup() -> String {
    use axum::routing::{get, post};
    let app = Router::new()
        .route(
            "/oauth/v1/token",
            post(|| async {
                axum::Json(json!({
                    "access_token": "granted-access-token",
                    "refresh_token": "granted-refresh-token",
                    "expires_in": 1800,
                    "token_type": "bearer",
                }))
            }),
        )
        .route(
            "/oauth/v1/access-tokens/{token}",
            get(|| async { StatusCode::NOT_FOUND }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn a_callback_whose_account_the_app_does_not_tell_is_a_502_page() {
    let world = world(&app_without_account_lookup().await);
    let router = http_api::oauth_routes(world.service.clone());
    let mut agent = Agent::default();
    let csrf = agent.launch(&router, "cld-1").await;
    let start = agent
        .form(&router, "/oauth/hubspot/start", &[("csrf", &csrf)])
        .await;
    let state = state_of(&start);
    let callback = format!("/oauth/hubspot/callback?code=any-code&state={state}");
    let answer = agent.send(&router, get(&callback)).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.text());
    let page = answer.page();
    assert!(page.contains("<h1>Linking failed</h1>"), "{page}");
    assert!(
        page.contains("HubSpot did not say which account this is"),
        "{page}"
    );
    for secret in [
        "granted-access-token",
        "granted-refresh-token",
        state.as_str(),
    ] {
        assert!(!page.contains(secret), "{page}");
    }
    assert!(world.bus.items().is_empty());
}
