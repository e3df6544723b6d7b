//! The emulator's records ([`State`]): objects by portal and type, the email index, and the
//! write path every API call and in-process helper goes through (validate, commit, archive),
//! with the change events each commit produces for hooks and webhooks.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value};

use super::index::Index;
use super::objects::{HsObject, ObjType};
use crate::common::{ApiError, ChangeEvent, ChangeKind, Clock, Faults, iso, scalar_string};

/// First id handed out; ids are unique across portals and object types.
const FIRST_ID: u64 = 1001;

/// Who made a change, as reported in webhook events.
#[derive(Clone, Debug, Default)]
pub(super) struct Source {
    /// The portal whose records the change touches (that of the token).
    pub(super) portal: u64,
    /// `changeSource`: `INTEGRATION` for API calls, `CRM_UI` for the
    /// in-process helpers and admin seeding.
    pub(super) change_source: &'static str,
    /// `sourceId`: the app id for calls made with an OAuth token.
    pub(super) source_id: Option<String>,
}

impl Source {
    pub(super) fn ui(portal: u64) -> Self {
        Self {
            portal,
            change_source: "CRM_UI",
            source_id: None,
        }
    }
}

/// A committed change, with what webhooks need on top of the public event.
#[derive(Clone, Debug)]
pub(super) struct Change {
    pub(super) event: ChangeEvent,
    pub(super) object: ObjType,
    pub(super) object_id: u64,
    pub(super) at_ms: i64,
    /// Updates only: `(property, new value)` of every property whose value
    /// changed (removed ones have `""`).
    pub(super) props: Vec<(String, String)>,
    pub(super) source: Source,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) clock: Clock,
    /// Ids are unique across portals (as HubSpot's are).
    pub(super) next_id: u64,
    /// Objects by portal and type.
    pub(super) objects: HashMap<(u64, ObjType), BTreeMap<u64, HsObject>>,
    /// (portal, lower-cased email) -> contact id (non-archived contacts only).
    pub(super) emails: HashMap<(u64, String), u64>,
    /// Search indexes by portal and type; every change of an object goes through them.
    pub(super) indexes: HashMap<(u64, ObjType), Index>,
    pub(super) events: Vec<Change>,
    /// Source of the writes of the current `with_state` call; its portal is
    /// the one every read and write of the call works on.
    pub(super) source: Source,
    /// Custom property definitions by portal and type (see [`properties`](super::properties)).
    pub(super) custom_properties: HashMap<(u64, ObjType), BTreeMap<String, Value>>,
}

/// Validated outcome of a write, ready to commit.
pub(super) struct Prepared {
    pub(super) props: BTreeMap<String, String>,
    pub(super) primary: Option<u64>,
}

impl State {
    pub(super) fn portal(&self) -> u64 {
        self.source.portal
    }

    pub(super) fn objs(&self, t: ObjType) -> Option<&BTreeMap<u64, HsObject>> {
        self.objects.get(&(self.portal(), t))
    }

    pub(super) fn obj(&self, t: ObjType, id: u64) -> Option<&HsObject> {
        self.objs(t)?.get(&id)
    }

    pub(super) fn live(&self, t: ObjType, id: u64) -> Option<&HsObject> {
        self.obj(t, id).filter(|o| !o.archived())
    }

    /// Resolves an id (or unique property value) to an object id.
    pub(super) fn resolve(&self, t: ObjType, id: &str, id_property: Option<&str>) -> Option<u64> {
        match id_property {
            Some("email") if t == ObjType::Contacts => self
                .emails
                .get(&(self.portal(), id.trim().to_lowercase()))
                .copied(),
            Some(p) if p != "hs_object_id" => self
                .objs(t)?
                .values()
                .find(|o| {
                    !o.archived() && o.props.get(p).is_some_and(|v| v.eq_ignore_ascii_case(id))
                })
                .map(|o| o.id),
            _ => id.trim().parse().ok(),
        }
    }

