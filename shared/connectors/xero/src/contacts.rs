//! The contacts complex entity: a Xero contact split into its parts, and parts joined back.
//!
//! Xero has one `Contact` for companies and people alike; a company contact lists its people in
//! `ContactPersons` (first name, last name, e-mail, no id). [`split_contact`] gives:
//! - for a **person contact** ([`is_person_contact`]: no contact persons, and a `Name` that is
//!   its `FirstName` and `LastName`, as Xero fills it for a person), one `persons` part, id =
//!   ContactID, no parent;
//! - otherwise a `companies` part (the contact without `ContactPersons`, id = ContactID)
//!   followed by one `persons` part per contact person, with id `<ContactID>:<digest>` (the
//!   digest of the person's lower-cased e-mail, else of its lower-cased name: stable across
//!   reads, without personal data in ids and logs) and `ParentContactID` = the ContactID.
//!
//! In every part, `Phones` and `Addresses` are objects keyed by `PhoneType` / `AddressType`
//! ([`keyed`]), so that a mapping names `Phones.MOBILE.PhoneNumber` whatever the order Xero
//! sends; [`unkeyed`] turns them back before a write.
//!
//! Writing a contact person joins it back: Xero replaces `ContactPersons` as a whole on update,
//! so the connector reads the parent, applies the writes with [`join_persons`] (by the same key)
//! and sends the whole array.

use serde_json::{Map, Value, json};
use sync_core::domain::AppEntityName;
use sync_core::entity::Part;
use sync_core::error::RecordError;

use crate::connector::{COMPANIES, PERSONS};
use crate::http::text;

/// The id field of a `persons` part.
pub const PERSON_ID: &str = "PersonID";
/// The field of a contact person's part holding its company contact's ContactID.
pub const PARENT_ID: &str = "ParentContactID";
/// The fields Xero keeps for a contact person.
pub const CONTACT_PERSON_FIELDS: &[&str] =
    &["FirstName", "LastName", "EmailAddress", "IncludeInEmails"];

/// Where a `persons` part lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PersonRef {
    /// A person contact: its ContactID.
    Contact(String),
    /// A contact person of the company contact `contact`, known by the digest of its key.
    Member {
        /// The company contact's ContactID.
        contact: String,
        /// [`person_digest`] of the person's key.
        digest: String,
    },
}

impl PersonRef {
    /// Reads a `persons` part id.
    pub fn parse(id: &str) -> Self {
        match id.split_once(':') {
            Some((contact, digest)) => PersonRef::Member {
                contact: contact.to_owned(),
                digest: digest.to_owned(),
            },
            None => PersonRef::Contact(id.to_owned()),
        }
    }

    /// The contact holding the person.
    pub fn contact(&self) -> &str {
        match self {
            PersonRef::Contact(contact) | PersonRef::Member { contact, .. } => contact,
        }
    }
}

/// Whether a contact is a person rather than a company: it has no contact persons, has a first
/// or last name, and its `Name` is those names (spaces and case aside). Xero fills `FirstName` /
/// `LastName` on company contacts too (the primary person), but then `Name` is the company's.
pub fn is_person_contact(contact: &Value) -> bool {
    let has_members = contact
        .get("ContactPersons")
        .and_then(Value::as_array)
        .is_some_and(|persons| !persons.is_empty());
    if has_members {
        return false;
    }
    let full = full_name(contact);
    match (full, text(contact, "Name")) {
        (Some(full), Some(name)) => normalise(&full) == normalise(name),
        _ => false,
    }
}

/// `FirstName LastName` of a contact or contact person, when it has either.
fn full_name(record: &Value) -> Option<String> {
    let names: Vec<&str> = ["FirstName", "LastName"]
        .iter()
        .filter_map(|field| text(record, field))
        .collect();
    (!names.is_empty()).then(|| names.join(" "))
}

fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The key a contact person is known by: its lower-cased e-mail, else its lower-cased name.
pub fn person_key(person: &Value) -> Option<String> {
    text(person, "EmailAddress")
        .map(str::to_lowercase)
        .or_else(|| full_name(person).map(|name| normalise(&name)))
}

