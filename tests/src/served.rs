//! `connector serve`'s runtime on loopback, with the emulators (HubSpot and Xero, each with an
//! OAuth app; [`serve`] serves HubSpot, [`serve_xero`] Xero), and a client that links a group
//! the way a person's browser does: launch token, session cookie, confirmation, consent,
//! callback with the browser-binding cookie.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};

use cli::serve::{LocalRuntime, ServeSettings};
use emulators::{
    ConnecEmulator, HubSpotEmulator, NotificationSubscriber, WebhookTarget, XeroEmulator,
};
use http_client::HttpConfig;
use linking::{AccountKey, SecretString};
use service::{HubEndpoint, ServiceSettings, Tuning, WorkOutcome};
use store_embedded::secrets::SecretKey;
use sync_core::domain::{OrgId, Provider, Timestamp};
use sync_core::ports::WorkItem;

/// The HubSpot OAuth app's client secret (it also signs HubSpot's webhooks).
pub const CLIENT_SECRET: &str = "rt-client-secret";
/// The Xero OAuth app's client id.
pub const XERO_CLIENT_ID: &str = "xl-client";
/// The Xero OAuth app's client secret.
pub const XERO_CLIENT_SECRET: &str = "xl-client-secret";
/// The Xero app's webhook key (signs Xero's webhooks).
pub const XERO_WEBHOOK_KEY: &str = "xl-webhook-key";
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
    /// The Xero emulator (its app: [`XERO_CLIENT_ID`], [`XERO_CLIENT_SECRET`]).
    pub xero: XeroEmulator,
    /// Where the Xero emulator is served.
    pub xero_url: String,
    /// The app served.
    pub app: ServedApp,
    /// The key the credentials are encrypted with (to open the store as another process).
    pub secret_key: SecretKey,
    _servers: Vec<emulators::RunningServer>,
    /// The runtime.
    pub runtime: Arc<LocalRuntime>,
    /// Where the connector is served.
    pub public_url: String,
    /// Its database file.
    pub database: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// Starts the emulators and the connector serving HubSpot (no scheduled sync: the tests drive
/// every run).
pub async fn serve() -> Served {
    serve_app(ServedApp::HubSpot).await
}

/// Starts the emulators and the connector serving Xero as an OAuth app on its emulator, with
/// webhooks verified with [`XERO_WEBHOOK_KEY`] (no scheduled sync).
pub async fn serve_xero() -> Served {
    serve_app(ServedApp::Xero).await
}

/// The app a [`Served`] connector serves (each as an OAuth app on its emulator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServedApp {
    /// HubSpot (app id 4242, [`CLIENT_SECRET`]).
    HubSpot,
    /// Xero ([`XERO_CLIENT_ID`], [`XERO_CLIENT_SECRET`], [`XERO_WEBHOOK_KEY`]).
    Xero,
}

impl ServedApp {
    /// The provider id (in routes: `/oauth/{id}/start`, `/webhooks/{id}`).
    pub fn id(self) -> &'static str {
        match self {
            ServedApp::HubSpot => "hubspot",
            ServedApp::Xero => "xero",
        }
    }
}

/// The settings of the Xero app served, on the Xero emulator at `xero_url`.
pub fn xero_settings(xero_url: &str) -> serde_json::Value {
    serde_json::json!({
        "base_url": format!("{xero_url}/api.xro/2.0"),
        "authorize_url": format!("{xero_url}/identity/connect/authorize"),
        "token_url": format!("{xero_url}/connect/token"),
        "connections_url": format!("{xero_url}/connections"),
        "client_id": XERO_CLIENT_ID,
        "client_secret": XERO_CLIENT_SECRET,
        "webhook_key": XERO_WEBHOOK_KEY,
    })
}

/// The settings of `app` on its emulator.
fn app_settings(app: ServedApp, hubspot_url: &str, xero_url: &str) -> serde_json::Value {
    match app {
        ServedApp::Xero => xero_settings(xero_url),
        ServedApp::HubSpot => serde_json::json!({
            "base_url": hubspot_url,
            "oauth": { "client_id": "rt-client", "client_secret": CLIENT_SECRET, "app_id": 4242 },
        }),
    }
}

