//! The compiled mapping, [`EntityMapping`], and the vocabulary its rules
//! share ([`Direction`], [`OnNull`]).
//!
//! * [`spec`]: [`FieldSpec`] and [`MappingBuilder`], the unvalidated input
//!   (built in Rust or decoded from a file by `crate::load`);
//! * [`compile`]: validation into the rule model of [`rule`];
//! * [`apply`]: mapping one record with the compiled rules;
//! * [`reference`](mod@reference): [`Reference`] and the flattening of nested references;
//! * [`app_paths`]: [`AppPath`], the app paths the mapping reads and writes.

use std::fmt;
use std::path::Path;

use serde_json::Value;

use crate::error::{MapError, MappingError, Side};
use crate::load::Syntax;
use crate::path::FieldPath;
use crate::transform::FunctionRegistry;

mod app_paths;
mod apply;
mod compile;
mod reference;
mod rule;
mod spec;
mod translated;

pub use app_paths::AppPath;
pub use reference::Reference;
use rule::Inner;
pub use spec::{FieldSpec, MappingBuilder};

/// Which way a rule maps.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Hub -> app and app -> hub.
    #[default]
    Both,
    /// Only hub -> app (`to_app`).
    ToApp,
    /// Only app -> hub (`to_hub`).
    ToHub,
}

impl Direction {
    fn runs(self, flow: Direction) -> bool {
        self == Direction::Both || self == flow
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Both => "both",
            Direction::ToApp => "to_app",
            Direction::ToHub => "to_hub",
        })
    }
}

/// What an explicit `null` source does.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum OnNull {
    /// Leave the target untouched (key absent from the output).
    #[default]
    Ignore,
    /// Write a clearing value: the rule's `clear_value`, else `null`.
    Clear,
}

/// A compiled, validated bidirectional mapping between hub records and app
/// records. Cheap to clone; `Send + Sync`.
///
/// See the [crate docs](crate) for the semantics and the file format.
#[derive(Debug, Clone)]
pub struct EntityMapping {
    name: Option<String>,
    inner: Inner,
    references: Vec<Reference>,
    app_paths: Vec<AppPath>,
    /// Hub paths of the rules that run towards the hub only (full paths inside `lines`).
    hub_only: Vec<FieldPath>,
    /// The top-level hub keys any rule or reference names.
    hub_keys: Vec<String>,
    /// See [`EntityMapping::references_separate`].
    references_separate: bool,
}

impl EntityMapping {
    /// Starts a Rust-side mapping definition.
    pub fn builder() -> MappingBuilder {
        MappingBuilder::default()
    }

    /// Wraps a compiled mapping, precomputing what the accessors list.
    fn compiled(name: Option<String>, inner: Inner) -> Self {
        EntityMapping {
            name,
            references: inner.flat_references(),
            app_paths: inner.app_paths(),
            hub_only: inner.hub_only_paths(),
            hub_keys: inner.hub_keys(),
            references_separate: inner.separate_references().is_some(),
            inner,
        }
    }

    /// Loads a mapping from YAML text; `origin` (usually the file name)
    /// prefixes every error.
    ///
    /// ```
    /// use mapping::{EntityMapping, FunctionRegistry};
    /// let err = EntityMapping::from_yaml_str(
    ///     "fields:\n  - { hub: email.address, app: properties.email, to_app: lowercse }\n",
    ///     "people.yaml",
    ///     &FunctionRegistry::new(),
    /// )
    /// .unwrap_err();
    /// assert!(err.to_string().starts_with(
    ///     r#"people.yaml: fields[0] (hub "email.address"): unknown transform "lowercse""#
    /// ));
    /// ```
    pub fn from_yaml_str(
        src: &str,
        origin: &str,
        functions: &FunctionRegistry,
    ) -> Result<Self, MappingError> {
        Self::from_source(src, origin, Syntax::Yaml, functions)
    }

