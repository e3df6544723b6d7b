//! The `events/` samples of the webhook routes through `http_api::webhook_routes`, as
//! `lambda_http::run` hands them over.

use std::sync::Arc;

use runtime_aws::testing::{PUBLIC_URL, RecordingBus, fixture, in_memory, invoke, settings};
use service::ConnectorService;
use sync_core::domain::{GroupId, OrgId, Organization, Provider, Realm, Tenant};
use sync_core::ports::{Clock, SystemClock, WorkItem};

async fn linked_service() -> (Arc<ConnectorService>, Arc<RecordingBus>) {
    let (service, bus) = in_memory(
        settings("http://127.0.0.1:9"),
        connectors::fixture_registry("http://127.0.0.1:9", PUBLIC_URL),
    );
    let org = Organization {
        id: OrgId::new("cld-demo"),
        tenant: Tenant::new("default"),
        group_id: GroupId::new("cld-demo"),
        provider: Provider::new("hubspot"),
        realm: Realm::new("62515"),
        name: "Demo".into(),
        sync_enabled: true,
        entity_flags: Default::default(),
        history_from: None,
        linked_at: SystemClock.now(),
    };
    service.ports().store.put_organization(&org).await.unwrap();
    (Arc::new(service), bus)
}

#[tokio::test]
async fn a_connec_notification_is_verified_routed_and_queued() {
    let (service, bus) = linked_service().await;
    let routes = http_api::webhook_routes(service);
    let answer = invoke(&routes, &fixture("webhook-connec.json")).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let counts = answer.json();
    assert!(counts["accepted"].as_u64().unwrap() >= 1, "{counts}");
    assert!(
        counts["ignored"].as_u64().unwrap() >= 1,
        "the unlinked group is ignored: {counts}"
    );
    assert!(!bus.items().is_empty());

    let refused = invoke(&routes, &fixture("webhook-connec-bad-auth.json")).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.json()["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
}

#[tokio::test]
async fn a_percent_encoded_tenant_reaches_the_service_decoded() {
    let (service, bus) = linked_service().await;
    let routes = http_api::webhook_routes(service);
    let mut event = fixture("webhook-connec.json");
    event["rawPath"] = "/webhooks/connec/def%61ult".into();
    let answer = invoke(&routes, &event).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(!bus.items().is_empty());
}

#[tokio::test]
async fn a_path_api_gateway_already_decoded_reaches_the_service_as_is() {
    let (service, bus) = linked_service().await;
    let routes = http_api::webhook_routes(service);
    // API Gateway HTTP APIs percent-decode `rawPath`; `lambda_http` encodes what a URI cannot
    // hold, and the router decodes it again: the service sees the tenant as sent.
    let mut event = fixture("webhook-connec.json");
    event["rawPath"] = "/webhooks/connec/my tenant".into();
    let answer = invoke(&routes, &event).await;
    // `my tenant` is no tenant: answered as wrong credentials (tenants cannot be enumerated).
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert!(bus.items().is_empty());
}

#[tokio::test]
async fn hubspot_webhooks_are_verified_on_the_signed_uri() {
    let (service, bus) = linked_service().await;
    let routes = http_api::webhook_routes(service.clone());
    let forged = invoke(&routes, &fixture("webhook-hubspot-forged.json")).await;
    assert_eq!(forged.status, 401);
    assert!(bus.items().is_empty());

    // The fixture's signature is for a fixed time: sign it again now, as HubSpot would.
    let mut event = fixture("webhook-hubspot.json");
    let body = event["body"].as_str().unwrap().to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let uri = service.signed_uri(event["rawPath"].as_str().unwrap());
    let signature = hubspot::webhooks::hubspot_v3_signature(
        "demo-client-secret",
        "POST",
        &uri,
        body.as_bytes(),
        now,
    );
    event["headers"]["x-hubspot-signature-v3"] = signature.into();
    event["headers"]["x-hubspot-request-timestamp"] = now.to_string().into();
    let accepted = invoke(&routes, &event).await;
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    let items = bus.items();
    assert!(!items.is_empty());
    assert!(items.iter().all(|item| matches!(item,
        WorkItem::AppChanges { org, .. } if org.as_str() == "cld-demo")));
}

#[tokio::test]
async fn the_function_serves_no_oauth_route() {
    let (service, _) = linked_service().await;
    let routes = http_api::webhook_routes(service);
    let answer = invoke(&routes, &fixture("oauth-start.json")).await;
    assert_eq!(answer.status, 404);
    // The sample is curl's (it does not accept HTML): the refusal is JSON.
    assert_eq!(
        answer.json(),
        serde_json::json!({ "error": "no such route" })
    );
}
