//! Xero as the suite's app: contacts on the Xero emulator (one tenant, a fixed token), read as
//! the connector splits them (a company contact gives a `companies` part and one `persons` part
//! per contact person; a person contact gives one `persons` part) and written as a person using
//! Xero would (`POST` semantics through the emulator's in-process API, Xero's validation
//! applied, webhooks and change events sent).
//!
//! What the suite edits, as Xero keeps it:
//! - a company: its default and mobile phones and its postal (`POBOX`) city and country;
//! - a person: its last name only (a contact person carries first name, last name and e-mail,
//!   nothing else; the first name is the ledger key, the e-mail is never edited);
//! - a company's people are its contact persons (`ParentContactID`); a person without company
//!   is a person contact named "First Last" (names are unique: the keys are);
//! - archives: `ContactStatus: ARCHIVED`; archiving a company contact archives its contact
//!   persons with it (their parts carry its status), so the ledger marks them archived: for
//!   certain those Xero holds as its contact persons then; a person not there yet may instead
//!   become a person contact (its company resolves to none once archived) and stay active.
//!
//! Timestamps: a contact person has none of its own; its part carries its contact's
//! `UpdatedDateUTC`, which every write of the contact moves (the company's fields, another
//! contact person, an unmapped field, the engine's own writes), and so does a company's. The
//! ledger records an edit made in Xero at the contact's `UpdatedDateUTC` right after it; under
//! most recent, a Connec! edit made while an older Xero edit of the same record was still
//! pending may lose to it when the contact was modified after the Connec! edit
//! ([`AppSide::touched_after`], from every change event of the contact).
//!
//! Restrictions (named, each with its reason; see the report of the branch):
//! - [`CONTACT_PERSON_HAS_EMAIL`];
//! - [`CONTACT_PERSON_NOT_REMOVED_IN_XERO`];
//! - Xero's own rule, not a restriction: a company holds at most 5 contact persons, so the
//!   suite puts no sixth person in a company (it creates it without one);
//! - the kill -9 variant (`connector sync` processes) is HubSpot's only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use connector_sdk::AppProvider;
use emulators::xero::{DEMO_TENANT_ID, XeroConfig, XeroLimits};
use emulators::{CallFault, CallStats, ChangeHook, RecordFault, RunningServer, XeroEmulator};
use serde_json::{Value, json};
use service::Tuning;
use sync_core::domain::{Provider, Realm, Timestamp};
use xero::contacts::{PARENT_ID, PERSON_ID, PersonRef, person_digest, person_key};

use crate::app::{App, AppSide, FaultPaths, NewRecord};
use crate::ledger::{Fields, Kind, text};

/// A contact person without e-mail is known by its name (Xero gives contact persons no id; the
/// connector derives one from the e-mail, else the name), so renaming it gives it a new id: a
/// rename whose answer is lost (or whose sync is cut before its id-map is saved) makes the
/// renamed person a new one to the next poll (a new Connec! person) and the retry finds no
/// person under the old id (the old Connec! person goes INACTIVE). The suite's persons in a
/// company always have an e-mail (reported as a finding; people without e-mail are still
/// covered as person contacts, which have a ContactID).
pub const CONTACT_PERSON_HAS_EMAIL: &str =
    "a person in a company has an e-mail on Xero (a contact person's name would be its only key)";

/// Removing a contact person from its contact in Xero leaves no trace a poll or a webhook
/// could show (the contact just has one person fewer): the engine cannot tell it from a person
/// it never read. The suite archives such a person in Connec! instead (which the connector
/// carries to Xero by removing it).
pub const CONTACT_PERSON_NOT_REMOVED_IN_XERO: &str =
    "a contact person is archived in Connec! only (removing it in Xero leaves no trace)";

const ANY: &[&str] = &["/api.xro/2.0/", "/Contacts"];
const WRITES: &[&str] = &["/Contacts"];

/// The Xero emulator, running, with the modification times of every contact.
pub struct XeroSide {
    /// The emulator.
    pub emulator: XeroEmulator,
    /// The tenant linked.
    pub tenant: String,
    server: RunningServer,
    touches: Arc<Mutex<HashMap<String, Vec<i64>>>>,
}