    /// Loads a mapping from JSON text (same structure as YAML).
    ///
    /// ```
    /// use mapping::{EntityMapping, FunctionRegistry};
    /// use serde_json::json;
    /// let m = EntityMapping::from_json_str(
    ///     r#"{"fields": [{"hub": "name", "app": "Name", "to_app": ["trim", "uppercase"]}]}"#,
    ///     "orgs.json",
    ///     &FunctionRegistry::new(),
    /// )
    /// .unwrap();
    /// assert_eq!(m.to_app(&json!({"name": " acme "})).unwrap(), json!({"Name": "ACME"}));
    /// ```
    pub fn from_json_str(
        src: &str,
        origin: &str,
        functions: &FunctionRegistry,
    ) -> Result<Self, MappingError> {
        Self::from_source(src, origin, Syntax::Json, functions)
    }

    /// Loads `.yaml`/`.yml`/`.json` by extension; errors name the path.
    /// (To load an app's built-in mappings with user overrides, see
    /// [`MappingSet`](crate::MappingSet).)
    pub fn from_file(path: &Path, functions: &FunctionRegistry) -> Result<Self, MappingError> {
        let origin = path.display().to_string();
        let Some(syntax) = Syntax::of(path) else {
            return Err(MappingError::UnsupportedExtension { origin });
        };
        let src = std::fs::read_to_string(path).map_err(|source| MappingError::Io {
            origin: origin.clone(),
            source,
        })?;
        Self::from_source(&src, &origin, syntax, functions)
    }

    /// Parses, decodes and compiles `src`; every error names `origin`.
    pub(crate) fn from_source(
        src: &str,
        origin: &str,
        syntax: Syntax,
        functions: &FunctionRegistry,
    ) -> Result<Self, MappingError> {
        let doc = syntax.parse(src, origin)?;
        crate::load::document(doc, origin, functions)?.build_with_origin(origin)
    }

    /// The mapping's `name`, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Maps a hub record to an app record (rules with direction `both` or
    /// `to_app`, then references). Unmapped hub keys are dropped.
    pub fn to_app(&self, hub: &Value) -> Result<Value, MapError> {
        self.run(hub, Direction::ToApp)
    }

    /// Maps an app record to a hub record (rules with direction `both` or
    /// `to_hub`, then references).
    pub fn to_hub(&self, app: &Value) -> Result<Value, MapError> {
        self.run(app, Direction::ToHub)
    }

    fn run(&self, record: &Value, flow: Direction) -> Result<Value, MapError> {
        self.run_with(record, flow, &mut apply::copied)
    }

    /// [`run`](Self::run) with references written by `refs`.
    fn run_with(
        &self,
        record: &Value,
        flow: Direction,
        refs: &mut apply::RefWriter<'_>,
    ) -> Result<Value, MapError> {
        if !record.is_object() {
            return Err(MapError::NotAnObject {
                context: "record".into(),
                side: if flow == Direction::ToApp {
                    Side::Hub
                } else {
                    Side::App
                },
                found: crate::transform::type_name(record),
            });
        }
        self.inner.apply(record, flow, &apply::Ctx::Top, refs)
    }

    /// Every reference, including those declared inside `lines` (with full
    /// paths such as `lines[].item_id` / `LineItems[].ItemCode`).
    pub fn references(&self) -> &[Reference] {
        &self.references
    }

    /// The top-level keys of hub records that any rule or reference names, in declaration
    /// order, each once. Mapping a hub record (either way, and its canonical projection)
    /// reads nothing else, so a record cut down to these keys maps the same.
    ///
    /// ```
    /// use mapping::{EntityMapping, FunctionRegistry};
    /// let m = EntityMapping::from_yaml_str(r#"
    /// fields:
    ///   - { hub: email.address, app: properties.email }
    ///   - { hub: email.kind, app: properties.kind }
    ///   - { app: properties.origin, direction: to_app, constant: connec }
    /// references:
    ///   - { hub: organization_id, app: properties.associatedcompanyid, entity: organizations }
    /// "#, "people.yaml", &FunctionRegistry::new()).unwrap();
    /// assert_eq!(m.hub_keys(), ["email", "organization_id"]);
    /// ```
    pub fn hub_keys(&self) -> &[String] {
        &self.hub_keys
    }

