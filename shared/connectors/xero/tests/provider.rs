//! Xero on the provider seam: settings (errors name keys, never values), the OAuth app, tenant
//! discovery, unlinking, webhooks, and one call budget per tenant.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Utc;
use common::{Answer, serve};
use connector_sdk::{
    AppProvider, BuildContext, ChangeKind, ProviderError, ProviderFactory, UnlinkContext,
};
use http_client::HttpConfig;
use serde_json::{Value, json};
use sync_core::domain::{AppEntityName, ConflictPolicy, Realm};
use sync_core::error::{AppError, HttpError};
use sync_core::ports::StaticToken;
use webhooks::{RawRequest, body_hmac_signature};
use xero::XeroFactory;

fn context() -> BuildContext {
    BuildContext {
        public_url: "https://sync.example.com".into(),
        http: HttpConfig::fast(),
        conflict_policy: ConflictPolicy::default(),
    }
}

fn build(settings: Value) -> Result<Arc<dyn AppProvider>, ProviderError> {
    XeroFactory.build(settings, &context())
}

fn oauth_settings() -> Value {
    json!({ "client_id": "client-1", "client_secret": "s3cr3t-value", "webhook_key": "hook-key" })
}

#[test]
fn the_factory_builds_the_oauth_app_with_pkce_and_offline_access() {
    assert_eq!(XeroFactory.id(), "xero");
    let provider = build(oauth_settings()).unwrap();
    assert_eq!(provider.id().as_str(), "xero");
    assert_eq!(provider.display_name(), "Xero");
    let oauth = provider.oauth().unwrap();
    assert!(oauth.pkce);
    assert_eq!(oauth.client_auth, linking::ClientAuth::BasicAuth);
    assert_eq!(
        oauth.authorize_url,
        "https://login.xero.com/identity/connect/authorize"
    );
    assert_eq!(oauth.token_url, "https://identity.xero.com/connect/token");
    assert_eq!(
        oauth.redirect_uri,
        "https://sync.example.com/oauth/xero/callback"
    );
    assert_eq!(
        oauth.scopes,
        [
            "openid",
            "profile",
            "email",
            "offline_access",
            "accounting.contacts",
            "accounting.transactions",
            "accounting.settings"
        ]
    );
    assert!(provider.webhooks().is_some());
    assert!(provider.static_account().is_none());
    let entities: Vec<&str> = provider.entities().iter().map(|p| p.hub.as_str()).collect();
    assert_eq!(
        entities,
        ["organizations", "people", "items", "invoices", "payments"]
    );
}

#[test]
fn settings_errors_name_the_key_and_never_the_value() {
    let secret = "TOPSECRET-42";
    let with = |key: &str, value: Value| {
        let mut settings = oauth_settings();
        settings[key] = value;
        settings
    };
    let cases = [
        (with("page_size", json!(secret)), "page_size"),
        (with("page_size", json!(0)), "page_size"),
        (with("page_size", json!(5000)), "page_size"),
        (with("batch_size", json!(51)), "batch_size"),
        (with("overlap_seconds", json!(secret)), "overlap_seconds"),
        (
            with("base_url", json!(format!("not a url {secret}"))),
            "base_url",
        ),
        (
            with("token_url", json!(format!("ftp://{secret}"))),
            "token_url",
        ),
        (with("scopes", json!(42)), "scopes"),
        (with("client_sceret", json!(secret)), "client_sceret"),
        (json!({ "client_id": "client-1" }), "client_secret"),
        (json!({ "client_secret": secret }), "client_id"),
        (json!({ "access_token": secret }), "tenant_id"),
        (json!({}), "client_id"),
    ];
    for (settings, key) in cases {
        let error = match build(settings.clone()) {
            Ok(_) => panic!("accepted {settings}"),
            Err(error) => error.to_string(),
        };
        assert!(error.contains(key), "{error} should name {key}");
        assert!(!error.contains(secret), "{error} shows the value");
        assert!(!error.contains("s3cr3t"), "{error} shows the secret");
    }
}

