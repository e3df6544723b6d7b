//! The product's pages in a real browser: headless Chromium (`tests::browser`) against the
//! product's router (`http_api::router` over the service on in-memory ports) on loopback, at
//! desktop and phone widths; and the harness's own helpers on a small form page.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`: `infra/scripts/browser.sh
//! --install-only` (which `infra/scripts/test.sh` runs) installs them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::extract::Query;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use connector_sdk::Registry;
use runtime_aws::testing::{in_memory, settings};
use serde_json::json;
use tests::browser::{Browser, DESKTOP, PHONE, Viewport};

/// Nothing listens there: the unknown-app page never calls HubSpot.
const NOWHERE: &str = "http://127.0.0.1:9";

/// Serves `router` on a free loopback port; returns its base URL.
async fn serve_router(listener: tokio::net::TcpListener, router: Router) -> String {
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base_url
}

/// The product's router with HubSpot linkable through OAuth, on loopback.
async fn serve_product() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public_url = format!("http://{}", listener.local_addr().unwrap());
    let mut service_settings = settings(NOWHERE);
    service_settings.public_url = public_url.clone();
    let hubspot = connectors::factory("hubspot")
        .expect("hubspot is an app")
        .build(
            json!({
                "base_url": NOWHERE,
                "oauth": { "client_id": "browser-client", "client_secret": "browser-secret", "app_id": 7 },
            }),
            &service_settings.tuning.build_context(&public_url),
        )
        .unwrap();
    let mut apps = Registry::new();
    apps.register(hubspot).unwrap();
    let (service, _bus) = in_memory(service_settings, apps);
    serve_router(listener, http_api::router(Arc::new(service))).await
}

/// The width and height in a PNG's IHDR chunk; panics unless `path` holds a PNG.
fn png_size(path: &Path) -> Viewport {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.len() > 24,
        "{} is too short for a PNG",
        path.display()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "the first chunk of a PNG is IHDR");
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    Viewport {
        width: word(16),
        height: word(20),
    }
}

/// Opens the unknown app's start page at `viewport` and checks what it shows; returns the
/// screenshot's size.
async fn unknown_app_page(viewport: Viewport, shot: &str) -> Viewport {
    let base_url = serve_product().await;
    let browser = Browser::start().await.expect("the browser starts");
    browser.set_window(viewport).await.unwrap();
    browser
        .goto(&format!("{base_url}/oauth/nosuchapp/callback"))
        .await
        .unwrap();

    assert_eq!(browser.text_of("h1").await.unwrap(), "Unknown app");
    assert_eq!(browser.title().await.unwrap(), "Unknown app · Connector");
    assert_eq!(
        browser.text_of("p").await.unwrap(),
        "`nosuchapp` cannot be linked here; use one of: hubspot"
    );
    assert_eq!(browser.inner_size().await.unwrap(), viewport);

    let dir = tempfile::tempdir().unwrap();
    let path = browser.screenshot(dir.path().join(shot)).await.unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 0, "the screenshot is empty");
    let png = png_size(&path);
    browser.close().await.unwrap();
    png
}

#[tokio::test]
async fn the_unknown_app_page_in_a_desktop_browser() {
    let started = std::time::Instant::now();
    let png = unknown_app_page(DESKTOP, "unknown-app-desktop.png").await;
    assert_eq!(png, DESKTOP, "the screenshot is the whole desktop window");
    eprintln!("desktop browser smoke test took {:?}", started.elapsed());
}

#[tokio::test]
async fn the_unknown_app_page_in_a_phone_sized_browser() {
    let started = std::time::Instant::now();
    let png = unknown_app_page(PHONE, "unknown-app-phone.png").await;
    assert_eq!(png, PHONE, "the screenshot is the whole phone-sized window");
    eprintln!("phone browser smoke test took {:?}", started.elapsed());
}

/// A form page whose greeting appears late (from script), and the page it submits to, which
/// sets a cookie.
fn form_pages() -> Router {
    const FORM: &str = r#"<!doctype html><title>Form</title>
<form id="greet" action="/hello" method="get">
  <input id="name" name="name" value="placeholder">
  <button id="send" type="submit">Send</button>
</form>
<button id="late" type="button">Later</button><p id="note"></p>
<script>
document.getElementById('late').onclick = () =>
  setTimeout(() => { document.getElementById('note').textContent = 'it came later'; }, 200);
</script>"#;
    Router::new()
        .route("/form", get(|| async { Html(FORM) }))
        .route(
            "/hello",
            get(|Query(query): Query<HashMap<String, String>>| async move {
                let name = query.get("name").cloned().unwrap_or_default();
                let name = name.replace(['<', '>', '&'], "");
                (
                    [(header::SET_COOKIE, "greeted=yes; Path=/; HttpOnly")],
                    Html(format!(
                        "<!doctype html><title>Hello</title><h1>Hello {name}</h1>"
                    )),
                )
                    .into_response()
            }),
        )
}

#[tokio::test]
async fn the_harness_clicks_fills_submits_waits_and_reads_cookies() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = serve_router(listener, form_pages()).await;
    let browser = Browser::start().await.expect("the browser starts");
    assert_eq!(browser.inner_size().await.unwrap(), DESKTOP);
    browser.goto(&format!("{base_url}/form")).await.unwrap();

    browser.click("#late").await.unwrap();
    let note = browser.wait_for_text("#note", "came later").await.unwrap();
    assert_eq!(note, "it came later");

    browser.fill("#name", "Ann").await.unwrap();
    browser.submit("#greet").await.unwrap();
    let greeting = browser.wait_for_text("h1", "Hello").await.unwrap();
    assert_eq!(greeting, "Hello Ann", "the field was cleared before typing");
    assert_eq!(browser.title().await.unwrap(), "Hello");

    let cookies = browser.cookies().await.unwrap();
    let greeted: Vec<_> = cookies.iter().filter(|c| c.name() == "greeted").collect();
    assert_eq!(greeted.len(), 1, "{cookies:?}");
    assert_eq!(greeted[0].value(), "yes");
    assert_eq!(greeted[0].http_only(), Some(true));

    let mut browser = browser;
    browser.set_wait(std::time::Duration::from_secs(1));
    let missing = browser
        .wait_for_text("h1", "never there")
        .await
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("last seen: text \"Hello Ann\""),
        "{missing}"
    );
    browser.close().await.unwrap();
}
