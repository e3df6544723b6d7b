//! Entity pairs: a hub collection, an app entity, their mapping and their rules.

use std::sync::Arc;

use mapping::EntityMapping;

use crate::domain::{AppEntityName, ConflictPolicy, EntityName};

/// What the framework may do on each side for one entity pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Read hub records.
    pub hub_read: bool,
    /// Create hub records.
    pub hub_create: bool,
    /// Update hub records.
    pub hub_update: bool,
    /// Read app records.
    pub app_read: bool,
    /// Create app records.
    pub app_create: bool,
    /// Update app records.
    pub app_update: bool,
    /// Archive app records when the hub record goes INACTIVE.
    pub app_archive: bool,
}

impl Capabilities {
    /// Everything allowed.
    pub const ALL: Capabilities = Capabilities {
        hub_read: true,
        hub_create: true,
        hub_update: true,
        app_read: true,
        app_create: true,
        app_update: true,
        app_archive: true,
    };
}

/// One hub collection synced with one app entity.
#[derive(Clone, Debug)]
pub struct EntityPair {
    /// Hub collection; also the pair's name in id-maps and settings.
    pub hub: EntityName,
    /// App entity.
    pub app: AppEntityName,
    /// Field mapping (references included).
    pub mapping: Arc<EntityMapping>,
    /// Hub paths Connec! smart-merges on (`email.address`).
    pub matching_fields: Vec<String>,
    /// What may be done on each side.
    pub capabilities: Capabilities,
    /// Conflict policy.
    pub conflict_policy: ConflictPolicy,
    /// Hub path of a human label for status screens (`name`, `last_name`).
    pub label_fields: Vec<String>,
}

impl EntityPair {
    /// A pair with every capability, the default policy and no matching fields.
    pub fn new(hub: &str, app: &str, mapping: EntityMapping) -> Self {
        Self {
            hub: EntityName::new(hub),
            app: AppEntityName::new(app),
            mapping: Arc::new(mapping),
            matching_fields: Vec::new(),
            capabilities: Capabilities::ALL,
            conflict_policy: ConflictPolicy::default(),
            label_fields: Vec::new(),
        }
    }
    /// Sets the fields Connec! smart-merges on.
    pub fn matching(mut self, fields: &[&str]) -> Self {
        self.matching_fields = fields.iter().map(|f| (*f).to_owned()).collect();
        self
    }
    /// Sets the conflict policy.
    pub fn policy(mut self, policy: ConflictPolicy) -> Self {
        self.conflict_policy = policy;
        self
    }
    /// Sets the label fields.
    pub fn labelled_by(mut self, fields: &[&str]) -> Self {
        self.label_fields = fields.iter().map(|f| (*f).to_owned()).collect();
        self
    }
}
