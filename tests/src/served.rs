//! `connector serve`'s runtime on loopback, with both emulators (HubSpot with an OAuth app),
//! and a client that links a group the way a person's browser does: launch token, session
//! cookie, confirmation, consent, callback with the browser-binding cookie.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cli::serve::{LocalRuntime, ServeSettings};
use emulators::{ConnecEmulator, HubSpotEmulator, NotificationSubscriber};
use http_client::HttpConfig;
use service::{HubEndpoint, ServiceSettings, Tuning};
use store_embedded::secrets::SecretKey;

/// The HubSpot OAuth app's client secret (it also signs HubSpot's webhooks).
pub const CLIENT_SECRET: &str = "rt-client-secret";
/// The tenant served.
pub const TENANT: &str = "acme";
/// The launch secret of the served connector.
pub const LAUNCH_SECRET: &str = "served-tests-launch-secret-of-32-bytes";

/// The served stack.
pub struct Served {
    /// The Connec! emulator.
    pub connec: ConnecEmulator,
    /// The HubSpot emulator.
    pub hubspot: HubSpotEmulator,
    _servers: Vec<emulators::RunningServer>,
    /// The runtime.
    pub runtime: Arc<LocalRuntime>,
    /// Where the connector is served.
    pub public_url: String,
    /// Its database file.
    pub database: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// Starts the emulators and the connector (no scheduled sync: the tests drive every run).
pub async fn serve() -> Served {
    let connec = ConnecEmulator::new(emulators::ConnecConfig::default());
    let hubspot = HubSpotEmulator::new(emulators::HubSpotConfig {
        oauth: Some(emulators::OAuthApp::new("rt-client", CLIENT_SECRET, 4242)),
        ..emulators::HubSpotConfig::default()
    });
    let connec_server = connec.start().await.unwrap();
    let hubspot_server = hubspot.start().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("serve.db");
    let tuning = Tuning {
        http: HttpConfig::fast(),
        overlap: Duration::from_secs(1),
        ..Tuning::default()
    };
    let app = connectors::factory("hubspot")
        .unwrap()
        .build(
            serde_json::json!({
                "base_url": hubspot_server.base_url,
                "oauth": { "client_id": "rt-client", "client_secret": CLIENT_SECRET, "app_id": 4242 },
            }),
            &tuning.build_context(&public_url),
        )
        .unwrap();
    let mut apps = connector_sdk::Registry::new();
    apps.register(app).unwrap();
    let service = ServiceSettings {
        hub: HubEndpoint {
            url: connec_server.base_url.clone(),
            api_id: "demo-id".into(),
            api_key: "demo-key".into(),
        },
        tuning,
        public_url: public_url.clone(),
        tenant: TENANT.into(),
        launch_secret: Some(service::LaunchSecret::new(LAUNCH_SECRET).unwrap()),
    };
    let settings = ServeSettings {
        service,
        apps,
        sync_interval: Duration::from_secs(3600),
    };
    let (runtime, work) = LocalRuntime::open(&database, SecretKey::generate(), settings).unwrap();
    runtime.start(work);
    let router = runtime.router();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    connec.subscribe(NotificationSubscriber {
        url: format!("{public_url}/webhooks/connec/{TENANT}"),
        api_id: "demo-id".into(),
        api_key: "demo-key".into(),
        groups: None,
    });
    Served {
        connec,
        hubspot,
        _servers: vec![connec_server, hubspot_server],
        runtime,
        public_url,
        database,
        _dir: dir,
    }
}

/// A client that does not follow redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Served {
    /// A launch URL for `group`, valid for `lifetime`, as the hub would mint it.
    pub fn launch_url(&self, group: &str, lifetime: Duration) -> String {
        let secret = service::LaunchSecret::new(LAUNCH_SECRET).unwrap();
        let claims = access::LaunchClaims::new(
            &sync_core::domain::Tenant::new(TENANT),
            &sync_core::domain::GroupId::new(group),
            "usr-ada",
            sync_core::domain::Timestamp::from_datetime(chrono::Utc::now()),
            lifetime,
        );
        format!(
            "{}/connector/launch?token={}",
            self.public_url,
            access::LaunchToken::mint(&secret, &claims)
        )
    }

    /// A launch URL for `group` whose token was issued `issued_ago` seconds ago and lives
    /// `lifetime` seconds (an expired one, for instance).
    pub fn launch_token_url(&self, group: &str, issued_ago: i64, lifetime: i64) -> String {
        let secret = service::LaunchSecret::new(LAUNCH_SECRET).unwrap();
        let now = chrono::Utc::now().timestamp();
        let claims = access::LaunchClaims {
            tenant: TENANT.into(),
            group_id: group.into(),
            sub: "usr-ada".into(),
            name: Some("Ada".into()),
            iat: now - issued_ago,
            exp: now - issued_ago + lifetime,
        };
        format!(
            "{}/connector/launch?token={}",
            self.public_url,
            access::LaunchToken::mint(&secret, &claims)
        )
    }

    /// Links `group` to the HubSpot emulator's account as a browser would; returns the
    /// callback URL (to replay it).
    pub async fn link_group(&self, group: &str) -> String {
        let mut browser = Cookies::default();
        let http = client();
        let launched = browser.keep(
            http.get(self.launch_url(group, Duration::from_secs(300)))
                .send()
                .await
                .unwrap(),
        );
        assert_eq!(launched.status(), 303, "the launch opens a session");
        let confirm = browser
            .send(http.get(format!("{}/oauth/hubspot/start", self.public_url)))
            .await;
        assert_eq!(confirm.status(), 200, "a confirmation page");
        let csrf = csrf_of(&confirm.text().await.unwrap());
        let start = browser
            .send(
                http.post(format!("{}/oauth/hubspot/start", self.public_url))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("csrf={csrf}")),
            )
            .await;
        assert_eq!(start.status(), 303, "start redirects to HubSpot");
        let authorize = start.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            authorize.contains("code_challenge="),
            "PKCE is used: {authorize}"
        );
        let consent = http.get(&authorize).send().await.unwrap();
        assert_eq!(consent.status(), 302);
        let callback = consent.headers()["location"].to_str().unwrap().to_owned();
        let linked = browser.send(http.get(&callback)).await;
        let status = linked.status();
        let page = linked.text().await.unwrap();
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("Linked"), "{page}");
        callback
    }
}

/// Cookies kept across requests (names and values only; every cookie goes to every request,
/// which is enough for one loopback host).
#[derive(Default)]
pub struct Cookies(BTreeMap<String, String>);

impl Cookies {
    /// Keeps the cookies `response` sets.
    pub fn keep(&mut self, response: reqwest::Response) -> reqwest::Response {
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap_or_default();
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((name, v)) = pair.split_once('=') {
                self.0.insert(name.to_owned(), v.to_owned());
            }
        }
        response
    }

    /// Sends `request` with the cookies, keeping the ones set.
    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let cookie: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let response = request
            .header("cookie", cookie.join("; "))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        self.keep(response)
    }
}

/// The CSRF token a page names.
pub fn csrf_of(page: &str) -> String {
    let marker = r#"name="csrf-token" content=""#;
    let at = page.find(marker).expect("the page names its CSRF token");
    let rest = &page[at + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}
