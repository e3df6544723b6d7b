//! [`AppPath`]: the app-side paths a mapping reads and writes, listed for
//! connectors that must know which app properties to request and which
//! changes to subscribe to.

use super::Direction;
use super::rule::Inner;
use crate::path::FieldPath;

/// One app-side path an [`EntityMapping`](crate::EntityMapping) touches; see
/// [`EntityMapping::app_paths`](crate::EntityMapping::app_paths).
///
/// `reads`: the value at `path` is read from the app record by
/// [`to_hub`](crate::EntityMapping::to_hub) (and so by
/// [`canonical_from_app`](crate::EntityMapping::canonical_from_app)).
/// `writes`: [`to_app`](crate::EntityMapping::to_app) may write `path` in
/// the app record. At least one of the two is true.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct AppPath {
    /// The full app path, e.g. `properties.email` or, inside `lines`,
    /// `LineItems[].ItemCode`.
    pub path: FieldPath,
    /// Read from the app record (direction `both` or `to_hub`, references).
    pub reads: bool,
    /// Written to the app record (direction `both` or `to_app`, including
    /// constants and defaults, references).
    pub writes: bool,
}

impl Inner {
    /// Every app path in declaration order (fields, a `lines` rule followed
    /// by its element paths, then references), deduplicated with the flags
    /// of all occurrences merged.
    pub(super) fn app_paths(&self) -> Vec<AppPath> {
        let mut out = Vec::new();
        self.collect_app_paths(None, true, true, &mut out);
        out
    }

    /// `array`: the full path of the enclosing `lines` array, if any;
    /// `reads`/`writes`: the directions the enclosing `lines` rule runs in.
    fn collect_app_paths(
        &self,
        array: Option<&FieldPath>,
        reads: bool,
        writes: bool,
        out: &mut Vec<AppPath>,
    ) {
        let full = |p: &FieldPath| match array {
            Some(a) => a.join_elements(p),
            None => p.clone(),
        };
        for rule in &self.rules {
            let Some(app) = &rule.app else { continue };
            // A to_hub constant writes the hub side without reading the app.
            let rule_reads =
                reads && rule.direction.runs(Direction::ToHub) && rule.to_hub.constant.is_none();
            let rule_writes = writes && rule.direction.runs(Direction::ToApp);
            if !rule_reads && !rule_writes {
                continue;
            }
            let path = full(app);
            if let Some(sub) = &rule.lines {
                add(out, path.clone(), rule_reads, rule_writes);
                sub.collect_app_paths(Some(&path), rule_reads, rule_writes, out);
            } else {
                add(out, path, rule_reads, rule_writes);
            }
        }
        for r in &self.references {
            add(out, full(&r.reference.app), reads, writes);
        }
    }
}

fn add(out: &mut Vec<AppPath>, path: FieldPath, reads: bool, writes: bool) {
    match out.iter_mut().find(|p| p.path == path) {
        Some(seen) => {
            seen.reads |= reads;
            seen.writes |= writes;
        }
        None => out.push(AppPath {
            path,
            reads,
            writes,
        }),
    }
}

/// The keys one segment below `prefix` among `paths`, first occurrence
/// order, deduplicated. See
/// [`EntityMapping::app_fields_under`](crate::EntityMapping::app_fields_under).
pub(super) fn fields_under(paths: &[AppPath], prefix: &str) -> Vec<String> {
    let prefix = prefix.strip_suffix('.').unwrap_or(prefix);
    let parent = if prefix.is_empty() {
        Vec::new()
    } else {
        match FieldPath::parse(prefix) {
            Ok(p) => p.segments().to_vec(),
            Err(_) => return Vec::new(),
        }
    };
    let mut out: Vec<String> = Vec::new();
    for p in paths {
        let segments = p.path.segments();
        if segments.len() > parent.len() && segments.starts_with(&parent) {
            let key = segments[parent.len()].key();
            if !out.iter().any(|k| k == key) {
                out.push(key.to_string());
            }
        }
    }
    out
}
