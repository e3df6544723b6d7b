//! The router with `tower::ServiceExt::oneshot` (axum's testing example): every route, its
//! answers and the router's own refusals, on the service over in-memory ports and, for linking,
//! the HubSpot emulator.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use connector_sdk::{Account, AppEvent, AppProvider, AppWebhooks, ProviderError, Registry};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use service::{ConnectorService, HubEndpoint, MemoryDedupe, Ports, ServiceSettings, Tuning};
use sync_core::domain::{GroupId, OrgId, Organization, Provider, Realm, Tenant};
use sync_core::entity::EntityPair;
use sync_core::ports::{
    AppConnector, BusError, Clock, EventBus, SystemClock, TokenSource, WorkItem,
};
use tower::ServiceExt;
use webhooks::{ParseError, Verifier, basic_auth_header, body_hmac_signature};

const PUBLIC_URL: &str = "https://connector.example";
const XERO_KEY: &str = "xero-webhook-key";

/// Keeps what is queued; refuses everything when `down`.
#[derive(Default)]
struct Bus {
    items: Mutex<Vec<WorkItem>>,
    down: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl EventBus for Bus {
    async fn publish(&self, item: WorkItem) -> Result<(), BusError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(BusError("down".into()));
        }
        self.items.lock().unwrap().push(item);
        Ok(())
    }
}

impl Bus {
    fn items(&self) -> Vec<WorkItem> {
        self.items.lock().unwrap().clone()
    }
}

/// An app whose webhooks follow Xero's intent-to-receive rule (empty `401` and `200` bodies).
struct XeroLike {
    id: Provider,
    verifier: xero::webhooks::XeroVerifier,
}

#[async_trait]
impl AppProvider for XeroLike {
    fn id(&self) -> &Provider {
        &self.id
    }
    fn display_name(&self) -> &str {
        "Xero-like"
    }
    fn entities(&self) -> &[EntityPair] {
        &[]
    }
    fn oauth(&self) -> Option<&linking::OAuthApp> {
        None
    }
    async fn discover_account(&self, _access_token: &str) -> Result<Account, ProviderError> {
        Err(ProviderError::Answer {
            provider: "xero".into(),
            detail: "not in this test".into(),
        })
    }
    fn webhooks(&self) -> Option<&dyn AppWebhooks> {
        Some(self)
    }
    fn rate_limits(&self) -> Arc<dyn http_client::RateLimitPolicy> {
        Arc::new(http_client::NoRateLimitHeaders)
    }
    fn connector(
        &self,
        _token: Arc<dyn TokenSource>,
    ) -> Result<Arc<dyn AppConnector>, ProviderError> {
        Err(ProviderError::Answer {
            provider: "xero".into(),
            detail: "not in this test".into(),
        })
    }
}

impl AppWebhooks for XeroLike {
    fn verifier(&self) -> &dyn Verifier {
        &self.verifier
    }
    fn parse(&self, _body: &[u8]) -> Result<Vec<AppEvent>, ParseError> {
        Ok(Vec::new())
    }
}

struct World {
    service: Arc<ConnectorService>,
    bus: Arc<Bus>,
}

/// The service over in-memory ports for tenant `default` (Basic `demo-id:demo-key`), HubSpot at
/// `app_url` (client secret `demo-client-secret`) and the Xero-like app.
fn world(app_url: &str) -> World {
    let bus = Arc::new(Bus::default());
    let ports = Ports {
        store: Arc::new(store_embedded::EmbeddedStore::in_memory().unwrap()),
        credentials: Arc::new(linking::memory::MemoryCredentialStore::new()),
        states: Arc::new(linking::memory::MemoryAuthorizationStateStore::new()),
        dedupe: Arc::new(MemoryDedupe::default()),
        bus: bus.clone(),
    };
    let settings = ServiceSettings {
        hub: HubEndpoint {
            url: "http://127.0.0.1:9".into(),
            api_id: "demo-id".into(),
            api_key: "demo-key".into(),
        },
        tuning: Tuning {
            http: http_client::HttpConfig::fast(),
            ..Tuning::default()
        },
        public_url: PUBLIC_URL.into(),
        tenant: "default".into(),
    };
    let mut apps: Registry = connectors::fixture_registry(app_url, PUBLIC_URL);
    apps.register(Arc::new(XeroLike {
        id: Provider::new("xero"),
        verifier: xero::webhooks::XeroVerifier::new(XERO_KEY),
    }))
    .unwrap();
    let service = Arc::new(ConnectorService::new(ports, settings, apps).unwrap());
    World { service, bus }
}

