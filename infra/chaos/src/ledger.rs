//! The suite's own record of what it did: one entry per logical record, with a stable key that
//! no edit changes and every edit of its other mapped fields, so the final state each policy
//! allows can be worked out without asking the engine.

use serde_json::{Value, json};
use sync_core::domain::{ConflictPolicy, Side, Timestamp};

/// Which entity pair a logical record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Connec! `people` <-> the app's people; key in `first_name`.
    Person,
    /// Connec! `organizations` <-> the app's companies; key in `name`.
    Company,
}

impl Kind {
    /// The Connec! collection (also the engine's entity name).
    pub fn collection(self) -> &'static str {
        match self {
            Self::Person => "people",
            Self::Company => "organizations",
        }
    }

    /// Where the key lives in a Connec! record.
    pub fn hub_key(self) -> &'static str {
        match self {
            Self::Person => "first_name",
            Self::Company => "name",
        }
    }
}

/// The edited mapped fields of one record, as strings (the whole state an edit writes), in
/// the order of the app side's [`crate::app::AppSide::hub_paths`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields(pub Vec<String>);

impl Fields {
    /// The fields as a Connec! patch at `paths` (nested objects; employees as a number).
    pub fn hub_patch(&self, paths: &[&str]) -> Value {
        let mut patch = json!({});
        for (path, value) in paths.iter().zip(&self.0) {
            let value = match value.parse::<i64>() {
                Ok(n) if *path == "number_of_employees" => json!(n),
                _ => json!(value),
            };
            set_path(&mut patch, path, value);
        }
        patch
    }

    /// The fields a Connec! record holds at `paths`.
    pub fn from_hub(paths: &[&str], record: &Value) -> Self {
        Self(
            paths
                .iter()
                .map(|path| {
                    let pointer = format!("/{}", path.replace('.', "/"));
                    text(record.pointer(&pointer))
                })
                .collect(),
        )
    }

    /// The first field (what the reports show).
    pub fn first(&self) -> String {
        self.0.first().cloned().unwrap_or_default()
    }
}

/// The text of a JSON scalar (empty for anything else).
pub fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

fn set_path(target: &mut Value, path: &str, value: Value) {
    let mut current = target;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        current = &mut current[*part];
        if !current.is_object() {
            *current = json!({});
        }
    }
    current[parts[parts.len() - 1]] = value;
}

/// One edit the suite made: its side, the emulator's resulting modification time and the
/// whole state it wrote.
#[derive(Clone, Debug)]
pub struct Edit {
    /// Global edit number.
    pub seq: u64,
    /// Where it was made.
    pub side: Side,
    /// The record's modification time right after it, as the engine reads it.
    pub at: Timestamp,
    /// Whether, when it was made, the other side's newest edit had not reached this side yet
    /// (a conflict in the making).
    pub other_pending: bool,
    /// What it wrote.
    pub fields: Fields,
}

/// An edit of fields no mapping names: it writes nothing that travels, yet it moves the record's
/// modification time on its side, and most recent compares those times.
#[derive(Clone, Copy, Debug)]
pub struct Touch {
    /// Global edit number (the same sequence as [`Edit::seq`]).
    pub seq: u64,
    /// Where it was made.
    pub side: Side,
    /// The record's modification time right after it.
    pub at: Timestamp,
}

/// One logical record.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Stable key (`R17`, `Co17`), never edited.
    pub key: String,
    /// Entity pair.
    pub kind: Kind,
    /// The side it was created on.
    pub origin: Side,
    /// E-mail (people only; `None` = a person without e-mail), never edited.
    pub email: Option<String>,
    /// The company (index into the ledger) a person was created with.
    pub company: Option<usize>,
    /// Its Connec! id, once the suite knows it.
    pub hub_id: Option<String>,
    /// Its app id, once the suite knows it.
    pub app_id: Option<String>,
    /// Every edit, creation first.
    pub edits: Vec<Edit>,
    /// Unmapped-field edits made during the rounds (see [`Touch`]).
    pub touches: Vec<Touch>,
    /// Archived (on either side) by the suite, or with its company where the app archives a
    /// company's people with it; never edited afterwards.
    pub archived: bool,
    /// Whether the archive is certain to hold (a person archived with its company may instead
    /// have become a person of its own in the app, active on both sides).
    pub archive_certain: bool,
}

impl Entry {
    fn newest(&self, side: Side) -> Option<&Edit> {
        self.edits
            .iter()
            .filter(|e| e.side == side)
            .max_by_key(|e| (e.at, e.seq))
    }

