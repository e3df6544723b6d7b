//! Xero emulator: call limits (minute and day windows on the emulator clock) and webhooks
//! (signed deliveries, intent-to-receive), over real HTTP.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use emulators::{WebhookTarget, XeroConfig, XeroEmulator, XeroLimits};
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use support::{Receiver, eventually};
use tokio::net::TcpListener;

const KEY: &str = "webhook-key-0123456789";

fn signature(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

async fn call(c: &Client, base: &str, token: &str, tenant: &str) -> reqwest::Response {
    c.get(format!("{base}/api.xro/2.0/Contacts"))
        .bearer_auth(token)
        .header("xero-tenant-id", tenant)
        .send()
        .await
        .unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn minute_limit_answers_429_until_the_window_rolls() {
    let emu = XeroEmulator::new(XeroConfig {
        limits: XeroLimits {
            per_minute: 3,
            ..XeroLimits::default()
        },
        ..XeroConfig::default()
    });
    let tenant = emu.tenants()[0].clone();
    let token = emu.grant(&[&tenant]).access_token;
    let srv = emu.start().await.unwrap();
    let c = Client::new();
    for left in [2, 1, 0] {
        let r = call(&c, &srv.base_url, &token, &tenant).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "x-minlimit-remaining"), Some(left.to_string()));
        assert_eq!(
            header(&r, "x-daylimit-remaining"),
            Some((4999 - (2 - left)).to_string())
        );
        assert_eq!(
            header(&r, "x-appminlimit-remaining"),
            Some((9999 - (2 - left)).to_string())
        );
    }
    let r = call(&c, &srv.base_url, &token, &tenant).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&r, "x-rate-limit-problem").as_deref(),
        Some("minute")
    );
    let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(header(&r, "x-minlimit-remaining").as_deref(), Some("0"));
    // Refused calls do not count; once the window rolls the calls go through again.
    emu.advance(Duration::from_secs(retry));
    let r = call(&c, &srv.base_url, &token, &tenant).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(emu.stats().rejected, 1);
}

#[tokio::test]
async fn day_limit_answers_429_with_a_long_retry_after() {
    let emu = XeroEmulator::new(XeroConfig {
        limits: XeroLimits {
            per_minute: 100,
            per_day: 4,
            ..XeroLimits::default()
        },
        access_token_ttl: Duration::from_secs(3 * 86_400),
        ..XeroConfig::default()
    });
    let tenant = emu.tenants()[0].clone();
    let token = emu.grant(&[&tenant]).access_token;
    let srv = emu.start().await.unwrap();
    let c = Client::new();
    for _ in 0..4 {
        assert_eq!(
            call(&c, &srv.base_url, &token, &tenant).await.status(),
            StatusCode::OK
        );
        emu.advance(Duration::from_secs(3600));
    }
    let r = call(&c, &srv.base_url, &token, &tenant).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&r, "x-rate-limit-problem").as_deref(), Some("day"));
    assert_eq!(header(&r, "x-daylimit-remaining").as_deref(), Some("0"));
    let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    // The first call leaves the day window 24 h after it was made, 4 h ago.
    assert!((20 * 3600 - 60..=20 * 3600).contains(&retry), "{retry}");
    emu.advance(Duration::from_secs(retry));
    assert_eq!(
        call(&c, &srv.base_url, &token, &tenant).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn limits_are_per_tenant_and_the_app_limit_spans_tenants() {
    let emu = XeroEmulator::new(XeroConfig {
        tenants: vec![
            emulators::TenantConfig::new("aaaaaaaa-0000-4000-8000-000000000001", "A"),
            emulators::TenantConfig::new("aaaaaaaa-0000-4000-8000-000000000002", "B"),
        ],
        limits: XeroLimits {
            per_minute: 2,
            app_per_minute: 3,
            ..XeroLimits::default()
        },
        ..XeroConfig::default()
    });
    let ts = emu.tenants();
    let token = emu.grant(&[&ts[0], &ts[1]]).access_token;
    let srv = emu.start().await.unwrap();
    let c = Client::new();
    assert_eq!(
        call(&c, &srv.base_url, &token, &ts[0]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        call(&c, &srv.base_url, &token, &ts[0]).await.status(),
        StatusCode::OK
    );
    let r = call(&c, &srv.base_url, &token, &ts[0]).await;
    assert_eq!(
        header(&r, "x-rate-limit-problem").as_deref(),
        Some("minute")
    );
    assert_eq!(
        call(&c, &srv.base_url, &token, &ts[1]).await.status(),
        StatusCode::OK
    );
    let r = call(&c, &srv.base_url, &token, &ts[1]).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&r, "x-rate-limit-problem").as_deref(),
        Some("appminute")
    );
}

