//! The compiled mapping: rules, validation and the record mapper.

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{MapError, MappingError, RuleLocation, RuleProblem, Side, TransformError};
use crate::path::FieldPath;
use crate::transform::{FunctionRegistry, Transform};

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
        let inner = compile(self, origin, "")?;
        let references = inner.flat_references();
        Ok(EntityMapping {
            name,
            inner,
            references,
        })
    }
}

/// A reference to another record: the engine rewrites the id at `hub`/`app`
/// through its id map; the mapper copies it unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Reference {
    /// Hub path (may fan out, e.g. `lines[].item_id`).
    pub hub: FieldPath,
    /// App path (e.g. `LineItems[].ItemCode`).
    pub app: FieldPath,
    /// Hub collection of the referenced record, e.g. `organizations`.
    pub entity: String,
}

#[derive(Debug, Clone, Default)]
struct Flow {
    transforms: Vec<Transform>,
    default: Option<Value>,
    constant: Option<Value>,
}

#[derive(Debug, Clone)]
struct Rule {
    loc: RuleLocation,
    hub: Option<FieldPath>,
    app: Option<FieldPath>,
    direction: Direction,
    to_app: Flow,
    to_hub: Flow,
    on_null: OnNull,
    clear_value: Option<Value>,
    lines: Option<Box<Inner>>,
}

impl Rule {
    fn paths(&self, flow: Direction) -> (Option<&FieldPath>, Option<&FieldPath>) {
        match flow {
            Direction::ToHub => (self.app.as_ref(), self.hub.as_ref()),
            _ => (self.hub.as_ref(), self.app.as_ref()),
        }
    }

    fn flow(&self, flow: Direction) -> &Flow {
        match flow {
            Direction::ToHub => &self.to_hub,
            _ => &self.to_app,
        }
    }

    fn null_value(&self) -> Option<Value> {
        match self.on_null {
            OnNull::Ignore => None,
            OnNull::Clear => Some(self.clear_value.clone().unwrap_or(Value::Null)),
        }
    }
}

#[derive(Debug, Clone)]
struct RefRule {
    loc: RuleLocation,
    reference: Reference,
}

/// A compiled (sub-)mapping: the top level or one `lines` element.
#[derive(Debug, Clone, Default)]
struct Inner {
    rules: Vec<Rule>,
    references: Vec<RefRule>,
}

fn path_label(ctx: &str, p: Option<&FieldPath>) -> String {
    match p {
        Some(p) => format!("{ctx}{p}"),
        None => format!("{ctx}-"),
    }
}

impl Inner {
    fn flat_references(&self) -> Vec<Reference> {
        let mut out: Vec<Reference> = self
            .references
            .iter()
            .map(|r| r.reference.clone())
            .collect();
        for rule in &self.rules {
            if let (Some(sub), Some(hub), Some(app)) = (&rule.lines, &rule.hub, &rule.app) {
                out.extend(sub.flat_references().into_iter().map(|r| Reference {
                    hub: hub.join_elements(&r.hub),
                    app: app.join_elements(&r.app),
                    entity: r.entity,
                }));
            }
        }
        out
    }

    /// Maps one object. `hub_ctx`/`app_ctx` prefix error labels inside lines.
    fn apply(
        &self,
        src: &Value,
        flow: Direction,
        hub_ctx: &str,
        app_ctx: &str,
    ) -> Result<Value, MapError> {
        let mut out = Value::Object(Map::new());
        for rule in self.rules.iter().filter(|r| r.direction.runs(flow)) {
            let fail = |problem| MapError::Field {
                hub: path_label(hub_ctx, rule.hub.as_ref()),
                app: path_label(app_ctx, rule.app.as_ref()),
                direction: flow,
                problem,
            };
            let (src_path, Some(dst_path)) = rule.paths(flow) else {
                continue; // unreachable after validation
            };
            let spec = rule.flow(flow);
            let write = |out: &mut Value, idx: &[usize], v: Value| {
                dst_path.write(out, idx, v).map_err(|c| {
                    fail(TransformError::WriteConflict {
                        at: c.at,
                        found: c.found,
                    })
                })
            };
            if let Some(c) = &spec.constant {
                write(&mut out, &[], c.clone())?;
                continue;
            }
            let Some(src_path) = src_path else { continue };
            for (idx, found) in src_path.leaves(src) {
                let produced = match found {
                    None => spec.default.clone(),
                    Some(Value::Null) => rule.null_value(),
                    Some(v) => match &rule.lines {
                        Some(sub) => Some(self.apply_lines(rule, sub, v, flow, hub_ctx, app_ctx)?),
                        None => {
                            let mut cur = v.clone();
                            for t in &spec.transforms {
                                cur = t.apply(&cur).map_err(fail)?;
                            }
                            // A transform turning a value into null (blank
                            // "" -> parse_number) behaves like a null source.
                            if cur.is_null() {
                                rule.null_value()
                            } else {
                                Some(cur)
                            }
                        }
                    },
                };
                if let Some(v) = produced {
                    write(&mut out, &idx, v)?;
                }
            }
        }
        for r in &self.references {
            let (from, to) = match flow {
                Direction::ToHub => (&r.reference.app, &r.reference.hub),
                _ => (&r.reference.hub, &r.reference.app),
            };
            for (idx, found) in from.leaves(src) {
                // Null ids are ignored like any null source.
                if let Some(v) = found.filter(|v| !v.is_null()) {
                    to.write(&mut out, &idx, v.clone())
                        .map_err(|c| MapError::Field {
                            hub: path_label(hub_ctx, Some(&r.reference.hub)),
                            app: path_label(app_ctx, Some(&r.reference.app)),
                            direction: flow,
                            problem: TransformError::WriteConflict {
                                at: c.at,
                                found: c.found,
                            },
                        })?;
                }
            }
        }
        Ok(out)
    }

