//! Xero emulator: OAuth 2.0 (code + PKCE, rotating single-use refresh tokens), connections,
//! and the token and tenant checks of the Accounting API, over real HTTP.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use emulators::{RunningServer, TenantConfig, XeroApp, XeroConfig, XeroEmulator};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const T1: &str = "11111111-1111-4111-8111-111111111111";
const T2: &str = "22222222-2222-4222-8222-222222222222";

async fn setup() -> (XeroEmulator, RunningServer, Client) {
    let emu = XeroEmulator::new(XeroConfig {
        app: XeroApp::new("cid", "csecret"),
        tenants: vec![
            TenantConfig::new(T1, "First Org"),
            TenantConfig::new(T2, "Second Org"),
        ],
        ..XeroConfig::default()
    });
    let srv = emu.start().await.unwrap();
    let c = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (emu, srv, c)
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn token(c: &Client, srv: &RunningServer, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = c
        .post(format!("{}/connect/token", srv.base_url))
        .basic_auth("cid", Some("csecret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// Runs the authorize step with a PKCE challenge for `verifier`; the code.
async fn authorize(c: &Client, srv: &RunningServer, verifier: &str) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let q = form(&[
        ("response_type", "code"),
        ("client_id", "cid"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid accounting.contacts offline_access"),
        ("state", "s t"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let r = c
        .get(format!("{}/identity/connect/authorize?{q}", srv.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(loc.as_str().starts_with(REDIRECT));
    let get = |k: &str| {
        loc.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(get("state").as_deref(), Some("s t"));
    get("code").unwrap()
}

async fn exchange(c: &Client, srv: &RunningServer, verifier: &str) -> Value {
    let code = authorize(c, srv, verifier).await;
    let (s, body) = token(
        c,
        srv,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

async fn contacts(
    c: &Client,
    srv: &RunningServer,
    access: &str,
    tenant: Option<&str>,
) -> StatusCode {
    let mut rb = c
        .get(format!("{}/api.xro/2.0/Contacts", srv.base_url))
        .bearer_auth(access);
    if let Some(t) = tenant {
        rb = rb.header("xero-tenant-id", t);
    }
    rb.send().await.unwrap().status()
}

#[tokio::test]
async fn code_with_pkce_gives_tokens_and_a_wrong_verifier_is_refused() {
    let (_emu, srv, c) = setup().await;
    let body = exchange(&c, &srv, "verifier-0123456789-0123456789-0123456789").await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1800);
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert!(body["id_token"].is_string());
    assert_eq!(body["scope"], "openid accounting.contacts offline_access");

    let code = authorize(&c, &srv, "the-right-verifier").await;
    let (s, err) = token(
        &c,
        &srv,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "a-wrong-verifier"),
        ],
    )
    .await;
    assert_eq!(
        (s, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The code was consumed by the failed attempt.
    let (s, _) = token(
        &c,
        &srv,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", "the-right-verifier"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Client authentication in the body works too; a wrong secret does not.
    let code = authorize(&c, &srv, "v2-verifier").await;
    let pairs = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", "v2-verifier"),
        ("client_id", "cid"),
        ("client_secret", "csecret"),
    ];
    let r = c
        .post(format!("{}/connect/token", srv.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&pairs))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .post(format!("{}/connect/token", srv.base_url))
        .basic_auth("cid", Some("wrong"))
        .body(form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
        ]))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_are_single_use() {
    let (_emu, srv, c) = setup().await;
    let first = exchange(&c, &srv, "verifier-rotate").await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let (s, second) = token(
        &c,
        &srv,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2);
    assert_ne!(first["access_token"], second["access_token"]);
    // Reuse of the first one.
    let (s, err) = token(
        &c,
        &srv,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(err, serde_json::json!({ "error": "invalid_grant" }));
    // The rotated one works once.
    let (s, _) = token(
        &c,
        &srv,
        &[("grant_type", "refresh_token"), ("refresh_token", r2)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn of_two_concurrent_refreshes_with_one_token_exactly_one_wins() {
    let (emu, srv, c) = setup().await;
    let first = exchange(&c, &srv, "verifier-race").await;
    let r1 = first["refresh_token"].as_str().unwrap().to_owned();
    // Both requests are in the server before either is handled.
    emu.set_token_delay(Duration::from_millis(200));
    let pairs = [
        ("grant_type", "refresh_token"),
        ("refresh_token", r1.as_str()),
    ];
    let (a, b) = tokio::join!(token(&c, &srv, &pairs), token(&c, &srv, &pairs));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    let loser = if a.0 == StatusCode::OK { b.1 } else { a.1 };
    assert_eq!(loser["error"], "invalid_grant");
    assert_eq!(emu.token_requests(), 3);
}

#[tokio::test]
async fn access_tokens_expire_on_the_emulator_clock() {
    let (emu, srv, c) = setup().await;
    let body = exchange(&c, &srv, "verifier-expiry").await;
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(contacts(&c, &srv, access, Some(T1)).await, StatusCode::OK);
    emu.advance(Duration::from_secs(1780));
    assert_eq!(contacts(&c, &srv, access, Some(T1)).await, StatusCode::OK);
    emu.advance(Duration::from_secs(20));
    let r = c
        .get(format!("{}/api.xro/2.0/Contacts", srv.base_url))
        .bearer_auth(access)
        .header("xero-tenant-id", T1)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let v: Value = r.json().await.unwrap();
    assert!(v["Detail"].as_str().unwrap().starts_with("TokenExpired"));
}

#[tokio::test]
async fn connections_list_the_consented_tenants_and_the_tenant_header_is_checked() {
    let (emu, srv, c) = setup().await;
    emu.consent_as_tenant(T2);
    let body = exchange(&c, &srv, "verifier-connections").await;
    let access = body["access_token"].as_str().unwrap();

    let r = c
        .get(format!("{}/connections", srv.base_url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let list: Value = r.json().await.unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    let conn = &list[0];
    assert_eq!(conn["tenantId"], T2);
    assert_eq!(conn["tenantName"], "Second Org");
    assert_eq!(conn["tenantType"], "ORGANISATION");
    for k in ["id", "authEventId", "createdDateUtc", "updatedDateUtc"] {
        assert!(conn[k].is_string(), "{k}");
    }

    // No token, a bad token: 401. No tenant, another tenant: 403.
    let r = c
        .get(format!("{}/connections", srv.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        contacts(&c, &srv, "nope", Some(T2)).await,
        StatusCode::UNAUTHORIZED
    );
    let r = c
        .get(format!("{}/api.xro/2.0/Contacts", srv.base_url))
        .header("xero-tenant-id", T2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        contacts(&c, &srv, access, None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        contacts(&c, &srv, access, Some(T1)).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(contacts(&c, &srv, access, Some(T2)).await, StatusCode::OK);

    // Disconnecting the tenant removes the access.
    let id = conn["id"].as_str().unwrap();
    let r = c
        .delete(format!("{}/connections/{id}", srv.base_url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        contacts(&c, &srv, access, Some(T2)).await,
        StatusCode::FORBIDDEN
    );
    let r = c
        .delete(format!("{}/connections/{id}", srv.base_url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_consent_to_two_tenants_and_revocation() {
    let (emu, srv, c) = setup().await;
    emu.consent_as_tenants(&[T1, T2]);
    let body = exchange(&c, &srv, "verifier-two").await;
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    let r = c
        .get(format!("{}/Connections", srv.base_url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["authEventId"], list[1]["authEventId"]);
    assert_eq!(contacts(&c, &srv, access, Some(T1)).await, StatusCode::OK);
    assert_eq!(contacts(&c, &srv, access, Some(T2)).await, StatusCode::OK);

    let r = c
        .post(format!("{}/connect/revocation", srv.base_url))
        .basic_auth("cid", Some("csecret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("token", refresh)]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        contacts(&c, &srv, access, Some(T1)).await,
        StatusCode::UNAUTHORIZED
    );
    let (s, err) = token(
        &c,
        &srv,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (s, err["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn authorize_refuses_an_unknown_client() {
    let (_emu, srv, c) = setup().await;
    let q = form(&[
        ("response_type", "code"),
        ("client_id", "other"),
        ("redirect_uri", REDIRECT),
        ("scope", "offline_access"),
    ]);
    let r = c
        .get(format!("{}/identity/connect/authorize?{q}", srv.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers().get("location").is_none());
}

#[tokio::test]
async fn admin_routes_drive_consent_tokens_and_the_clock() {
    let (emu, srv, c) = setup().await;
    let admin = |path: &str| format!("{}/_emulator/{path}", srv.base_url);
    let r = c
        .post(admin("consent"))
        .json(&serde_json::json!({ "tenants": [T2] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body = exchange(&c, &srv, "verifier-admin").await;
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(contacts(&c, &srv, access, Some(T2)).await, StatusCode::OK);
    assert_eq!(
        contacts(&c, &srv, access, Some(T1)).await,
        StatusCode::FORBIDDEN
    );

    let tokens: Value = c
        .post(admin("tokens"))
        .json(&serde_json::json!({ "tenants": [T1] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let granted = tokens["access_token"].as_str().unwrap();
    assert_eq!(tokens["expires_in"], 1800);
    assert_eq!(contacts(&c, &srv, granted, Some(T1)).await, StatusCode::OK);

    let before = emu.now_ms();
    let r = c
        .post(admin("clock/advance"))
        .json(&serde_json::json!({ "seconds": 1800 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(emu.now_ms() >= before + 1_800_000);
    assert_eq!(
        contacts(&c, &srv, granted, Some(T1)).await,
        StatusCode::UNAUTHORIZED
    );
    // The granted refresh token still works, once.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (s, fresh) = token(
        &c,
        &srv,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(contacts(&c, &srv, fresh, Some(T1)).await, StatusCode::OK);
}
