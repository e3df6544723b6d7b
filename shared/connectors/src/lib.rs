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
