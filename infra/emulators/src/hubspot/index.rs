//! Search indexes of one portal's objects of one type ([`Index`]): live objects by
//! last-modified time (ranked, for the keyset searches on `lastmodifieddate`), and, for the
//! properties searches look up by value (`email`, `domain`, `name`, a marker property), the
//! ids per lower-cased value, built by the first search that needs them.
//!
//! They only narrow the objects a search evaluates: every candidate still goes through the
//! search's own filters, so what a search answers does not depend on them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::{DateTime, Utc};

use super::objects::{HsObject, ObjType};
use crate::common::SortedList;

/// The indexes of one `(portal, type)` (see the [module docs](self)).
#[derive(Debug, Default)]
pub(super) struct Index {
    /// `(last modified, id)` of every live object.
    pub(super) modified: SortedList<(DateTime<Utc>, u64)>,
    /// Property -> `(hash of the lower-cased value, id)` of live objects with a value.
    props: HashMap<String, BTreeSet<(u64, u64)>>,
}

/// The hash a value is indexed under: that of its lower-cased form (searches compare
/// strings case-insensitively).
pub(super) fn value_hash(v: &str) -> u64 {
    let mut h = DefaultHasher::new();
    v.to_lowercase().hash(&mut h);
    h.finish()
}

impl Index {
    /// Adds a live object.
    pub(super) fn add(&mut self, o: &HsObject) {
        if o.archived() {
            return;
        }
        self.modified.insert((o.updated_at, o.id));
        for (p, set) in &mut self.props {
            if let Some(v) = o.props.get(p).filter(|v| !v.is_empty()) {
                set.insert((value_hash(v), o.id));
            }
        }
    }

    /// Removes an object as it is now (before a change).
    pub(super) fn remove(&mut self, o: &HsObject) {
        if o.archived() {
            return;
        }
        self.modified.remove(&(o.updated_at, o.id));
        for (p, set) in &mut self.props {
            if let Some(v) = o.props.get(p).filter(|v| !v.is_empty()) {
                set.remove(&(value_hash(v), o.id));
            }
        }
    }

    /// Ids of the live objects whose `prop` may equal one of `values` (case-insensitively;
    /// hash collisions included: the caller checks). Builds the property's index from `objs`
    /// on first use.
    pub(super) fn lookup(
        &mut self,
        objs: Option<&BTreeMap<u64, HsObject>>,
        prop: &str,
        values: &[String],
    ) -> BTreeSet<u64> {
        let set = self.props.entry(prop.to_owned()).or_insert_with(|| {
            objs.into_iter()
                .flat_map(|m| m.values())
                .filter(|o| !o.archived())
                .filter_map(|o| {
                    o.props
                        .get(prop)
                        .filter(|v| !v.is_empty())
                        .map(|v| (value_hash(v), o.id))
                })
                .collect()
        });
        values
            .iter()
            .flat_map(|v| {
                let h = value_hash(v);
                set.range((h, 0)..=(h, u64::MAX)).map(|(_, id)| *id)
            })
            .collect()
    }

    /// Ids of live objects modified from `lo` to `hi` (both included).
    pub(super) fn modified_between(&self, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Vec<u64> {
        let (start, end) = self.modified_ranks(lo, hi);
        self.modified
            .iter_from(start)
            .take(end.saturating_sub(start))
            .map(|(_, id)| *id)
            .collect()
    }

    /// The positions in [`Index::modified`] of the objects modified from `lo` to `hi`.
    pub(super) fn modified_ranks(&self, lo: DateTime<Utc>, hi: DateTime<Utc>) -> (usize, usize) {
        let start = self.modified.rank(&(lo, 0));
        let end = self.modified.rank(&(hi, u64::MAX));
        (start, end.max(start))
    }
}

/// Whether `prop` of `t` is one the property indexes can hold: stored as given (not a system
/// property, which objects render rather than store, nor one compared as a date).
pub(super) fn indexable(t: ObjType, prop: &str) -> bool {
    !t.read_only(prop)
        && !super::search::DATE_PROPS.contains(&prop)
        && !matches!(prop, "associatedcompanyid" | "hs_object_id")
}
