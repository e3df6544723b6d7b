//! HubSpot emulator: OAuth 2.0 and webhooks over real HTTP.

mod support;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use emulators::{DeliveryRecord, HubSpotConfig, HubSpotEmulator, OAuthApp, RunningServer};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::{Receiver, eventually};

const APP_ID: u64 = 777;
const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn app(rotate: bool) -> OAuthApp {
    OAuthApp {
        rotate_refresh_tokens: rotate,
        ..OAuthApp::new("cid", "csecret", APP_ID)
    }
}

async fn setup(rotate: bool) -> (HubSpotEmulator, RunningServer, Client) {
    let emu = HubSpotEmulator::new(HubSpotConfig {
        oauth: Some(app(rotate)),
        webhook_backoff: Duration::from_millis(20),
        ..HubSpotConfig::default()
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
        .post(format!("{}/oauth/v1/token", srv.base_url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(pairs))
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

/// Runs `/oauth/authorize` and returns the code (and checks `state`).
async fn authorize(c: &Client, srv: &RunningServer, challenge: Option<&str>) -> String {
    let mut q = vec![
        ("client_id", "cid"),
        ("redirect_uri", REDIRECT),
        (
            "scope",
            "crm.objects.contacts.read crm.objects.contacts.write",
        ),
        ("state", "xyz 1"),
    ];
    if let Some(ch) = challenge {
        q.push(("code_challenge", ch));
        q.push(("code_challenge_method", "S256"));
    }
    let r = c
        .get(format!("{}/oauth/authorize?{}", srv.base_url, form(&q)))
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
    assert_eq!(get("state").as_deref(), Some("xyz 1"));
    get("code").unwrap()
}

async fn code_grant(
    c: &Client,
    srv: &RunningServer,
    code: &str,
    verifier: Option<&str>,
) -> (StatusCode, Value) {
    let mut p = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("client_id", "cid"),
        ("client_secret", "csecret"),
    ];
    if let Some(v) = verifier {
        p.push(("code_verifier", v));
    }
    token(c, srv, &p).await
}

async fn refresh(c: &Client, srv: &RunningServer, rt: &str) -> (StatusCode, Value) {
    token(
        c,
        srv,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt),
            ("client_id", "cid"),
            ("client_secret", "csecret"),
        ],
    )
    .await
}

async fn api_get(c: &Client, srv: &RunningServer, bearer: &str) -> (StatusCode, Value) {
    let r = c
        .get(format!("{}/crm/v3/objects/contacts", srv.base_url))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

// RFC 7636, appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[tokio::test]
async fn code_flow_with_pkce() {
    let (emu, srv, c) = setup(false).await;
    assert_eq!(
        URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes())),
        CHALLENGE
    );

    // Valid exchange.
    let code = authorize(&c, &srv, Some(CHALLENGE)).await;
    let (s, v) = code_grant(&c, &srv, &code, Some(VERIFIER)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["token_type"], "bearer");
    assert_eq!(v["expires_in"], 1800);
    let at = v["access_token"].as_str().unwrap().to_string();
    assert!(v["refresh_token"].as_str().is_some());
    assert_eq!(api_get(&c, &srv, &at).await.0, StatusCode::OK);

    // Reused code.
    let (s, v) = code_grant(&c, &srv, &code, Some(VERIFIER)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_grant");
    assert_eq!(v["status"], "BAD_AUTH_CODE");
    assert!(v["correlationId"].is_string());

    // Wrong verifier, then missing verifier.
    let code = authorize(&c, &srv, Some(CHALLENGE)).await;
    let (s, v) = code_grant(
        &c,
        &srv,
        &code,
        Some("not-the-verifier-not-the-verifier-0123456"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_grant");
    let code = authorize(&c, &srv, Some(CHALLENGE)).await;
    assert_eq!(
        code_grant(&c, &srv, &code, None).await.0,
        StatusCode::BAD_REQUEST
    );

    // Wrong client secret => invalid_client; wrong redirect_uri => invalid_grant.
    let code = authorize(&c, &srv, None).await;
    let (s, v) = token(
        &c,
        &srv,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", "cid"),
            ("client_secret", "nope"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_client");
    let code = authorize(&c, &srv, None).await;
    let (s, v) = token(
        &c,
        &srv,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/other"),
            ("client_id", "cid"),
            ("client_secret", "csecret"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_grant");

    // Unknown client on the consent page.
    let r = c
        .get(format!(
            "{}/oauth/authorize?client_id=other&redirect_uri={REDIRECT}",
            srv.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Token info.
    let r = c
        .get(format!("{}/oauth/v1/access-tokens/{at}", srv.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let info: Value = r.json().await.unwrap();
    assert_eq!(info["token"], json!(at));
    assert_eq!(info["user"], "demo@example.com");
    assert_eq!(info["hub_id"], json!(emu.config().portal_id));
    assert_eq!(info["app_id"], json!(APP_ID));
    assert_eq!(info["token_type"], "access");
    assert_eq!(
        info["scopes"],
        json!(["crm.objects.contacts.read", "crm.objects.contacts.write"])
    );
    let left = info["expires_in"].as_u64().unwrap();
    assert!(left > 1700 && left <= 1800);
    let r = c
        .get(format!("{}/oauth/v1/access-tokens/unknown", srv.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    assert_eq!(emu.token_requests(), 6);
}

#[tokio::test]
async fn refresh_without_rotation_keeps_the_refresh_token() {
    let (emu, srv, c) = setup(false).await;
    let code = authorize(&c, &srv, None).await;
    let (_, v) = code_grant(&c, &srv, &code, None).await;
    let rt = v["refresh_token"].as_str().unwrap().to_string();
    let at1 = v["access_token"].as_str().unwrap().to_string();
    let (s, v) = refresh(&c, &srv, &rt).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["refresh_token"], json!(rt));
    let at2 = v["access_token"].as_str().unwrap().to_string();
    assert_ne!(at1, at2);
    // Both access tokens stay valid until they expire.
    assert_eq!(api_get(&c, &srv, &at1).await.0, StatusCode::OK);
    assert_eq!(api_get(&c, &srv, &at2).await.0, StatusCode::OK);
    assert_eq!(refresh(&c, &srv, &rt).await.0, StatusCode::OK);

    emu.revoke_refresh_tokens();
    let (s, v) = refresh(&c, &srv, &rt).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_grant");
    assert_eq!(v["status"], "BAD_REFRESH_TOKEN");
}

#[tokio::test]
async fn refresh_with_rotation_is_single_use() {
    let (emu, srv, c) = setup(true).await;
    let code = authorize(&c, &srv, None).await;
    let (_, v) = code_grant(&c, &srv, &code, None).await;
    let rt1 = v["refresh_token"].as_str().unwrap().to_string();
    let (s, v) = refresh(&c, &srv, &rt1).await;
    assert_eq!(s, StatusCode::OK);
    let rt2 = v["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    let (s, v) = refresh(&c, &srv, &rt1).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"], "invalid_grant");

    // Two concurrent refreshes with the same token: exactly one wins.
    emu.set_token_delay(Duration::from_millis(150));
    let (a, b) = tokio::join!(refresh(&c, &srv, &rt2), refresh(&c, &srv, &rt2));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::BAD_REQUEST]);
    assert_eq!(emu.token_requests(), 5);
}

#[tokio::test]
async fn expired_access_token_is_401_expired_authentication() {
    let (emu, srv, c) = setup(false).await;
    let code = authorize(&c, &srv, None).await;
    let (_, v) = code_grant(&c, &srv, &code, None).await;
    let at = v["access_token"].as_str().unwrap().to_string();
    let rt = v["refresh_token"].as_str().unwrap().to_string();
    emu.expire_access_tokens();
    let (s, body) = api_get(&c, &srv, &at).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["category"], "EXPIRED_AUTHENTICATION");
    assert_eq!(body["status"], "error");
    // Static tokens still work; a refreshed token works.
    assert_eq!(api_get(&c, &srv, "demo-token").await.0, StatusCode::OK);
    let (_, v) = refresh(&c, &srv, &rt).await;
    let at2 = v["access_token"].as_str().unwrap();
    assert_eq!(api_get(&c, &srv, at2).await.0, StatusCode::OK);
    // Unknown tokens are INVALID_AUTHENTICATION.
    let (s, body) = api_get(&c, &srv, "garbage").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["category"], "INVALID_AUTHENTICATION");
}

// --- webhooks ----------------------------------------------------------------

fn v3_signature(secret: &str, url: &str, body: &[u8], ts: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("POST{url}").as_bytes());
    mac.update(body);
    mac.update(ts.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Configures the target and subscriptions through the API (hapikey auth).
async fn configure(c: &Client, srv: &RunningServer, target: &str, subs: &[Value]) {
    let base = format!("{}/webhooks/v3/{APP_ID}", srv.base_url);
    let r = c
        .put(format!("{base}/settings?hapikey=csecret"))
        .json(&json!({ "targetUrl": target, "throttling": { "maxConcurrentRequests": 10 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = c
        .get(format!("{base}/settings"))
        .bearer_auth("demo-token")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["targetUrl"], json!(target));
    for s in subs {
        let r = c
            .post(format!("{base}/subscriptions?hapikey=csecret"))
            .json(s)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let v: Value = r.json().await.unwrap();
        assert!(v["id"].is_string());
    }
}

#[tokio::test]
async fn webhook_management_api_validates() {
    let (_emu, srv, c) = setup(false).await;
    let base = format!("{}/webhooks/v3/{APP_ID}", srv.base_url);
    // No credentials / wrong hapikey.
    let r = c.get(format!("{base}/subscriptions")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .get(format!("{base}/subscriptions?hapikey=wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Wrong app.
    let r = c
        .get(format!(
            "{}/webhooks/v3/1/subscriptions?hapikey=csecret",
            srv.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // propertyChange needs propertyName.
    let r = c
        .post(format!("{base}/subscriptions?hapikey=csecret"))
        .json(&json!({ "eventType": "contact.propertyChange", "active": true }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = c
        .post(format!("{base}/subscriptions?hapikey=csecret"))
        .json(&json!({ "eventType": "deal.creation" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    configure(
        &c,
        &srv,
        "http://127.0.0.1:9/hook",
        &[json!({ "eventType": "contact.creation", "active": true })],
    )
    .await;
    // Duplicate => 409; list; deactivate; delete.
    let r = c
        .post(format!("{base}/subscriptions?hapikey=csecret"))
        .json(&json!({ "eventType": "contact.creation" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let v: Value = c
        .get(format!("{base}/subscriptions?hapikey=csecret"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = v["results"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(v["results"].as_array().unwrap().len(), 1);
    let r = c
        .patch(format!("{base}/subscriptions/{id}?hapikey=csecret"))
        .json(&json!({ "active": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["active"], false);
    let r = c
        .delete(format!("{base}/subscriptions/{id}?hapikey=csecret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn update_produces_a_signed_delivery() {
    let (emu, srv, c) = setup(false).await;
    let (rx, rx_url) = Receiver::start(&[]).await;
    let target = format!("{rx_url}/hooks/hubspot?portal=62515");
    configure(
        &c,
        &srv,
        &target,
        &[
            json!({ "eventType": "contact.creation", "active": true }),
            json!({ "eventType": "contact.propertyChange", "propertyName": "firstname", "active": true }),
            json!({ "eventType": "contact.propertyChange", "propertyName": "lastname", "active": true }),
            json!({ "eventType": "contact.deletion", "active": true }),
            json!({ "eventType": "company.creation", "active": false }),
        ],
    )
    .await;

    // A third-party creation (CRM_UI) and an API update (INTEGRATION).
    let ct = emu.seed("contacts", json!({ "email": "a@x.io", "firstname": "Ann" }));
    emu.seed("companies", json!({ "name": "Inactive sub" }));
    let id = ct["id"].as_str().unwrap().to_string();
    let r = c
        .patch(format!("{}/crm/v3/objects/contacts/{id}", srv.base_url))
        .bearer_auth("demo-token")
        .json(&json!({ "properties": { "firstname": "Anna", "lastname": "Lee", "phone": "1" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(emu.archive("contacts", &id));

    // Delivered by the background task, without an explicit flush.
    assert!(
        eventually(|| {
            rx.received()
                .iter()
                .map(|r| serde_json::from_slice::<Vec<Value>>(&r.body).unwrap().len())
                .sum::<usize>()
                >= 4
        })
        .await
    );
    emu.flush_webhooks().await;
    let mut events = Vec::new();
    for req in rx.received() {
        assert_eq!(req.uri.path(), "/hooks/hubspot");
        assert_eq!(req.headers["content-type"], "application/json");
        assert_eq!(req.headers["x-hubspot-signature-version"], "v3");
        let ts = req.headers["x-hubspot-request-timestamp"].to_str().unwrap();
        let age = chrono::Utc::now().timestamp_millis() - ts.parse::<i64>().unwrap();
        assert!((0..60_000).contains(&age));
        let expected = v3_signature("csecret", &target, &req.body, ts);
        assert_eq!(req.headers["x-hubspot-signature-v3"], expected.as_str());
        events.extend(serde_json::from_slice::<Vec<Value>>(&req.body).unwrap());
    }
    let oid: u64 = id.parse().unwrap();
    let types: Vec<(&str, Option<&str>)> = events
        .iter()
        .map(|e| {
            (
                e["subscriptionType"].as_str().unwrap(),
                e["propertyName"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        types,
        [
            ("contact.creation", None),
            ("contact.propertyChange", Some("firstname")),
            ("contact.propertyChange", Some("lastname")),
            ("contact.deletion", None),
        ]
    );
    for e in &events {
        assert_eq!(e["objectId"], json!(oid));
        assert_eq!(e["portalId"], json!(62515));
        assert_eq!(e["appId"], json!(APP_ID));
        assert_eq!(e["attemptNumber"], 0);
        assert!(e["eventId"].as_u64().is_some());
        assert!(e["subscriptionId"].as_u64().is_some());
        assert!(e["occurredAt"].as_i64().unwrap() > 1_600_000_000_000);
    }
    assert_eq!(events[0]["changeFlag"], "NEW");
    assert_eq!(events[0]["changeSource"], "CRM_UI");
    assert_eq!(events[1]["propertyValue"], "Anna");
    assert_eq!(events[1]["changeSource"], "INTEGRATION");
    assert_eq!(events[2]["propertyValue"], "Lee");
    assert_eq!(events[3]["changeFlag"], "DELETED");
    let mut ids: Vec<u64> = events
        .iter()
        .map(|e| e["eventId"].as_u64().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    assert!(
        emu.deliveries()
            .iter()
            .all(|d| d.status == Some(200) && d.attempt == 0)
    );
}

#[tokio::test]
async fn failed_deliveries_are_retried() {
    let (emu, srv, c) = setup(false).await;
    let (rx, rx_url) = Receiver::start(&[500]).await;
    let target = format!("{rx_url}/hook");
    configure(
        &c,
        &srv,
        &target,
        &[json!({ "eventType": "company.creation" })],
    )
    .await;
    emu.pause_webhooks(true);
    emu.seed("companies", json!({ "name": "A" }));
    emu.seed("companies", json!({ "name": "B" }));
    emu.flush_webhooks().await;
    assert!(rx.received().is_empty(), "paused: nothing sent");
    assert_eq!(emu.pending_webhook_events(), 2);
    emu.pause_webhooks(false);
    emu.flush_webhooks().await;
    assert_eq!(
        emu.deliveries(),
        [
            DeliveryRecord {
                status: Some(500),
                events: 2,
                attempt: 0
            },
            DeliveryRecord {
                status: Some(200),
                events: 2,
                attempt: 1
            },
        ]
    );
    let got = rx.received();
    assert_eq!(got.len(), 2);
    let retry: Vec<Value> = serde_json::from_slice(&got[1].body).unwrap();
    assert!(retry.iter().all(|e| e["attemptNumber"] == 1));
    let first: Vec<Value> = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(first[0]["eventId"], retry[0]["eventId"]);
    let ts = got[1].headers["x-hubspot-request-timestamp"]
        .to_str()
        .unwrap();
    assert_eq!(
        got[1].headers["x-hubspot-signature-v3"],
        v3_signature("csecret", &target, &got[1].body, ts).as_str()
    );

    // Receiver down for good: gives up after max attempts.
    *rx.script.lock().unwrap() = [503, 503, 503].into();
    emu.seed("companies", json!({ "name": "C" }));
    emu.flush_webhooks().await;
    let d = emu.deliveries();
    assert_eq!(d.len(), 5);
    assert!(d[2..].iter().all(|d| d.status == Some(503)));
    assert_eq!(emu.pending_webhook_events(), 0);
}

#[tokio::test]
async fn duplicate_deliveries_send_identical_requests() {
    let (emu, srv, c) = setup(false).await;
    let (rx, rx_url) = Receiver::start(&[]).await;
    configure(
        &c,
        &srv,
        &format!("{rx_url}/hook"),
        &[json!({ "eventType": "contact.creation" })],
    )
    .await;
    emu.duplicate_deliveries(true);
    emu.seed("contacts", json!({ "email": "d@x.io" }));
    emu.flush_webhooks().await;
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(
        got[0].headers["x-hubspot-signature-v3"],
        got[1].headers["x-hubspot-signature-v3"]
    );
    assert_eq!(emu.deliveries().len(), 2);
}

#[tokio::test]
async fn batches_hold_at_most_batch_size_events() {
    let emu = HubSpotEmulator::new(HubSpotConfig {
        oauth: Some(app(false)),
        webhook_batch_size: 3,
        ..HubSpotConfig::default()
    });
    let srv = emu.start().await.unwrap();
    let c = Client::new();
    let (rx, rx_url) = Receiver::start(&[]).await;
    configure(
        &c,
        &srv,
        &format!("{rx_url}/hook"),
        &[json!({ "eventType": "company.creation" })],
    )
    .await;
    emu.pause_webhooks(true);
    for i in 0..7 {
        emu.seed("companies", json!({ "name": format!("C{i}") }));
    }
    emu.pause_webhooks(false);
    emu.flush_webhooks().await;
    let sizes: Vec<usize> = emu.deliveries().iter().map(|d| d.events).collect();
    assert_eq!(sizes, [3, 3, 1]);
    assert_eq!(rx.received().len(), 3);
}

#[tokio::test]
async fn consent_page_without_auto_approve() {
    let emu = HubSpotEmulator::new(HubSpotConfig {
        oauth: Some(OAuthApp {
            auto_approve: false,
            ..app(false)
        }),
        ..HubSpotConfig::default()
    });
    let srv = emu.start().await.unwrap();
    let c = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let q = form(&[
        ("client_id", "cid"),
        ("redirect_uri", REDIRECT),
        ("scope", "oauth"),
        ("state", "s"),
    ]);
    let r = c
        .get(format!("{}/oauth/authorize?{q}", srv.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("decision=approve"));
    let r = c
        .get(format!(
            "{}/oauth/authorize?{q}&decision=deny",
            srv.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let loc = r.headers()["location"].to_str().unwrap();
    assert!(loc.contains("error=access_denied") && loc.contains("state=s"));
    let r = c
        .get(format!(
            "{}/oauth/authorize?{q}&decision=approve",
            srv.base_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(r.headers()["location"].to_str().unwrap().contains("code="));
    // Debug output never shows the secret.
    assert!(!format!("{emu:?}").contains("csecret"));
}

/// `GET` of a JSON document, with a bearer token when given.
async fn get_json(c: &Client, srv: &RunningServer, path: &str, bearer: Option<&str>) -> Value {
    let mut request = c.get(format!("{}{path}", srv.base_url));
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn each_portal_sees_only_its_own_records() {
    let (emu, srv, c) = setup(false).await;
    let default_portal = emu.config().portal_id;
    emu.seed("contacts", json!({ "email": "same@x.example" }));
    emu.add_private_app_token(777, "portal-777-token");
    // The same email may exist once per portal.
    let created = c
        .post(format!("{}/crm/v3/objects/contacts", srv.base_url))
        .bearer_auth("portal-777-token")
        .json(&json!({ "properties": { "email": "same@x.example", "firstname": "B" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let (status, listed) = api_get(&c, &srv, "portal-777-token").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["results"].as_array().unwrap().len(), 1);
    assert_eq!(listed["results"][0]["properties"]["firstname"], "B");
    assert_eq!(emu.objects("contacts").len(), 1);
    assert_eq!(emu.objects_in(777, "contacts").len(), 1);
    let details = get_json(
        &c,
        &srv,
        "/account-info/v3/details",
        Some("portal-777-token"),
    )
    .await;
    assert_eq!(details["portalId"], 777);

    // An OAuth consent given as another account yields tokens of that portal.
    emu.consent_as_portal(888);
    let code = authorize(&c, &srv, None).await;
    let (status, tokens) = code_grant(&c, &srv, &code, None).await;
    assert_eq!(status, StatusCode::OK);
    let access = tokens["access_token"].as_str().unwrap();
    let info = get_json(&c, &srv, &format!("/oauth/v1/access-tokens/{access}"), None).await;
    assert_eq!(info["hub_id"], 888);
    let (_, listed) = api_get(&c, &srv, access).await;
    assert!(listed["results"].as_array().unwrap().is_empty());
    let (status, refreshed) = refresh(&c, &srv, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    let path = format!(
        "/oauth/v1/access-tokens/{}",
        refreshed["access_token"].as_str().unwrap()
    );
    let info = get_json(&c, &srv, &path, None).await;
    assert_eq!(info["hub_id"], 888, "a refresh stays in its portal");
    assert_ne!(default_portal, 888);
}