impl XeroSide {
    /// Starts the emulator (limits raised: the suite is not about Xero's minute) on a free
    /// loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let config = XeroConfig {
            limits: XeroLimits {
                per_minute: 100_000,
                per_day: 10_000_000,
                app_per_minute: 1_000_000,
                ..XeroLimits::default()
            },
            ..XeroConfig::default()
        };
        let emulator = XeroEmulator::new(config);
        let server = emulator.start().await?;
        let touches: Arc<Mutex<HashMap<String, Vec<i64>>>> = Arc::default();
        let log = touches.clone();
        emulator.on_change(Arc::new(move |e| {
            if let Some(at) = Timestamp::parse(&e.at) {
                lock(&log)
                    .entry(e.id.to_ascii_lowercase())
                    .or_default()
                    .push(at.epoch_millis());
            }
        }));
        Ok(Self {
            emulator,
            tenant: DEMO_TENANT_ID.to_owned(),
            server,
            touches,
        })
    }

    fn contacts(&self) -> Vec<Value> {
        self.emulator.records_in(&self.tenant, "Contacts")
    }

    fn contact(&self, id: &str) -> Option<Value> {
        self.emulator.get_in(&self.tenant, "Contacts", id)
    }

    fn write(&self, record: Value) -> Option<Value> {
        self.emulator
            .try_seed_in(&self.tenant, "Contacts", vec![record])
            .ok()?
            .pop()
    }

    /// The parts of `kind` of one contact.
    fn parts_of(kind: Kind, contact: &Value) -> Vec<Value> {
        let entity = match kind {
            Kind::Company => xero::COMPANIES,
            Kind::Person => xero::PERSONS,
        };
        xero::split_contact(contact)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| p.entity.as_str() == entity)
            .map(|p| p.record)
            .collect()
    }

    /// The part with this id in a (just written) contact.
    fn part(&self, kind: Kind, contact: &Value, id: &str) -> Option<Value> {
        Self::parts_of(kind, contact)
            .into_iter()
            .find(|p| self.id_of(kind, p).as_deref() == Some(id))
    }

    /// The contact holding a part.
    fn contact_id(kind: Kind, record: &Value) -> Option<String> {
        match kind {
            Kind::Company => record
                .get("ContactID")
                .and_then(Value::as_str)
                .map(str::to_owned),
            Kind::Person => record
                .get(PERSON_ID)
                .and_then(Value::as_str)
                .map(|id| PersonRef::parse(id).contact().to_owned()),
        }
    }

    /// Rewrites the contact person `digest` of `contact` with `change`, the others kept.
    fn rewrite_member(
        &self,
        contact: &str,
        digest: &str,
        change: impl Fn(&mut Value),
    ) -> Option<Value> {
        let mut current = self.contact(contact)?;
        let mut persons = current["ContactPersons"].as_array().cloned()?;
        let person = persons
            .iter_mut()
            .find(|p| person_key(p).is_some_and(|k| person_digest(&k) == digest))?;
        change(person);
        current["ContactPersons"] = Value::Array(persons);
        self.write(current)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn company_body(fields: &Fields) -> Value {
    let at = |i: usize| fields.0.get(i).cloned().unwrap_or_default();
    json!({
        "Phones": [
            { "PhoneType": "DEFAULT", "PhoneNumber": at(0) },
            { "PhoneType": "MOBILE", "PhoneNumber": at(1) },
        ],
        "Addresses": [{ "AddressType": "POBOX", "City": at(2), "Country": at(3) }],
    })
}

impl AppSide for XeroSide {
    fn app(&self) -> App {
        App::Xero
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn url(&self) -> &str {
        &self.server.base_url
    }

    fn provider(&self, tuning: &Tuning) -> Result<Arc<dyn AppProvider>, String> {
        let token = self.emulator.grant(&[&self.tenant]).access_token;
        let base = &self.server.base_url;
        let mut settings =
            xero::XeroSettings::fixed_token(&format!("{base}/api.xro/2.0"), &token, &self.tenant);
        settings.connections_url = format!("{base}/connections");
        settings.overlap_seconds = 1;
        xero::XeroProvider::new(settings, &tuning.build_context("http://127.0.0.1"))
            .map(|p| Arc::new(p) as Arc<dyn AppProvider>)
            .map_err(|e| e.to_string())
    }

    fn link(&self) -> (Provider, Realm) {
        (Provider::new(xero::PROVIDER), Realm::new(&self.tenant))
    }

    fn hub_paths(&self, kind: Kind) -> &'static [&'static str] {
        match kind {
            Kind::Person => &["last_name"],
            Kind::Company => &[
                "phone.landline",
                "phone.mobile",
                "address.billing.city",
                "address.billing.country",
            ],
        }
    }

    fn fields_of_edit(&self, kind: Kind, seq: u64) -> Fields {
        Fields(match kind {
            Kind::Person => vec![format!("L{seq}")],
            Kind::Company => vec![
                format!("777{seq}"),
                format!("888{seq}"),
                format!("C{seq}"),
                format!("K{seq}"),
            ],
        })
    }

    fn all(&self, kind: Kind) -> Vec<Value> {
        self.contacts()
            .iter()
            .flat_map(|c| Self::parts_of(kind, c))
            .collect()
    }

    fn get(&self, kind: Kind, id: &str) -> Option<Value> {
        let contact = match kind {
            Kind::Company => id.to_owned(),
            Kind::Person => PersonRef::parse(id).contact().to_owned(),
        };
        self.part(kind, &self.contact(&contact)?, id)
    }

    fn id_of(&self, kind: Kind, record: &Value) -> Option<String> {
        let field = match kind {
            Kind::Company => "ContactID",
            Kind::Person => PERSON_ID,
        };
        record.get(field).and_then(Value::as_str).map(str::to_owned)
    }

    fn key_of(&self, kind: Kind, record: &Value) -> Option<String> {
        let field = match kind {
            Kind::Company => "Name",
            Kind::Person => "FirstName",
        };
        record.get(field).and_then(Value::as_str).map(str::to_owned)
    }

    fn is_archived(&self, record: &Value) -> bool {
        record.get("ContactStatus").and_then(Value::as_str) == Some("ARCHIVED")
    }

    fn stamp(&self, _kind: Kind, record: &Value) -> Option<Timestamp> {
        record
            .get("UpdatedDateUTC")
            .and_then(Value::as_str)
            .and_then(xero::parse_xero_timestamp)
    }

    fn fields_of(&self, kind: Kind, record: &Value) -> Fields {
        let at = |pointer: &str| text(record.pointer(pointer));
        Fields(match kind {
            Kind::Person => vec![at("/LastName")],
            Kind::Company => vec![
                at("/Phones/DEFAULT/PhoneNumber"),
                at("/Phones/MOBILE/PhoneNumber"),
                at("/Addresses/POBOX/City"),
                at("/Addresses/POBOX/Country"),
            ],
        })
    }

    fn email_of(&self, record: &Value) -> Option<String> {
        record
            .get("EmailAddress")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase)
    }

    fn company_of(&self, record: &Value) -> Option<String> {
        record
            .get(PARENT_ID)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    fn create(&self, kind: Kind, new: NewRecord<'_>) -> Option<Value> {
        let last = new.fields.first();
        match (kind, new.company) {
            (Kind::Company, _) => {
                let mut body = company_body(new.fields);
                body["Name"] = json!(new.key);
                let stored = self.write(body)?;
                Self::parts_of(kind, &stored).pop()
            }
            (Kind::Person, Some(company)) => {
                let mut person = json!({ "FirstName": new.key, "LastName": last });
                if let Some(email) = new.email {
                    person["EmailAddress"] = json!(email);
                }
                let key = person_key(&person)?;
                let mut contact = self.contact(company)?;
                let mut persons = contact["ContactPersons"].as_array().cloned()?;
                persons.push(person);
                contact["ContactPersons"] = Value::Array(persons);
                let stored = self.write(contact)?;
                self.part(kind, &stored, &xero::contacts::member_id(company, &key))
            }
            (Kind::Person, None) => {
                let mut body = json!({
                    "Name": format!("{} {last}", new.key),
                    "FirstName": new.key,
                    "LastName": last,
                });
                if let Some(email) = new.email {
                    body["EmailAddress"] = json!(email);
                }
                let stored = self.write(body)?;
                Self::parts_of(kind, &stored).pop()
            }
        }
    }

    fn update(&self, kind: Kind, id: &str, fields: &Fields) -> Option<Value> {
        let last = fields.first();
        let stored = match (kind, PersonRef::parse(id)) {
            (Kind::Company, _) => {
                let mut body = company_body(fields);
                body["ContactID"] = json!(id);
                self.write(body)?
            }
            (Kind::Person, PersonRef::Member { contact, digest }) => {
                self.rewrite_member(&contact, &digest, |p| p["LastName"] = json!(last))?
            }
            (Kind::Person, PersonRef::Contact(contact)) => {
                let first = self.contact(&contact)?["FirstName"].clone();
                let name = format!("{} {last}", first.as_str().unwrap_or_default());
                self.write(json!({
                    "ContactID": contact,
                    "Name": name,
                    "LastName": last,
                }))?
            }
        };
        self.part(kind, &stored, id)
    }

    fn unmapped(&self, kind: Kind, id: &str, seq: u64) -> bool {
        match (kind, PersonRef::parse(id)) {
            (Kind::Person, PersonRef::Member { contact, digest }) => self
                .rewrite_member(&contact, &digest, |p| {
                    p["IncludeInEmails"] = json!(seq.is_multiple_of(2))
                })
                .is_some(),
            (_, reference) => self
                .write(json!({
                    "ContactID": reference.contact(),
                    "SkypeUserName": format!("note{seq}"),
                }))
                .is_some(),
        }
    }

    fn archive(&self, kind: Kind, id: &str) -> bool {
        match (kind, PersonRef::parse(id)) {
            (Kind::Person, PersonRef::Member { .. }) => false,
            (_, reference) => self
                .write(json!({ "ContactID": reference.contact(), "ContactStatus": "ARCHIVED" }))
                .is_some(),
        }
    }

    fn archive_restriction(&self, kind: Kind, record: &Value) -> Option<&'static str> {
        (kind == Kind::Person && self.company_of(record).is_some())
            .then_some(CONTACT_PERSON_NOT_REMOVED_IN_XERO)
    }

    fn company_person_email_restriction(&self) -> Option<&'static str> {
        Some(CONTACT_PERSON_HAS_EMAIL)
    }

    fn removed_when_archived(&self, kind: Kind, id: &str) -> bool {
        kind == Kind::Person && matches!(PersonRef::parse(id), PersonRef::Member { .. })
    }

    fn people_per_company(&self) -> Option<usize> {
        // Xero: "A contact can have a maximum of 5 contact persons."
        Some(5)
    }

    fn archive_takes_people(&self) -> bool {
        true
    }

    fn touched_after(&self, kind: Kind, record: &Value, after: Timestamp) -> bool {
        let Some(contact) = Self::contact_id(kind, record) else {
            return false;
        };
        lock(&self.touches)
            .get(&contact.to_ascii_lowercase())
            .is_some_and(|times| times.iter().any(|t| *t > after.epoch_millis()))
    }

    fn fail_record(&self, kind: Kind, key: &str, times: u32) {
        // A contact person cannot be singled out (its fields sit in its contact's array): the
        // rule refuses person contacts and companies by their own fields.
        let field = match kind {
            Kind::Company => "Name",
            Kind::Person => "FirstName",
        };
        self.emulator.fail_record(RecordFault {
            field: field.to_owned(),
            value: key.into(),
            times: Some(times),
        });
    }

    fn fail_calls(&self, rule: CallFault) {
        self.emulator.fail_calls(rule);
    }

    fn fault_paths(&self) -> FaultPaths {
        FaultPaths {
            any: ANY,
            writes: WRITES,
        }
    }

    fn clear_faults(&self) {
        self.emulator.clear_faults();
    }

    fn stats(&self) -> CallStats {
        self.emulator.stats()
    }

    fn reset_stats(&self) {
        self.emulator.reset_stats();
    }

    fn on_change(&self, hook: ChangeHook) {
        self.emulator.on_change(hook);
    }

    fn entity_of_change(&self, collection: &str) -> Option<&'static str> {
        // Contacts are one complex entity: a change goes to the group through any member.
        (collection == "Contacts").then_some("organizations")
    }
}
