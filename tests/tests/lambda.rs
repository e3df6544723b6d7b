//! The three Lambda functions, invoked in-process with the `events/` samples (the HTTP ones
//! through the routes they serve, `http_api::oauth_routes` and `http_api::webhook_routes`, as
//! `lambda_http::run` hands them the events), on the AWS adapters against moto (real SDK
//! clients over HTTP) and on the Connec! and HubSpot emulators: link -> first sync -> Connec!
//! notification -> HubSpot webhook -> hourly fan-out -> per-organization sync, and a sync cut
//! by its deadline finishing through continuations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use connec::record;
use emulators::{ConnecEmulator, HubSpotEmulator};
use http_client::HttpConfig;
use runtime_aws::testing::invoke;
use serde_json::{Value, json};
use service::{ConnectorService, HubEndpoint, Ports, ServiceSettings, Tuning};
use store_aws::testing::{moto, sdk_config, unique};
use store_aws::{
    DynamoAuthorizationStateStore, DynamoDedupe, DynamoStore, EventBridgeBus,
    SecretsCredentialStore, create_table,
};
use sync_core::domain::{EntityName, GroupId, OrgId};
use sync_core::ports::{BusError, EventBus, SyncStore, WorkItem};

const PUBLIC_URL: &str = "https://abcdef1234.execute-api.us-east-1.amazonaws.com";

/// Publishes to EventBridge (moto) and remembers what it published, so that the test can play
/// the role of the EventBridge rule that invokes the sync function.
struct TeeBus {
    inner: EventBridgeBus,
    seen: Mutex<Vec<WorkItem>>,
}

#[async_trait]
impl EventBus for TeeBus {
    async fn publish(&self, item: WorkItem) -> Result<(), BusError> {
        self.inner.publish(item.clone()).await?;
        self.seen.lock().unwrap().push(item);
        Ok(())
    }
    async fn publish_all(&self, items: Vec<WorkItem>) -> Result<(), BusError> {
        self.inner.publish_batch(items.clone()).await?;
        self.seen.lock().unwrap().extend(items);
        Ok(())
    }
}

