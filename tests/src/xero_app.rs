//! Xero on its emulator as an [`AppUnderTest`]: one tenant, a fixed token (as a custom
//! connection), records read and written as a person using Xero would (in-process, Xero's
//! validation applied). Its part entities (`companies`, `persons`) are the contacts split as the
//! connector splits them.

use std::sync::Arc;

use cli::wiring::Tuning;
use connector_sdk::AppProvider;
use emulators::XeroEmulator;
use serde_json::{Value, json};
use sync_core::entity::Part;

use crate::app::AppUnderTest;

/// Xero on its emulator.
pub struct XeroUnderTest {
    /// The emulator.
    pub emulator: XeroEmulator,
    /// Its base URL (the API is under `/api.xro/2.0`).
    pub base_url: String,
    /// The tenant linked.
    pub tenant: String,
    /// Records per page the provider reads (Xero's 100 by default).
    pub page_size: usize,
    _server: Option<emulators::RunningServer>,
}

impl XeroUnderTest {
    /// The emulator's default tenant, with a token granted to it; `server` (the emulator's,
    /// when this owns it) runs as long as this lives.
    pub fn new(
        emulator: XeroEmulator,
        base_url: String,
        server: Option<emulators::RunningServer>,
    ) -> Self {
        let tenant = emulators::xero::DEMO_TENANT_ID.to_owned();
        Self {
            emulator,
            base_url,
            tenant,
            page_size: 100,
            _server: server,
        }
    }

    /// The Xero collection of an entity of the connector.
    fn collection(entity: &str) -> &'static str {
        match entity {
            "companies" | "persons" | "contacts" => "Contacts",
            "items" => "Items",
            "invoices" => "Invoices",
            "payments" => "Payments",
            other => panic!("Xero has no entity {other}"),
        }
    }

    /// Every part of one kind (`companies` or `persons`) of the tenant's contacts.
    fn parts(&self, entity: &str) -> Vec<Value> {
        self.emulator
            .records_in(&self.tenant, "Contacts")
            .iter()
            .flat_map(|c| xero::contacts::split_contact(c).expect("a contact splits"))
            .filter(|p: &Part| p.entity.as_str() == entity)
            .map(|p| p.record)
            .collect()
    }

    fn write(&self, collection: &str, record: Value) -> Value {
        self.emulator.seed_in(&self.tenant, collection, record)
    }

    /// Writes a `persons` part: into its parent's contact persons, or as a contact of its own.
    fn write_person(&self, part: &Value) -> String {
        match part.get(xero::contacts::PARENT_ID).and_then(Value::as_str) {
            Some(parent) => {
                let mut contact = self
                    .emulator
                    .get_in(&self.tenant, "Contacts", parent)
                    .expect("the parent contact exists");
                let person = xero::contacts::contact_person_of(part);
                let key = xero::contacts::person_key(&person).expect("a person has a key");
                let mut persons: Vec<Value> = contact["ContactPersons"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|p| xero::contacts::person_key(p).as_deref() != Some(key.as_str()))
                    .collect();
                persons.push(person);
                contact["ContactPersons"] = Value::Array(persons);
                self.write("Contacts", contact);
                xero::contacts::member_id(parent, &key)
            }
            None => {
                let contact = xero::contacts::person_contact_of(part).expect("a named person");
                id_of(&self.write("Contacts", contact), "ContactID")
            }
        }
    }

    fn write_mapped(&self, entity: &str, mut record: Value) -> String {
        match entity {
            "companies" => {
                xero::contacts::unkeyed(&mut record);
                id_of(&self.write("Contacts", record), "ContactID")
            }
            "persons" => self.write_person(&record),
            other => {
                let collection = Self::collection(other);
                let stored = self.write(collection, record);
                id_of(
                    &stored,
                    &format!("{}ID", &collection[..collection.len() - 1]),
                )
            }
        }
    }

    /// The current record of an entity by id, as the connector describes it.
    fn current(&self, entity: &str, id: &str) -> Value {
        match entity {
            "companies" | "persons" => self
                .parts(entity)
                .into_iter()
                .find(|p| part_id(entity, p) == id)
                .unwrap_or_else(|| panic!("{entity} {id} exists")),
            other => self
                .emulator
                .get_in(&self.tenant, Self::collection(other), id)
                .unwrap_or_else(|| panic!("{other} {id} exists")),
        }
    }
}

fn id_of(record: &Value, field: &str) -> String {
    record[field]
        .as_str()
        .unwrap_or_else(|| panic!("a stored record has its {field}: {record}"))
        .to_owned()
}

fn part_id<'a>(entity: &str, part: &'a Value) -> &'a str {
    let field = match entity {
        "persons" => xero::contacts::PERSON_ID,
        _ => "ContactID",
    };
    part[field].as_str().unwrap_or_default()
}

/// Merges `patch` into `base`, objects key by key.
fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}

impl AppUnderTest for XeroUnderTest {
    fn id(&self) -> &'static str {
        xero::PROVIDER
    }

    fn realm(&self) -> &str {
        &self.tenant
    }

    fn provider(&self, tuning: &Tuning) -> Arc<dyn AppProvider> {
        // A token of its own for each provider built, as a process would hold a fresh one.
        let token = self.emulator.grant(&[&self.tenant]).access_token;
        let mut settings = xero::XeroSettings::fixed_token(
            &format!("{}/api.xro/2.0", self.base_url),
            &token,
            &self.tenant,
        );
        settings.connections_url = format!("{}/connections", self.base_url);
        settings.payment_account_code = Some("090".into());
        settings.overlap_seconds = 1;
        settings.page_size = self.page_size;
        Arc::new(
            xero::XeroProvider::new(settings, &tuning.build_context("http://127.0.0.1"))
                .expect("provider builds"),
        )
    }

    fn seed(&self, entity: &str, fields: Value) -> String {
        self.write_mapped(entity, fields)
    }

    fn update(&self, entity: &str, id: &str, fields: Value) {
        self.update_mapped(entity, id, fields);
    }

    fn records(&self, entity: &str) -> Vec<Value> {
        self.all_records(entity)
            .into_iter()
            .filter(|r| {
                let status = r
                    .get("ContactStatus")
                    .or_else(|| r.get("Status"))
                    .and_then(Value::as_str);
                !matches!(status, Some("ARCHIVED" | "DELETED" | "VOIDED"))
            })
            .collect()
    }

    fn all_records(&self, entity: &str) -> Vec<Value> {
        match entity {
            "companies" | "persons" => self.parts(entity),
            other => self
                .emulator
                .records_in(&self.tenant, Self::collection(other)),
        }
    }

    fn seed_mapped(&self, entity: &str, mapped: Value) -> String {
        self.write_mapped(entity, mapped)
    }

    fn update_mapped(&self, entity: &str, id: &str, mapped: Value) {
        let mut record = self.current(entity, id);
        merge(&mut record, mapped);
        if entity == "companies" {
            record["ContactID"] = json!(id);
        }
        if entity == "persons" && !id.contains(':') {
            // A person contact: written back as a contact with its id.
            let mut contact = xero::contacts::person_contact_of(&record).expect("named");
            contact["ContactID"] = json!(id);
            self.write("Contacts", contact);
            return;
        }
        self.write_mapped(entity, record);
    }
}
