//! Every app connector the product ships. Adding an app is one folder beside this one
//! (`shared/connectors/<app>/`, a crate implementing [`connector_sdk::AppProvider`]) and one
//! line in [`factories`]. The composition roots (the CLI, the Lambda functions, the tests) build
//! their [`Registry`](connector_sdk::Registry) from this list; nothing else names an app.

use connector_sdk::ProviderFactory;

/// A factory for every app, in the order their organizations are listed.
pub fn factories() -> Vec<Box<dyn ProviderFactory>> {
    vec![Box::new(hubspot::HubSpotFactory)]
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
/// one emulator URL, with the fixtures' OAuth client (`demo-client-id` / `demo-client-secret`).
pub fn fixture_registry(app_url: &str, public_url: &str) -> connector_sdk::Registry {
    let context = connector_sdk::BuildContext {
        public_url: public_url.to_owned(),
        http: http_client::HttpConfig::fast(),
        conflict_policy: Default::default(),
    };
    let settings = serde_json::json!({
        "base_url": app_url,
        "oauth": {
            "client_id": "demo-client-id",
            "client_secret": "demo-client-secret",
            "app_id": 424242,
        },
    });
    let mut registry = connector_sdk::Registry::new();
    for factory in factories() {
        let provider = factory
            .build(settings.clone(), &context)
            .expect("fixture settings are valid");
        registry.register(provider).expect("ids are unique");
    }
    registry
}
