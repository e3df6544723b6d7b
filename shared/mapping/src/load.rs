//! Mapping files (YAML or JSON) -> [`MappingBuilder`].
//!
//! Both formats are first read into a `serde_norway::Value` (it accepts
//! non-string keys, which enum tables may use), then each rule is decoded on
//! its own so errors can name `fields[i]` and its paths.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use serde_norway::Value as Y;

use crate::error::{MappingError, RuleLocation, RuleProblem};
use crate::mapping::{Direction, FieldSpec, MappingBuilder, OnNull};
use crate::transform::{DateFormat, EnumTable, FunctionRegistry, SIMPLE_NAMES, Transform};

/// The two file syntaxes, told apart by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Syntax {
    Yaml,
    Json,
}

impl Syntax {
    /// `.yaml`/`.yml` -> YAML, `.json` -> JSON (any case); else `None`.
    pub(crate) fn of(file: &Path) -> Option<Self> {
        let ext = file.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "yaml" | "yml" => Some(Syntax::Yaml),
            "json" => Some(Syntax::Json),
            _ => None,
        }
    }

    /// Parses a whole document; syntax errors name `origin`.
    pub(crate) fn parse(self, src: &str, origin: &str) -> Result<Y, MappingError> {
        match self {
            Syntax::Yaml => parse_yaml(src, origin),
            Syntax::Json => parse_json(src, origin),
        }
    }
}

fn parse_yaml(src: &str, origin: &str) -> Result<Y, MappingError> {
    serde_norway::from_str::<Y>(src).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        MappingError::Syntax {
            origin: origin.to_string(),
            line,
            column,
            message: e.to_string(),
        }
    })
}

