//! The suite's own record of what it did: one entry per logical record, with a stable key that
//! no edit changes and every edit of its other mapped fields, so the final state each policy
//! allows can be worked out without asking the engine.

use serde_json::{Value, json};
use sync_core::domain::{ConflictPolicy, Side, Timestamp};

/// Which entity pair a logical record belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Connec! `people` <-> HubSpot `contacts`; key in `first_name` / `firstname`.
    Person,
    /// Connec! `organizations` <-> HubSpot `companies`; key in `name`.
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

    /// The HubSpot object type.
    pub fn object(self) -> &'static str {
        match self {
            Self::Person => "contacts",
            Self::Company => "companies",
        }
    }

    /// Where the key lives in a Connec! record.
    pub fn hub_key(self) -> &'static str {
        match self {
            Self::Person => "first_name",
            Self::Company => "name",
        }
    }

    /// Where the key lives among a HubSpot object's properties.
    pub fn app_key(self) -> &'static str {
        match self {
            Self::Person => "firstname",
            Self::Company => "name",
        }
    }

    /// Dotted Connec! paths of the edited fields, in [`Fields`] order.
    fn hub_paths(self) -> [&'static str; 4] {
        match self {
            Self::Person => [
                "last_name",
                "job_title",
                "phone_work.landline",
                "address_work.billing.city",
            ],
            Self::Company => [
                "number_of_employees",
                "phone.landline",
                "address.billing.city",
                "address.billing.country",
            ],
        }
    }

    /// HubSpot properties of the edited fields, in [`Fields`] order.
    fn app_properties(self) -> [&'static str; 4] {
        match self {
            Self::Person => ["lastname", "jobtitle", "phone", "city"],
            Self::Company => ["numberofemployees", "phone", "city", "country"],
        }
    }
}

/// The edited mapped fields of one record, as strings (the whole state an edit writes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fields(pub [String; 4]);

impl Fields {
    /// The values edit number `seq` writes.
    pub fn of_edit(kind: Kind, seq: u64) -> Self {
        Self(match kind {
            Kind::Person => [
                format!("L{seq}"),
                format!("J{seq}"),
                format!("555{seq}"),
                format!("C{seq}"),
            ],
            Kind::Company => [
                (seq + 1).to_string(),
                format!("777{seq}"),
                format!("C{seq}"),
                format!("K{seq}"),
            ],
        })
    }

    /// The fields as a Connec! patch (nested objects; employees as a number).
    pub fn hub_patch(&self, kind: Kind) -> Value {
        let mut patch = json!({});
        for (path, value) in kind.hub_paths().iter().zip(&self.0) {
            let value = match value.parse::<i64>() {
                Ok(n) if *path == "number_of_employees" => json!(n),
                _ => json!(value),
            };
            set_path(&mut patch, path, value);
        }
        patch
    }

    /// The fields as HubSpot properties.
    pub fn app_properties(&self, kind: Kind) -> Value {
        let mut properties = json!({});
        for (name, value) in kind.app_properties().iter().zip(&self.0) {
            properties[*name] = json!(value);
        }
        properties
    }

    /// The fields a Connec! record holds.
    pub fn from_hub(kind: Kind, record: &Value) -> Self {
        Self(kind.hub_paths().map(|path| {
            let pointer = format!("/{}", path.replace('.', "/"));
            text(record.pointer(&pointer))
        }))
    }

    /// The fields a HubSpot object holds.
    pub fn from_app(kind: Kind, object: &Value) -> Self {
        Self(
            kind.app_properties()
                .map(|name| text(object.get("properties").and_then(|p| p.get(name)))),
        )
    }
}

fn text(value: Option<&Value>) -> String {
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
    /// The record's `updated_at` (Connec!) or `updatedAt` (HubSpot) right after it.
    pub at: Timestamp,
    /// What it wrote.
    pub fields: Fields,
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
    /// Its HubSpot id, once the suite knows it.
    pub app_id: Option<String>,
    /// Every edit, creation first.
    pub edits: Vec<Edit>,
    /// Archived (on either side) by the suite; never edited afterwards.
    pub archived: bool,
}

impl Entry {
    fn newest(&self, side: Side) -> Option<&Edit> {
        self.edits
            .iter()
            .filter(|e| e.side == side)
            .max_by_key(|e| (e.at, e.seq))
    }

    /// The states the policy allows as the final one (see the crate documentation).
    pub fn allowed(&self, policy: ConflictPolicy) -> Vec<&Fields> {
        let (hub, app) = (self.newest(Side::Hub), self.newest(Side::App));
        let (hub, app) = match (hub, app) {
            (Some(h), Some(a)) => (h, a),
            (Some(only), None) | (None, Some(only)) => return vec![&only.fields],
            (None, None) => return Vec::new(),
        };
        match policy {
            // The engine's documented tie rule: the hub wins an exact tie.
            ConflictPolicy::MostRecent if app.at > hub.at => vec![&app.fields],
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

    fn edit(seq: u64, side: Side, at_ms: i64) -> Edit {
        Edit {
            seq,
            side,
            at: Timestamp::parse(&at_ms.to_string()).unwrap(),
            fields: Fields::of_edit(Kind::Person, seq),
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
            archived: false,
        }
    }

    #[test]
    fn each_policy_allows_what_it_decides() {
        let hub_newest = entry(vec![
            edit(1, Side::Hub, 10),
            edit(2, Side::App, 20),
            edit(3, Side::Hub, 30),
        ]);
        let seq =
            |e: &Entry, p| -> Vec<String> { e.allowed(p).iter().map(|f| f.0[0].clone()).collect() };
        assert_eq!(seq(&hub_newest, ConflictPolicy::MostRecent), ["L3"]);
        assert_eq!(seq(&hub_newest, ConflictPolicy::HubWins), ["L3"]);
        assert_eq!(seq(&hub_newest, ConflictPolicy::AppWins), ["L3", "L2"]);
        let tie = entry(vec![edit(1, Side::Hub, 10), edit(2, Side::App, 10)]);
        assert_eq!(seq(&tie, ConflictPolicy::MostRecent), ["L1"]);
        assert_eq!(
            seq(&entry(vec![edit(4, Side::App, 5)]), ConflictPolicy::HubWins),
            ["L4"]
        );
    }

    #[test]
    fn fields_round_trip_through_both_shapes() {
        for kind in [Kind::Person, Kind::Company] {
            let fields = Fields::of_edit(kind, 7);
            assert_eq!(Fields::from_hub(kind, &fields.hub_patch(kind)), fields);
            let object = json!({ "properties": fields.app_properties(kind) });
            assert_eq!(Fields::from_app(kind, &object), fields);
        }
    }
}
