//! The compiled rule model shared by compilation, application and the
//! introspection methods: one [`Inner`] per (sub-)mapping.

use serde_json::Value;

use super::{Direction, OnNull, Reference};
use crate::error::RuleLocation;
use crate::path::FieldPath;
use crate::transform::Transform;

/// What a rule does in one direction.
#[derive(Debug, Clone, Default)]
pub(super) struct Flow {
    pub(super) transforms: Vec<Transform>,
    pub(super) default: Option<Value>,
    pub(super) constant: Option<Value>,
}

/// One validated field rule. `hub` and `app` are both set, except that a
/// constant needs only its target.
#[derive(Debug, Clone)]
pub(super) struct Rule {
    pub(super) loc: RuleLocation,
    pub(super) hub: Option<FieldPath>,
    pub(super) app: Option<FieldPath>,
    pub(super) direction: Direction,
    pub(super) to_app: Flow,
    pub(super) to_hub: Flow,
    pub(super) on_null: OnNull,
    pub(super) clear_value: Option<Value>,
    pub(super) lines: Option<Box<Inner>>,
}

impl Rule {
    /// `(source, target)` paths when mapping in `flow`.
    pub(super) fn paths(&self, flow: Direction) -> (Option<&FieldPath>, Option<&FieldPath>) {
        match flow {
            Direction::ToHub => (self.app.as_ref(), self.hub.as_ref()),
            _ => (self.hub.as_ref(), self.app.as_ref()),
        }
    }

    /// The transforms, default and constant of direction `flow`.
    pub(super) fn flow(&self, flow: Direction) -> &Flow {
        match flow {
            Direction::ToHub => &self.to_hub,
            _ => &self.to_app,
        }
    }

    /// What an explicit `null` source writes (`None`: nothing).
    pub(super) fn null_value(&self) -> Option<Value> {
        match self.on_null {
            OnNull::Ignore => None,
            OnNull::Clear => Some(self.clear_value.clone().unwrap_or(Value::Null)),
        }
    }
}

/// One validated reference, with its location for later error messages.
#[derive(Debug, Clone)]
pub(super) struct RefRule {
    pub(super) loc: RuleLocation,
    pub(super) reference: Reference,
}

/// A compiled (sub-)mapping: the top level or one `lines` element.
#[derive(Debug, Clone, Default)]
pub(super) struct Inner {
    pub(super) rules: Vec<Rule>,
    pub(super) references: Vec<RefRule>,
}