fn parse_json(src: &str, origin: &str) -> Result<Y, MappingError> {
    serde_json::from_str::<Y>(src).map_err(|e| MappingError::Syntax {
        origin: origin.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

pub(crate) fn document(
    doc: Y,
    origin: &str,
    functions: &FunctionRegistry,
) -> Result<MappingBuilder, MappingError> {
    sub_mapping(doc, origin, "", true, functions)
}

fn doc_err(origin: &str, message: String) -> MappingError {
    MappingError::Document {
        origin: origin.to_string(),
        message,
    }
}

/// Decodes `{name?, fields, references}` (top level) or `{fields,
/// references}` (a `lines` block at `prefix`).
fn sub_mapping(
    doc: Y,
    origin: &str,
    prefix: &str,
    top: bool,
    functions: &FunctionRegistry,
) -> Result<MappingBuilder, MappingError> {
    let at = if top {
        String::new()
    } else {
        format!("{}: ", prefix.trim_end_matches('.'))
    };
    let Y::Mapping(map) = doc else {
        return Err(doc_err(
            origin,
            format!(
                "{at}expected a map with `fields` (and optionally `references`), found {}",
                y_type(&doc)
            ),
        ));
    };
    let mut b = MappingBuilder::default();
    for (k, v) in map {
        let key = k.as_str().unwrap_or_default();
        match key {
            "name" if top => match v {
                Y::String(s) => b.name = Some(s),
                Y::Null => {}
                other => {
                    return Err(doc_err(
                        origin,
                        format!("`name` must be a string, found {}", y_type(&other)),
                    ));
                }
            },
            "fields" => {
                for (i, item) in seq(v, origin, &at, "fields")?.into_iter().enumerate() {
                    let index = format!("{prefix}fields[{i}]");
                    b.fields.push(field(item, origin, index, functions)?);
                }
            }
            "references" => {
                for (i, item) in seq(v, origin, &at, "references")?.into_iter().enumerate() {
                    let index = format!("{prefix}references[{i}]");
                    let loc = locate(&item, index);
                    let raw: RawReference =
                        serde_norway::from_value(item).map_err(|e| MappingError::Rule {
                            origin: origin.to_string(),
                            location: Box::new(loc),
                            problem: Box::new(RuleProblem::Invalid(e.to_string())),
                        })?;
                    b = b.reference(raw.hub, raw.app, raw.entity);
                }
            }
            _ => {
                let expected = if top {
                    "name, fields, references"
                } else {
                    "fields, references"
                };
                return Err(doc_err(
                    origin,
                    format!(
                        "{at}unknown key {} (expected one of: {expected})",
                        y_show(&k)
                    ),
                ));
            }
        }
    }
    Ok(b)
}

fn seq(v: Y, origin: &str, at: &str, what: &str) -> Result<Vec<Y>, MappingError> {
    match v {
        Y::Sequence(items) => Ok(items),
        Y::Null => Ok(Vec::new()),
        other => Err(doc_err(
            origin,
            format!("{at}`{what}` must be a list, found {}", y_type(&other)),
        )),
    }
}

fn locate(item: &Y, index: String) -> RuleLocation {
    let get = |k: &str| item.get(k).and_then(Y::as_str).map(str::to_string);
    RuleLocation {
        index,
        hub: get("hub"),
        app: get("app"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    hub: String,
    app: String,
    entity: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    #[serde(default)]
    hub: Option<String>,
    #[serde(default)]
    app: Option<String>,
    #[serde(default)]
    direction: Direction,
    #[serde(default)]
    to_app: Option<Y>,
    #[serde(default)]
    to_hub: Option<Y>,
    #[serde(default)]
    default: Option<Value>,
    #[serde(default)]
    default_to_app: Option<Value>,
    #[serde(default)]
    default_to_hub: Option<Value>,
    #[serde(default)]
    constant: Option<Value>,
    #[serde(default)]
    on_null: OnNull,
    #[serde(default)]
    clear_value: Option<Value>,
    #[serde(default)]
    lines: Option<Y>,
}

fn field(
    item: Y,
    origin: &str,
    index: String,
    functions: &FunctionRegistry,
) -> Result<FieldSpec, MappingError> {
    let loc = locate(&item, index);
    let err = |problem| MappingError::Rule {
        origin: origin.to_string(),
        location: Box::new(loc.clone()),
        problem: Box::new(problem),
    };
    if !matches!(item, Y::Mapping(_)) {
        return Err(err(RuleProblem::Invalid(format!(
            "a field rule must be a map, found {}",
            y_type(&item)
        ))));
    }
    let raw: RawField =
        serde_norway::from_value(item).map_err(|e| err(RuleProblem::Invalid(e.to_string())))?;
    let transforms = |v: Option<Y>| match v {
        None => Ok(Vec::new()),
        Some(v) => transforms(&v, functions).map_err(err),
    };
    let lines = match raw.lines {
        None => None,
        Some(v) => Some(sub_mapping(
            v,
            origin,
            &format!("{}.lines.", loc.index),
            false,
            functions,
        )?),
    };
    Ok(FieldSpec {
        hub: raw.hub,
        app: raw.app,
        direction: raw.direction,
        to_app: transforms(raw.to_app)?,
        to_hub: transforms(raw.to_hub)?,
        default: raw.default,
        default_to_app: raw.default_to_app,
        default_to_hub: raw.default_to_hub,
        constant: raw.constant,
        on_null: raw.on_null,
        clear_value: raw.clear_value,
        lines,
    })
}

/// One transform, or a list applied in order.
fn transforms(v: &Y, functions: &FunctionRegistry) -> Result<Vec<Transform>, RuleProblem> {
    match v {
        Y::Sequence(items) => items.iter().map(|t| transform(t, functions)).collect(),
        other => Ok(vec![transform(other, functions)?]),
    }
}

fn transform(v: &Y, functions: &FunctionRegistry) -> Result<Transform, RuleProblem> {
    let invalid = |m: String| RuleProblem::Invalid(m);
    match v {
        Y::String(name) => Transform::from_name(name).ok_or_else(|| {
            if matches!(name.as_str(), "enum" | "datetime" | "custom") {
                invalid(format!(
                    "transform \"{name}\" needs parameters, e.g. {{ {name}: ... }}"
                ))
            } else {
                unknown_transform(name)
            }
        }),
        Y::Mapping(m) => {
            let keys: Vec<String> = m.keys().map(y_show).collect();
            let only = |allowed: &[&str]| -> Result<(), RuleProblem> {
                match m
                    .keys()
                    .find(|k| !k.as_str().is_some_and(|k| allowed.contains(&k)))
                {
                    Some(k) => Err(invalid(format!(
                        "unexpected key {} in transform (expected {})",
                        y_show(k),
                        allowed.join(", ")
                    ))),
                    None => Ok(()),
                }
            };
            if let Some(table) = m.get("enum") {
                only(&["enum", "fallback"])?;
                let Y::Mapping(table) = table else {
                    return Err(invalid("`enum` must be a map of from: to".into()));
                };
                let mut pairs = Vec::with_capacity(table.len());
                for (k, to) in table {
                    let key = match k {
                        Y::String(s) => s.clone(),
                        Y::Bool(b) => b.to_string(),
                        Y::Number(n) => {
                            let n: Value = to_json(&Y::Number(n.clone()))?;
                            crate::transform::scalar_text(&n).unwrap_or_default()
                        }
                        other => return Err(RuleProblem::EnumKeyNotScalar(y_type(other).into())),
                    };
                    pairs.push((key, to_json(to)?));
                }
                let mut table = EnumTable::new(pairs);
                if let Some(fb) = m.get("fallback").filter(|f| !f.is_null()) {
                    table = table.with_fallback(to_json(fb)?);
                }
                Ok(Transform::Enum(table))
            } else if let Some(spec) = m.get("datetime") {
                only(&["datetime"])?;
                let format = |key: &str| -> Result<DateFormat, RuleProblem> {
                    let s = spec.get(key).and_then(Y::as_str).ok_or_else(|| {
                        invalid(format!(
                            "`datetime` needs `{key}` (a format name or pattern)"
                        ))
                    })?;
                    let f = DateFormat::from_name(s)
                        .ok_or_else(|| RuleProblem::UnknownDateFormat(s.to_string()))?;
                    if !f.is_valid() {
                        return Err(RuleProblem::BadDatePattern(s.to_string()));
                    }
                    Ok(f)
                };
                if let Y::Mapping(dm) = spec
                    && let Some(k) = dm
                        .keys()
                        .find(|k| !matches!(k.as_str(), Some("from" | "to")))
                {
                    return Err(invalid(format!(
                        "unexpected key {} in datetime (expected from, to)",
                        y_show(k)
                    )));
                }
                Ok(Transform::Datetime {
                    from: format("from")?,
                    to: format("to")?,
                })
            } else if let Some(name) = m.get("custom") {
                only(&["custom"])?;
                let name = name
                    .as_str()
                    .ok_or_else(|| invalid("`custom` needs a function name".into()))?;
                functions
                    .get(name)
                    .map(Transform::Custom)
                    .ok_or_else(|| RuleProblem::UnknownFunction(name.to_string()))
            } else {
                Err(match keys.first() {
                    Some(k) => unknown_transform(k.trim_matches('"')),
                    None => invalid("empty transform map".into()),
                })
            }
        }
        other => Err(invalid(format!(
            "a transform must be a name or a map like {{ enum: ... }}, found {}",
            y_type(other)
        ))),
    }
}

fn unknown_transform(name: &str) -> RuleProblem {
    let candidates = SIMPLE_NAMES.iter().chain(&["enum", "datetime", "custom"]);
    RuleProblem::UnknownTransform {
        name: name.to_string(),
        hint: crate::suggest::did_you_mean(name, candidates.copied()),
    }
}

fn to_json(v: &Y) -> Result<Value, RuleProblem> {
    serde_json::to_value(v).map_err(|e| RuleProblem::Invalid(format!("unsupported value: {e}")))
}

fn y_type(v: &Y) -> &'static str {
    match v {
        Y::Null => "null",
        Y::Bool(_) => "a boolean",
        Y::Number(_) => "a number",
        Y::String(_) => "a string",
        Y::Sequence(_) => "a list",
        Y::Mapping(_) => "a map",
        Y::Tagged(_) => "a tagged value",
    }
}

fn y_show(v: &Y) -> String {
    match v {
        Y::String(s) => format!("\"{s}\""),
        other => serde_norway::to_string(other)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| y_type(other).to_string()),
    }
}