    /// Validates a property write against `existing` (None = create).
    pub(super) fn prepare(
        &self,
        faults: Option<&Faults>,
        t: ObjType,
        existing: Option<u64>,
        props: Option<&Map<String, Value>>,
        associations: Option<&Value>,
    ) -> Result<Prepared, ApiError> {
        if faults.is_some() {
            // An API write (the in-process helpers pass no faults and accept any property).
            self.check_defined(t, props.into_iter().flat_map(|p| p.keys()))?;
        }
        let base = existing.and_then(|id| self.obj(t, id));
        let mut out = Prepared {
            props: base.map(|o| o.props.clone()).unwrap_or_default(),
            primary: base.and_then(|o| o.primary_company),
        };
        for (k, v) in props.into_iter().flatten() {
            let s = match v {
                Value::Null => String::new(),
                v => scalar_string(v).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "Property values were not valid: property \"{k}\" must be a string, number or boolean"
                    ))
                })?,
            };
            if t.read_only(k) {
                // HubSpot silently ignores writes to these system properties.
                continue;
            }
            match (t, k.as_str()) {
                (ObjType::Contacts, "associatedcompanyid") => {
                    out.primary = if s.trim().is_empty() {
                        None
                    } else {
                        Some(self.company_id(&s)?)
                    };
                }
                (ObjType::Contacts, "email") => {
                    let email = s.trim().to_lowercase();
                    if let Some(other) = self
                        .emails
                        .get(&(self.portal(), email.clone()))
                        .filter(|o| Some(**o) != existing)
                    {
                        return Err(ApiError::Conflict(format!(
                            "Contact already exists. Existing ID: {other}"
                        )));
                    }
                    out.props.insert(k.clone(), email);
                }
                _ => {
                    out.props.insert(k.clone(), s);
                }
            }
        }
        if t == ObjType::Contacts {
            for a in associations.and_then(Value::as_array).into_iter().flatten() {
                let to = a
                    .pointer("/to/id")
                    .and_then(scalar_string)
                    .unwrap_or_default();
                out.primary = Some(self.company_id(&to)?);
            }
        }
        if let Some(f) = faults {
            let primary = out.primary.map(|c| c.to_string());
            if let Some(hit) = f.record_hit(|name| match name {
                "associatedcompanyid" => primary.clone().map(Value::String),
                _ => out.props.get(name).cloned().map(Value::String),
            }) {
                return Err(ApiError::BadRequest(format!(
                    "Property values were not valid: [{{\"isValid\":false,\"message\":\"{} is invalid (injected fault)\",\"error\":\"INVALID_PROPERTY\",\"name\":\"{}\"}}]",
                    hit.value, hit.field
                )));
            }
        }
        Ok(out)
    }

    fn company_id(&self, s: &str) -> Result<u64, ApiError> {
        s.trim()
            .parse::<u64>()
            .ok()
            .filter(|id| self.live(ObjType::Companies, *id).is_some())
            .ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "Company {s} does not exist or is archived (associatedcompanyid)"
                ))
            })
    }

    /// Commits a prepared write; returns `(id, created)`.
    pub(super) fn commit(&mut self, t: ObjType, existing: Option<u64>, p: Prepared) -> (u64, bool) {
        let Self {
            clock,
            next_id,
            objects,
            emails,
            indexes,
            events,
            source,
            ..
        } = self;
        let portal = source.portal;
        let objs = objects.entry((portal, t)).or_default();
        let index = indexes.entry((portal, t)).or_default();
        let mut diff = Vec::new();
        let (id, kind) = match existing.and_then(|id| objs.get_mut(&id)) {
            Some(o) => {
                if o.props == p.props && o.primary_company == p.primary {
                    // Idempotent re-send: timestamps untouched.
                    return (o.id, false);
                }
                if t == ObjType::Contacts
                    && let Some(old) = o.props.get("email")
                {
                    emails.remove(&(portal, old.clone()));
                }
                let before = o.all_props(t);
                index.remove(o);
                o.props = p.props;
                o.primary_company = p.primary;
                o.updated_at = clock.after(o.updated_at);
                index.add(o);
                diff = prop_diff(&before, &o.all_props(t));
                (o.id, ChangeKind::Updated)
            }
            None => {
                if *next_id < FIRST_ID {
                    *next_id = FIRST_ID;
                }
                let id = *next_id;
                *next_id += 1;
                let now = clock.now();
                let o = HsObject {
                    id,
                    props: p.props,
                    created_at: now,
                    updated_at: now,
                    archived_at: None,
                    primary_company: p.primary,
                };
                index.add(&o);
                objs.insert(id, o);
                (id, ChangeKind::Created)
            }
        };
        let o = &objs[&id];
        if t == ObjType::Contacts
            && let Some(e) = o.props.get("email").filter(|e| !e.is_empty())
        {
            emails.insert((portal, e.clone()), id);
        }
        events.push(Change {
            event: ChangeEvent {
                kind,
                scope: String::new(),
                collection: t.name().into(),
                id: id.to_string(),
                at: iso(&o.updated_at),
            },
            object: t,
            object_id: id,
            at_ms: o.updated_at.timestamp_millis(),
            props: diff,
            source: source.clone(),
        });
        (id, kind == ChangeKind::Created)
    }

    pub(super) fn archive(&mut self, t: ObjType, id: u64) -> bool {
        let Self {
            clock,
            objects,
            emails,
            indexes,
            events,
            source,
            ..
        } = self;
        let Some(o) = objects
            .get_mut(&(source.portal, t))
            .and_then(|m| m.get_mut(&id))
            .filter(|o| !o.archived())
        else {
            return false;
        };
        let now = clock.now();
        indexes.entry((source.portal, t)).or_default().remove(o);
        o.archived_at = Some(now);
        if let Some(e) = o.props.get("email") {
            emails.remove(&(source.portal, e.clone()));
        }
        events.push(Change {
            event: ChangeEvent {
                kind: ChangeKind::Archived,
                scope: String::new(),
                collection: t.name().into(),
                id: id.to_string(),
                at: iso(&now),
            },
            object: t,
            object_id: id,
            at_ms: now.timestamp_millis(),
            props: Vec::new(),
            source: source.clone(),
        });
        true
    }
}