    fn apply_lines(
        &self,
        rule: &Rule,
        sub: &Inner,
        v: &Value,
        flow: Direction,
        hub_ctx: &str,
        app_ctx: &str,
    ) -> Result<Value, MapError> {
        let hub = path_label(hub_ctx, rule.hub.as_ref());
        let app = path_label(app_ctx, rule.app.as_ref());
        let Value::Array(items) = v else {
            return Err(MapError::Field {
                hub,
                app,
                direction: flow,
                problem: TransformError::NotAnArray {
                    found: crate::transform::type_name(v),
                },
            });
        };
        let side = match flow {
            Direction::ToHub => Side::App,
            _ => Side::Hub,
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let (h, a) = (format!("{hub}[{i}]"), format!("{app}[{i}]"));
            if !item.is_object() {
                return Err(MapError::NotAnObject {
                    context: format!(
                        "field `{}` element",
                        if side == Side::Hub { &h } else { &a }
                    ),
                    side,
                    found: crate::transform::type_name(item),
                });
            }
            // One output element per input element keeps indices aligned,
            // which element-wise reference copying relies on.
            out.push(sub.apply(item, flow, &format!("{h}."), &format!("{a}."))?);
        }
        Ok(Value::Array(out))
    }
}

fn compile(b: MappingBuilder, origin: &str, prefix: &str) -> Result<Inner, MappingError> {
    let mut inner = Inner::default();
    for (i, spec) in b.fields.into_iter().enumerate() {
        let loc = RuleLocation {
            index: format!("{prefix}fields[{i}]"),
            hub: spec.hub.clone(),
            app: spec.app.clone(),
        };
        let rule = compile_rule(spec, origin, loc.clone())
            .map_err(|e| e.into_mapping_error(origin, &loc))?;
        inner.rules.push(rule);
    }
    for (i, r) in b.references.into_iter().enumerate() {
        let loc = RuleLocation {
            index: format!("{prefix}references[{i}]"),
            hub: Some(r.hub.clone()),
            app: Some(r.app.clone()),
        };
        let err = |problem| MappingError::Rule {
            origin: origin.to_string(),
            location: Box::new(loc.clone()),
            problem: Box::new(problem),
        };
        let hub = parse_path("hub", &r.hub).map_err(err)?;
        let app = parse_path("app", &r.app).map_err(err)?;
        if r.entity.trim().is_empty() {
            return Err(err(RuleProblem::Missing("entity")));
        }
        if hub.fan_out_count() != app.fan_out_count() {
            return Err(err(RuleProblem::FanOutMismatch {
                hub: hub.fan_out_count(),
                app: app.fan_out_count(),
            }));
        }
        check_reference(&inner, &hub, &app).map_err(err)?;
        inner.references.push(RefRule {
            loc,
            reference: Reference {
                hub,
                app,
                entity: r.entity,
            },
        });
    }
    check_targets(&inner, origin)?;
    Ok(inner)
}

/// Either a finished error (from a nested `lines` compile) or a problem with
/// this rule.
enum RuleFailure {
    Problem(RuleProblem),
    Nested(MappingError),
}

impl From<RuleProblem> for RuleFailure {
    fn from(p: RuleProblem) -> Self {
        RuleFailure::Problem(p)
    }
}

impl RuleFailure {
    fn into_mapping_error(self, origin: &str, loc: &RuleLocation) -> MappingError {
        match self {
            RuleFailure::Problem(problem) => MappingError::Rule {
                origin: origin.to_string(),
                location: Box::new(loc.clone()),
                problem: Box::new(problem),
            },
            RuleFailure::Nested(e) => e,
        }
    }
}

