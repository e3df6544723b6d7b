//! Running a compiled mapping over one record: field rules in declaration
//! order (transforms, defaults, `on_null`, constants), `lines` element by
//! element, then references copied unchanged (or as a [`RefWriter`] translates them).

use std::borrow::Cow;

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

/// Where a (sub-)mapping runs, for error labels: the record, or element `index` of a `lines`
/// rule inside its parent. Labels are only spelled out when an error needs them, so mapping a
/// record allocates nothing for them.
#[derive(Clone, Copy)]
pub(super) enum Ctx<'a> {
    /// The record itself.
    Top,
    /// One element of a `lines` rule.
    Line {
        parent: &'a Ctx<'a>,
        rule: &'a Rule,
        index: usize,
    },
}

impl Ctx<'_> {
    /// The prefix of hub labels (`""`, `lines[2].`).
    fn hub(&self) -> String {
        match self {
            Ctx::Top => String::new(),
            Ctx::Line { .. } => format!("{}.", self.element(Side::Hub)),
        }
    }

    /// The prefix of app labels.
    fn app(&self) -> String {
        match self {
            Ctx::Top => String::new(),
            Ctx::Line { .. } => format!("{}.", self.element(Side::App)),
        }
    }

    /// The element's own label on one side (`lines[2]`); empty at the top.
    fn element(&self, side: Side) -> String {
        match self {
            Ctx::Top => String::new(),
            Ctx::Line {
                parent,
                rule,
                index,
            } => {
                let label = match side {
                    Side::Hub => path_label(&parent.hub(), rule.hub.as_ref()),
                    Side::App => path_label(&parent.app(), rule.app.as_ref()),
                };
                format!("{label}[{index}]")
            }
        }
    }
}

/// What a reference's (non-null) value becomes in the output: given the referenced hub
/// collection and the source value. `None` writes nothing there.
pub(super) type RefWriter<'w> = dyn FnMut(&str, &Value) -> Option<Value> + 'w;

/// The plain mapping's [`RefWriter`]: references copied unchanged.
pub(super) fn copied(_: &str, value: &Value) -> Option<Value> {
    Some(value.clone())
}

impl Inner {
    /// Maps one object; `ctx` says where, for error labels inside lines; `refs` writes the
    /// references.
    pub(super) fn apply(
        &self,
        src: &Value,
        flow: Direction,
        ctx: &Ctx<'_>,
        refs: &mut RefWriter<'_>,
    ) -> Result<Value, MapError> {
        let mut out = Value::Object(Map::new());
        for rule in self.rules.iter().filter(|r| r.direction.runs(flow)) {
            let fail = |problem| MapError::Field {
                hub: path_label(&ctx.hub(), rule.hub.as_ref()),
                app: path_label(&ctx.app(), rule.app.as_ref()),
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
            src_path.try_for_each_leaf(src, |idx, found| {
                let produced = match found {
                    None => spec.default.clone(),
                    Some(Value::Null) => rule.null_value(),
                    Some(v) => match &rule.lines {
                        Some(sub) => Some(self.apply_lines(rule, sub, v, flow, ctx, refs)?),
                        None => {
                            // Copied once: each transform builds its own value.
                            let mut cur = Cow::Borrowed(v);
                            for t in &spec.transforms {
                                cur = Cow::Owned(t.apply(&cur).map_err(fail)?);
                            }
                            let cur = cur.into_owned();
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
                    write(&mut out, idx, v)?;
                }
                Ok(())
            })?;
        }
        for r in &self.references {
            let (from, to) = match flow {
                Direction::ToHub => (&r.reference.app, &r.reference.hub),
                _ => (&r.reference.hub, &r.reference.app),
            };
            from.try_for_each_leaf(src, |idx, found| {
                // Null ids are ignored like any null source.
                if let Some(v) = found.filter(|v| !v.is_null())
                    && let Some(v) = refs(&r.reference.entity, v)
                {
                    to.write(&mut out, idx, v).map_err(|c| MapError::Field {
                        hub: path_label(&ctx.hub(), Some(&r.reference.hub)),
                        app: path_label(&ctx.app(), Some(&r.reference.app)),
                        direction: flow,
                        problem: TransformError::WriteConflict {
                            at: c.at,
                            found: c.found,
                        },
                    })?;
                }
                Ok(())
            })?;
        }
        Ok(out)
    }

    fn apply_lines(
        &self,
        rule: &Rule,
        sub: &Inner,
        v: &Value,
        flow: Direction,
        ctx: &Ctx<'_>,
        refs: &mut RefWriter<'_>,
    ) -> Result<Value, MapError> {
        let Value::Array(items) = v else {
            return Err(MapError::Field {
                hub: path_label(&ctx.hub(), rule.hub.as_ref()),
                app: path_label(&ctx.app(), rule.app.as_ref()),
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
        for (index, item) in items.iter().enumerate() {
            let element = Ctx::Line {
                parent: ctx,
                rule,
                index,
            };
            if !item.is_object() {
                return Err(MapError::NotAnObject {
                    context: format!("field `{}` element", element.element(side)),
                    side,
                    found: crate::transform::type_name(item),
                });
            }
            // One output element per input element keeps indices aligned,
            // which element-wise reference copying relies on.
            out.push(sub.apply(item, flow, &element, refs)?);
        }
        Ok(Value::Array(out))
    }
}