    /// Every app-side path the mapping touches, in declaration order
    /// (`fields`, with a `lines` rule's array path followed by its element
    /// paths in full, e.g. `LineItems[].ItemCode`; then `references`),
    /// each listed once with whether [`to_hub`](Self::to_hub) reads it
    /// and/or [`to_app`](Self::to_app) writes it.
    ///
    /// Rules with direction `both` read and write, `to_app` rules (and
    /// their constants and defaults) only write, `to_hub` rules only read;
    /// a `to_hub` constant touches no app path. References read and write.
    /// Inside `lines`, a path runs only in the directions its `lines` rule
    /// runs. A path declared twice (say one `to_app` and one `to_hub` rule)
    /// is listed at its first place with both flags merged.
    ///
    /// ```
    /// use mapping::{EntityMapping, FunctionRegistry};
    /// let m = EntityMapping::from_yaml_str(r#"
    /// fields:
    ///   - { hub: email, app: properties.email }
    ///   - { hub: source, app: properties.source, direction: to_app }
    ///   - { app: properties.origin, direction: to_app, constant: connec }
    ///   - { hub: score, app: properties.score, direction: to_hub }
    /// references:
    ///   - { hub: organization_id, app: properties.associatedcompanyid, entity: organizations }
    /// "#, "people.yaml", &FunctionRegistry::new()).unwrap();
    /// let paths: Vec<(&str, bool, bool)> = m
    ///     .app_paths()
    ///     .iter()
    ///     .map(|p| (p.path.as_str(), p.reads, p.writes))
    ///     .collect();
    /// assert_eq!(paths, [
    ///     ("properties.email", true, true),
    ///     ("properties.source", false, true),
    ///     ("properties.origin", false, true),
    ///     ("properties.score", true, false),
    ///     ("properties.associatedcompanyid", true, true),
    /// ]);
    /// ```
    pub fn app_paths(&self) -> &[AppPath] {
        &self.app_paths
    }

    /// The distinct keys one segment below `prefix` among
    /// [`app_paths`](Self::app_paths) (read or written), in order: with
    /// `properties.` (or `properties`), the HubSpot property names. An empty
    /// prefix gives the top-level keys; `LineItems[]` the keys of the line
    /// elements. Array selectors are dropped from the key (`tags[]` ->
    /// `tags`). A prefix that is not a valid path matches nothing.
    ///
    /// ```
    /// use mapping::{EntityMapping, FunctionRegistry};
    /// let m = EntityMapping::from_yaml_str(r#"
    /// fields:
    ///   - { hub: first_name, app: properties.firstname }
    ///   - { hub: address.city, app: properties.address.city }
    ///   - { hub: address.zip, app: properties.address.zip }
    ///   - { hub: id, app: id, direction: to_hub }
    /// references:
    ///   - { hub: organization_id, app: properties.associatedcompanyid, entity: organizations }
    /// "#, "people.yaml", &FunctionRegistry::new()).unwrap();
    /// assert_eq!(
    ///     m.app_fields_under("properties."),
    ///     ["firstname", "address", "associatedcompanyid"],
    /// );
    /// assert_eq!(m.app_fields_under(""), ["properties", "id"]);
    /// assert!(m.app_fields_under("missing.").is_empty());
    /// ```
    pub fn app_fields_under(&self, prefix: &str) -> Vec<String> {
        app_paths::fields_under(&self.app_paths, prefix)
    }