async fn linked_world() -> World {
    let world = world("http://127.0.0.1:9");
    let org = Organization {
        id: OrgId::new("cld-1"),
        tenant: Tenant::new("default"),
        group_id: GroupId::new("cld-1"),
        provider: Provider::new("hubspot"),
        realm: Realm::new("62515"),
        name: "One".into(),
        sync_enabled: true,
        entity_flags: Default::default(),
        history_from: None,
        linked_at: SystemClock.now(),
    };
    world
        .service
        .ports()
        .store
        .put_organization(&org)
        .await
        .unwrap();
    world
}

/// A whole answer.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/json",
            "{}",
            self.text()
        );
        serde_json::from_slice(&self.body).unwrap()
    }
    fn page(&self) -> String {
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "text/html; charset=utf-8",
            "{}",
            self.text()
        );
        self.text()
    }
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post(uri: &str, headers: &[(&str, String)], body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post(uri);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.body(body.into()).unwrap()
}

fn basic() -> (&'static str, String) {
    ("authorization", basic_auth_header("demo-id", "demo-key"))
}

fn hubspot_headers(uri_path: &str, body: &str) -> Vec<(&'static str, String)> {
    let now = chrono::Utc::now().timestamp_millis();
    let signature = hubspot::webhooks::hubspot_v3_signature(
        "demo-client-secret",
        "POST",
        &format!("{PUBLIC_URL}{uri_path}"),
        body.as_bytes(),
        now,
    );
    vec![
        ("x-hubspot-signature-v3", signature),
        ("x-hubspot-request-timestamp", now.to_string()),
        ("content-type", "application/json".into()),
    ]
}

fn hubspot_event(event_id: u64) -> String {
    let now = chrono::Utc::now().timestamp_millis();
    json!([{ "eventId": event_id, "subscriptionId": 9, "portalId": 62515, "appId": 424242,
             "occurredAt": now, "subscriptionType": "contact.propertyChange",
             "attemptNumber": 0, "objectId": 501, "propertyName": "email",
             "propertyValue": "ann@acme.example" }])
    .to_string()
}

// ---- OAuth routes -------------------------------------------------------------------------

#[tokio::test]
async fn start_redirects_to_the_consent_page_with_a_decoded_group_and_provider() {
    let world = world("http://127.0.0.1:9");
    let router = http_api::oauth_routes(world.service.clone());
    // `hub%73pot` is `hubspot` and `cld%2D1` is `cld-1` once decoded, as API Gateway delivers
    // them to the function and a browser may send them.
    let answer = send(&router, get("/oauth/hub%73pot/start?group_id=cld%2D1")).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    let location = answer.headers[header::LOCATION].to_str().unwrap();
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
    assert!(answer.body.is_empty());
}

