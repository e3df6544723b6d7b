//! The connector's page and its JSON API through the router: what a session sees and changes
//! (its own group only), CSRF on every change, the tenant's API credentials, security headers.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use support::*;
use sync_core::domain::{EntityName, OrgId};
use sync_core::ports::WorkItem;

fn api(method: &str, uri: &str, headers: &[(&str, String)], body: Option<Value>) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => request.body(Body::empty()).unwrap(),
    }
}

async fn org(world: &World) -> sync_core::domain::Organization {
    world
        .service
        .ports()
        .store
        .get_organization(&OrgId::new("cld-1"))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn the_page_shows_the_groups_apps_with_their_link_state_and_switches() {
    let world = linked_world().await;
    let router = http_api::router(world.service.clone());
    let mut agent = Agent::default();
    agent.launch(&router, "cld-1").await;
    let page = agent.send(&router, get("/connector")).await;
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        assert_eq!(page.headers[&name], value, "{name}");
    }
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let html = page.page();
    // HubSpot is linked; Xero is not.
    assert!(
        html.contains("Linked to account <strong>62515</strong>"),
        "{html}"
    );
    assert!(html.contains("Not linked yet."), "{html}");
    assert!(html.contains("Sync now"), "{html}");
    // Historical data is on in this world: the page offers to turn it off.
    assert!(html.contains("Turn historical data off"), "{html}");
    assert!(
        html.contains(r#"action="/connector/apps/hubspot/entities/people""#),
        "{html}"
    );
}

#[tokio::test]
async fn forms_change_directions_historical_data_and_queue_syncs_with_the_csrf_token_only() {
    let world = linked_world().await;
    let router = http_api::router(world.service.clone());
    let mut agent = Agent::default();
    let csrf = agent.launch(&router, "cld-1").await;
    let people = EntityName::new("people");

    // Without (or with a wrong) token nothing changes.
    for token in ["", "wrong"] {
        let answer = agent
            .form(
                &router,
                "/connector/apps/hubspot/entities/people",
                &[("csrf", token), ("to_hub", "on")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{token:?}");
    }
    assert!(org(&world).await.flags(&people).to_app, "unchanged");

    let saved = agent
        .form(
            &router,
            "/connector/apps/hubspot/entities/people",
            &[("csrf", &csrf), ("to_hub", "on")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    assert_eq!(saved.headers[header::LOCATION], "/connector?notice=saved");
    let flags = org(&world).await.flags(&people);
    assert!(flags.to_hub && !flags.to_app, "{flags:?}");

    // Historical data: on only with the confirmation box, and then a full sync is queued.
    let linked_at = org(&world).await.linked_at;
    let mut o = org(&world).await;
    o.history_from = Some(linked_at);
    world
        .service
        .ports()
        .store
        .put_organization(&o)
        .await
        .unwrap();
    let unconfirmed = agent
        .form(
            &router,
            "/connector/apps/hubspot/historical",
            &[("csrf", &csrf), ("on", "true")],
        )
        .await;
    assert_eq!(
        unconfirmed.headers[header::LOCATION],
        "/connector?notice=confirm-needed"
    );
    assert_eq!(org(&world).await.history_from, Some(linked_at));
    let on = agent
        .form(
            &router,
            "/connector/apps/hubspot/historical",
            &[("csrf", &csrf), ("on", "true"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(
        on.headers[header::LOCATION],
        "/connector?notice=historical-on"
    );
    assert_eq!(org(&world).await.history_from, None);
    assert_eq!(
        world.bus.items(),
        vec![WorkItem::Sync {
            org: OrgId::new("cld-1")
        }]
    );

    let sync = agent
        .form(&router, "/connector/apps/hubspot/sync", &[("csrf", &csrf)])
        .await;
    assert_eq!(sync.status, StatusCode::SEE_OTHER);
    assert!(
        sync.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .contains("watch=hubspot")
    );
    assert_eq!(world.bus.items().len(), 2);
}

#[tokio::test]
async fn a_session_sees_and_touches_its_own_group_only() {
    let world = linked_world().await;
    let router = http_api::router(world.service.clone());
    let mut other = Agent::default();
    let csrf = other.launch(&router, "cld-2").await;

    // Its page shows its own group, with nothing linked.
    let home = other.send(&router, get("/connector")).await.page();
    assert!(!home.contains("Linked to account"), "{home}");
    assert!(home.contains("cld-2"));
    // Page actions act on its group: cld-2 has no organization, so nothing happens to cld-1.
    let answer = other
        .form(
            &router,
            "/connector/apps/hubspot/entities/people",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert!(org(&world).await.flags(&EntityName::new("people")).to_app);
    // The API refuses another group's path.
    for request in [
        api("GET", "/api/v1/groups/cld-1", &[], None),
        api(
            "POST",
            "/api/v1/groups/cld-1/apps/hubspot/sync",
            &[("x-csrf-token", csrf.clone())],
            None,
        ),
        api(
            "GET",
            "/api/v1/groups/cld-1/apps/hubspot/idmaps?q=a",
            &[],
            None,
        ),
    ] {
        let answer = other.send(&router, request).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
        assert!(
            answer.json()["error"]
                .as_str()
                .unwrap()
                .contains("another Connec! group")
        );
    }
    assert!(world.bus.items().is_empty());
}

#[tokio::test]
async fn the_json_api_works_under_a_session_with_csrf_and_under_the_tenants_credentials() {
    let world = linked_world().await;
    let router = http_api::router(world.service.clone());
    let mut agent = Agent::default();
    let csrf = agent.launch(&router, "cld-1").await;

    let view = agent
        .send(&router, api("GET", "/api/v1/groups/cld-1", &[], None))
        .await
        .json();
    assert_eq!(view["group_id"], "cld-1");
    assert_eq!(
        view["apps"][0]["link"],
        json!({ "state": "linked", "org": "cld-1", "account": "62515" })
    );

    let body = json!({ "to_hub": true, "to_app": true });
    let refused = agent
        .send(
            &router,
            api(
                "PUT",
                "/api/v1/groups/cld-1/apps/hubspot/entities/people",
                &[],
                Some(body.clone()),
            ),
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "a change without the CSRF header"
    );
    let changed = agent
        .send(
            &router,
            api(
                "PUT",
                "/api/v1/groups/cld-1/apps/hubspot/entities/people",
                &[("x-csrf-token", csrf.clone())],
                Some(body),
            ),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_eq!(changed.json()["to_app"], true);

    // The hub, with the tenant's API credentials, any group of the tenant; no cookie, no CSRF.
    let sync = send(
        &router,
        api(
            "POST",
            "/api/v1/groups/cld-1/apps/hubspot/sync",
            &[basic()],
            None,
        ),
    )
    .await;
    assert_eq!(sync.status, StatusCode::ACCEPTED);
    assert_eq!(
        world.bus.items(),
        vec![WorkItem::Sync {
            org: OrgId::new("cld-1")
        }]
    );
    let runs = send(
        &router,
        api(
            "GET",
            "/api/v1/groups/cld-1/apps/hubspot/runs",
            &[basic()],
            None,
        ),
    )
    .await;
    assert_eq!(runs.json(), json!([]));
    let wrong = send(
        &router,
        api(
            "GET",
            "/api/v1/groups/cld-1",
            &[(
                "authorization",
                webhooks::basic_auth_header("demo-id", "nope"),
            )],
            None,
        ),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let nobody = send(&router, api("GET", "/api/v1/groups/cld-1", &[], None)).await;
    assert_eq!(nobody.status, StatusCode::UNAUTHORIZED);
    let bad_group = send(
        &router,
        api("GET", "/api/v1/groups/x%2F..%2Fcld-1", &[basic()], None),
    )
    .await;
    assert_eq!(bad_group.status, StatusCode::BAD_REQUEST);
    let unknown_app = send(
        &router,
        api(
            "GET",
            "/api/v1/groups/cld-1/apps/nope/runs",
            &[basic()],
            None,
        ),
    )
    .await;
    assert_eq!(unknown_app.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unlink_needs_its_confirmation_and_switches_sync_off() {
    let world = linked_world().await;
    let router = http_api::router(world.service.clone());
    let mut agent = Agent::default();
    let csrf = agent.launch(&router, "cld-1").await;
    let confirm = agent
        .send(&router, get("/connector/apps/hubspot/unlink"))
        .await
        .page();
    assert!(confirm.contains("Also forget what was synced"), "{confirm}");
    let unconfirmed = agent
        .form(
            &router,
            "/connector/apps/hubspot/unlink",
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(
        unconfirmed.headers[header::LOCATION],
        "/connector?notice=confirm-needed"
    );
    assert!(org(&world).await.sync_enabled);
    let unlinked = agent
        .form(
            &router,
            "/connector/apps/hubspot/unlink",
            &[("csrf", &csrf), ("confirm", "yes"), ("purge", "yes")],
        )
        .await;
    assert_eq!(unlinked.status, StatusCode::SEE_OTHER);
    assert!(!org(&world).await.sync_enabled);
    let home = agent.send(&router, get("/connector")).await.page();
    assert!(home.contains("Unlinked from account 62515."), "{home}");
}