fn parse_path(side: &'static str, s: &str) -> Result<FieldPath, RuleProblem> {
    FieldPath::parse(s).map_err(|error| RuleProblem::InvalidPath { side, error })
}

fn conflict(msg: impl Into<String>) -> RuleFailure {
    RuleFailure::Problem(RuleProblem::Conflict(msg.into()))
}

fn compile_rule(spec: FieldSpec, origin: &str, loc: RuleLocation) -> Result<Rule, RuleFailure> {
    let d = spec.direction;
    let hub = spec
        .hub
        .as_deref()
        .map(|s| parse_path("hub", s))
        .transpose()?;
    let app = spec
        .app
        .as_deref()
        .map(|s| parse_path("app", s))
        .transpose()?;

    for (name, ts, flow) in [
        ("to_app", &spec.to_app, Direction::ToApp),
        ("to_hub", &spec.to_hub, Direction::ToHub),
    ] {
        if !ts.is_empty() && !d.runs(flow) {
            return Err(conflict(format!(
                "`{name}` transforms on a rule with direction {d} would never run"
            )));
        }
        for t in ts {
            if let Transform::Datetime { from, to } = t {
                for f in [from, to] {
                    if let crate::DateFormat::Pattern(p) = f
                        && !f.is_valid()
                    {
                        return Err(RuleProblem::BadDatePattern(p.clone()).into());
                    }
                }
            }
        }
    }
    for (name, v, flow) in [
        ("default_to_app", &spec.default_to_app, Direction::ToApp),
        ("default_to_hub", &spec.default_to_hub, Direction::ToHub),
    ] {
        if v.is_some() && spec.default.is_some() {
            return Err(conflict(format!(
                "use either `default` or `{name}`, not both"
            )));
        }
        if v.is_some() && !d.runs(flow) {
            return Err(conflict(format!(
                "`{name}` on a rule with direction {d} would never be used"
            )));
        }
    }
    if spec.clear_value.is_some() && spec.on_null != OnNull::Clear {
        return Err(conflict("`clear_value` only applies with `on_null: clear`"));
    }

    let mut to_app = Flow {
        transforms: spec.to_app,
        default: spec.default_to_app.or_else(|| spec.default.clone()),
        constant: None,
    };
    let mut to_hub = Flow {
        transforms: spec.to_hub,
        default: spec.default_to_hub.or(spec.default),
        constant: None,
    };

    if let Some(c) = spec.constant {
        let (flow, target, side) = match d {
            Direction::ToApp => (&mut to_app, &app, "app"),
            Direction::ToHub => (&mut to_hub, &hub, "hub"),
            Direction::Both => {
                return Err(conflict(
                    "`constant` needs `direction: to_app` or `direction: to_hub`",
                ));
            }
        };
        let Some(target) = target else {
            return Err(RuleProblem::Missing(side).into());
        };
        if !flow.transforms.is_empty() {
            return Err(conflict(format!(
                "`constant` cannot be combined with transforms in the same direction ({d})"
            )));
        }
        if flow.default.is_some() {
            return Err(conflict("`constant` cannot be combined with a default"));
        }
        if spec.lines.is_some() || spec.on_null != OnNull::Ignore {
            return Err(conflict(
                "`constant` cannot be combined with `lines` or `on_null`",
            ));
        }
        if target.fan_out_count() > 0 {
            return Err(conflict(format!(
                "a constant target cannot contain `[]` (\"{target}\")"
            )));
        }
        flow.constant = Some(c);
        return Ok(Rule {
            loc,
            hub,
            app,
            direction: d,
            to_app,
            to_hub,
            on_null: OnNull::Ignore,
            clear_value: None,
            lines: None,
        });
    }

    let (Some(hub_path), Some(app_path)) = (&hub, &app) else {
        return Err(RuleProblem::Missing(if hub.is_none() { "hub" } else { "app" }).into());
    };
    if spec.lines.is_some() {
        for p in [hub_path, app_path] {
            if !matches!(p.segments().last(), Some(crate::path::Segment::Key(_))) {
                return Err(RuleProblem::LinesNotArray(p.to_string()).into());
            }
        }
    }
    if hub_path.fan_out_count() != app_path.fan_out_count() {
        return Err(RuleProblem::FanOutMismatch {
            hub: hub_path.fan_out_count(),
            app: app_path.fan_out_count(),
        }
        .into());
    }

    let lines = match spec.lines {
        None => None,
        Some(sub) => {
            if !to_app.transforms.is_empty() || !to_hub.transforms.is_empty() {
                return Err(conflict(
                    "`lines` rules cannot have transforms (put them on the line fields)",
                ));
            }
            let nested = compile(sub, origin, &format!("{}.lines.", loc.index))
                .map_err(RuleFailure::Nested)?;
            Some(Box::new(nested))
        }
    };

    Ok(Rule {
        loc,
        hub,
        app,
        direction: d,
        to_app,
        to_hub,
        on_null: spec.on_null,
        clear_value: spec.clear_value,
        lines,
    })
}

