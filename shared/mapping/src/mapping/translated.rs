//! A hub record's canonical projection from the payload the app receives, for a record
//! whose references are translated: one trip through the app instead of two.

use serde_json::Value;

use crate::error::MapError;

use super::{EntityMapping, Reference};

impl EntityMapping {
    /// Whether a reference's value travels alone: no rule reads or writes a path overlapping
    /// a reference's (on either side), no two references overlap, and every `lines` rule
    /// holding a reference runs both ways. Then [`canonical_beside`](Self::canonical_beside)
    /// can answer.
    pub fn references_separate(&self) -> bool {
        self.references_separate
    }

    /// [`to_app`](Self::to_app) of `hub` with each reference value `v` (not null) written as
    /// `translate(entity, v)` (`entity`: the referenced hub collection) where `to_app` copies
    /// it: what `to_app` and then rewriting each reference's app path with `translate` give,
    /// without copying the hub's values first. `Ok(None)` when `translate` answers `None` for
    /// any of them (the reference cannot be translated).
    ///
    /// ```
    /// use mapping::{EntityMapping, FunctionRegistry};
    /// use serde_json::{json, Value};
    /// let m = EntityMapping::from_yaml_str(r#"
    /// fields:
    ///   - { hub: name, app: properties.name }
    /// references:
    ///   - { hub: organization_id, app: properties.company, entity: organizations }
    /// "#, "people.yaml", &FunctionRegistry::new()).unwrap();
    /// let hub = json!({"name": "Jo", "organization_id": [{"id": "o-1"}]});
    /// let app_id = |_: &str, v: &Value| (v[0]["id"] == "o-1").then(|| json!("901"));
    /// assert_eq!(
    ///     m.to_app_translated(&hub, app_id).unwrap(),
    ///     Some(json!({"properties": {"name": "Jo", "company": "901"}})),
    /// );
    /// let unknown = json!({"name": "Jo", "organization_id": [{"id": "o-2"}]});
    /// assert_eq!(m.to_app_translated(&unknown, app_id).unwrap(), None);
    /// ```
    pub fn to_app_translated(
        &self,
        hub: &Value,
        mut translate: impl FnMut(&str, &Value) -> Option<Value>,
    ) -> Result<Option<Value>, MapError> {
        let mut untranslated = false;
        let mut refs = |entity: &str, value: &Value| {
            let translated = translate(entity, value);
            untranslated |= translated.is_none();
            translated
        };
        let app = self.run_with(hub, super::Direction::ToApp, &mut refs)?;
        Ok((!untranslated).then_some(app))
    }

    /// [`to_hub`](Self::to_hub) of `app` with each reference value `v` (not null) written as
    /// `translate(entity, v)` (`entity`: the referenced hub collection), or left out where it
    /// answers `None`: what rewriting each reference's app path with `translate` (`None` as
    /// null) and then `to_hub` give, without copying the record first. Only for mappings
    /// whose references are [separate](Self::references_separate) (`None` otherwise): no
    /// other rule reads a reference's path, so the rewrite could change nothing else.
    ///
    /// ```
    /// use mapping::{EntityMapping, FunctionRegistry};
    /// use serde_json::{json, Value};
    /// let m = EntityMapping::from_yaml_str(r#"
    /// fields:
    ///   - { hub: name, app: properties.name }
    /// references:
    ///   - { hub: organization_id, app: properties.company, entity: organizations }
    /// "#, "people.yaml", &FunctionRegistry::new()).unwrap();
    /// let app = json!({"properties": {"name": "Jo", "company": "901"}});
    /// let hub_id = |_: &str, v: &Value| (v == "901").then(|| json!("o-1"));
    /// assert_eq!(
    ///     m.to_hub_translated(&app, hub_id).unwrap().unwrap(),
    ///     json!({"name": "Jo", "organization_id": "o-1"}),
    /// );
    /// let unknown = json!({"properties": {"name": "Jo", "company": "902"}});
    /// assert_eq!(m.to_hub_translated(&unknown, hub_id).unwrap().unwrap(), json!({"name": "Jo"}));
    /// ```
    pub fn to_hub_translated(
        &self,
        app: &Value,
        mut translate: impl FnMut(&str, &Value) -> Option<Value>,
    ) -> Option<Result<Value, MapError>> {
        if !self.references_separate {
            return None;
        }
        Some(self.run_with(app, super::Direction::ToHub, &mut translate))
    }

    /// [`canonical_from_hub`](Self::canonical_from_hub) of `hub` with each reference value
    /// `v` (not null) replaced by `plain(reference, v)` (the hub's shape, say a plain id),
    /// computed from `payload` instead of mapping that record to the app: `payload` must be
    /// [`to_app`](Self::to_app) of `hub` with its reference values replaced by any others
    /// (the app's ids, or null where the app receives none). `None` when this cannot be
    /// done exactly (the references are not [separate](Self::references_separate), or
    /// mapping `payload` back fails): map the plain record then.
    ///
    /// ```
    /// use mapping::{EntityMapping, FunctionRegistry, content_hash};
    /// use serde_json::{json, Value};
    /// let m = EntityMapping::from_yaml_str(r#"
    /// fields:
    ///   - { hub: name, app: properties.name }
    /// references:
    ///   - { hub: organization_id, app: properties.company, entity: organizations }
    /// "#, "people.yaml", &FunctionRegistry::new()).unwrap();
    /// let hub = json!({"name": "Jo", "organization_id": [{"id": "o-1"}]});
    /// let payload = m.to_app(&json!({"name": "Jo", "organization_id": "901"})).unwrap();
    /// let plain = |_: &mapping::Reference, v: &Value| v[0]["id"].clone();
    /// let canonical = m.canonical_beside(&hub, &payload, plain).unwrap();
    /// let expected = m.canonical_from_hub(&json!({"name": "Jo", "organization_id": "o-1"}));
    /// assert_eq!(content_hash(&canonical), content_hash(&expected.unwrap()));
    /// ```
    pub fn canonical_beside(
        &self,
        hub: &Value,
        payload: &Value,
        mut plain: impl FnMut(&Reference, &Value) -> Value,
    ) -> Option<Value> {
        if !self.references_separate || !hub.is_object() {
            return None;
        }
        // The payload differs from the plain record's trip only at the references' app
        // paths, which nothing else reads: mapped back, only the references differ, and
        // they are written as the plain record has them, where it has them.
        let mut canonical = self.canonical_of_trip(hub, payload).ok()?;
        for reference in &self.references {
            reference
                .hub
                .try_for_each_leaf(hub, |indices, found| {
                    let Some(value) = found.filter(|v| !v.is_null()) else {
                        return Ok(());
                    };
                    match plain(reference, value) {
                        Value::Null => Ok(()),
                        value => reference.hub.write(&mut canonical, indices, value),
                    }
                })
                .ok()?;
        }
        Some(canonical)
    }
}