#[test]
fn the_environment_form_works_through_the_default_reading() {
    let env = [
        ("XERO_CLIENT_ID", "client-1"),
        ("XERO_PAGE_SIZE", "200"),
        ("XERO_SCOPES", "openid offline_access accounting.contacts"),
        ("XERO_PAYMENT_ACCOUNT_CODE", "090"),
    ];
    let lookup = |name: &str| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    };
    let names: Vec<String> = env.iter().map(|(n, _)| (*n).to_owned()).collect();
    let provider = XeroFactory
        .build_from_environment(
            &lookup,
            &names,
            json!({ "client_secret": "s", "webhook_key": "k" }),
            &context(),
        )
        .unwrap();
    let oauth = provider.oauth().unwrap();
    assert_eq!(oauth.client_id, "client-1");
    assert_eq!(
        oauth.scopes,
        ["openid", "offline_access", "accounting.contacts"]
    );
    assert!(provider.webhooks().is_some());
}

#[test]
fn a_fixed_token_is_a_static_account() {
    let provider = build(json!({ "access_token": "tok", "tenant_id": "tenant-1" })).unwrap();
    let (account, _) = provider.static_account().unwrap();
    assert_eq!(account.realm.as_str(), "tenant-1");
    assert!(provider.oauth().is_none());
    assert!(provider.webhooks().is_none());
}

#[test]
fn webhooks_verify_then_become_events_of_contacts_and_invoices() {
    let provider = build(oauth_settings()).unwrap();
    let hooks = provider.webhooks().unwrap();
    let body = br#"{"events":[
        {"resourceUrl":"https://api.xero.com/api.xro/2.0/Contacts/c1","resourceId":"c1","eventDateUtc":"2024-05-01T10:00:00.123","eventType":"UPDATE","eventCategory":"CONTACT","tenantId":"t1","tenantType":"ORGANISATION"},
        {"resourceUrl":"https://api.xero.com/api.xro/2.0/Invoices/i1","resourceId":"i1","eventDateUtc":"2024-05-01T10:00:01","eventType":"CREATE","eventCategory":"INVOICE","tenantId":"t1","tenantType":"ORGANISATION"},
        {"resourceUrl":"https://api.xero.com/api.xro/2.0/CreditNotes/n1","resourceId":"n1","eventDateUtc":"2024-05-01T10:00:02","eventType":"CREATE","eventCategory":"CREDITNOTE","tenantId":"t1","tenantType":"ORGANISATION"}
    ],"firstEventSequence":1,"lastEventSequence":3,"entropy":"E"}"#;
    let good = vec![(
        "x-xero-signature".to_owned(),
        body_hmac_signature("hook-key", body),
    )];
    let request = RawRequest {
        method: "POST",
        uri: "https://sync.example.com/webhooks/xero",
        headers: &good,
        body,
    };
    assert!(hooks.verifier().verify(&request, Utc::now()).is_ok());
    let ack = hooks.verifier().acknowledgement();
    assert_eq!((ack.status, ack.body.len()), (200, 0));
    let bad = vec![(
        "x-xero-signature".to_owned(),
        body_hmac_signature("other", body),
    )];
    let rejection = hooks
        .verifier()
        .verify(
            &RawRequest {
                headers: &bad,
                ..request
            },
            Utc::now(),
        )
        .unwrap_err();
    assert_eq!((rejection.status, rejection.message.as_str()), (401, ""));

    let events = hooks.parse(body).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].entity, AppEntityName::new("contacts"));
    assert_eq!(
        (events[0].realm.as_str(), events[0].id.as_str()),
        ("t1", "c1")
    );
    assert_eq!(events[0].kind, ChangeKind::Changed);
    assert_eq!(events[0].dedupe_key, "xero:t1:c1:UPDATE:1714557600123");
    assert_eq!(events[1].entity, AppEntityName::new("invoices"));
    assert_ne!(events[0].dedupe_key, events[1].dedupe_key);
}