/// The id part derived from a key: 16 hex digits of its SHA-256.
pub fn person_digest(key: &str) -> String {
    mapping::content_hash(&Value::String(key.to_owned())).as_str()[..16].to_owned()
}

/// The part id of a contact person: `<ContactID>:<digest>`.
pub fn member_id(contact_id: &str, key: &str) -> String {
    format!("{contact_id}:{}", person_digest(key))
}

/// Splits a raw contact into its parts (see the module docs).
///
/// # Errors
///
/// A contact without a `ContactID`.
pub fn split_contact(contact: &Value) -> Result<Vec<Part>, RecordError> {
    let Some(id) = text(contact, "ContactID") else {
        return Err(RecordError::new(None, "a Xero contact without a ContactID"));
    };
    let mut base = contact.clone();
    let members = base
        .as_object_mut()
        .and_then(|map| map.remove("ContactPersons"))
        .and_then(|persons| match persons {
            Value::Array(persons) => Some(persons),
            _ => None,
        })
        .unwrap_or_default();
    keyed(&mut base);
    if is_person_contact(contact) {
        base[PERSON_ID] = Value::String(id.to_owned());
        return Ok(vec![part(PERSONS, base)]);
    }
    let mut parts = vec![part(COMPANIES, base)];
    let mut seen = Vec::new();
    for person in &members {
        let Some(key) = person_key(person) else {
            continue;
        };
        if seen.contains(&key) {
            continue;
        }
        parts.push(part(PERSONS, member_part(contact, id, &key, person)));
        seen.push(key);
    }
    Ok(parts)
}

/// The part of one contact person of `contact`.
fn member_part(contact: &Value, id: &str, key: &str, person: &Value) -> Value {
    let mut record = Map::new();
    record.insert(PERSON_ID.into(), Value::String(member_id(id, key)));
    record.insert(PARENT_ID.into(), Value::String(id.to_owned()));
    for field in CONTACT_PERSON_FIELDS {
        if let Some(value) = person.get(*field) {
            record.insert((*field).into(), value.clone());
        }
    }
    for field in ["ContactStatus", "UpdatedDateUTC"] {
        if let Some(value) = contact.get(field) {
            record.insert(field.into(), value.clone());
        }
    }
    Value::Object(record)
}

fn part(entity: &str, record: Value) -> Part {
    Part {
        entity: AppEntityName::new(entity),
        record,
    }
}

/// The `companies` part of a contact, whatever its name says (a company just written).
pub fn company_part(contact: &Value) -> Value {
    let mut base = contact.clone();
    if let Some(map) = base.as_object_mut() {
        map.remove("ContactPersons");
    }
    keyed(&mut base);
    base
}

/// The `persons` part of a person contact, whatever its name says (a person just written).
pub fn person_contact_part(contact: &Value) -> Value {
    let mut base = contact.clone();
    if let Some(map) = base.as_object_mut() {
        map.remove("ContactPersons");
    }
    keyed(&mut base);
    if let Some(id) = text(contact, "ContactID") {
        base[PERSON_ID] = Value::String(id.to_owned());
    }
    base
}

/// The `persons` part of the contact person `key` of `contact`, if it has one.
pub fn member_of(contact: &Value, digest: &str) -> Option<Value> {
    let id = text(contact, "ContactID")?;
    contact
        .get("ContactPersons")?
        .as_array()?
        .iter()
        .find_map(|person| {
            let key = person_key(person)?;
            (person_digest(&key) == digest).then(|| member_part(contact, id, &key, person))
        })
}

/// `Phones` and `Addresses` arrays as objects keyed by their type (the first entry of a type
/// wins; entries without a type are dropped).
pub fn keyed(record: &mut Value) {
    for (field, kind) in [("Phones", "PhoneType"), ("Addresses", "AddressType")] {
        let Some(Value::Array(entries)) = record.get(field) else {
            continue;
        };
        let mut by_type = Map::new();
        for entry in entries {
            let Some(kind) = entry.get(kind).and_then(Value::as_str) else {
                continue;
            };
            by_type
                .entry(kind.to_owned())
                .or_insert_with(|| entry.clone());
        }
        record[field] = Value::Object(by_type);
    }
}