#[tokio::test]
async fn start_refuses_an_unknown_app_and_a_missing_group_with_a_page() {
    let world = world("http://127.0.0.1:9");
    let router = http_api::router(world.service.clone());

    let unknown = send(&router, get("/oauth/nope/start?group_id=cld-1")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let page = unknown.page();
    assert!(page.contains("<h1>Unknown app</h1>"), "{page}");
    assert!(page.contains("use one of: hubspot"), "{page}");

    for uri in [
        "/oauth/hubspot/start",
        "/oauth/hubspot/start?group_id=",
        "/oauth/hubspot/start?group_id=%20",
    ] {
        let missing = send(&router, get(uri)).await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(
            missing.page().contains("<h1>Missing group_id</h1>"),
            "{uri}"
        );
    }

    // A query the router cannot read is refused with its own page, which echoes nothing.
    let twice = send(&router, get("/oauth/hubspot/start?group_id=a&group_id=b")).await;
    assert_eq!(twice.status, StatusCode::BAD_REQUEST);
    let page = twice.page();
    assert!(page.contains("<h1>Bad request</h1>"), "{page}");
    assert!(!page.contains("group_id=a"), "{page}");
    assert!(world.bus.items().is_empty());
}

#[tokio::test]
async fn a_callback_with_a_made_up_or_denied_state_is_refused_without_echoing_it() {
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
    assert!(page.contains("start linking again"), "{page}");
    for secret in ["secret-code-123", "made-up-state-456"] {
        assert!(!page.contains(secret), "{page}");
    }
    let denied = send(
        &router,
        get(
            "/oauth/hubspot/callback?error=access_denied&error_description=The+user+denied&state=x",
        ),
    )
    .await;
    assert_eq!(denied.status, StatusCode::BAD_REQUEST);
    assert!(denied.page().contains("start linking again"));
    let unknown = send(&router, get("/oauth/nope/callback?code=x&state=y")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(world.bus.items().is_empty(), "nothing was queued");
}

/// Start -> the emulator's consent -> the callback; returns the callback's path and query.
async fn consent(router: &Router, group: &str) -> String {
    let start = send(
        router,
        get(&format!("/oauth/hubspot/start?group_id={group}")),
    )
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

#[tokio::test]
async fn a_callback_links_once_and_a_second_group_for_the_same_account_is_refused() {
    let hubspot = emulators::HubSpotEmulator::new(emulators::HubSpotConfig {
        oauth: Some(emulators::OAuthApp::default()),
        ..emulators::HubSpotConfig::default()
    });
    hubspot.pause_webhooks(true);
    let server = hubspot.start().await.unwrap();
    let world = world(&server.base_url);
    let router = http_api::router(world.service.clone());

    let callback = consent(&router, "cld%2D1").await;
    let linked = send(&router, get(&callback)).await;
    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
    let page = linked.page();
    assert!(page.contains("<h1>Linked</h1>"), "{page}");
    let portal = hubspot.config().portal_id;
    assert!(
        page.contains(&format!(
            "Connec! group cld-1 is now linked to HubSpot account {portal}."
        )),
        "{page}"
    );
    let org = world
        .service
        .ports()
        .store
        .get_organization(&OrgId::new("cld-1"))
        .await
        .unwrap()
        .expect("the decoded group is linked");
    assert_eq!(org.group_id.as_str(), "cld-1");
    assert_eq!(
        world.bus.items(),
        vec![WorkItem::Sync {
            org: OrgId::new("cld-1")
        }]
    );

    let replay = send(&router, get(&callback)).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.page().contains("already used"));

    // The same HubSpot account for another group: 409, with what to do.
    let callback = consent(&router, "cld-2").await;
    let refused = send(&router, get(&callback)).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text());
    let page = refused.page();
    assert!(page.contains("<h1>Linking refused</h1>"), "{page}");
    assert!(page.contains("already linked to group cld-1"), "{page}");
    assert_eq!(world.bus.items().len(), 1, "no second first sync");
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
    let start = send(&router, get("/oauth/hubspot/start?group_id=cld-1")).await;
    let authorize = url::Url::parse(start.headers[header::LOCATION].to_str().unwrap()).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let callback = format!("/oauth/hubspot/callback?code=any-code&state={state}");
    let answer = send(&router, get(&callback)).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{}", answer.text());
    let page = answer.page();
    assert!(page.contains("<h1>Linking failed</h1>"), "{page}");
    assert!(
        page.contains("HubSpot did not say which account this is"),
        "{page}"
    );
    assert!(page.contains("try again"), "{page}");
    for secret in [
        "granted-access-token",
        "granted-refresh-token",
        state.as_str(),
    ] {
        assert!(!page.contains(secret), "{page}");
    }
    assert!(world.bus.items().is_empty());
}

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

    let answer = send(&router, post("/oauth/hubspot/start", &[], "")).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(answer.page().contains("<h1>Method not allowed</h1>"));

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
