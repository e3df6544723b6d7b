//! Reference translation and mapping, both ways.
//!
//! A record's *content* is the hash of its mapped fields in canonical shape, with references as
//! plain hub ids; both sides hash the same when they say the same thing. Its *payload* is what
//! the other side receives: an app record (references as app ids), or a hub body (references in
//! the hub's shape). References are resolved through the id-maps ([`super::refs`]), one store
//! call per referenced entity and page. A reference to a record whose link is inactive (archived on one side) is
//! left out of what the app receives, so it neither parks the record for ever nor sends an id
//! the app refuses; the canonical form keeps it (app references translate through inactive
//! links too), so an archive elsewhere never moves the hash of a record that did not change.

use std::borrow::Cow;

use mapping::{EntityMapping, Reference, content_hash};
use serde_json::Value;

use super::decide::Content;
use super::phase::Phase;
use super::refs::{RefIndex, holds, scalar_id};
use crate::domain::{AppId, HubId};

/// A record mapped for the other side.
#[derive(Clone, Debug)]
pub(crate) struct Mapped {
    /// Its content hash, or why there is none.
    pub hash: Content,
    /// What the other side receives, or why it cannot yet.
    pub payload: Result<Value, Content>,
}

impl Mapped {
    /// The content as a source record: a hash only if the payload exists too.
    pub fn as_source(&self) -> Content {
        match (&self.hash, &self.payload) {
            (Content::Hash(_), Err(why)) => why.clone(),
            (hash, _) => hash.clone(),
        }
    }
}