/// The reverse of [`keyed`]: objects keyed by type back into Xero's arrays.
pub fn unkeyed(record: &mut Value) {
    for (field, kind) in [("Phones", "PhoneType"), ("Addresses", "AddressType")] {
        let Some(Value::Object(by_type)) = record.get(field) else {
            continue;
        };
        let entries: Vec<Value> = by_type
            .iter()
            .map(|(name, entry)| {
                let mut entry = match entry {
                    Value::Object(map) => map.clone(),
                    _ => Map::new(),
                };
                entry.insert(kind.to_owned(), Value::String(name.clone()));
                Value::Object(entry)
            })
            .collect();
        record[field] = Value::Array(entries);
    }
}

/// A contact person as Xero stores it, from a mapped `persons` record.
pub fn contact_person_of(record: &Value) -> Value {
    let mut person = Map::new();
    for field in CONTACT_PERSON_FIELDS {
        if let Some(value) = record.get(*field).filter(|v| !v.is_null()) {
            person.insert((*field).into(), value.clone());
        }
    }
    Value::Object(person)
}

/// A person contact from a mapped `persons` record without a parent: `Name` is "First Last".
///
/// # Errors
///
/// A record with neither a first nor a last name (Xero needs a name).
pub fn person_contact_of(record: &Value) -> Result<Value, RecordError> {
    let Some(name) = full_name(record) else {
        return Err(RecordError::new(
            None,
            "a person without a first or last name cannot be a Xero contact",
        ));
    };
    let mut contact = record.clone();
    if let Some(map) = contact.as_object_mut() {
        map.remove(PERSON_ID);
        map.remove(PARENT_ID);
    }
    contact["Name"] = Value::String(name);
    unkeyed(&mut contact);
    Ok(contact)
}

/// One change to a company contact's persons.
#[derive(Clone, Debug, PartialEq)]
pub enum JoinOp {
    /// Adds `person` or, when `replaces` names the digest of one already there (an update),
    /// changes that one. A create whose key is already there changes that one too.
    Upsert {
        /// The digest of the person an update changes.
        replaces: Option<String>,
        /// The contact person ([`contact_person_of`]).
        person: Value,
    },
    /// Removes the person with this digest.
    Remove {
        /// The digest.
        digest: String,
    },
}

/// What one [`JoinOp`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Joined {
    /// Applied.
    Applied,
    /// The person it updates or removes is not there.
    Missing,
}

/// Applies `ops` in order to a contact's current persons; persons no op names are kept as
/// they are, in their place.
pub fn join_persons(existing: &[Value], ops: &[JoinOp]) -> (Vec<Value>, Vec<Joined>) {
    let mut persons: Vec<Value> = existing.to_vec();
    let digest_of = |person: &Value| person_key(person).map(|key| person_digest(&key));
    let outcomes = ops
        .iter()
        .map(|op| match op {
            JoinOp::Upsert { replaces, person } => {
                let at = |digest: Option<String>| {
                    let digest = digest?;
                    persons
                        .iter()
                        .position(|p| digest_of(p).as_deref() == Some(digest.as_str()))
                };
                // An update whose person is no longer under its old key, but is under its new
                // one, was applied already (a retry after a lost answer of a rename).
                let found = match replaces {
                    Some(digest) => at(Some(digest.clone())).or_else(|| at(digest_of(person))),
                    None => at(digest_of(person)),
                };
                match (found, replaces) {
                    (Some(index), _) => {
                        merge_into(&mut persons[index], person);
                        Joined::Applied
                    }
                    (None, Some(_)) => Joined::Missing,
                    (None, None) => {
                        persons.push(person.clone());
                        Joined::Applied
                    }
                }
            }
            JoinOp::Remove { digest } => {
                match persons
                    .iter()
                    .position(|p| digest_of(p).as_deref() == Some(digest.as_str()))
                {
                    Some(index) => {
                        persons.remove(index);
                        Joined::Applied
                    }
                    None => Joined::Missing,
                }
            }
        })
        .collect();
    (persons, outcomes)
}

fn merge_into(target: &mut Value, person: &Value) {
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(fields) = person {
        for (key, value) in fields {
            target[key.as_str()] = value.clone();
        }
    }
}