fn jwt(claims: Value) -> String {
    format!("e30.{}.sig", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

#[tokio::test]
async fn discovery_picks_the_consents_newest_organisation_and_unlinking_undoes_it() {
    let server = serve(|seen| match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", "/connections") => Answer::ok(json!([
            { "id": "conn-1", "tenantId": "t-old", "tenantName": "Old", "tenantType": "ORGANISATION",
              "authEventId": "ev-1", "createdDateUtc": "2024-01-01T00:00:00.0000000" },
            { "id": "conn-2", "tenantId": "t-new", "tenantName": "New Co", "tenantType": "ORGANISATION",
              "authEventId": "ev-1", "createdDateUtc": "2024-02-01T00:00:00.0000000" },
            { "id": "conn-3", "tenantId": "t-other", "tenantName": "Other", "tenantType": "ORGANISATION",
              "authEventId": "ev-2", "createdDateUtc": "2024-03-01T00:00:00.0000000" },
        ])),
        ("DELETE", _) => Answer::status(204, Value::Null),
        _ => Answer::ok(Value::Null),
    })
    .await;
    let mut settings = oauth_settings();
    settings["connections_url"] = json!(format!("{}/connections", server.url));
    settings["token_url"] = json!(format!("{}/connect/token", server.url));
    let provider = build(settings).unwrap();
    let token = jwt(json!({ "authentication_event_id": "ev-1" }));
    let account = provider.discover_account(&token).await.unwrap();
    assert_eq!(account.realm.as_str(), "t-new");
    assert_eq!(account.name.as_deref(), Some("New Co"));
    let seen = server.seen();
    assert_eq!(seen[0].query("authEventId"), Some("ev-1"));
    assert_eq!(
        seen[0]
            .header("authorization")
            .map(|a| a.starts_with("Bearer ")),
        Some(true)
    );

    provider
        .after_unlink(&UnlinkContext {
            realm: &Realm::new("t-new"),
            access_token: Some(&token),
            refresh_token: Some("refresh-1"),
        })
        .await
        .unwrap();
    let seen = server.seen();
    let delete = seen.iter().find(|s| s.method == "DELETE").unwrap();
    assert_eq!(delete.path, "/connections/conn-2");
    let revoke = seen
        .iter()
        .find(|s| s.path == "/connect/revocation")
        .unwrap();
    assert_eq!(revoke.method, "POST");
    assert_eq!(
        revoke.raw_body,
        "token=refresh-1&token_type_hint=refresh_token"
    );
    let basic = format!("Basic {}", STANDARD.encode("client-1:s3cr3t-value"));
    assert_eq!(revoke.header("authorization"), Some(basic.as_str()));
}

#[tokio::test]
async fn no_organisation_is_a_clear_answer_error() {
    let server = serve(|_| {
        Answer::ok(json!([
            { "id": "conn-1", "tenantId": "p-1", "tenantType": "PRACTICE" }
        ]))
    })
    .await;
    let mut settings = oauth_settings();
    settings["connections_url"] = json!(format!("{}/connections", server.url));
    let provider = build(settings).unwrap();
    match provider.discover_account("opaque").await {
        Err(ProviderError::Answer { detail, .. }) => {
            assert!(detail.contains("no Xero organisation"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_used_up_day_stops_every_connector_of_the_tenant_only() {
    let server = serve(|_| {
        Answer::status(429, json!({ "Title": "Too Many Requests" }))
            .with("x-rate-limit-problem", "day")
            .with("retry-after", "3600")
    })
    .await;
    let mut settings = oauth_settings();
    settings["base_url"] = json!(format!("{}/api.xro/2.0", server.url));
    let provider = build(settings).unwrap();
    let token = || Arc::new(StaticToken::new("tok")) as Arc<dyn sync_core::ports::TokenSource>;
    let contacts = AppEntityName::new("contacts");
    let exhausted = |result: Result<_, AppError>| {
        matches!(
            result,
            Err(AppError::Http(HttpError::QuotaExhausted { .. }))
        )
    };
    let sync = provider.connector(&Realm::new("t-1"), token()).unwrap();
    assert!(exhausted(sync.fetch_page(&contacts, None, None).await));
    assert_eq!(server.seen().len(), 1);
    // Another connector of the same tenant (a webhook's) fails fast, without a call.
    let webhook = provider.connector(&Realm::new("t-1"), token()).unwrap();
    assert!(exhausted(webhook.fetch_page(&contacts, None, None).await));
    assert_eq!(server.seen().len(), 1);
    // Another tenant has its own day.
    let other = provider.connector(&Realm::new("t-2"), token()).unwrap();
    assert!(exhausted(other.fetch_page(&contacts, None, None).await));
    assert_eq!(server.seen().len(), 2);
    assert_eq!(server.seen()[1].header("xero-tenant-id"), Some("t-2"));
}
