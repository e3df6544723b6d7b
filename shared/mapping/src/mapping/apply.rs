//! Running a compiled mapping over one record: field rules in declaration
//! order (transforms, defaults, `on_null`, constants), `lines` element by
//! element, then references copied unchanged.

use serde_json::{Map, Value};

use super::Direction;
use super::rule::{Inner, Rule};
use crate::error::{MapError, Side, TransformError};
use crate::path::FieldPath;

fn path_label(ctx: &str, p: Option<&FieldPath>) -> String {
    match p {
        Some(p) => format!("{ctx}{p}"),
        None => format!("{ctx}-"),
    }
}

impl Inner {
    /// Maps one object. `hub_ctx`/`app_ctx` prefix error labels inside lines.
    pub(super) fn apply(
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