async fn serve_app(served_app: ServedApp) -> Served {
    let connec = ConnecEmulator::new(emulators::ConnecConfig::default());
    let hubspot = HubSpotEmulator::new(emulators::HubSpotConfig {
        oauth: Some(emulators::OAuthApp::new("rt-client", CLIENT_SECRET, 4242)),
        ..emulators::HubSpotConfig::default()
    });
    let xero = XeroEmulator::new(emulators::XeroConfig {
        app: emulators::XeroApp::new(XERO_CLIENT_ID, XERO_CLIENT_SECRET),
        ..emulators::XeroConfig::default()
    });
    let connec_server = connec.start().await.unwrap();
    let hubspot_server = hubspot.start().await.unwrap();
    let xero_server = xero.start().await.unwrap();
    let xero_url = xero_server.base_url.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("serve.db");
    let tuning = Tuning {
        http: HttpConfig::fast(),
        overlap: Duration::from_secs(1),
        ..Tuning::default()
    };
    let app = connectors::factory(served_app.id())
        .unwrap()
        .build(
            app_settings(served_app, &hubspot_server.base_url, &xero_url),
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
    let secret_key = SecretKey::generate();
    let (runtime, work) = LocalRuntime::open(&database, secret_key.clone(), settings).unwrap();
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
        xero,
        xero_url,
        app: served_app,
        secret_key,
        _servers: vec![connec_server, hubspot_server, xero_server],
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

    /// Links `group` to the served app's account on its emulator (HubSpot's portal, Xero's
    /// consented organisation) as a browser would; returns the callback URL (to replay it).
    pub async fn link_group(&self, group: &str) -> String {
        let provider = self.app.id();
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
            .send(http.get(format!("{}/oauth/{provider}/start", self.public_url)))
            .await;
        assert_eq!(confirm.status(), 200, "a confirmation page");
        let csrf = csrf_of(&confirm.text().await.unwrap());
        let start = browser
            .send(
                http.post(format!("{}/oauth/{provider}/start", self.public_url))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("csrf={csrf}")),
            )
            .await;
        assert_eq!(start.status(), 303, "start redirects to the app");
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

    /// Unlinks `group` from the served app on the console, as a browser would (launch,
    /// confirmation page, confirmed form); the notice the console shows after it.
    pub async fn unlink_group(&self, group: &str) -> String {
        let mut browser = Cookies::default();
        let http = client();
        let launch = http.get(self.launch_url(group, Duration::from_secs(300)));
        browser.keep(launch.send().await.unwrap());
        let url = format!(
            "{}/connector/apps/{}/unlink",
            self.public_url,
            self.app.id()
        );
        let confirm = browser.send(http.get(&url)).await;
        assert_eq!(confirm.status(), 200, "a confirmation page");
        let csrf = csrf_of(&confirm.text().await.unwrap());
        let form = format!("csrf={csrf}&confirm=yes");
        let form_type = "application/x-www-form-urlencoded";
        let done = browser
            .send(http.post(&url).header("content-type", form_type).body(form))
            .await;
        assert_eq!(done.status(), 303, "back to the console");
        let location = done.headers()["location"].to_str().unwrap();
        let notice = location.split_once("notice=").map(|(_, n)| n.to_owned());
        notice.unwrap_or_default()
    }
}

/// How many times the waiting helpers look before giving up (25 ms apart).
const ATTEMPTS: usize = 300;

impl Served {
    /// Waits until `check` holds, delivering every emulator's pending webhooks and Connec!'s
    /// notifications meanwhile.
    pub async fn eventually(&self, what: &str, check: impl Fn() -> bool) {
        for _ in 0..ATTEMPTS {
            self.xero.flush_webhooks().await;
            self.hubspot.flush_webhooks().await;
            self.connec.flush_notifications().await;
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("timed out waiting until {what}");
    }

    /// Waits until a run of `group` started at or after `after` (any run: `None`) finished.
    pub async fn run_finished_after(&self, group: &str, after: Option<Timestamp>) {
        let store = self.runtime.store().clone();
        for _ in 0..ATTEMPTS {
            let runs = store.recent_runs(&OrgId::new(group), 5).await.unwrap();
            if runs
                .iter()
                .any(|r| r.finished_at.is_some() && after.is_none_or(|at| r.started_at >= at))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the sync of {group} never finished");
    }

    /// Runs a sync of `group` through the runtime now, waiting while other work of the group
    /// (a notification's, a webhook's) holds its lease.
    pub async fn sync_now(&self, group: &str) -> WorkOutcome {
        let sync = WorkItem::Sync {
            org: OrgId::new(group),
        };
        for _ in 0..ATTEMPTS {
            match self.runtime.process(sync.clone()).await {
                WorkOutcome::Skipped(_) => tokio::time::sleep(Duration::from_millis(25)).await,
                outcome => return outcome,
            }
        }
        panic!("the sync of {group} was skipped every time");
    }

    /// The account `group` is linked to (its organization's provider and realm).
    pub async fn account_of(&self, group: &str) -> AccountKey {
        let org = self
            .runtime
            .store()
            .get_organization(&OrgId::new(group))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{group} has an organization"));
        AccountKey::new(Provider::new(self.app.id()), org.realm.to_string())
    }

    /// The served connector's Xero webhook URL, with the Xero app's webhook key.
    pub fn xero_webhook_target(&self) -> WebhookTarget {
        WebhookTarget::new(
            format!("{}/webhooks/xero", self.public_url),
            XERO_WEBHOOK_KEY,
        )
    }
}

/// One `POST /connect/token` seen by a [`TokenRecorder`].
pub struct TokenCall {
    /// Whether it presented the refresh token named by [`TokenRecorder::watch`].
    pub used_watched: bool,
    /// The answer's status.
    pub status: u16,
    /// The answer's OAuth `error`, if any.
    pub error: Option<String>,
    /// The refresh token a successful answer issued.
    pub issued: Option<SecretString>,
}

/// A loopback proxy in front of a token endpoint (`POST {upstream}/connect/token`) that
/// records each call's outcome, in memory (tokens are kept as [`SecretString`]s, never shown).
#[derive(Clone)]
pub struct TokenRecorder {
    upstream: String,
    watched: Arc<Mutex<Option<SecretString>>>,
    calls: Arc<Mutex<Vec<TokenCall>>>,
}

impl TokenRecorder {
    /// Starts the proxy; it and its token URL.
    pub async fn start(upstream: &str) -> (Self, String) {
        let recorder = Self {
            upstream: upstream.to_owned(),
            watched: Arc::default(),
            calls: Arc::default(),
        };
        let state = recorder.clone();
        let router = axum::Router::new().route(
            "/connect/token",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let state = state.clone();
                async move { state.forward(headers, body).await }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/connect/token", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (recorder, url)
    }

    /// Calls presenting `refresh_token` are marked [`TokenCall::used_watched`].
    pub fn watch(&self, refresh_token: Option<SecretString>) {
        *self.watched.lock().unwrap() = refresh_token;
    }

    /// Runs `f` on the calls recorded so far.
    pub fn calls<T>(&self, f: impl FnOnce(&[TokenCall]) -> T) -> T {
        f(&self.calls.lock().unwrap())
    }

    async fn forward(
        &self,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, [(&'static str, &'static str); 1], String) {
        let presented = url::form_urlencoded::parse(&body)
            .find(|(k, _)| k == "refresh_token")
            .map(|(_, v)| SecretString::new(v.into_owned()));
        let used_watched = presented.is_some() && *self.watched.lock().unwrap() == presented;
        let mut request = client()
            .post(format!("{}/connect/token", self.upstream))
            .body(body.to_vec());
        for name in ["authorization", "content-type"] {
            if let Some(value) = headers.get(name) {
                request = request.header(name, value.as_bytes());
            }
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        self.calls.lock().unwrap().push(TokenCall {
            used_watched,
            status,
            error: parsed["error"].as_str().map(str::to_owned),
            issued: parsed["refresh_token"].as_str().map(SecretString::new),
        });
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        (status, [("content-type", "application/json")], text)
    }
}

/// Log lines of this test binary (every test's, once one test captured them), to search for
/// secrets.
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl CapturedLogs {
    /// Captures every log line from now on (debug and up).
    pub fn capture() -> Self {
        let logs = Self::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false);
        let _ = subscriber.with_writer(move || writer.clone()).try_init();
        logs
    }

    /// Whether `needle` was logged.
    pub fn contain(&self, needle: &str) -> bool {
        String::from_utf8_lossy(&self.0.lock().unwrap()).contains(needle)
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