    /// Canonical hub-shaped projection of a hub record, for hashing:
    /// `to_hub(to_app(hub))`. It keeps exactly what survives a trip through
    /// the app, so it equals [`canonical_from_app`](Self::canonical_from_app)
    /// of the app record `to_app(hub)` produced. Fields mapped towards the hub
    /// only (`direction: to_hub`: the app owns them) are taken from the hub
    /// record as it is: once the hub holds the app's value, both sides hash
    /// alike, and a change of it on either side is a change.
    ///
    /// ```
    /// use mapping::{content_hash, EntityMapping, FunctionRegistry};
    /// use serde_json::json;
    /// let m = EntityMapping::from_yaml_str(r#"
    /// fields:
    ///   - { hub: name, app: Name }
    ///   - { hub: total_tax, app: TotalTax, direction: to_hub }
    /// "#, "invoices.yaml", &FunctionRegistry::new()).unwrap();
    /// let app = json!({"Name": "A", "TotalTax": 4.5});
    /// let hub = m.to_hub(&app).unwrap();
    /// assert_eq!(m.to_app(&hub).unwrap(), json!({"Name": "A"}));
    /// assert_eq!(
    ///     content_hash(&m.canonical_from_hub(&hub).unwrap()),
    ///     content_hash(&m.canonical_from_app(&app).unwrap()),
    /// );
    /// ```
    ///
    /// ```
    /// use mapping::{content_hash, EntityMapping, FieldSpec, Transform};
    /// use serde_json::json;
    /// let m = EntityMapping::builder()
    ///     .field(FieldSpec::new("n", "properties.n").to_app(Transform::ToString).to_hub(Transform::ParseNumber))
    ///     .build()
    ///     .unwrap();
    /// let hub = json!({"n": 3.0, "unmapped": true});
    /// let app = m.to_app(&hub).unwrap();
    /// assert_eq!(app, json!({"properties": {"n": "3"}}));
    /// assert_eq!(
    ///     content_hash(&m.canonical_from_hub(&hub).unwrap()),
    ///     content_hash(&m.canonical_from_app(&app).unwrap()),
    /// );
    /// ```
    pub fn canonical_from_hub(&self, hub: &Value) -> Result<Value, MapError> {
        let app = self.to_app(hub)?;
        self.canonical_of_trip(hub, &app)
    }

    /// [`to_app`](Self::to_app) of a hub record and, from the same trip,
    /// [`canonical_from_hub`](Self::canonical_from_hub): one mapping to the app serves
    /// both. The outer error is `to_app`'s (both would fail with it), the inner one the
    /// canonical projection's.
    ///
    /// ```
    /// use mapping::{EntityMapping, FunctionRegistry};
    /// use serde_json::json;
    /// let m = EntityMapping::from_yaml_str(
    ///     "fields:\n  - { hub: name, app: properties.name }\n",
    ///     "orgs.yaml",
    ///     &FunctionRegistry::new(),
    /// )
    /// .unwrap();
    /// let hub = json!({"name": "Acme", "unmapped": 1});
    /// let (app, canonical) = m.to_app_and_canonical(&hub).unwrap();
    /// assert_eq!(app, m.to_app(&hub).unwrap());
    /// assert_eq!(canonical.unwrap(), m.canonical_from_hub(&hub).unwrap());
    /// ```
    #[allow(clippy::type_complexity)] // two outcomes of one trip, named in the docs
    pub fn to_app_and_canonical(
        &self,
        hub: &Value,
    ) -> Result<(Value, Result<Value, MapError>), MapError> {
        let app = self.to_app(hub)?;
        let canonical = self.canonical_of_trip(hub, &app);
        Ok((app, canonical))
    }

    /// The canonical projection of `hub`, given `app = to_app(hub)`.
    fn canonical_of_trip(&self, hub: &Value, app: &Value) -> Result<Value, MapError> {
        let mut canonical = self.to_hub(app)?;
        for path in &self.hub_only {
            let _ = path.try_for_each_leaf(hub, |indices, value| -> Result<(), ()> {
                if let Some(value) = value.filter(|v| !v.is_null()) {
                    // The trip through the app kept the lines' order and length, so an
                    // element's index names the same element on both.
                    let _ = path.write(&mut canonical, indices, value.clone());
                }
                Ok(())
            });
        }
        Ok(canonical)
    }

    /// Canonical hub-shaped projection of an app record: `to_hub(app)`.
    pub fn canonical_from_app(&self, app: &Value) -> Result<Value, MapError> {
        self.to_hub(app)
    }
}
