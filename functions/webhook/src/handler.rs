//! Verifies and queues webhooks; answers at once (the work runs in the sync function).

use lambda_http::{Body, Error, Request, Response};
use runtime_aws::{body_of, headers_of, not_found, path_and_query, to_response};
use service::ConnectorService;

/// `POST /webhooks/connec/{tenant}` and `POST /webhooks/{provider}`.
pub async fn handle(service: &ConnectorService, request: Request) -> Result<Response<Body>, Error> {
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let signed_uri = service.signed_uri(&path_and_query(&request));
    let headers = headers_of(&request);
    let raw = webhooks::RawRequest {
        method: request.method().as_str(),
        uri: &signed_uri,
        headers: &headers,
        body: body_of(&request),
    };
    let reply = match (request.method().as_str(), segments.as_slice()) {
        ("POST", ["webhooks", "connec", tenant]) => service.connec_webhook(tenant, &raw).await,
        ("POST", ["webhooks", provider]) => service.app_webhook(provider, &raw).await,
        _ => return Ok(not_found(&path)),
    };
    Ok(to_response(reply))
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_aws::testing::{PUBLIC_URL, fixture, in_memory, settings};

    fn request(value: serde_json::Value) -> Request {
        lambda_http::request::from_str(&value.to_string()).expect("an API Gateway v2 event")
    }

    async fn linked_service() -> (
        ConnectorService,
        std::sync::Arc<runtime_aws::testing::RecordingBus>,
    ) {
        let (service, bus) = in_memory(
            settings("http://127.0.0.1:9"),
            connectors::fixture_registry("http://127.0.0.1:9", PUBLIC_URL),
        );
        let now = sync_core::ports::Clock::now(&sync_core::ports::SystemClock);
        let org = sync_core::domain::Organization {
            id: sync_core::domain::OrgId::new("cld-demo"),
            tenant: sync_core::domain::Tenant::new("default"),
            group_id: sync_core::domain::GroupId::new("cld-demo"),
            provider: sync_core::domain::Provider::new("hubspot"),
            realm: sync_core::domain::Realm::new("62515"),
            name: "Demo".into(),
            sync_enabled: true,
            entity_flags: Default::default(),
            history_from: None,
            linked_at: now,
        };
        service.ports().store.put_organization(&org).await.unwrap();
        (service, bus)
    }

    #[tokio::test]
    async fn a_connec_notification_is_verified_routed_and_queued() {
        let (service, bus) = linked_service().await;
        let response = handle(&service, request(fixture("webhook-connec.json")))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let answer: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert!(answer["accepted"].as_u64().unwrap() >= 1, "{answer}");
        assert!(
            answer["ignored"].as_u64().unwrap() >= 1,
            "the unlinked group is ignored: {answer}"
        );
        assert!(!bus.items().is_empty());

        let refused = handle(&service, request(fixture("webhook-connec-bad-auth.json")))
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
    }

    #[tokio::test]
    async fn hubspot_webhooks_are_verified_on_the_signed_uri() {
        let (service, bus) = linked_service().await;
        let forged = handle(&service, request(fixture("webhook-hubspot-forged.json")))
            .await
            .unwrap();
        assert_eq!(forged.status(), 401);
        assert!(bus.items().is_empty());

        // The fixture's signature is for a fixed time: sign it again now, as HubSpot would.
        let mut event = fixture("webhook-hubspot.json");
        let body = event["body"].as_str().unwrap().to_owned();
        let now = chrono_now_ms();
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
        let accepted = handle(&service, request(event)).await.unwrap();
        assert_eq!(
            accepted.status(),
            200,
            "{}",
            String::from_utf8_lossy(accepted.body().as_ref())
        );
        let items = bus.items();
        assert!(!items.is_empty());
        assert!(items.iter().all(|item| matches!(item,
            sync_core::ports::WorkItem::AppChanges { org, .. } if org.as_str() == "cld-demo")));
    }

    fn chrono_now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    }
}
