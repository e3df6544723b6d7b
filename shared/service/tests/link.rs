//! Linking's typed outcomes: the start redirect and the refusals, before any HTTP.

use std::sync::Arc;

use service::{
    ConnectorService, HubEndpoint, LinkError, LinkStart, MemoryDedupe, Ports, ServiceSettings,
    Tuning,
};
use sync_core::domain::GroupId;
use sync_core::ports::{BusError, EventBus, WorkItem};

/// A bus that accepts everything and keeps nothing.
struct Void;

#[async_trait::async_trait]
impl EventBus for Void {
    async fn publish(&self, _item: WorkItem) -> Result<(), BusError> {
        Ok(())
    }
}

fn service() -> ConnectorService {
    let ports = Ports {
        store: Arc::new(store_embedded::EmbeddedStore::in_memory().unwrap()),
        credentials: Arc::new(linking::memory::MemoryCredentialStore::new()),
        states: Arc::new(linking::memory::MemoryAuthorizationStateStore::new()),
        dedupe: Arc::new(MemoryDedupe::default()),
        bus: Arc::new(Void),
    };
    let settings = ServiceSettings {
        hub: HubEndpoint {
            url: "http://127.0.0.1:9".into(),
            api_id: "id".into(),
            api_key: "key".into(),
        },
        tuning: Tuning::default(),
        public_url: "https://connector.example".into(),
        tenant: "acme".into(),
        launch_secret: None,
    };
    let app = hubspot::HubSpotFactory;
    let app = connector_sdk::ProviderFactory::build(
        &app,
        serde_json::json!({
            "base_url": "http://127.0.0.1:9",
            "oauth": { "client_id": "c", "client_secret": "secret", "app_id": 1 },
        }),
        &connector_sdk::BuildContext {
            public_url: "https://connector.example".into(),
            http: Default::default(),
            conflict_policy: Default::default(),
        },
    )
    .unwrap();
    let mut apps = connector_sdk::Registry::new();
    apps.register(app).unwrap();
    ConnectorService::new(ports, settings, apps).unwrap()
}

#[tokio::test]
async fn start_redirects_to_the_apps_consent_page() {
    let service = service();
    let LinkStart::Redirect { url, .. } = service
        .link_start("hubspot", &GroupId::new("cld-1"))
        .await
        .unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:9/oauth/authorize?"),
        "{url}"
    );
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(
        url.contains("redirect_uri=https%3A%2F%2Fconnector.example%2Foauth%2Fhubspot%2Fcallback")
    );
}

#[tokio::test]
async fn start_names_the_apps_that_can_be_linked() {
    let service = service();
    match service.link_start("nope", &GroupId::new("cld-1")).await {
        Err(LinkError::UnknownApp { provider, known }) => {
            assert_eq!(
                (provider.as_str(), known),
                ("nope", vec!["hubspot".to_owned()])
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_callback_we_did_not_start_or_that_was_denied_is_refused() {
    let service = service();
    let refused = service
        .link_callback("hubspot", Some("code"), Some("made-up"), None)
        .await;
    assert!(
        matches!(
            refused,
            Err(LinkError::Refused(linking::LinkError::UnknownState))
        ),
        "{refused:?}"
    );
    let message = refused.unwrap_err().to_string();
    assert!(message.contains("start linking again"), "{message}");
    assert!(!message.contains("made-up"));

    let LinkStart::Redirect { url, .. } = service
        .link_start("hubspot", &GroupId::new("cld-1"))
        .await
        .unwrap();
    let state = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let denied = service
        .link_callback("hubspot", None, Some(&state), Some("access_denied"))
        .await;
    assert!(
        matches!(
            denied,
            Err(LinkError::Refused(linking::LinkError::Denied { .. }))
        ),
        "{denied:?}"
    );
    assert!(matches!(
        service
            .link_callback("nope", Some("c"), Some("s"), None)
            .await,
        Err(LinkError::UnknownApp { .. })
    ));
}