#[tokio::test]
async fn a_sixth_call_in_progress_is_refused_as_concurrent() {
    let emu = XeroEmulator::default();
    let tenant = emu.tenants()[0].clone();
    let token = emu.grant(&[&tenant]).access_token;
    let srv = emu.start().await.unwrap();
    let c = Client::new();
    emu.hold_calls(true);
    let held: Vec<_> = (0..5)
        .map(|_| {
            let (c, base, token, tenant) = (
                c.clone(),
                srv.base_url.clone(),
                token.clone(),
                tenant.clone(),
            );
            tokio::spawn(async move { call(&c, &base, &token, &tenant).await.status() })
        })
        .collect();
    assert!(eventually(|| emu.calls_in_flight(&tenant) == 5).await);
    let r = call(&c, &srv.base_url, &token, &tenant).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        header(&r, "x-rate-limit-problem").as_deref(),
        Some("concurrent")
    );
    assert!(header(&r, "retry-after").is_some());
    emu.hold_calls(false);
    for h in held {
        assert_eq!(h.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(emu.calls_in_flight(&tenant), 0);
    assert_eq!(
        call(&c, &srv.base_url, &token, &tenant).await.status(),
        StatusCode::OK
    );
}

fn authed(token: &str, tenant: &str, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.bearer_auth(token).header("xero-tenant-id", tenant)
}

#[tokio::test]
async fn contact_and_invoice_changes_are_delivered_signed() {
    let (rx, url) = Receiver::start(&[]).await;
    let emu = XeroEmulator::new(XeroConfig {
        webhook: Some(WebhookTarget::new(format!("{url}/xero/webhooks"), KEY)),
        ..XeroConfig::default()
    });
    let tenant = emu.tenants()[0].clone();
    let token = emu.grant(&[&tenant]).access_token;
    let srv = emu.start().await.unwrap();
    let c = Client::new();
    let base = format!("{}/api.xro/2.0", srv.base_url);
    emu.pause_webhooks(true);

    let v: Value = authed(&token, &tenant, c.put(format!("{base}/Contacts")))
        .json(&json!({ "Contacts": [{ "Name": "Hooked" }] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cid = v["Contacts"][0]["ContactID"].as_str().unwrap().to_owned();
    authed(&token, &tenant, c.post(format!("{base}/Contacts/{cid}")))
        .json(&json!({ "Contacts": [{ "ContactStatus": "ARCHIVED" }] }))
        .send()
        .await
        .unwrap();
    authed(&token, &tenant, c.put(format!("{base}/Items")))
        .json(&json!({ "Items": [{ "Code": "NOHOOK" }] }))
        .send()
        .await
        .unwrap();
    let other = emu.seed("Contacts", json!({ "Name": "Billed" }));
    let v: Value = authed(&token, &tenant, c.put(format!("{base}/Invoices")))
        .json(
            &json!({ "Invoices": [{ "Type": "ACCREC", "Status": "AUTHORISED",
            "Contact": { "ContactID": other["ContactID"] },
            "LineItems": [{ "Description": "x", "Quantity": 1, "UnitAmount": 10 }] }] }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let iid = v["Invoices"][0]["InvoiceID"].as_str().unwrap().to_owned();
    let r = authed(&token, &tenant, c.put(format!("{base}/Payments")))
        .json(&json!({ "Payments": [{ "Invoice": { "InvoiceID": iid }, "Account": { "Code": "090" }, "Amount": 10 }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The invoice makes "Billed" a customer: a change of the contact too.
    assert_eq!(emu.pending_webhook_events(), 6);

    emu.pause_webhooks(false);
    emu.flush_webhooks().await;
    assert!(eventually(|| !rx.received().is_empty()).await);
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let req = &got[0];
    assert_eq!(req.uri.path(), "/xero/webhooks");
    let sig = req.headers["x-xero-signature"].to_str().unwrap();
    assert_eq!(sig, signature(KEY, &req.body));
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    let events = body["events"].as_array().unwrap();
    let seen: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            (
                e["eventCategory"].as_str().unwrap().to_owned(),
                e["eventType"].as_str().unwrap().to_owned(),
                e["resourceId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let oid = other["ContactID"].as_str().unwrap().to_owned();
    let t = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
    assert_eq!(
        seen,
        [
            t("CONTACT", "CREATE", &cid),
            t("CONTACT", "UPDATE", &cid),
            t("CONTACT", "CREATE", &oid),
            t("INVOICE", "CREATE", &iid),
            t("CONTACT", "UPDATE", &oid),
            t("INVOICE", "UPDATE", &iid),
        ]
    );
    for e in events {
        assert_eq!(e["tenantId"], tenant.as_str());
        assert_eq!(e["tenantType"], "ORGANISATION");
        let id = e["resourceId"].as_str().unwrap();
        assert!(e["resourceUrl"].as_str().unwrap().ends_with(id));
        assert!(
            e["resourceUrl"]
                .as_str()
                .unwrap()
                .starts_with(&srv.base_url)
        );
        assert!(e["eventDateUtc"].as_str().unwrap().len() >= 19);
        assert_eq!(e.as_object().unwrap().len(), 7, "ids only: {e}");
    }
    let first = body["firstEventSequence"].as_u64().unwrap();
    assert_eq!(body["lastEventSequence"].as_u64().unwrap(), first + 5);
    assert_eq!(body["entropy"].as_str().unwrap().len(), 20);
    assert_eq!(emu.deliveries()[0].status, Some(200));
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_same_signed_body() {
    let (rx, url) = Receiver::start(&[500]).await;
    let emu = XeroEmulator::new(XeroConfig {
        webhook: Some(WebhookTarget::new(url, KEY)),
        webhook_backoff: Duration::from_millis(10),
        ..XeroConfig::default()
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    emu.on_change(Arc::new(move |e: &emulators::ChangeEvent| {
        s2.lock().unwrap().push((e.collection.clone(), e.kind));
    }));
    emu.pause_webhooks(true);
    let c = emu.seed("Contacts", json!({ "Name": "Retried" }));
    emu.seed("Items", json!({ "Code": "NOPE" }));
    emu.pause_webhooks(false);
    emu.flush_webhooks().await;
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(
        got[1].headers["x-xero-signature"],
        got[0].headers["x-xero-signature"]
    );
    let body: Value = serde_json::from_slice(&got[1].body).unwrap();
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
    assert_eq!(body["events"][0]["resourceId"], c["ContactID"]);
    let statuses: Vec<Option<u16>> = emu.deliveries().iter().map(|d| d.status).collect();
    assert_eq!(statuses, [Some(500), Some(200)]);
    // Observers hear about items too (webhooks do not).
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            ("Contacts".to_owned(), emulators::ChangeKind::Created),
            ("Items".to_owned(), emulators::ChangeKind::Created),
        ]
    );
}

/// How a test receiver answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Checks `x-xero-signature`: 200 with an empty body when it verifies, 401 otherwise.
    Checks,
    /// Accepts everything.
    Sloppy,
    /// Checks, but answers 200 with a body.
    Chatty,
}

async fn itr_receiver(key: &'static str, mode: Mode) -> (String, Arc<Mutex<u32>>) {
    #[derive(Clone)]
    struct S {
        key: &'static str,
        mode: Mode,
        hits: Arc<Mutex<u32>>,
    }
    async fn handle(
        State(s): State<S>,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        *s.hits.lock().unwrap() += 1;
        let given = headers
            .get("x-xero-signature")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if s.mode == Mode::Sloppy || given == signature(s.key, &body) {
            if s.mode == Mode::Chatty {
                (AxStatus::OK, "received").into_response()
            } else {
                AxStatus::OK.into_response()
            }
        } else {
            AxStatus::UNAUTHORIZED.into_response()
        }
    }
    let hits = Arc::new(Mutex::new(0));
    let app = Router::new().fallback(handle).with_state(S {
        key,
        mode,
        hits: hits.clone(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), hits)
}

#[tokio::test]
async fn intent_to_receive_passes_only_a_receiver_that_checks_signatures() {
    let (good_url, hits) = itr_receiver(KEY, Mode::Checks).await;
    let emu = XeroEmulator::new(XeroConfig {
        webhook: Some(WebhookTarget::new(good_url, KEY)),
        ..XeroConfig::default()
    });
    assert!(emu.last_intent_to_receive().is_none());
    let result = emu.intent_to_receive().await;
    assert!(result.passed, "{result:?}");
    assert_eq!(result.probes.len(), 2);
    assert!(result.probes[0].correctly_signed && result.probes[0].status == Some(200));
    assert!(result.probes[0].empty_body);
    assert!(!result.probes[1].correctly_signed && result.probes[1].status == Some(401));
    assert_eq!(*hits.lock().unwrap(), 2);
    assert_eq!(emu.last_intent_to_receive(), Some(result));

    // A receiver that does not check signatures fails; so does one with the wrong key.
    let (sloppy_url, _) = itr_receiver(KEY, Mode::Sloppy).await;
    emu.set_webhook_target(Some(WebhookTarget::new(sloppy_url, KEY)));
    let result = emu.intent_to_receive().await;
    assert!(!result.passed);
    assert!(result.probes[0].passed && !result.probes[1].passed);
    let (wrong_url, _) = itr_receiver("another-key", Mode::Checks).await;
    emu.set_webhook_target(Some(WebhookTarget::new(wrong_url, KEY)));
    let result = emu.intent_to_receive().await;
    assert!(!result.passed);
    assert_eq!(result.probes[0].status, Some(401));

    // Over the admin endpoint.
    let (good_url, _) = itr_receiver(KEY, Mode::Checks).await;
    let srv = emu.start().await.unwrap();
    let c = Client::new();
    let r = c
        .put(format!("{}/_emulator/webhook", srv.base_url))
        .json(&json!({ "url": good_url, "key": KEY }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = c
        .post(format!(
            "{}/_emulator/webhooks/intent-to-receive",
            srv.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["passed"], true);
    let v: Value = c
        .get(format!(
            "{}/_emulator/webhooks/intent-to-receive",
            srv.base_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["probes"][1]["status"], 401);
}

#[tokio::test]
async fn intent_to_receive_fails_on_a_body_or_without_a_target() {
    // 200 with a body to the good payload fails the check.
    let (chatty, _) = itr_receiver(KEY, Mode::Chatty).await;
    let emu = XeroEmulator::new(XeroConfig {
        webhook: Some(WebhookTarget::new(chatty, KEY)),
        ..XeroConfig::default()
    });
    let result = emu.intent_to_receive().await;
    assert!(!result.passed);
    assert_eq!(result.probes[0].status, Some(200));
    assert!(!result.probes[0].empty_body && !result.probes[0].passed);
    assert!(result.probes[1].passed);

    // No target; a receiver that answers 200 to everything.
    let (rx, url) = Receiver::start(&[]).await;
    let emu = XeroEmulator::default();
    let result = emu.intent_to_receive().await;
    assert!(!result.passed);
    assert!(result.error.is_some());
    emu.set_webhook_target(Some(WebhookTarget::new(url, KEY)));
    let result = emu.intent_to_receive().await;
    assert!(!result.passed);
    assert_eq!(result.probes[1].status, Some(200));
    let got = rx.received();
    assert_eq!(got.len(), 2);
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["events"], json!([]));
    assert_eq!(
        got[0].headers["x-xero-signature"].to_str().unwrap(),
        signature(KEY, &got[0].body)
    );
    assert_ne!(
        got[1].headers["x-xero-signature"].to_str().unwrap(),
        signature(KEY, &got[1].body)
    );
}
