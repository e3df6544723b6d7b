//! The providers of one deployment, by id.

use std::sync::Arc;

use sync_core::domain::{EntityName, Provider};
use sync_core::entity::EntityPair;

use crate::AppProvider;

/// Errors assembling a registry.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Two providers with one id.
    #[error("the app `{0}` is configured twice")]
    Duplicate(String),
    /// A provider asked for is not registered.
    #[error("unknown app `{asked}`; known apps: {known}")]
    Unknown {
        /// The id asked for.
        asked: String,
        /// The registered ids.
        known: String,
    },
}

/// Every provider a deployment serves. Cheap to clone.
#[derive(Clone, Default)]
pub struct Registry {
    providers: Vec<Arc<dyn AppProvider>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.ids()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a provider; its id must be new.
    pub fn register(&mut self, provider: Arc<dyn AppProvider>) -> Result<(), RegistryError> {
        if self.get(provider.id().as_str()).is_some() {
            return Err(RegistryError::Duplicate(provider.id().to_string()));
        }
        self.providers.push(provider);
        Ok(())
    }

    /// The provider with this id.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn AppProvider>> {
        self.providers.iter().find(|p| p.id().as_str() == id)
    }

    /// The provider with this id, or an error naming the known ones.
    pub fn require(&self, id: &str) -> Result<&Arc<dyn AppProvider>, RegistryError> {
        self.get(id).ok_or_else(|| RegistryError::Unknown {
            asked: id.to_owned(),
            known: self.ids().collect::<Vec<_>>().join(", "),
        })
    }

    /// The provider of an organization's app.
    pub fn of(&self, provider: &Provider) -> Option<&Arc<dyn AppProvider>> {
        self.get(provider.as_str())
    }

    /// Every provider, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn AppProvider>> {
        self.providers.iter()
    }

    /// Every id, in registration order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.providers.iter().map(|p| p.id().as_str())
    }

    /// True when nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// The pair of `provider` syncing the hub collection `entity`.
    pub fn pair(&self, provider: &Provider, entity: &EntityName) -> Option<&EntityPair> {
        self.of(provider)?
            .entities()
            .iter()
            .find(|pair| &pair.hub == entity)
    }
}
