//! [`Reference`]: an id field pointing at another hub record, and the
//! flattening of references declared inside `lines` into full paths.

use super::Direction;
use super::rule::Inner;
use crate::path::FieldPath;

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

impl Inner {
    /// Every reference, top level first, then those inside `lines` with
    /// paths joined to the array (`lines[].item_id`).
    /// Hub paths of the rules that run towards the hub only, with full paths inside `lines`
    /// (a `to_hub` constant, which `to_hub` writes from nothing, is left out).
    pub(super) fn hub_only_paths(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        for rule in &self.rules {
            match (&rule.lines, &rule.hub) {
                (Some(sub), Some(hub)) => out.extend(
                    sub.hub_only_paths()
                        .iter()
                        .map(|inner| hub.join_elements(inner)),
                ),
                (None, Some(hub))
                    if rule.direction == Direction::ToHub && rule.to_hub.constant.is_none() =>
                {
                    out.push(hub.clone())
                }
                _ => {}
            }
        }
        out
    }

    /// The first key of every hub path of the top level's rules and references (a `lines`
    /// rule's array key covers its elements' paths), each once.
    pub(super) fn hub_keys(&self) -> Vec<String> {
        let rules = self.rules.iter().filter_map(|rule| rule.hub.as_ref());
        let references = self.references.iter().map(|r| &r.reference.hub);
        let mut out: Vec<String> = Vec::new();
        for path in rules.chain(references) {
            let Some(first) = path.segments().first() else {
                continue;
            };
            if !out.iter().any(|k| k == first.key()) {
                out.push(first.key().to_owned());
            }
        }
        out
    }

    pub(super) fn flat_references(&self) -> Vec<Reference> {
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
}