    /// Whether an unmapped edit of `side` made after `newest` (that side's newest edit) left
    /// the record's time later than `past`, or equal to it when `or_equal`.
    fn touched(&self, side: Side, newest: &Edit, past: Timestamp, or_equal: bool) -> bool {
        self.touches
            .iter()
            .filter(|t| t.side == side && t.seq > newest.seq)
            .any(|t| t.at > past || (or_equal && t.at == past))
    }

    /// The states the policy allows as the final one (see the crate documentation).
    /// `app_touched_after(t)` says whether the app record's timestamp as the engine reads it
    /// may have moved past `t` without an edit of its own (see
    /// [`crate::app::AppSide::touched_after`]): then, under most recent, a hub edit made while
    /// an older app edit was still pending may lose to it.
    ///
    /// Under most recent the engine compares the records' times *as it reads them when it
    /// decides a conflict*, and an unmapped edit ([`Touch`]) made after a side's newest edit and
    /// before that moves them: in a conflict, a side touched past the other's edit may win it
    /// (the hub at an exact tie too).
    pub fn allowed(
        &self,
        policy: ConflictPolicy,
        app_touched_after: impl Fn(Timestamp) -> bool,
    ) -> Vec<&Fields> {
        let (hub, app) = (self.newest(Side::Hub), self.newest(Side::App));
        let (hub, app) = match (hub, app) {
            (Some(h), Some(a)) => (h, a),
            (Some(only), None) | (None, Some(only)) => return vec![&only.fields],
            (None, None) => return Vec::new(),
        };
        // A conflict either way: whichever edit was made while the other was pending.
        let conflict = hub.other_pending || app.other_pending;
        match policy {
            ConflictPolicy::MostRecent if app.at > hub.at => {
                if conflict && self.touched(Side::Hub, hub, app.at, true) {
                    vec![&hub.fields, &app.fields]
                } else {
                    vec![&app.fields]
                }
            }
            // The engine's documented tie rule: the hub wins an exact tie, in a conflict. An app
            // edit stamped the same millisecond as a hub edit that had already travelled (two
            // emulators' clocks) is no conflict: it is simply the newest.
            ConflictPolicy::MostRecent
                if app.at == hub.at && app.seq > hub.seq && !app.other_pending =>
            {
                vec![&app.fields]
            }
            // A conflict in which the app record's timestamp moved past the hub edit: the app
            // may win.
            ConflictPolicy::MostRecent
                if conflict
                    && (app_touched_after(hub.at)
                        || self.touched(Side::App, app, hub.at, false)) =>
            {
                vec![&hub.fields, &app.fields]
            }
            ConflictPolicy::MostRecent => vec![&hub.fields],
            ConflictPolicy::HubWins if hub.at > app.at => vec![&hub.fields],
            ConflictPolicy::AppWins if app.at > hub.at => vec![&app.fields],
            ConflictPolicy::HubWins | ConflictPolicy::AppWins => vec![&hub.fields, &app.fields],
        }
    }

    /// The record's id on a side, if known.
    pub fn id(&self, side: Side) -> Option<&str> {
        match side {
            Side::Hub => self.hub_id.as_deref(),
            Side::App => self.app_id.as_deref(),
        }
    }
}

/// Every logical record of one world.
#[derive(Debug, Default)]
pub struct Ledger {
    /// The records, by creation.
    pub entries: Vec<Entry>,
    /// Set once the rounds are over and the quiet syncs have run: every conflict is decided by
    /// then, so later unmapped edits are not recorded as [`Touch`]es.
    pub quiet: bool,
    next_seq: u64,
}

impl Ledger {
    /// A fresh edit number.
    pub fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Indexes of records still active (never archived by the suite).
    pub fn active(&self, kind: Option<Kind>) -> Vec<usize> {
        (0..self.entries.len())
            .filter(|i| !self.entries[*i].archived)
            .filter(|i| kind.is_none_or(|k| self.entries[*i].kind == k))
            .collect()
    }

