//! Listing indexes ([`Views`]): for a listing's `$filter` and `$orderby`, the keys of the
//! records it selects, in its order, kept up to date by every write of the collection, so
//! that a page costs `O(log N + $top)` instead of filtering and sorting every record.
//!
//! A view is built on the first page of a listing (one pass and one sort) and then follows
//! each write: the record's old key leaves, its new key enters if it still matches. A listing
//! of what changed since a mark (`updated_at gt|ge '...'`, every incremental sync's) is built
//! from the records at or after the mark only, found in an index of every record's
//! `updated_at` that also follows each write: `O(log N + k log k)` for `k` changed records,
//! not one pass over the collection per sync. The
//! answer is the one a filter-and-sort over the current records gives, ties included
//! (natural order: the last write's sequence number), so records that change between pages
//! move exactly as before. Only orders on the fields every record has (`created_at`,
//! `updated_at`, `id`, at most two of them) get a view; listings with an `eq` clause (the
//! one-off lookups of match-before-create) and other orders are computed per call.

use std::collections::BTreeSet;

use super::query::{Clause, Op};
use super::state::Record;
use crate::common::SortedList;

/// Views kept per collection; the least recently used goes first.
const MAX_VIEWS: usize = 4;

/// An `$orderby` field a view can index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Created,
    Updated,
    Id,
}

/// A record's place in a view: its order keys as integers (descending ones inverted), then
/// its write sequence number (natural order), then its position in the collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct RowKey {
    parts: [i128; 2],
    seq: u64,
    idx: u32,
}

/// The rendered fields a `$filter` may name that records do not store.
pub(super) struct Meta<'a> {
    pub(super) group_id: &'a str,
    pub(super) channel_id: &'a str,
    pub(super) resource_type: &'a str,
}

/// The names of the [`Meta`] fields, as a `$filter` names them.
const META: [&str; 3] = ["group_id", "channel_id", "resource_type"];

struct View {
    /// The raw `$filter` and `$orderby`: what a later page asks again.
    filter: String,
    order: String,
    clauses: Vec<Clause>,
    fields: Vec<(Field, bool)>,
    /// The values of the [`META`] fields.
    meta: [String; 3],
    rows: SortedList<RowKey>,
    used: u64,
}

impl View {
    /// The record's key in this view, `None` when the filter leaves it out.
    fn key(&self, r: &Record, idx: usize) -> Option<RowKey> {
        let meta = [
            (META[0], self.meta[0].as_str()),
            (META[1], self.meta[1].as_str()),
            (META[2], self.meta[2].as_str()),
        ];
        if !self.clauses.iter().all(|c| c.matches_record(r, &meta)) {
            return None;
        }
        let mut parts = [0i128; 2];
        for (part, (field, desc)) in parts.iter_mut().zip(&self.fields) {
            let v = match field {
                Field::Created => instant(&r.created_at),
                Field::Updated => instant(&r.updated_at),
                Field::Id => uuid_key(&r.id),
            };
            *part = if *desc { !v } else { v };
        }
        Some(RowKey {
            parts,
            seq: r.seq,
            idx: position(idx),
        })
    }
}

/// Nanoseconds since the epoch: the same order as the instants.
fn instant(t: &chrono::DateTime<chrono::Utc>) -> i128 {
    i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
}

/// The emulator's record ids are lower-case hyphenated uuids (`Uuid::new_v4().to_string()`):
/// fixed-width hex, so their string order is the order of their 128-bit values.
fn uuid_key(id: &str) -> i128 {
    let v = uuid::Uuid::parse_str(id).map_or(0, |u| u.as_u128());
    (v ^ (1 << 127)) as i128
}

/// The fields of an `$orderby` a view can index, `None` when it cannot.
fn view_fields(order: &[(String, bool)]) -> Option<Vec<(Field, bool)>> {
    if order.len() > 2 {
        return None;
    }
    order
        .iter()
        .map(|(path, desc)| {
            let f = match path.as_str() {
                "created_at" => Field::Created,
                "updated_at" => Field::Updated,
                "id" => Field::Id,
                _ => return None,
            };
            Some((f, *desc))
        })
        .collect()
}

/// A record's place in the `updated_at` index: its `updated_at` in milliseconds (the
/// precision a `$filter` compares at), then its position in the collection.
type UpdatedKey = (i64, u32);

fn updated_key(r: &Record, idx: usize) -> UpdatedKey {
    (r.updated_at.timestamp_millis(), position(idx))
}

