//! Ready-made entity pairs and an organization for engine tests.

use std::collections::BTreeMap;

use mapping::{EntityMapping, FunctionRegistry};

use crate::domain::{GroupId, OrgId, Organization, Provider, Realm, Tenant, Timestamp};
use crate::entity::EntityPair;
use crate::ports::ExternalId;

/// The provider of the sample app (`FakeApp::sample`).
pub const SAMPLE_PROVIDER: &str = "fakeapp";
/// The app account (realm) of [`sample_organization`].
pub const SAMPLE_REALM: &str = "portal-1";
/// The Connec! group of [`sample_organization`].
pub const SAMPLE_GROUP: &str = "cld-1";

/// Connec! organizations <-> app companies.
pub const ORGANIZATIONS_YAML: &str = "\
name: organizations
fields:
  - hub: name
    app: properties.name
  - hub: industry
    app: properties.industry
  - hub: website.url
    app: properties.domain
    to_app: [trim, lowercase]
";

/// Connec! people <-> app contacts, with the contact's company as a reference.
pub const PEOPLE_YAML: &str = "\
name: people
fields:
  - hub: first_name
    app: properties.firstname
  - hub: last_name
    app: properties.lastname
  - hub: email.address
    app: properties.email
    to_app: [trim, lowercase]
  - hub: job_title
    app: properties.jobtitle
references:
  - hub: organization_id
    app: properties.company_id
    entity: organizations
";

/// Two pairs in sync order:
/// - `organizations` <-> `companies`: name, industry, website; Connec! smart-merges on `name`;
///   labelled by `name`.
/// - `people` <-> `contacts`: names, e-mail (lower-cased to the app), job title, and the
///   reference `people.organization_id` <-> `contacts.properties.company_id`; smart-merge on
///   `email.address`; labelled by `first_name`, `last_name`.
///
/// Every capability, the default conflict policy (most recent wins).
///
/// # Panics
/// Never: the YAML is fixed (a test guards it).
pub fn sample_entities() -> Vec<EntityPair> {
    let functions = FunctionRegistry::default();
    let load = |yaml: &str, origin: &str| {
        EntityMapping::from_yaml_str(yaml, origin, &functions).expect("sample mapping is valid")
    };
    vec![
        EntityPair::new(
            "organizations",
            "companies",
            load(ORGANIZATIONS_YAML, "organizations.yaml"),
        )
        .matching(&["name"])
        .labelled_by(&["name"]),
        EntityPair::new("people", "contacts", load(PEOPLE_YAML, "people.yaml"))
            .matching(&["email.address"])
            .labelled_by(&["first_name", "last_name"]),
    ]
}

/// Connec! items <-> app products (for [`sample_accounting_entities`]).
pub const ITEMS_YAML: &str = "\
name: items
fields:
  - hub: name
    app: properties.name
  - hub: code
    app: properties.sku
  - hub: sale_price.net_amount
    app: properties.price
";

/// Connec! invoices <-> app bills, with lines naming items and the invoiced organization as
/// references (for [`sample_accounting_entities`]).
pub const INVOICES_YAML: &str = "\
name: invoices
fields:
  - hub: transaction_number
    app: properties.number
  - hub: transaction_date
    app: properties.date
  - hub: amount.currency
    app: properties.currency
  - hub: lines
    app: properties.lines
    lines:
      fields:
        - { hub: description, app: text }
        - { hub: quantity, app: qty }
        - { hub: unit_price.net_amount, app: price }
      references:
        - { hub: item_id, app: product, entity: items }
references:
  - hub: organization_id
    app: properties.company_id
    entity: organizations
";

/// Three pairs of an accounting app, in sync order:
/// - `organizations` <-> `companies`, as in [`sample_entities`];
/// - `items` <-> `products`: name, code (`sku`), sale price; Connec! smart-merges on `code`;
///   labelled by `name`;
/// - `invoices` <-> `bills`: number, date, currency and lines (description, quantity, unit
///   price, and the reference `lines[].item_id` <-> `properties.lines[].product`), and the
///   invoiced organization (`organization_id` <-> `properties.company_id`); labelled by
///   `transaction_number`.
///
/// # Panics
/// Never: the YAML is fixed (a test guards it).
pub fn sample_accounting_entities() -> Vec<EntityPair> {
    let functions = FunctionRegistry::default();
    let load = |yaml: &str, origin: &str| {
        EntityMapping::from_yaml_str(yaml, origin, &functions).expect("sample mapping is valid")
    };
    let organizations = sample_entities().swap_remove(0);
    vec![
        organizations,
        EntityPair::new("items", "products", load(ITEMS_YAML, "items.yaml"))
            .matching(&["code"])
            .labelled_by(&["name"]),
        EntityPair::new("invoices", "bills", load(INVOICES_YAML, "invoices.yaml"))
            .labelled_by(&["transaction_number"]),
    ]
}

/// An organization `id` linking [`SAMPLE_GROUP`] to the sample app's [`SAMPLE_REALM`], sync
/// on, historical data on (`history_from: None`), linked at `linked_at`.
pub fn sample_organization(id: &str, linked_at: Timestamp) -> Organization {
    Organization {
        id: OrgId::new(id),
        tenant: Tenant::new("tenant-1"),
        group_id: GroupId::new(SAMPLE_GROUP),
        provider: Provider::new(SAMPLE_PROVIDER),
        realm: Realm::new(SAMPLE_REALM),
        name: format!("Organization {id}"),
        sync_enabled: true,
        entity_flags: BTreeMap::new(),
        history_from: None,
        linked_at,
    }
}

/// The external id the sample app's record `app_id` has in Connec!.
pub fn sample_external_id(app_id: &str) -> ExternalId {
    ExternalId {
        provider: Provider::new(SAMPLE_PROVIDER),
        realm: Realm::new(SAMPLE_REALM),
        id: crate::domain::AppId::new(app_id),
    }
}
