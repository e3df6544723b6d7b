//! The connector value: its mappings, entity pairs, the contacts group and its HTTP client.

use std::path::Path;
use std::sync::Arc;

use http_client::{ApiClient, CallBudget};
use mapping::{BuiltinMapping, EntityMapping, FunctionRegistry, MappingSet};
use sync_core::domain::{AppEntityName, Provider, Realm};
use sync_core::entity::{Capabilities, EntityGroup, EntityPair};
use sync_core::error::AppError;
use sync_core::ports::TokenSource;

use crate::config::XeroConfig;
use crate::http::xero_error_detail;
use crate::limits::XeroRateLimits;
use crate::{API, PROVIDER, SetupError};

const BUILTIN: &[(&str, &str)] = &[
    (
        "organizations.yaml",
        include_str!("../mappings/organizations.yaml"),
    ),
    ("people.yaml", include_str!("../mappings/people.yaml")),
    ("items.yaml", include_str!("../mappings/items.yaml")),
    ("invoices.yaml", include_str!("../mappings/invoices.yaml")),
    ("payments.yaml", include_str!("../mappings/payments.yaml")),
];

/// The app entity of raw Xero contacts: the complex entity read and split.
pub const CONTACTS: &str = "contacts";
/// The part entity of company contacts (pair `organizations`).
pub const COMPANIES: &str = "companies";
/// The part entity of people: contact persons and person contacts (pair `people`).
pub const PERSONS: &str = "persons";
/// Xero items (pair `items`).
pub const ITEMS: &str = "items";
/// Xero invoices and bills (pair `invoices`).
pub const INVOICES: &str = "invoices";
/// Xero payments (pair `payments`).
pub const PAYMENTS: &str = "payments";

/// The app entities the connector accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Raw contacts (the group's app entity).
    Contacts,
    /// Company parts of contacts.
    Companies,
    /// Person parts of contacts.
    Persons,
    /// Items.
    Items,
    /// Invoices.
    Invoices,
    /// Payments.
    Payments,
}

impl Kind {
    /// The kind of an app entity name.
    pub fn of(entity: &AppEntityName) -> Result<Self, AppError> {
        Ok(match entity.as_str() {
            CONTACTS => Kind::Contacts,
            COMPANIES => Kind::Companies,
            PERSONS => Kind::Persons,
            ITEMS => Kind::Items,
            INVOICES => Kind::Invoices,
            PAYMENTS => Kind::Payments,
            other => {
                return Err(AppError::UnknownEntity {
                    app: API,
                    entity: other.to_owned(),
                });
            }
        })
    }

    /// The API collection (`Contacts`), also the key of its array in bodies.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Contacts | Kind::Companies | Kind::Persons => "Contacts",
            Kind::Items => "Items",
            Kind::Invoices => "Invoices",
            Kind::Payments => "Payments",
        }
    }

    /// The field holding a wire record's id.
    pub fn wire_id(self) -> &'static str {
        match self {
            Kind::Contacts | Kind::Companies | Kind::Persons => "ContactID",
            Kind::Items => "ItemID",
            Kind::Invoices => "InvoiceID",
            Kind::Payments => "PaymentID",
        }
    }

    /// The field holding the id of a record as the connector hands it out.
    pub fn record_id(self) -> &'static str {
        match self {
            Kind::Persons => crate::contacts::PERSON_ID,
            other => other.wire_id(),
        }
    }
}

/// The Xero connector of one tenant.
pub struct XeroConnector {
    pub(crate) api: ApiClient,
    pub(crate) config: XeroConfig,
    pub(crate) tenant: Realm,
    pub(crate) token: Arc<dyn TokenSource>,
    pub(crate) provider: Provider,
    pub(crate) entities: Vec<EntityPair>,
    pub(crate) groups: Vec<EntityGroup>,
}

