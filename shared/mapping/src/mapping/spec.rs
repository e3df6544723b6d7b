//! The Rust-side description of a mapping: [`FieldSpec`] (one rule) and
//! [`MappingBuilder`] (a whole mapping or a `lines` sub-mapping). Nothing is
//! validated here; [`MappingBuilder::build`] hands over to `compile`.

use serde_json::Value;

use super::{Direction, EntityMapping, OnNull};
use crate::error::MappingError;
use crate::transform::Transform;

/// One field rule, for building mappings in Rust. Mirrors the file format;
/// nothing is validated until [`MappingBuilder::build`].
///
/// ```
/// use mapping::{EntityMapping, FieldSpec, OnNull, Transform};
/// use serde_json::json;
///
/// let m = EntityMapping::builder()
///     .field(FieldSpec::new("is_customer", "properties.is_customer")
///         .to_app(Transform::ToString)
///         .to_hub(Transform::ParseBool))
///     .field(FieldSpec::new("phone", "properties.phone").on_null(OnNull::Clear).clear_value(json!("")))
///     .field(FieldSpec::constant_to_app("properties.source", json!("connec")))
///     .build()
///     .unwrap();
/// let app = m.to_app(&json!({"is_customer": true, "phone": null})).unwrap();
/// assert_eq!(app, json!({"properties": {"is_customer": "true", "phone": "", "source": "connec"}}));
/// ```
#[derive(Debug, Clone, Default)]
pub struct FieldSpec {
    pub(crate) hub: Option<String>,
    pub(crate) app: Option<String>,
    pub(crate) direction: Direction,
    pub(crate) to_app: Vec<Transform>,
    pub(crate) to_hub: Vec<Transform>,
    pub(crate) default: Option<Value>,
    pub(crate) default_to_app: Option<Value>,
    pub(crate) default_to_hub: Option<Value>,
    pub(crate) constant: Option<Value>,
    pub(crate) on_null: OnNull,
    pub(crate) clear_value: Option<Value>,
    pub(crate) lines: Option<MappingBuilder>,
}

impl FieldSpec {
    /// A rule mapping `hub` <-> `app` in both directions.
    pub fn new(hub: impl Into<String>, app: impl Into<String>) -> Self {
        FieldSpec {
            hub: Some(hub.into()),
            app: Some(app.into()),
            ..Default::default()
        }
    }

    /// Always writes `value` at app path `app` when mapping to the app.
    pub fn constant_to_app(app: impl Into<String>, value: Value) -> Self {
        FieldSpec {
            app: Some(app.into()),
            direction: Direction::ToApp,
            constant: Some(value),
            ..Default::default()
        }
    }

    /// Always writes `value` at hub path `hub` when mapping to the hub.
    pub fn constant_to_hub(hub: impl Into<String>, value: Value) -> Self {
        FieldSpec {
            hub: Some(hub.into()),
            direction: Direction::ToHub,
            constant: Some(value),
            ..Default::default()
        }
    }

    /// Restricts the rule to one direction.
    pub fn direction(mut self, d: Direction) -> Self {
        self.direction = d;
        self
    }

    /// Appends a hub -> app transform (applied in call order).
    pub fn to_app(mut self, t: Transform) -> Self {
        self.to_app.push(t);
        self
    }

    /// Appends an app -> hub transform (applied in call order).
    pub fn to_hub(mut self, t: Transform) -> Self {
        self.to_hub.push(t);
        self
    }

    /// Value written (as is, untransformed) when the source is missing, in
    /// every direction the rule runs.
    pub fn default_value(mut self, v: Value) -> Self {
        self.default = Some(v);
        self
    }

    /// Like [`default_value`](Self::default_value), hub -> app only.
    pub fn default_to_app(mut self, v: Value) -> Self {
        self.default_to_app = Some(v);
        self
    }

    /// Like [`default_value`](Self::default_value), app -> hub only.
    pub fn default_to_hub(mut self, v: Value) -> Self {
        self.default_to_hub = Some(v);
        self
    }

    /// Always write `v` (needs a one-way `direction`; the source path is unused).
    pub fn constant(mut self, v: Value) -> Self {
        self.constant = Some(v);
        self
    }

    /// What an explicit `null` source does.
    pub fn on_null(mut self, o: OnNull) -> Self {
        self.on_null = o;
        self
    }

    /// The clearing value written by `OnNull::Clear` (default `null`).
    pub fn clear_value(mut self, v: Value) -> Self {
        self.clear_value = Some(v);
        self
    }

    /// Maps the arrays at `hub`/`app` element by element with `sub`.
    pub fn lines(mut self, sub: MappingBuilder) -> Self {
        self.lines = Some(sub);
        self
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ReferenceSpec {
    pub(crate) hub: String,
    pub(crate) app: String,
    pub(crate) entity: String,
}

/// Builds an [`EntityMapping`] (or a `lines` sub-mapping) in Rust.
///
/// ```
/// use mapping::{EntityMapping, FieldSpec};
/// use serde_json::json;
///
/// let m = EntityMapping::builder()
///     .name("invoices")
///     .map("title", "Reference")
///     .field(FieldSpec::new("lines", "LineItems").lines(
///         EntityMapping::builder()
///             .map("quantity", "Quantity")
///             .reference("item_id", "ItemCode", "items"),
///     ))
///     .reference("organization_id", "Contact.ContactID", "organizations")
///     .build()
///     .unwrap();
/// let refs: Vec<String> = m.references().iter().map(|r| r.hub.to_string()).collect();
/// assert_eq!(refs, ["organization_id", "lines[].item_id"]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MappingBuilder {
    pub(crate) name: Option<String>,
    pub(crate) fields: Vec<FieldSpec>,
    pub(crate) references: Vec<ReferenceSpec>,
}

impl MappingBuilder {
    /// Sets the mapping's name (informational).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a rule.
    pub fn field(mut self, f: FieldSpec) -> Self {
        self.fields.push(f);
        self
    }

    /// Shorthand for `field(FieldSpec::new(hub, app))`.
    pub fn map(self, hub: impl Into<String>, app: impl Into<String>) -> Self {
        self.field(FieldSpec::new(hub, app))
    }

    /// Declares a reference to a record of hub collection `entity`.
    pub fn reference(
        mut self,
        hub: impl Into<String>,
        app: impl Into<String>,
        entity: impl Into<String>,
    ) -> Self {
        self.references.push(ReferenceSpec {
            hub: hub.into(),
            app: app.into(),
            entity: entity.into(),
        });
        self
    }

    /// Validates and compiles; errors name the origin `<builder>`.
    pub fn build(self) -> Result<EntityMapping, MappingError> {
        self.build_with_origin("<builder>")
    }

    pub(crate) fn build_with_origin(self, origin: &str) -> Result<EntityMapping, MappingError> {
        let name = self.name.clone();
        let inner = super::compile::compile(self, origin, "")?;
        Ok(EntityMapping::compiled(name, inner))
    }
}
