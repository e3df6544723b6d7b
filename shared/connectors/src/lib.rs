//! Every app connector the product ships. Adding an app is one folder beside this one
//! (`shared/connectors/<app>/`, a crate implementing [`connector_sdk::AppProvider`]) and one
//! line in [`factories`]. The composition roots (the CLI, the Lambda functions, the tests) build
//! their [`Registry`](connector_sdk::Registry) from this list; nothing else names an app.

use connector_sdk::ProviderFactory;

/// A factory for every app, in the order their organizations are listed.
pub fn factories() -> Vec<Box<dyn ProviderFactory>> {
    vec![
        Box::new(hubspot::HubSpotFactory),
        Box::new(xero::XeroFactory),
    ]
}

/// The factory of one app.
pub fn factory(id: &str) -> Option<Box<dyn ProviderFactory>> {
    factories().into_iter().find(|f| f.id() == id)
}

/// The ids of every app.
pub fn ids() -> Vec<&'static str> {
    factories().iter().map(|f| f.id()).collect()
}

/// The registry the `events/` fixtures and the functions' tests are written for: every app on
/// one emulator URL (`app_url`; Xero's API under `/api.xro/2.0`, its identity and connections
/// beside it), with the fixtures' OAuth client (`demo-client-id` / `demo-client-secret`).
pub fn fixture_registry(app_url: &str, public_url: &str) -> connector_sdk::Registry {
    let context = connector_sdk::BuildContext {
        public_url: public_url.to_owned(),
        http: http_client::HttpConfig::fast(),
        conflict_policy: Default::default(),
    };
    let mut registry = connector_sdk::Registry::new();
    for factory in factories() {
        let provider = factory
            .build(fixture_settings(factory.id(), app_url), &context)
            .expect("fixture settings are valid");
        registry.register(provider).expect("ids are unique");
    }
    registry
}

/// One app's settings in [`fixture_registry`].
fn fixture_settings(id: &str, app_url: &str) -> serde_json::Value {
    match id {
        "xero" => serde_json::json!({
            "base_url": format!("{app_url}/api.xro/2.0"),
            "connections_url": format!("{app_url}/connections"),
            "authorize_url": format!("{app_url}/identity/connect/authorize"),
            "token_url": format!("{app_url}/connect/token"),
            "client_id": "demo-client-id",
            "client_secret": "demo-client-secret",
            "webhook_key": "demo-webhook-key",
            "payment_account_code": "090",
        }),
        _ => serde_json::json!({
            "base_url": app_url,
            "oauth": {
                "client_id": "demo-client-id",
                "client_secret": "demo-client-secret",
                "app_id": 424242,
            },
        }),
    }
}
