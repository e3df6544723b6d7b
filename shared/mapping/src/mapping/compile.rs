//! Validation and compilation of a [`MappingBuilder`] into the rule model
//! of [`rule`](super::rule): path parsing, option conflicts, fan-out checks,
//! nested `lines`, and the one-writer-per-target rule.

use super::rule::{Flow, Inner, RefRule, Rule};
use super::spec::MappingBuilder;
use super::{Direction, FieldSpec, OnNull, Reference};
use crate::error::{MappingError, RuleLocation, RuleProblem};
use crate::path::FieldPath;
use crate::transform::Transform;

/// Compiles one (sub-)mapping; `prefix` locates it (`fields[8].lines.`).
pub(super) fn compile(
    b: MappingBuilder,
    origin: &str,
    prefix: &str,
) -> Result<Inner, MappingError> {
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