    /// Number of edits recorded (creations included).
    pub fn edits(&self) -> usize {
        self.entries.iter().map(|e| e.edits.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(seq: u64, side: Side, at_ms: i64, other_pending: bool) -> Edit {
        Edit {
            seq,
            side,
            at: Timestamp::parse(&at_ms.to_string()).unwrap(),
            other_pending,
            fields: Fields(vec![format!("L{seq}")]),
        }
    }

    fn entry(edits: Vec<Edit>) -> Entry {
        Entry {
            key: "R1".into(),
            kind: Kind::Person,
            origin: Side::Hub,
            email: None,
            company: None,
            hub_id: None,
            app_id: None,
            edits,
            touches: Vec::new(),
            archived: false,
            archive_certain: false,
        }
    }

    fn seq(e: &Entry, p: ConflictPolicy, touched: bool) -> Vec<String> {
        e.allowed(p, |_| touched)
            .iter()
            .map(|f| f.first())
            .collect()
    }

    #[test]
    fn each_policy_allows_what_it_decides() {
        let hub_newest = entry(vec![
            edit(1, Side::Hub, 10, false),
            edit(2, Side::App, 20, true),
            edit(3, Side::Hub, 30, false),
        ]);
        assert_eq!(seq(&hub_newest, ConflictPolicy::MostRecent, false), ["L3"]);
        assert_eq!(seq(&hub_newest, ConflictPolicy::HubWins, false), ["L3"]);
        assert_eq!(
            seq(&hub_newest, ConflictPolicy::AppWins, false),
            ["L3", "L2"]
        );
        let tie = entry(vec![
            edit(1, Side::Hub, 10, false),
            edit(2, Side::App, 10, true),
        ]);
        assert_eq!(seq(&tie, ConflictPolicy::MostRecent, false), ["L1"]);
        // The same millisecond, the hub edit travelled first: the app edit is the newest.
        let after = entry(vec![
            edit(1, Side::Hub, 10, false),
            edit(2, Side::App, 10, false),
        ]);
        assert_eq!(seq(&after, ConflictPolicy::MostRecent, false), ["L2"]);
        assert_eq!(
            seq(
                &entry(vec![edit(4, Side::App, 5, false)]),
                ConflictPolicy::HubWins,
                false
            ),
            ["L4"]
        );
    }

    #[test]
    fn a_touched_app_record_may_win_a_conflict_under_most_recent() {
        let pending = entry(vec![
            edit(1, Side::App, 10, false),
            edit(2, Side::Hub, 20, true),
        ]);
        assert_eq!(seq(&pending, ConflictPolicy::MostRecent, false), ["L2"]);
        assert_eq!(
            seq(&pending, ConflictPolicy::MostRecent, true),
            ["L2", "L1"]
        );
        // The app edit had travelled: no conflict, whatever the timestamps.
        let travelled = entry(vec![
            edit(1, Side::App, 10, false),
            edit(2, Side::Hub, 20, false),
        ]);
        assert_eq!(seq(&travelled, ConflictPolicy::MostRecent, true), ["L2"]);
    }

    fn touch(seq: u64, side: Side, at_ms: i64) -> Touch {
        Touch {
            seq,
            side,
            at: Timestamp::parse(&at_ms.to_string()).unwrap(),
        }
    }

    #[test]
    fn an_unmapped_edit_after_a_conflict_may_hand_it_to_the_touched_side() {
        // A tie goes to the hub, unless the app record was touched past it afterwards.
        let mut tie = entry(vec![
            edit(1, Side::Hub, 10, false),
            edit(2, Side::Hub, 20, false),
            edit(3, Side::App, 20, true),
        ]);
        assert_eq!(seq(&tie, ConflictPolicy::MostRecent, false), ["L2"]);
        // A touch before the app edit, or one that left the time at the tie, changes nothing.
        tie.touches = vec![touch(1, Side::App, 15), touch(4, Side::App, 20)];
        assert_eq!(seq(&tie, ConflictPolicy::MostRecent, false), ["L2"]);
        tie.touches.push(touch(5, Side::App, 21));
        assert_eq!(seq(&tie, ConflictPolicy::MostRecent, false), ["L2", "L3"]);
        // The app newer, the hub touched to its time or later: the hub may win.
        let mut app_newer = entry(vec![
            edit(1, Side::Hub, 10, false),
            edit(2, Side::App, 15, true),
        ]);
        assert_eq!(seq(&app_newer, ConflictPolicy::MostRecent, false), ["L2"]);
        app_newer.touches = vec![touch(3, Side::Hub, 15)];
        assert_eq!(
            seq(&app_newer, ConflictPolicy::MostRecent, false),
            ["L1", "L2"]
        );
        // No conflict (the app edit was made after the hub's had travelled): touches do not
        // matter, the newest edit holds.
        let mut travelled = entry(vec![
            edit(1, Side::Hub, 10, false),
            edit(2, Side::App, 15, false),
        ]);
        travelled.touches = vec![touch(3, Side::Hub, 30)];
        assert_eq!(seq(&travelled, ConflictPolicy::MostRecent, false), ["L2"]);
        // The side-wins policies do not compare times.
        assert_eq!(seq(&tie, ConflictPolicy::HubWins, false), ["L2", "L3"]);
    }

    #[test]
    fn fields_round_trip_through_connec_shape() {
        let paths = ["last_name", "address.billing.city", "number_of_employees"];
        let fields = Fields(vec!["L7".into(), "C7".into(), "8".into()]);
        assert_eq!(Fields::from_hub(&paths, &fields.hub_patch(&paths)), fields);
    }
}