impl Phase<'_> {
    /// A hub record mapped for the app.
    pub(crate) fn map_hub_record(&self, record: &Value, refs: &RefIndex) -> Mapped {
        let mapping: &EntityMapping = &self.pair.mapping;
        if mapping.references().is_empty() {
            // Nothing to translate: the record maps as it is, and one trip through the app
            // gives both the payload and the hash.
            let failed = |e: mapping::MapError| {
                Content::Unmappable(format!("mapping to the app failed: {e}"))
            };
            return match mapping.to_app_and_canonical(record) {
                Ok((app, canonical)) => Mapped {
                    hash: match canonical {
                        Ok(canonical) => Content::Hash(content_hash(&canonical)),
                        Err(e) => failed(e),
                    },
                    payload: Ok(app),
                },
                Err(e) => {
                    let why = failed(e);
                    Mapped {
                        hash: why.clone(),
                        payload: Err(why),
                    }
                }
            };
        }
        let once = self.map_hub_record_once(record, refs);
        if let Some(once) = &once {
            // Every debug run checks the one trip against the two it replaces.
            debug_assert!(
                {
                    let twice = self.map_hub_record_twice(record, refs);
                    once.hash == twice.hash && once.payload == twice.payload
                },
                "one trip and two differ for {record}"
            );
        }
        once.unwrap_or_else(|| self.map_hub_record_twice(record, refs))
    }

    /// A hub record with references through the mapping to the app once, when its
    /// references travel alone ([`EntityMapping::references_separate`]) and every one names
    /// a linked record: the references of the mapped record are translated in place, and the
    /// hash comes from that payload ([`EntityMapping::canonical_beside`]). `None` otherwise
    /// (a reference left out, waiting, or a mapping error): the record takes two trips.
    fn map_hub_record_once(&self, record: &Value, refs: &RefIndex) -> Option<Mapped> {
        let mapping: &EntityMapping = &self.pair.mapping;
        if !mapping.references_separate() {
            return None;
        }
        // Each reference is written as its app id while the record is mapped.
        let payload = mapping
            .to_app_translated(record, |entity, value| {
                match self.app_id_of_hub_ref(entity, value, refs) {
                    HubRefForApp::AppId(app_id) => Some(app_id),
                    HubRefForApp::Null | HubRefForApp::NoHubId | HubRefForApp::NotSynced(_) => None,
                }
            })
            .ok()??;
        let canonical = mapping.canonical_beside(record, &payload, |reference, value| {
            self.plain_hub_ref(&reference.entity, value, refs)
        })?;
        Some(Mapped {
            hash: Content::Hash(content_hash(&canonical)),
            payload: Ok(payload),
        })
    }

    /// A hub record with references through the mapping to the app twice: with references
    /// as app ids for the payload, and as plain hub ids for the hash.
    fn map_hub_record_twice(&self, record: &Value, refs: &RefIndex) -> Mapped {
        let mapping: &EntityMapping = &self.pair.mapping;
        let failed =
            |e: mapping::MapError| Content::Unmappable(format!("mapping to the app failed: {e}"));
        let payload = self
            .hub_refs_for_app(record, refs)
            .and_then(|for_app| mapping.to_app(&for_app).map_err(failed));
        let hash = match mapping.canonical_from_hub(&self.hub_refs_plain(record, refs)) {
            Ok(canonical) => Content::Hash(content_hash(&canonical)),
            Err(e) => failed(e),
        };
        Mapped { hash, payload }
    }

    /// An app record mapped for the hub (references in the hub's shape).
    pub(crate) fn map_app_record(&self, record: &Value, refs: &RefIndex) -> Mapped {
        if !self.pair.mapping.references().is_empty()
            && let Some(once) = self.map_app_record_in_place(record, refs)
        {
            // Every debug run checks the translation in place against the copy it replaces.
            debug_assert!(
                {
                    let copied = self.map_app_record_copied(record, refs);
                    once.hash == copied.hash && once.payload == copied.payload
                },
                "translated in place and on a copy differ for {record}"
            );
            return once;
        }
        self.map_app_record_copied(record, refs)
    }

    /// An app record with references through the mapping to the hub, each reference
    /// translated to its hub id as it is written ([`EntityMapping::to_hub_translated`])
    /// rather than on a copy of the whole record first. `None` when the mapping cannot
    /// (references not separate), a reference waits, or the mapping fails: those take the
    /// copy, which spells out the same waiting reason or error as it always did.
    fn map_app_record_in_place(&self, record: &Value, refs: &RefIndex) -> Option<Mapped> {
        let mut waiting = false;
        let body = self
            .pair
            .mapping
            .to_hub_translated(record, |entity, value| {
                match self.hub_id_of_app_ref(entity, value, refs) {
                    AppRefForHub::HubId(id) => Some(id),
                    AppRefForHub::Null => None,
                    AppRefForHub::NotSynced(_) => {
                        waiting = true;
                        None
                    }
                }
            })?
            .ok()?;
        (!waiting).then(|| self.hub_mapped(body))
    }

    /// [`map_app_record`](Self::map_app_record) on a copy of the record whose references are
    /// rewritten first.
    fn map_app_record_copied(&self, record: &Value, refs: &RefIndex) -> Mapped {
        let mapping: &EntityMapping = &self.pair.mapping;
        let translated = if mapping.references().is_empty() {
            Cow::Borrowed(record)
        } else {
            match self.translate_app_refs(record, refs) {
                Ok(translated) => Cow::Owned(translated),
                Err(waiting) => {
                    return Mapped {
                        hash: Content::Waiting(waiting.clone()),
                        payload: Err(Content::Waiting(waiting)),
                    };
                }
            }
        };
        // The canonical projection of an app record is its mapping to the hub: one mapping
        // serves the hash and the payload.
        match mapping.to_hub(&translated) {
            Ok(body) => self.hub_mapped(body),
            Err(e) => {
                let why = Content::Unmappable(format!("mapping to Connec! failed: {e}"));
                Mapped {
                    hash: why.clone(),
                    payload: Err(why),
                }
            }
        }
    }

    /// An app record mapped to the hub with references as plain hub ids: hashed, then its
    /// references in the hub's shape.
    fn hub_mapped(&self, mut body: Value) -> Mapped {
        let hash = Content::Hash(content_hash(&body));
        let hub = self.engine.hub.as_ref();
        for reference in self.pair.mapping.references() {
            let _ = reference.hub.rewrite(&mut body, |value| -> Result<_, ()> {
                Ok(Some(match value {
                    Value::String(id) if !id.is_empty() => {
                        hub.reference_value(&self.org.group_id, &HubId::new(id.clone()))
                    }
                    other => other.clone(),
                }))
            });
        }
        Mapped {
            hash,
            payload: Ok(body),
        }
    }

    /// Only the keys the mapping reads of a hub record: the rest (the id triples, the hub's
    /// metadata) would be dropped by the mapping anyway.
    fn hub_keys_of(&self, record: &Value) -> Value {
        match record {
            Value::Object(fields) => Value::Object(
                self.pair
                    .mapping
                    .hub_keys()
                    .iter()
                    .filter_map(|key| Some((key.clone(), fields.get(key)?.clone())))
                    .collect(),
            ),
            // Not an object: the mapping says so.
            other => other.clone(),
        }
    }

    /// A reference value of a hub record in the canonical shape: a plain hub id, whatever
    /// the referenced record's state, so an archive elsewhere never looks like a change of
    /// this record; "none" for a record deleted before it ever travelled.
    fn plain_hub_ref(&self, entity: &str, value: &Value, refs: &RefIndex) -> Value {
        match self.engine.hub.reference_target(value) {
            Some(id) if holds(&refs.gone_hub, entity, &id) => Value::Null,
            Some(id) => Value::String(id.to_string()),
            None => value.clone(),
        }
    }

    /// A hub record with references as plain hub ids (the canonical shape).
    fn hub_refs_plain(&self, record: &Value, refs: &RefIndex) -> Value {
        let mut plain = self.hub_keys_of(record);
        for reference in self.pair.mapping.references() {
            let _ = reference.hub.rewrite(&mut plain, |value| -> Result<_, ()> {
                Ok(Some(self.plain_hub_ref(&reference.entity, value, refs)))
            });
        }
        plain
    }

    /// A hub record with references as app ids (to push), failing with the first unresolved
    /// reference.
    fn hub_refs_for_app(&self, record: &Value, refs: &RefIndex) -> Result<Value, Content> {
        let mut target = self.hub_keys_of(record);
        for reference in self.pair.mapping.references() {
            reference
                .hub
                .rewrite(&mut target, |value| {
                    self.hub_ref_for_app(reference, value, refs).map(Some)
                })
                .map_err(Content::Waiting)?;
        }
        Ok(target)
    }

    /// A reference value of a hub record as the app receives it: its app id, or null where
    /// it names nothing the app holds; why it waits when the referenced record has not
    /// travelled yet.
    fn hub_ref_for_app(
        &self,
        reference: &Reference,
        value: &Value,
        refs: &RefIndex,
    ) -> Result<Value, String> {
        match self.app_id_of_hub_ref(&reference.entity, value, refs) {
            HubRefForApp::AppId(app_id) => Ok(app_id),
            HubRefForApp::Null => Ok(Value::Null),
            HubRefForApp::NoHubId => Err(format!(
                "waiting for `{}`: reference without a Connec! id",
                reference.hub
            )),
            HubRefForApp::NotSynced(id) => Err(missing_reference(reference, id.as_str())),
        }
    }

    /// What [`hub_ref_for_app`](Self::hub_ref_for_app) makes of a reference value to a
    /// record of `entity`, before any message is spelled out.
    fn app_id_of_hub_ref(&self, entity: &str, value: &Value, refs: &RefIndex) -> HubRefForApp {
        let hub = self.engine.hub.as_ref();
        if value.is_null() || value.as_array().is_some_and(Vec::is_empty) {
            return HubRefForApp::Null;
        }
        let Some(id) = hub.reference_target(value) else {
            return HubRefForApp::NoHubId;
        };
        if holds(&refs.archived_hub, entity, &id) || holds(&refs.gone_hub, entity, &id) {
            return HubRefForApp::Null;
        }
        if let Some(app_id) = refs.hub_to_app.get(entity).and_then(|m| m.get(&id)) {
            return HubRefForApp::AppId(Value::String(app_id.to_string()));
        }
        let provider = self.engine.app.provider();
        match hub.reference_external(value, provider, &self.org.realm) {
            Some(app_id) => HubRefForApp::AppId(Value::String(app_id.to_string())),
            None => HubRefForApp::NotSynced(id),
        }
    }

    /// An app record with references rewritten to hub ids.
    fn translate_app_refs(&self, record: &Value, refs: &RefIndex) -> Result<Value, String> {
        let mut translated = record.clone();
        for reference in self.pair.mapping.references() {
            reference
                .app
                .rewrite(&mut translated, |value| -> Result<Option<Value>, String> {
                    match self.hub_id_of_app_ref(&reference.entity, value, refs) {
                        AppRefForHub::HubId(id) => Ok(Some(id)),
                        AppRefForHub::Null => Ok(Some(Value::Null)),
                        AppRefForHub::NotSynced(id) => {
                            Err(missing_reference(reference, id.as_str()))
                        }
                    }
                })?;
        }
        Ok(translated)
    }

    /// What an app record's reference value to a record of `entity` names on the hub.
    fn hub_id_of_app_ref(&self, entity: &str, value: &Value, refs: &RefIndex) -> AppRefForHub {
        let Some(app_id) = scalar_id(value) else {
            return AppRefForHub::Null;
        };
        let app_id = AppId::new(app_id);
        if holds(&refs.gone_app, entity, &app_id) {
            return AppRefForHub::Null;
        }
        match refs.app_to_hub.get(entity).and_then(|m| m.get(&app_id)) {
            Some(hub_id) => AppRefForHub::HubId(Value::String(hub_id.to_string())),
            None => AppRefForHub::NotSynced(app_id),
        }
    }

    /// A human label for status screens, from the hub record's label fields.
    pub(crate) fn label(&self, hub_record: &Value) -> Option<String> {
        label_of(&self.pair.label_fields, hub_record)
    }
}

