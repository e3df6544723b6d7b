//! What the router's tests share: the service over in-memory ports, the fixture apps (HubSpot and Xero), a bus that
//! keeps what is queued, `oneshot` requests (axum's testing example), and an [`Agent`] that
//! keeps cookies like a browser, launched into a group's page.

#![allow(dead_code, unused_imports)] // each test file uses its own part

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

pub const PUBLIC_URL: &str = "https://connector.example";
/// The webhook key of Xero in `connectors::fixture_registry`.
pub const XERO_KEY: &str = "demo-webhook-key";
pub const LAUNCH_SECRET: &str = "router-tests-launch-secret-32-bytes!!";

/// Keeps what is queued; refuses everything when `down`.
#[derive(Default)]
pub struct Bus {
    pub items: Mutex<Vec<WorkItem>>,
    pub down: std::sync::atomic::AtomicBool,
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
    pub fn items(&self) -> Vec<WorkItem> {
        self.items.lock().unwrap().clone()
    }
}

pub struct World {
    pub service: Arc<ConnectorService>,
    pub bus: Arc<Bus>,
}

/// The service over in-memory ports for tenant `default` (Basic `demo-id:demo-key`), HubSpot at
/// `app_url` (client secret `demo-client-secret`) and Xero (webhook key [`XERO_KEY`]).
pub fn world(app_url: &str) -> World {
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
        launch_secret: Some(service::LaunchSecret::new(LAUNCH_SECRET).unwrap()),
    };
    let apps: Registry = connectors::fixture_registry(app_url, PUBLIC_URL);
    let service = Arc::new(ConnectorService::new(ports, settings, apps).unwrap());
    World { service, bus }
}

pub async fn linked_world() -> World {
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
    let tokens = linking::TokenSet {
        access_token: linking::SecretString::new("access-1"),
        refresh_token: Some(linking::SecretString::new("refresh-1")),
        expires_at: None,
        scopes: Vec::new(),
    };
    world
        .service
        .ports()
        .credentials
        .save(&linking::AccountKey::new("hubspot", "62515"), &tokens, None)
        .await
        .unwrap();
    world
}

/// A whole answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Value {
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "application/json",
            "{}",
            self.text()
        );
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn page(&self) -> String {
        assert_eq!(
            self.headers[header::CONTENT_TYPE],
            "text/html; charset=utf-8",
            "{}",
            self.text()
        );
        self.text()
    }
}

pub async fn send(router: &Router, request: Request<Body>) -> Answer {
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

/// A GET as a browser sends it (it accepts HTML).
pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri)
        .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .body(Body::empty())
        .unwrap()
}

/// A GET as a script sends it (no HTML).
pub fn get_json(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

pub fn post(uri: &str, headers: &[(&str, String)], body: impl Into<Body>) -> Request<Body> {
    let mut request = Request::post(uri);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.body(body.into()).unwrap()
}

pub fn basic() -> (&'static str, String) {
    ("authorization", basic_auth_header("demo-id", "demo-key"))
}

pub fn hubspot_headers(uri_path: &str, body: &str) -> Vec<(&'static str, String)> {
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

pub fn hubspot_event(event_id: u64) -> String {
    let now = chrono::Utc::now().timestamp_millis();
    json!([{ "eventId": event_id, "subscriptionId": 9, "portalId": 62515, "appId": 424242,
             "occurredAt": now, "subscriptionType": "contact.propertyChange",
             "attemptNumber": 0, "objectId": 501, "propertyName": "email",
             "propertyValue": "ann@acme.example" }])
    .to_string()
}

// ---- A browser: cookies, launch, forms ---------------------------------------------------

/// A launch token for `group` signed with the tests' launch secret, valid for `lifetime`
/// seconds from `issued` seconds ago.
pub fn launch_token(group: &str, issued_ago: i64, lifetime: i64) -> String {
    let secret = service::LaunchSecret::new(LAUNCH_SECRET).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = access::LaunchClaims {
        tenant: "default".into(),
        group_id: group.into(),
        sub: "usr-ada".into(),
        name: Some("Ada".into()),
        iat: now - issued_ago,
        exp: now - issued_ago + lifetime,
    };
    access::LaunchToken::mint(&secret, &claims)
}

/// Keeps cookies between requests, like a browser.
#[derive(Default, Clone)]
pub struct Agent {
    pub cookies: std::collections::BTreeMap<String, String>,
}

impl Agent {
    /// Sends `request` with the cookies, and keeps the cookies the answer sets.
    pub async fn send(&mut self, router: &Router, mut request: Request<Body>) -> Answer {
        if !self.cookies.is_empty() {
            let cookie = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            request
                .headers_mut()
                .insert(header::COOKIE, cookie.parse().unwrap());
        }
        let answer = send(router, request).await;
        for value in answer.headers.get_all(header::SET_COOKIE) {
            let value = value.to_str().unwrap();
            let (pair, _) = value.split_once(';').unwrap_or((value, ""));
            let (name, v) = pair.split_once('=').unwrap();
            if value.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), v.to_owned());
            }
        }
        answer
    }

    /// Opens `group`'s page through a fresh launch token; returns the page's CSRF token.
    pub async fn launch(&mut self, router: &Router, group: &str) -> String {
        let answer = self
            .send(
                router,
                get(&format!(
                    "/connector/launch?token={}",
                    launch_token(group, 0, 300)
                )),
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
        let home = self.send(router, get("/connector")).await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.text());
        csrf_of(&home.page())
    }

    /// Posts a form (`application/x-www-form-urlencoded`).
    pub async fn form(&mut self, router: &Router, uri: &str, fields: &[(&str, &str)]) -> Answer {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = Request::post(uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .body(Body::from(body))
            .unwrap();
        self.send(router, request).await
    }
}

/// The CSRF token of a page's forms.
pub fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf-token" content=""#;
    let at = page.find(marker).expect("the page names its CSRF token");
    let rest = &page[at + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}
