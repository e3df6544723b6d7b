//! The final checks, record by record against the ledger: duplicates, lost updates,
//! disagreements between the sides, archives that did not travel, and id-maps pointing at
//! nothing.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use sync_core::domain::{ConflictPolicy, EntityName, IdMap, OrgId, Side};
use sync_core::ports::SyncStore;

use crate::ledger::{Entry, Fields, Kind, Ledger};
use crate::world::Sides;

/// What the checks found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    /// Extra active records holding one ledger key on one side.
    pub duplicates: u64,
    /// Records whose expected state (the newest write as the policy decides) is not held, or
    /// that exist on neither side.
    pub lost: u64,
    /// Records the two sides disagree on: fields, e-mail, company, archive status, presence,
    /// or a missing link.
    pub mismatched: u64,
    /// Writes during the third quiet sync and after unmapped-only edits.
    pub echo_writes: u64,
    /// Id-maps naming a record that does not exist.
    pub dangling: u64,
    /// What each finding is about (ledger keys, ids and field states; no personal data).
    pub details: Vec<String>,
}

impl Figures {
    /// Whether every figure is zero.
    pub fn clean(&self) -> bool {
        self.duplicates + self.lost + self.mismatched + self.echo_writes + self.dangling == 0
    }

    /// Adds another set of figures.
    pub fn merge(&mut self, other: &Figures) {
        self.duplicates += other.duplicates;
        self.lost += other.lost;
        self.mismatched += other.mismatched;
        self.echo_writes += other.echo_writes;
        self.dangling += other.dangling;
        self.details.extend(other.details.iter().cloned());
    }
}

struct SideView {
    by_key: HashMap<String, Vec<Value>>,
    ids: HashSet<String>,
}

fn view(sides: &Sides, side: Side, kind: Kind) -> SideView {
    let mut by_key: HashMap<String, Vec<Value>> = HashMap::new();
    let mut ids = HashSet::new();
    for record in sides.all(side, kind) {
        if let Some(id) = sides.id_of(side, kind, &record) {
            ids.insert(id);
        }
        let key = sides.key_of(side, kind, &record).unwrap_or_default();
        by_key.entry(key).or_default().push(record);
    }
    for records in by_key.values_mut() {
        records.sort_by_key(|r| sides.id_of(side, kind, r));
    }
    SideView { by_key, ids }
}

fn active<'a>(sides: &Sides, view: &'a SideView, side: Side, key: &str) -> Vec<&'a Value> {
    view.by_key
        .get(key)
        .map(|rs| rs.iter().filter(|r| !sides.is_archived(side, r)).collect())
        .unwrap_or_default()
}

async fn idmaps(store: &dyn SyncStore, org: &OrgId, entity: &str) -> Vec<IdMap> {
    store
        .list_idmaps(org, Some(&EntityName::new(entity)), 0, usize::MAX / 2)
        .await
        .unwrap_or_default()
}

fn email(sides: &Sides, side: Side, record: &Value) -> Option<String> {
    match side {
        Side::Hub => record
            .pointer("/email/address")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_lowercase),
        Side::App => sides.app.email_of(record),
    }
}

fn company_ref(sides: &Sides, side: Side, record: &Value) -> Option<String> {
    match side {
        Side::Hub => record
            .get("organization_id")
            .and_then(connec::record::connec_ref)
            .map(|id| id.to_string()),
        Side::App => sides.app.company_of(record),
    }
}