/// The string values at `fields` (dotted paths) of `record`, joined by spaces; `None` when
/// none is a string. Joined as they are found: one String per record, not one per part and
/// another for the whole.
fn label_of(fields: &[String], record: &Value) -> Option<String> {
    let mut label: Option<String> = None;
    for field in fields {
        let mut current = Some(record);
        for key in field.split('.') {
            current = current.and_then(|c| c.get(key));
        }
        let Some(part) = current.and_then(Value::as_str) else {
            continue;
        };
        match &mut label {
            Some(label) => {
                label.push(' ');
                label.push_str(part);
            }
            None => label = Some(part.to_owned()),
        }
    }
    label
}

/// An app record's reference value as the hub would receive it.
enum AppRefForHub {
    /// The referenced record's hub id.
    HubId(Value),
    /// No reference, or one to a record deleted before it ever travelled: none.
    Null,
    /// An app record that has not travelled yet.
    NotSynced(AppId),
}

/// A hub record's reference value as the app would receive it.
enum HubRefForApp {
    /// The referenced record's app id.
    AppId(Value),
    /// No reference, or one to a record the app cannot hold (archived, gone): none.
    Null,
    /// A value without a Connec! id.
    NoHubId,
    /// A Connec! record that has not travelled yet.
    NotSynced(HubId),
}

