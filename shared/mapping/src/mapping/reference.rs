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

/// Whether two paths can name the same value or one a part of the other: their keys agree
/// as far as the shorter goes (array selectors are not compared, which errs on "yes").
fn overlaps(a: &FieldPath, b: &FieldPath) -> bool {
    a.segments()
        .iter()
        .zip(b.segments())
        .all(|(x, y)| x.key() == y.key())
}

impl Inner {
    /// The references seen from this level, with paths relative to it (`lines[].item_id`),
    /// when no rule reads or writes a path overlapping one, no two overlap, and every `lines`
    /// rule holding one runs both ways; `None` otherwise. Then a reference's value travels
    /// alone: changing it changes nothing else a mapping either way produces (see
    /// [`EntityMapping::canonical_beside`](super::EntityMapping::canonical_beside)).
    pub(super) fn separate_references(&self) -> Option<Vec<(FieldPath, FieldPath)>> {
        // (hub, app, the `lines` rule holding it)
        let mut seen: Vec<(FieldPath, FieldPath, Option<usize>)> = self
            .references
            .iter()
            .map(|r| (r.reference.hub.clone(), r.reference.app.clone(), None))
            .collect();
        for (at, rule) in self.rules.iter().enumerate() {
            if let (Some(sub), Some(hub), Some(app)) = (&rule.lines, &rule.hub, &rule.app) {
                let inner = sub.separate_references()?;
                if !inner.is_empty() && rule.direction != Direction::Both {
                    return None;
                }
                seen.extend(
                    inner
                        .into_iter()
                        .map(|(h, a)| (hub.join_elements(&h), app.join_elements(&a), Some(at))),
                );
            }
        }
        for (k, (hub, app, holder)) in seen.iter().enumerate() {
            let clash = self.rules.iter().enumerate().any(|(at, rule)| {
                Some(at) != *holder
                    && (rule.hub.as_ref().is_some_and(|p| overlaps(p, hub))
                        || rule.app.as_ref().is_some_and(|p| overlaps(p, app)))
            });
            let twice = seen[k + 1..]
                .iter()
                .any(|(h, a, _)| overlaps(h, hub) || overlaps(a, app));
            if clash || twice {
                return None;
            }
        }
        Some(seen.into_iter().map(|(h, a, _)| (h, a)).collect())
    }
}
