//! Entity pairs: a hub collection, an app entity, their mapping and their rules.

use std::sync::Arc;

use mapping::EntityMapping;
use serde_json::Value;

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

/// A complex entity: one app entity whose records hold the records of several pairs (a Xero
/// contact is an organization with its contact persons, or a person). The engine reads the app
/// entity once per page and [splits](crate::ports::AppConnector::split) each record into
/// [`Part`]s, one per member pair; each part then runs its pair's ordinary pipeline (mapping,
/// references, matching, conflicts, id-maps), members in order, so that a part referencing
/// another (a person's organization) finds it linked. Towards the app each member pair runs on
/// its own: the connector's writes of a part's entity join it back into its app record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityGroup {
    /// The app entity that is read and split (`contacts`); also the key of the group's app-side
    /// watermark and checkpoint.
    pub app: AppEntityName,
    /// The member pairs, by hub collection, in the order their parts are applied (referenced
    /// entities first). Each is one of the connector's [`EntityPair`]s, whose `app` is the
    /// part's entity (`contacts` for the company part, `contact_persons` for the people).
    pub members: Vec<EntityName>,
}

impl EntityGroup {
    /// A group reading `app` for the given member pairs (by hub collection), in order.
    pub fn new(app: &str, members: &[&str]) -> Self {
        Self {
            app: AppEntityName::new(app),
            members: members.iter().map(|m| EntityName::new(*m)).collect(),
        }
    }

    /// Whether the pair of hub collection `hub` is a member.
    pub fn has_member(&self, hub: &EntityName) -> bool {
        self.members.contains(hub)
    }

    /// The name the group's app-side watermark and page checkpoint are kept under
    /// (`group:contacts`): no hub collection has a colon in its name.
    pub fn key(&self) -> EntityName {
        EntityName::new(format!("group:{}", self.app))
    }
}

/// One part of a split app record: the record of one member pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    /// The member pair's app entity ([`EntityPair::app`]), which the connector's `describe`,
    /// `fetch_by_ids`, `find_matches`, `write` and `archive` accept like any other.
    pub entity: AppEntityName,
    /// The part, in the shape the pair's mapping reads, with its own id (a contact person's is
    /// derived from its contact's).
    pub record: Value,
}