/// Runs every check of one world.
pub async fn check(
    sides: &Sides,
    store: &dyn SyncStore,
    org: &OrgId,
    ledger: &Ledger,
    policy: ConflictPolicy,
) -> Figures {
    let mut f = Figures::default();
    let mut views = HashMap::new();
    for kind in [Kind::Person, Kind::Company] {
        for side in [Side::Hub, Side::App] {
            views.insert((side, kind), view(sides, side, kind));
        }
    }
    let mut links: HashSet<(String, String)> = HashSet::new();
    for kind in [Kind::Person, Kind::Company] {
        for map in idmaps(store, org, kind.collection()).await {
            for (side, id) in [
                (Side::Hub, map.hub_id.as_ref().map(|i| i.to_string())),
                (Side::App, map.app_id.as_ref().map(|i| i.to_string())),
            ] {
                if let Some(id) = id
                    && !views[&(side, kind)].ids.contains(&id)
                    && !(side == Side::App
                        && map.inactive
                        && sides.app.removed_when_archived(kind, &id))
                {
                    f.dangling += 1;
                    let hub_key = map
                        .hub_id
                        .as_ref()
                        .and_then(|h| sides.get(Side::Hub, kind, h.as_str()))
                        .and_then(|r| sides.key_of(Side::Hub, kind, &r));
                    f.details.push(format!(
                        "dangling: a {} id-map ({}, hub {:?} key {hub_key:?}) names {} record {id}, which does not exist",
                        kind.collection(),
                        if map.inactive { "inactive" } else { "active" },
                        map.hub_id.as_ref().map(|h| h.to_string()),
                        side.as_str()
                    ));
                }
            }
            if let (Some(h), Some(a), false) = (&map.hub_id, &map.app_id, map.inactive) {
                links.insert((h.to_string(), a.to_string()));
            }
        }
    }
    let known: HashSet<&str> = ledger.entries.iter().map(|e| e.key.as_str()).collect();
    for ((side, kind), view) in &views {
        for (key, records) in &view.by_key {
            let live = records
                .iter()
                .filter(|r| !sides.is_archived(*side, r))
                .count();
            if !known.contains(key.as_str()) && live > 0 {
                f.mismatched += live as u64;
                f.details.push(format!(
                    "stray: {live} active {} record(s) on the {} side with unknown key {key:?}",
                    kind.collection(),
                    side.as_str()
                ));
            }
        }
    }
    for entry in &ledger.entries {
        check_entry(&mut f, sides, entry, ledger, &views, &links, policy);
    }
    if let Ok(wanted) = std::env::var("CHAOS_DEBUG_KEY") {
        // `*`: every key a finding names.
        let keys: Vec<String> = if wanted == "*" {
            f.details
                .iter()
                .filter_map(|d| d.split_whitespace().nth(1))
                .map(|k| k.trim_end_matches(':').to_owned())
                .collect()
        } else {
            vec![wanted]
        };
        for key in keys {
            dump(sides, store, org, ledger, &key).await;
        }
    }
    f
}