fn missing_reference(reference: &Reference, id: &str) -> String {
    format!(
        "waiting for `{}`: {} record {id} is not synced yet",
        reference.hub, reference.entity
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The label as it was first built: every part collected, then joined.
    fn label_joined(fields: &[String], record: &Value) -> Option<String> {
        let parts: Vec<String> = fields
            .iter()
            .filter_map(|field| {
                let mut current = record;
                for key in field.split('.') {
                    current = current.get(key)?;
                }
                current.as_str().map(str::to_owned)
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    #[test]
    fn a_label_joins_its_parts_as_collecting_them_did() {
        let record = json!({
            "first_name": "Ada",
            "last_name": "Lovelace",
            "blank": "",
            "email": {"address": "ada@example.com"},
            "age": 36,
            "none": null,
        });
        let fields =
            |names: &[&str]| -> Vec<String> { names.iter().map(|n| (*n).to_owned()).collect() };
        for names in [
            &[][..],
            &["first_name", "last_name"],
            &["blank", "first_name"],
            &["first_name", "blank", "last_name"],
            &["email.address"],
            &["email.missing", "email", "age", "none", "missing.deep"],
            &["age", "last_name", "email.address", "blank"],
            &["blank"],
        ] {
            let fields = fields(names);
            assert_eq!(
                label_of(&fields, &record),
                label_joined(&fields, &record),
                "{names:?}"
            );
        }
        assert_eq!(label_of(&fields(&["first_name"]), &json!("text")), None);
    }
}