impl XeroConnector {
    /// Builds the connector of one tenant (`xero-tenant-id`), loading and checking the mappings.
    ///
    /// # Errors
    ///
    /// A mapping file that does not load, or an HTTP client that cannot be built.
    pub fn new(
        config: XeroConfig,
        tenant: Realm,
        token: Arc<dyn TokenSource>,
    ) -> Result<Self, SetupError> {
        let entities = load_entities(&config)?;
        let budget = Arc::new(CallBudget::new(crate::limits::MAX_CONCURRENCY));
        let api = api_client(&config, budget)?;
        Ok(Self {
            api,
            config,
            tenant,
            token,
            provider: Provider::new(PROVIDER),
            entities,
            groups: vec![EntityGroup::new(CONTACTS, &["organizations", "people"])],
        })
    }

    /// The same connector (mappings) for another tenant and its tokens, drawing from `budget`.
    ///
    /// # Errors
    ///
    /// When the HTTP client cannot be built.
    pub fn for_account(
        &self,
        tenant: Realm,
        token: Arc<dyn TokenSource>,
        budget: Arc<CallBudget>,
    ) -> Result<Self, SetupError> {
        Ok(Self {
            api: api_client(&self.config, budget)?,
            config: self.config.clone(),
            tenant,
            token,
            provider: self.provider.clone(),
            entities: self.entities.clone(),
            groups: self.groups.clone(),
        })
    }

    /// The entity pairs, in sync order.
    pub fn entity_pairs(&self) -> &[EntityPair] {
        &self.entities
    }

    /// The tenant this connector calls for.
    pub fn tenant(&self) -> &Realm {
        &self.tenant
    }

    /// Loads a mapping file written by a user, to check it before use.
    ///
    /// # Errors
    ///
    /// The loader's error, naming the file and the rule.
    pub fn check_mapping_file(path: &Path) -> Result<(), SetupError> {
        EntityMapping::from_file(path, &FunctionRegistry::default())?;
        Ok(())
    }
}

/// The pairs, in sync order: organizations, people, items, invoices, payments.
pub(crate) fn load_entities(config: &XeroConfig) -> Result<Vec<EntityPair>, SetupError> {
    let builtins: Vec<BuiltinMapping> = BUILTIN
        .iter()
        .map(|(file, text)| BuiltinMapping::new(file, text))
        .collect();
    let set = MappingSet::load(
        PROVIDER,
        &builtins,
        config.mappings_dir.as_deref(),
        &FunctionRegistry::default(),
    )?;
    let mapping = |file: &str| {
        set.get(file)
            .cloned()
            .expect("every built-in file is loaded")
    };
    let policy = config.conflict_policy;
    let no_update = Capabilities {
        app_update: false,
        ..Capabilities::ALL
    };
    let mut payments = EntityPair::new("payments", PAYMENTS, mapping("payments.yaml"))
        .policy(policy)
        .labelled_by(&["transaction_date"]);
    payments.capabilities = no_update;
    Ok(vec![
        EntityPair::new("organizations", COMPANIES, mapping("organizations.yaml"))
            .matching(&["name"])
            .policy(policy)
            .labelled_by(&["name"]),
        EntityPair::new("people", PERSONS, mapping("people.yaml"))
            .matching(&["email.address"])
            .policy(policy)
            .labelled_by(&["first_name", "last_name"]),
        EntityPair::new("items", ITEMS, mapping("items.yaml"))
            .matching(&["reference"])
            .policy(policy)
            .labelled_by(&["name"]),
        EntityPair::new("invoices", INVOICES, mapping("invoices.yaml"))
            .matching(&["transaction_number"])
            .policy(policy)
            .labelled_by(&["transaction_number"]),
        payments,
    ])
}

fn api_client(config: &XeroConfig, budget: Arc<CallBudget>) -> Result<ApiClient, SetupError> {
    Ok(ApiClient::new(API, config.http.clone(), xero_error_detail)?
        .with_rate_limits(Arc::new(XeroRateLimits))
        .with_budget(budget))
}