fn check_entry(
    f: &mut Figures,
    sides: &Sides,
    entry: &Entry,
    ledger: &Ledger,
    views: &HashMap<(Side, Kind), SideView>,
    links: &HashSet<(String, String)>,
    policy: ConflictPolicy,
) {
    let kind = entry.kind;
    let hub = active(sides, &views[&(Side::Hub, kind)], Side::Hub, &entry.key);
    let app = active(sides, &views[&(Side::App, kind)], Side::App, &entry.key);
    let key = &entry.key;
    for (side, records) in [(Side::Hub, &hub), (Side::App, &app)] {
        if records.len() > 1 {
            f.duplicates += records.len() as u64 - 1;
            let ids: Vec<String> = records
                .iter()
                .filter_map(|r| sides.id_of(side, kind, r))
                .collect();
            f.details.push(format!(
                "duplicate: {key} ({}, created on the {} side) is held by {} active records on the {} side: {ids:?}",
                if entry.email.is_some() || entry.kind == Kind::Company { "with its natural key" } else { "no e-mail" },
                entry.origin.as_str(),
                records.len(),
                side.as_str()
            ));
        }
    }
    let maybe_active =
        entry.archived && !entry.archive_certain && !(hub.is_empty() && app.is_empty());
    if entry.archived && !maybe_active {
        if !hub.is_empty() || !app.is_empty() {
            f.mismatched += 1;
            f.details.push(format!(
                "archive: {key} was archived, yet is active on the{}{} side",
                if hub.is_empty() { "" } else { " hub" },
                if app.is_empty() { "" } else { " app" }
            ));
        }
        return;
    }
    // With duplicates, judge the linked pair (the others are counted above).
    let linked = hub.iter().find_map(|h| {
        let hid = sides.id_of(Side::Hub, kind, h)?;
        app.iter()
            .find(|a| {
                sides
                    .id_of(Side::App, kind, a)
                    .is_some_and(|aid| links.contains(&(hid.clone(), aid)))
            })
            .map(|a| (*h, *a))
    });
    let pair = linked.or_else(|| Some((*hub.first()?, *app.first()?)));
    let Some((h, a)) = pair else {
        if hub.is_empty() && app.is_empty() {
            f.lost += 1;
            f.details
                .push(format!("lost: {key} is active on neither side"));
        } else {
            f.mismatched += 1;
            let ids: Vec<String> = hub
                .iter()
                .filter_map(|r| sides.id_of(Side::Hub, kind, r))
                .chain(app.iter().filter_map(|r| sides.id_of(Side::App, kind, r)))
                .collect();
            f.details.push(format!(
                "presence: {key} (created on the {} side, {ids:?}) is active on the {} side only",
                entry.origin.as_str(),
                if hub.is_empty() { "app" } else { "hub" }
            ));
        }
        return;
    };
    let (hf, af) = (
        sides.fields_of(Side::Hub, kind, h),
        sides.fields_of(Side::App, kind, a),
    );
    let allowed = entry.allowed(policy, |t| sides.app.touched_after(kind, a, t));
    let (hid, aid) = (
        sides.id_of(Side::Hub, kind, h).unwrap_or_default(),
        sides.id_of(Side::App, kind, a).unwrap_or_default(),
    );
    let mut problems = Vec::new();
    if hf != af {
        problems.push(format!("fields differ: hub {:?} app {:?}", hf.0, af.0));
    }
    if entry.kind == Kind::Person
        && (email(sides, Side::Hub, h) != entry.email || email(sides, Side::App, a) != entry.email)
    {
        problems.push("e-mail differs".to_owned());
    }
    if let Some(c) = entry.company
        && !ledger.entries[c].archived
    {
        let company = &ledger.entries[c];
        let expect = |side: Side| {
            active(sides, &views[&(side, Kind::Company)], side, &company.key)
                .first()
                .and_then(|r| sides.id_of(side, Kind::Company, r))
        };
        if company_ref(sides, Side::Hub, h) != expect(Side::Hub)
            || company_ref(sides, Side::App, a) != expect(Side::App)
        {
            problems.push(format!("company link is not {}", company.key));
        }
    }
    if !links.contains(&(hid.clone(), aid.clone())) {
        problems.push(format!("no active id-map links hub {hid} and app {aid}"));
    }
    if !problems.is_empty() {
        f.mismatched += 1;
        f.details
            .push(format!("mismatch: {key}: {}", problems.join("; ")));
    }
    let held = |fields: &Fields| allowed.contains(&fields);
    if !held(&hf) || !held(&af) {
        f.lost += 1;
        // Edits as `side#seq@ms`, unmapped edits (touches) as `side~seq@ms`, in seq order.
        let mut history: Vec<(u64, String)> = entry
            .edits
            .iter()
            .map(|e| {
                (
                    e.seq,
                    format!("{}#{}@{}", e.side.as_str(), e.seq, e.at.epoch_millis()),
                )
            })
            .chain(entry.touches.iter().map(|t| {
                let at = t.at.epoch_millis();
                (t.seq, format!("{}~{}@{at}", t.side.as_str(), t.seq))
            }))
            .collect();
        history.sort();
        let history: Vec<String> = history.into_iter().map(|(_, h)| h).collect();
        f.details.push(format!(
            "lost update: {key} (hub {hid}, app {aid}) holds hub {:?} / app {:?}, expected one of {:?} (edits {history:?})",
            hf.first(),
            af.first(),
            allowed.iter().map(|x| x.first()).collect::<Vec<_>>()
        ));
    }
}

/// A debugging aid (`CHAOS_DEBUG_KEY=R6`, or `*` for the keys of every finding): the ledger entries of a key, every record holding
/// it on both sides and the id-maps, on stderr.
async fn dump(sides: &Sides, store: &dyn SyncStore, org: &OrgId, ledger: &Ledger, key: &str) {
    for e in ledger.entries.iter().filter(|e| e.key == key) {
        eprintln!("DEBUG ledger {e:?}");
        if let Some(c) = e.company.map(|c| &ledger.entries[c]) {
            eprintln!(
                "DEBUG company {} archived={} edits={:?}",
                c.key, c.archived, c.edits
            );
            for side in [Side::Hub, Side::App] {
                for r in sides.all(side, Kind::Company) {
                    if sides.key_of(side, Kind::Company, &r).as_deref() == Some(c.key.as_str()) {
                        eprintln!("DEBUG company {side:?} {r}");
                    }
                }
            }
        }
        for side in [Side::Hub, Side::App] {
            for r in sides.all(side, e.kind) {
                if sides.key_of(side, e.kind, &r).as_deref() == Some(key) {
                    eprintln!("DEBUG {side:?} {r}");
                }
            }
        }
        for map in idmaps(store, org, e.kind.collection()).await {
            eprintln!("DEBUG map {map:?}");
        }
    }
}