fn check_reference(inner: &Inner, hub: &FieldPath, app: &FieldPath) -> Result<(), RuleProblem> {
    for rule in &inner.rules {
        for (side, mine, theirs) in [("hub", hub, &rule.hub), ("app", app, &rule.app)] {
            let Some(theirs) = theirs else { continue };
            if mine == theirs {
                return Err(RuleProblem::ReferenceIsField {
                    side,
                    path: mine.to_string(),
                    other: rule.loc.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Rejects two writers of overlapping targets in the same direction. A
/// reference may sit strictly inside a `lines` rule's array (it is copied
/// into the mapped elements afterwards).
fn check_targets(inner: &Inner, origin: &str) -> Result<(), MappingError> {
    struct Target<'a> {
        path: &'a FieldPath,
        loc: RuleLocation,
        lines: bool,
        reference: bool,
    }
    for flow in [Direction::ToApp, Direction::ToHub] {
        let mut seen: Vec<Target<'_>> = Vec::new();
        let rules = inner
            .rules
            .iter()
            .filter(|r| r.direction.runs(flow))
            .filter_map(|r| {
                r.paths(flow).1.map(|p| Target {
                    path: p,
                    loc: r.loc.clone(),
                    lines: r.lines.is_some(),
                    reference: false,
                })
            });
        let refs = inner.references.iter().map(|r| Target {
            path: if flow == Direction::ToHub {
                &r.reference.hub
            } else {
                &r.reference.app
            },
            loc: r.loc.clone(),
            lines: false,
            reference: true,
        });
        for t in rules.chain(refs) {
            for prev in &seen {
                let nested_ref = t.reference && prev.lines && t.path.is_strictly_under(prev.path);
                if t.path.overlaps(prev.path) && !nested_ref {
                    return Err(MappingError::Rule {
                        origin: origin.to_string(),
                        location: Box::new(t.loc.clone()),
                        problem: Box::new(RuleProblem::DuplicateTarget {
                            direction: flow,
                            path: t.path.to_string(),
                            other: prev.loc.to_string(),
                        }),
                    });
                }
            }
            seen.push(t);
        }
    }
    Ok(())
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
}

impl EntityMapping {
    /// Starts a Rust-side mapping definition.
    pub fn builder() -> MappingBuilder {
        MappingBuilder::default()
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
        let doc = crate::load::parse_yaml(src, origin)?;
        crate::load::document(doc, origin, functions)?.build_with_origin(origin)
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
        let doc = crate::load::parse_json(src, origin)?;
        crate::load::document(doc, origin, functions)?.build_with_origin(origin)
    }

    /// Loads `.yaml`/`.yml`/`.json` by extension; errors name the path.
    pub fn from_file(path: &Path, functions: &FunctionRegistry) -> Result<Self, MappingError> {
        let origin = path.display().to_string();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let yaml = match ext.as_deref() {
            Some("yaml" | "yml") => true,
            Some("json") => false,
            _ => return Err(MappingError::UnsupportedExtension { origin }),
        };
        let src = std::fs::read_to_string(path).map_err(|source| MappingError::Io {
            origin: origin.clone(),
            source,
        })?;
        if yaml {
            Self::from_yaml_str(&src, &origin, functions)
        } else {
            Self::from_json_str(&src, &origin, functions)
        }
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
        self.inner.apply(record, flow, "", "")
    }

    /// Every reference, including those declared inside `lines` (with full
    /// paths such as `lines[].item_id` / `LineItems[].ItemCode`).
    pub fn references(&self) -> &[Reference] {
        &self.references
    }

    /// Canonical hub-shaped projection of a hub record, for hashing:
    /// `to_hub(to_app(hub))`. It keeps exactly what survives a trip through
    /// the app, so it equals [`canonical_from_app`](Self::canonical_from_app)
    /// of the app record `to_app(hub)` produced.
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
        self.to_hub(&self.to_app(hub)?)
    }

    /// Canonical hub-shaped projection of an app record: `to_hub(app)`.
    pub fn canonical_from_app(&self, app: &Value) -> Result<Value, MapError> {
        self.to_hub(app)
    }
}