/// A record's position in its collection, as the indexes store it.
fn position(idx: usize) -> u32 {
    u32::try_from(idx).unwrap_or(u32::MAX)
}

/// The keys a record had before a change, from [`Views::keys_of`].
pub(super) struct Before {
    views: Vec<Option<RowKey>>,
    updated: UpdatedKey,
}

/// The listing indexes of one collection (see the [module docs](self)).
#[derive(Default)]
pub(super) struct Views {
    views: Vec<View>,
    tick: u64,
    /// Every record by `updated_at`: where a listing since a mark finds its records.
    updated: BTreeSet<UpdatedKey>,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Views")
            .field("views", &self.views.len())
            .finish()
    }
}

/// One page of a listing: how many records it selects, and the positions of the page's.
pub(super) struct PageRows {
    pub(super) total: usize,
    pub(super) rows: Vec<usize>,
}

/// What a listing asks.
pub(super) struct Listing<'a> {
    pub(super) filter: &'a str,
    pub(super) order: &'a str,
    pub(super) clauses: &'a [Clause],
    pub(super) order_keys: &'a [(String, bool)],
    pub(super) skip: usize,
    pub(super) top: usize,
}

impl Views {
    /// The keys `r` (at `idx`) has in each index before a change.
    pub(super) fn keys_of(&self, r: &Record, idx: usize) -> Before {
        Before {
            views: self.views.iter().map(|v| v.key(r, idx)).collect(),
            updated: updated_key(r, idx),
        }
    }

    /// Moves `r` (at `idx`) in every index after a change; `before` from [`Views::keys_of`]
    /// (`None` for a new record).
    pub(super) fn changed(&mut self, r: &Record, idx: usize, before: Option<&Before>) {
        let updated = updated_key(r, idx);
        let old = before.map(|b| b.updated);
        if old != Some(updated) {
            if let Some(old) = old {
                self.updated.remove(&old);
            }
            self.updated.insert(updated);
        }
        for (i, v) in self.views.iter_mut().enumerate() {
            let old = before.and_then(|b| b.views.get(i).copied().flatten());
            let new = v.key(r, idx);
            if old == new {
                continue;
            }
            if let Some(old) = old {
                v.rows.remove(&old);
            }
            if let Some(new) = new {
                v.rows.insert(new);
            }
        }
    }

    /// The page of `q`, from its view (built now if needed); `None` when the listing gets no
    /// view and must be computed per call.
    pub(super) fn page(
        &mut self,
        records: &[Record],
        meta: &Meta<'_>,
        q: &Listing<'_>,
    ) -> Option<PageRows> {
        let fields = view_fields(q.order_keys)?;
        if q.clauses.iter().any(|c| c.op == Op::Eq) {
            return None;
        }
        self.tick += 1;
        let tick = self.tick;
        let found = self
            .views
            .iter()
            .position(|v| v.filter == q.filter && v.order == q.order);
        let at = match found {
            Some(at) => at,
            None => {
                if self.views.len() >= MAX_VIEWS
                    && let Some(lru) = (0..self.views.len()).min_by_key(|i| self.views[*i].used)
                {
                    self.views.swap_remove(lru);
                }
                let mut view = View {
                    filter: q.filter.to_owned(),
                    order: q.order.to_owned(),
                    clauses: q.clauses.to_vec(),
                    fields,
                    meta: [
                        meta.group_id.to_owned(),
                        meta.channel_id.to_owned(),
                        meta.resource_type.to_owned(),
                    ],
                    rows: SortedList::default(),
                    used: tick,
                };
                let keys = match q.clauses.iter().filter_map(Clause::updated_since).max() {
                    // Only records at or after the mark can pass: the rest are not visited.
                    Some(mark) => self
                        .updated
                        .range((mark, 0)..)
                        .filter_map(|&(_, i)| view.key(&records[i as usize], i as usize))
                        .collect(),
                    None => records
                        .iter()
                        .enumerate()
                        .filter_map(|(i, r)| view.key(r, i))
                        .collect(),
                };
                view.rows = SortedList::from_unsorted(keys);
                self.views.push(view);
                self.views.len() - 1
            }
        };
        let v = &mut self.views[at];
        v.used = tick;
        Some(PageRows {
            total: v.rows.len(),
            rows: v
                .rows
                .iter_from(q.skip)
                .take(q.top)
                .map(|k| k.idx as usize)
                .collect(),
        })
    }
}