/// `(property, new value)` for every property that differs.
fn prop_diff(
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
) -> Vec<(String, String)> {
    let text = |v: Option<&Value>| v.and_then(scalar_string).unwrap_or_default();
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| text(before.get(*k)) != text(after.get(*k)))
        .map(|k| (k.clone(), text(after.get(k))))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::super::HubSpotEmulator;
    use crate::common::{ChangeEvent, ChangeKind, lock};

    #[test]
    fn seed_update_archive() {
        let emu = HubSpotEmulator::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        emu.on_change(Arc::new(move |e: &ChangeEvent| lock(&sink).push(e.kind)));
        let co = emu.seed("companies", json!({"name": "Acme", "employees": 12}));
        assert_eq!(co["properties"]["employees"], json!("12"));
        let co_id = co["id"].as_str().unwrap().to_string();
        let ct = emu.seed(
            "contacts",
            json!({"email": "A@X.io", "associatedcompanyid": co_id}),
        );
        let id = ct["id"].as_str().unwrap().to_string();
        assert_eq!(ct["properties"]["email"], json!("a@x.io"));
        assert_eq!(emu.primary_company_of(&id), Some(co_id));
        let before = ct["updatedAt"].clone();
        let same = emu
            .update("contacts", &id, json!({"email": "a@x.io"}))
            .unwrap();
        assert_eq!(same["updatedAt"], before);
        let changed = emu
            .update("contacts", &id, json!({"firstname": "Ann"}))
            .unwrap();
        assert_ne!(changed["updatedAt"], before);
        assert_eq!(
            changed["properties"]["lastmodifieddate"],
            changed["updatedAt"]
        );
        assert!(emu.archive("contacts", &id));
        assert!(emu.objects("contacts").is_empty());
        assert_eq!(emu.all_objects_including_archived("contacts").len(), 1);
        let kinds = lock(&seen).clone();
        assert_eq!(
            kinds,
            [
                ChangeKind::Created,
                ChangeKind::Created,
                ChangeKind::Updated,
                ChangeKind::Archived
            ]
        );
    }
}