impl TeeBus {
    fn take(&self) -> Vec<WorkItem> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// An EventBridge event carrying a work item, as the bus rule delivers it.
fn bridge_event(item: &WorkItem) -> Value {
    let mut event = fixture("sync-requested.json");
    event["detail-type"] = json!(store_aws::EventBridgeBus::detail_type(item));
    event["detail"] = serde_json::to_value(item).unwrap();
    event
}

struct Cloud {
    service: Arc<ConnectorService>,
    /// What the `oauth-callback` function serves.
    oauth: Router,
    /// What the `webhook` function serves.
    webhooks: Router,
    bus: Arc<TeeBus>,
    store: Arc<DynamoStore>,
    connec: ConnecEmulator,
    hubspot: HubSpotEmulator,
    _servers: Vec<emulators::RunningServer>,
}

async fn cloud() -> Cloud {
    let sdk = sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique("connector");
    create_table(&dynamo, &table).await.unwrap();
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let bus_name = unique("bus");
    events
        .create_event_bus()
        .name(&bus_name)
        .send()
        .await
        .unwrap();
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let prefix = unique("connector");

    let connec = ConnecEmulator::new(emulators::ConnecConfig::default());
    let hubspot = HubSpotEmulator::new(emulators::HubSpotConfig {
        oauth: Some(emulators::OAuthApp::default()),
        ..emulators::HubSpotConfig::default()
    });
    // Deliveries would go to the (unreachable) API Gateway URL: the test delivers them itself.
    hubspot.pause_webhooks(true);
    let connec_server = connec.start().await.unwrap();
    let hubspot_server = hubspot.start().await.unwrap();

    // The functions' own wiring from the environment must accept this configuration.
    secrets
        .create_secret()
        .name(format!("{prefix}/connec/default"))
        .secret_string(json!({ "api_id": "demo-id", "api_key": "demo-key" }).to_string())
        .send()
        .await
        .unwrap();
    secrets
        .create_secret()
        .name(format!("{prefix}/hubspot/client"))
        .secret_string(json!({ "client_secret": "demo-client-secret" }).to_string())
        .send()
        .await
        .unwrap();
    secrets
        .create_secret()
        .name(format!("{prefix}/launch/default"))
        .secret_string(json!({ "launch_secret": runtime_aws::testing::LAUNCH_SECRET }).to_string())
        .send()
        .await
        .unwrap();
    let env: HashMap<&str, String> = HashMap::from([
        ("TABLE_NAME", table.clone()),
        ("EVENT_BUS_NAME", bus_name.clone()),
        ("SECRETS_PREFIX", prefix.clone()),
        ("TENANT", "default".into()),
        ("PUBLIC_URL", PUBLIC_URL.into()),
        ("CONNEC_BASE_URL", connec_server.base_url.clone()),
        ("HUBSPOT_BASE_URL", hubspot_server.base_url.clone()),
        ("HUBSPOT_CLIENT_ID", "demo-client-id".into()),
        ("HUBSPOT_APP_ID", "424242".into()),
        ("APPS", "hubspot".into()),
    ]);
    for function in [
        runtime_aws::Function::OAuthCallback,
        runtime_aws::Function::Webhook,
        runtime_aws::Function::Sync,
    ] {
        let wired = runtime_aws::service_with(
            &sdk,
            &|name| env.get(name).cloned(),
            &connectors::factories(),
            function,
        )
        .await;
        assert!(
            wired.is_ok(),
            "the {function:?} function wires from this environment: {:?}",
            wired.err()
        );
    }
    let missing = runtime_aws::service_with(
        &sdk,
        &|name| {
            (name != "HUBSPOT_APP_ID")
                .then(|| env.get(name).cloned())
                .flatten()
        },
        &connectors::factories(),
        runtime_aws::Function::Sync,
    )
    .await;
    assert!(
        missing
            .err()
            .unwrap()
            .to_string()
            .contains("HUBSPOT_APP_ID")
    );

    // The same adapters, with the bus teed so that the test can play EventBridge's rule.
    let store = Arc::new(DynamoStore::new(dynamo.clone(), table.clone()));
    let bus = Arc::new(TeeBus {
        inner: EventBridgeBus::new(events, bus_name),
        seen: Mutex::new(Vec::new()),
    });
    let ports = Ports {
        store: store.clone(),
        credentials: Arc::new(SecretsCredentialStore::new(secrets, prefix)),
        states: Arc::new(DynamoAuthorizationStateStore::new(
            dynamo.clone(),
            table.clone(),
            linking::SealingKey::new([7; 32]),
        )),
        dedupe: Arc::new(DynamoDedupe::new(dynamo, table)),
        bus: bus.clone(),
    };
    let settings = ServiceSettings {
        hub: HubEndpoint {
            url: connec_server.base_url.clone(),
            api_id: "demo-id".into(),
            api_key: "demo-key".into(),
        },
        tuning: Tuning {
            http: HttpConfig::fast(),
            overlap: std::time::Duration::from_secs(1),
            ..Tuning::default()
        },
        public_url: PUBLIC_URL.into(),
        tenant: "default".into(),
        launch_secret: Some(
            service::LaunchSecret::new(runtime_aws::testing::LAUNCH_SECRET).unwrap(),
        ),
    };
    let apps = connectors::fixture_registry(&hubspot_server.base_url, PUBLIC_URL);
    let service = Arc::new(ConnectorService::new(ports, settings, apps).unwrap());
    Cloud {
        oauth: http_api::oauth_routes(service.clone()),
        webhooks: http_api::webhook_routes(service.clone()),
        service,
        bus,
        store,
        connec,
        hubspot,
        _servers: vec![connec_server, hubspot_server],
    }
}

/// Plays EventBridge: hands every published item to the sync function until none is left.
async fn drain(cloud: &Cloud, deadline: Option<sync_core::domain::Timestamp>) -> Vec<Value> {
    let mut outcomes = Vec::new();
    for _ in 0..100 {
        let items = cloud.bus.take();
        if items.is_empty() {
            return outcomes;
        }
        for item in items {
            let outcome = sync::handler::run(&cloud.service, &bridge_event(&item), deadline)
                .await
                .unwrap();
            outcomes.push(outcome);
        }
    }
    panic!("work kept coming: {outcomes:?}");
}

/// An API Gateway HTTP API event for `method path?query`, with the browser's cookies and a
/// form body.
fn http_event(
    method: &str,
    path: &str,
    query: &str,
    cookies: &[String],
    form: Option<String>,
) -> Value {
    let mut event = fixture("oauth-start.json");
    event["routeKey"] = json!(format!("{method} {path}"));
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    event["queryStringParameters"] = json!(query_of(&format!("https://h/?{query}")));
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["headers"]["accept"] = json!("text/html");
    event["cookies"] = json!(cookies);
    if let Some(form) = form {
        event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
        event["headers"]["content-length"] = json!(form.len().to_string());
        event["body"] = json!(form);
    }
    event
}

/// Keeps the cookies an answer sets, as `name=value`.
fn keep_cookies(answer: &runtime_aws::testing::Answer, cookies: &mut Vec<String>) {
    for value in answer.headers.get_all("set-cookie") {
        let pair = value
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let name = pair.split('=').next().unwrap().to_owned();
        cookies.retain(|c| !c.starts_with(&format!("{name}=")));
        cookies.push(pair);
    }
}

fn query_of(location: &str) -> HashMap<String, String> {
    let url = url::Url::parse(location).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_first_sync_notification_webhook_fan_out_and_continuation_on_aws_adapters() {
    let _ = moto();
    let cloud = cloud().await;
    let org_id = OrgId::new("cld-demo");
    cloud
        .connec
        .seed("cld-demo", "organizations", json!({ "name": "Acme Corp" }));

    // 1. Link, as a browser through API Gateway: launch (session cookie) -> confirmation ->
    //    start (CSRF token; browser-binding cookie) -> HubSpot consent -> callback. The path
    //    arrives percent-encoded, as some sources deliver it.
    let launch_url = cloud
        .service
        .launch_url(
            &GroupId::new("cld-demo"),
            "usr-ada",
            std::time::Duration::from_secs(300),
        )
        .unwrap();
    let launch_query = launch_url.split_once('?').unwrap().1.to_owned();
    let mut cookies: Vec<String> = Vec::new();
    let launched = invoke(
        &cloud.oauth,
        &http_event("GET", "/connector/launch", &launch_query, &cookies, None),
    )
    .await;
    assert_eq!(launched.status, 303, "{}", launched.text());
    keep_cookies(&launched, &mut cookies);
    let confirm = invoke(
        &cloud.oauth,
        &http_event("GET", "/oauth/hub%73pot/start", "", &cookies, None),
    )
    .await;
    assert_eq!(confirm.status, 200, "{}", confirm.text());
    let csrf = tests::served::csrf_of(&confirm.text());
    let start = invoke(
        &cloud.oauth,
        &http_event(
            "POST",
            "/oauth/hubspot/start",
            "",
            &cookies,
            Some(format!("csrf={csrf}")),
        ),
    )
    .await;
    assert_eq!(start.status, 303, "{}", start.text());
    keep_cookies(&start, &mut cookies);
    let authorize = start.header("location").unwrap().to_owned();
    let consent = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(&authorize)
        .send()
        .await
        .unwrap();
    let back = query_of(consent.headers()["location"].to_str().unwrap());
    let mut callback = fixture("oauth-callback.json");
    let query = format!("code={}&state={}", back["code"], back["state"]);
    callback["rawQueryString"] = json!(query);
    callback["queryStringParameters"] = json!({ "code": back["code"], "state": back["state"] });
    callback["cookies"] = json!(cookies);
    let linked = invoke(&cloud.oauth, &callback).await;
    assert_eq!(linked.status, 200, "{}", linked.text());
    let replay = invoke(&cloud.oauth, &callback).await;
    assert_eq!(replay.status, 400, "a state is used once");
    let org = cloud
        .store
        .get_organization(&org_id)
        .await
        .unwrap()
        .expect("organization in DynamoDB");
    // The link stores no historical cut-off override: only records created from now on travel.
    assert!(org.history_from.is_some());

    // 2. First sync, requested by the link through the bus.
    let created_after_link = cloud.hubspot.seed(
        "contacts",
        json!({ "firstname": "Nia", "email": "nia@x.example" }),
    );
    let outcomes = drain(&cloud, None).await;
    assert_eq!(outcomes, vec![json!({ "outcome": "done" })]);
    assert!(
        cloud
            .connec
            .records("cld-demo", "people")
            .iter()
            .any(|p| p["first_name"] == json!("Nia"))
    );
    assert_eq!(
        cloud.connec.records("cld-demo", "organizations").len(),
        1,
        "old records stay behind"
    );
    let runs = cloud.store.recent_runs(&org_id, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    let maps = cloud
        .store
        .list_idmaps(&org_id, Some(&EntityName::new("people")), 0, 100)
        .await
        .unwrap();
    assert_eq!(maps.len(), 1);

    // 3. A Connec! notification (the fixture, with a real record of this group).
    let nia = cloud
        .connec
        .records("cld-demo", "people")
        .into_iter()
        .find(|p| p["first_name"] == json!("Nia"))
        .unwrap();
    let nia_id = record::hub_id(&nia).unwrap();
    let changed = cloud
        .connec
        .update(
            "cld-demo",
            "people",
            nia_id.as_str(),
            json!({ "job_title": "Captain" }),
        )
        .unwrap();
    let mut notification = fixture("webhook-connec.json");
    notification["body"] = json!({ "people": [changed] }).to_string().into();
    let answer = invoke(&cloud.webhooks, &notification).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    drain(&cloud, None).await;
    let contact_id = created_after_link["id"].as_str().unwrap().to_owned();
    let contact = cloud.hubspot.get("contacts", &contact_id).unwrap();
    assert_eq!(contact["properties"]["jobtitle"], json!("Captain"));

    // 4. A HubSpot webhook (the fixture, re-signed for now and this contact).
    cloud
        .hubspot
        .update("contacts", &contact_id, json!({ "lastname": "Hooked" }));
    let mut webhook = fixture("webhook-hubspot.json");
    let now = chrono::Utc::now().timestamp_millis();
    let body = json!([{
        "eventId": 77, "subscriptionId": 1, "portalId": org.realm.as_str().parse::<u64>().unwrap(),
        "appId": 424242, "occurredAt": now, "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0, "objectId": contact_id.parse::<u64>().unwrap(),
        "propertyName": "lastname", "propertyValue": "Hooked", "changeSource": "CRM_UI"
    }])
    .to_string();
    let uri = cloud
        .service
        .signed_uri(webhook["rawPath"].as_str().unwrap());
    webhook["body"] = json!(body);
    webhook["headers"]["x-hubspot-signature-v3"] = json!(hubspot::webhooks::hubspot_v3_signature(
        "demo-client-secret",
        "POST",
        &uri,
        body.as_bytes(),
        now
    ));
    webhook["headers"]["x-hubspot-request-timestamp"] = json!(now.to_string());
    let answer = invoke(&cloud.webhooks, &webhook).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    // The same delivery again is deduplicated in DynamoDB.
    let again = invoke(&cloud.webhooks, &webhook).await;
    assert_eq!(again.json()["duplicates"], json!(1));
    drain(&cloud, None).await;
    let nia = cloud
        .connec
        .get("cld-demo", "people", nia_id.as_str())
        .unwrap();
    assert_eq!(nia["last_name"], json!("Hooked"));

    // 5. The hourly tick fans out one sync per organization; that sync finds nothing to do.
    let tick = sync::handler::run(&cloud.service, &fixture("schedule-tick.json"), None)
        .await
        .unwrap();
    assert_eq!(tick, json!({ "fan_out": 1 }));
    let hub_writes = cloud.connec.stats().writes;
    let app_writes = cloud.hubspot.stats().writes;
    assert_eq!(
        drain(&cloud, None).await,
        vec![json!({ "outcome": "done" })]
    );
    assert_eq!(
        (cloud.connec.stats().writes, cloud.hubspot.stats().writes),
        (hub_writes, app_writes)
    );
    assert_eq!(cloud.store.recent_runs(&org_id, 10).await.unwrap().len(), 2);

    // 6. Lots of new records and a deadline already past: each invocation does one page, then
    //    hands over to a continuation; the continuations end in the same state as one long run.
    for i in 0..230 {
        cloud.connec.seed("cld-demo", "people", json!({ "first_name": format!("P{i}"), "email": { "address": format!("p{i}@x.example") } }));
    }
    cloud
        .bus
        .publish(WorkItem::Sync {
            org: org_id.clone(),
        })
        .await
        .unwrap();
    let past = sync_core::domain::Timestamp::parse("0");
    let outcomes = drain(&cloud, past).await;
    let continued = outcomes
        .iter()
        .filter(|o| o["outcome"] == json!("continued"))
        .count();
    assert!(continued >= 2, "the deadline cut the sync: {outcomes:?}");
    assert_eq!(outcomes.last().unwrap(), &json!({ "outcome": "done" }));
    let contacts = cloud.hubspot.objects("contacts");
    assert_eq!(contacts.len(), 231);
    let maps = cloud
        .store
        .list_idmaps(&org_id, Some(&EntityName::new("people")), 0, 1000)
        .await
        .unwrap();
    assert_eq!(maps.len(), 231);
    assert!(maps.iter().all(|m| m.is_linked() && m.last_error.is_none()));

    // 7. The hub unlinks through the JSON API on the OAuth function (the tenant's credentials):
    //    HubSpot confirms the revocation, the token secret is deleted in Secrets Manager, sync
    //    goes off; the id-maps stay (no purge).
    let mut unlink = http_event(
        "POST",
        "/api/v1/groups/cld-demo/apps/hubspot/unlink",
        "",
        &[],
        None,
    );
    unlink["headers"]["authorization"] = json!(webhooks::basic_auth_header("demo-id", "demo-key"));
    unlink["headers"]["accept"] = json!("application/json");
    let answer = invoke(&cloud.oauth, &unlink).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.json()["revoked"], json!(true), "{}", answer.text());
    let key = linking::AccountKey::new("hubspot", org.realm.as_str());
    assert!(
        cloud
            .service
            .ports()
            .credentials
            .load(&key)
            .await
            .unwrap()
            .is_none()
    );
    let org = cloud
        .store
        .get_organization(&org_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!org.sync_enabled);
    assert_eq!(
        cloud
            .store
            .list_idmaps(&org_id, None, 0, 1)
            .await
            .unwrap()
            .len(),
        1,
        "id-maps kept"
    );
}
