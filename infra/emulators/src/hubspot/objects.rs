//! The CRM objects the emulator stores (contacts and companies): object types and their
//! default, unique and read-only properties, stored objects and how they are rendered, and
//! the property selection of a response.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::common::iso;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum ObjType {
    Contacts,
    Companies,
}

impl ObjType {
    pub(super) fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "contacts" | "contact" | "0-1" => Some(Self::Contacts),
            "companies" | "company" | "0-2" => Some(Self::Companies),
            _ => None,
        }
    }
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Companies => "companies",
        }
    }
    pub(super) fn upper(self) -> &'static str {
        match self {
            Self::Contacts => "CONTACT",
            Self::Companies => "COMPANY",
        }
    }
    pub(super) fn lastmod(self) -> &'static str {
        match self {
            Self::Contacts => "lastmodifieddate",
            Self::Companies => "hs_lastmodifieddate",
        }
    }
    pub(super) fn defaults(self) -> &'static [&'static str] {
        match self {
            Self::Contacts => &[
                "email",
                "firstname",
                "lastname",
                "createdate",
                "lastmodifieddate",
                "hs_object_id",
            ],
            Self::Companies => &[
                "name",
                "domain",
                "createdate",
                "hs_lastmodifieddate",
                "hs_object_id",
            ],
        }
    }
    /// Properties usable as `idProperty`.
    pub(super) fn unique_props(self) -> &'static [&'static str] {
        match self {
            Self::Contacts => &["email", "hs_object_id"],
            Self::Companies => &["hs_object_id"],
        }
    }
    pub(super) fn read_only(self, prop: &str) -> bool {
        matches!(prop, "hs_object_id" | "createdate" | "hs_createdate") || prop == self.lastmod()
    }
}

#[derive(Clone, Debug)]
pub(super) struct HsObject {
    pub(super) id: u64,
    pub(super) props: BTreeMap<String, String>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) archived_at: Option<DateTime<Utc>>,
    /// Contacts only: primary associated company.
    pub(super) primary_company: Option<u64>,
}

impl HsObject {
    pub(super) fn archived(&self) -> bool {
        self.archived_at.is_some()
    }

    /// One property, stored or system, as [`HsObject::all_props`] has it (without building
    /// them all: a search evaluates a few properties of each candidate, a response renders
    /// the selected ones).
    pub(super) fn prop(&self, t: ObjType, name: &str) -> Option<Cow<'_, str>> {
        match name {
            "hs_object_id" => Some(Cow::Owned(self.id.to_string())),
            "createdate" => Some(Cow::Owned(iso(&self.created_at))),
            n if n == t.lastmod() => Some(Cow::Owned(iso(&self.updated_at))),
            "associatedcompanyid" if t == ObjType::Contacts && self.primary_company.is_some() => {
                self.primary_company.map(|c| Cow::Owned(c.to_string()))
            }
            n => self.props.get(n).map(|v| Cow::Borrowed(v.as_str())),
        }
    }

    /// Stored plus system properties, as JSON strings.
    pub(super) fn all_props(&self, t: ObjType) -> BTreeMap<String, Value> {
        let mut m: BTreeMap<String, Value> = self
            .props
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        m.insert("hs_object_id".into(), self.id.to_string().into());
        m.insert("createdate".into(), iso(&self.created_at).into());
        m.insert(t.lastmod().into(), iso(&self.updated_at).into());
        if t == ObjType::Contacts
            && let Some(c) = self.primary_company
        {
            m.insert("associatedcompanyid".into(), c.to_string().into());
        }
        m
    }

    pub(super) fn render(&self, t: ObjType, names: Option<&[String]>, assoc: bool) -> Value {
        let props: Map<String, Value> = match names {
            None => self.all_props(t).into_iter().collect(),
            Some(ns) => ns
                .iter()
                .map(|n| {
                    let v = self
                        .prop(t, n)
                        .map_or(Value::Null, |v| v.into_owned().into());
                    (n.clone(), v)
                })
                .collect(),
        };
        // Built as a map, not with `json!`: that would serialize `props` into a copy.
        let mut m = Map::new();
        m.insert("id".into(), self.id.to_string().into());
        m.insert("properties".into(), Value::Object(props));
        m.insert("createdAt".into(), iso(&self.created_at).into());
        m.insert("updatedAt".into(), iso(&self.updated_at).into());
        m.insert("archived".into(), self.archived().into());
        let mut o = Value::Object(m);
        if let Some(a) = self.archived_at {
            o["archivedAt"] = iso(&a).into();
        }
        if assoc
            && t == ObjType::Contacts
            && let Some(c) = self.primary_company
        {
            o["associations"] = json!({ "companies": { "results": [
                { "id": c.to_string(), "type": "contact_to_company" }
            ]}});
        }
        o
    }
}

/// Property names for a response: requested ones plus the system trio, or
/// the type's defaults.
pub(super) fn selection(t: ObjType, requested: &[String]) -> Vec<String> {
    if requested.is_empty() {
        return t.defaults().iter().map(|s| s.to_string()).collect();
    }
    let mut v: Vec<String> = requested.to_vec();
    for s in ["hs_object_id", "createdate", t.lastmod()] {
        if !v.iter().any(|x| x == s) {
            v.push(s.into());
        }
    }
    v
}

/// Defaults plus the properties just written (create/update responses).
pub(super) fn written_selection(t: ObjType, props: Option<&Map<String, Value>>) -> Vec<String> {
    let mut v: Vec<String> = t.defaults().iter().map(|s| s.to_string()).collect();
    for k in props.into_iter().flat_map(|p| p.keys()) {
        if !v.contains(k) {
            v.push(k.clone());
        }
    }
    v
}
