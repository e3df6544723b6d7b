//! The app side of the suite, behind one trait: what a third party does in the app (create,
//! update, archive, edit an unmapped field), how the suite reads the app's records back (ids,
//! keys, timestamps, archive status, the fields the ledger compares), the faults it can arm,
//! its call statistics and change hooks, and the provider the engine is built with.
//!
//! [`crate::hubspot_side`] and [`crate::xero_side`] implement it.

use std::sync::Arc;

use connector_sdk::AppProvider;
use emulators::{CallFault, CallStats, ChangeHook};
use serde_json::Value;
use service::Tuning;
use sync_core::domain::{Provider, Realm, Timestamp};

use crate::ledger::{Fields, Kind};

/// The app the suite runs against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum App {
    /// HubSpot (contacts and companies).
    #[default]
    HubSpot,
    /// Xero (contacts split into companies and persons).
    Xero,
}

impl App {
    /// The name as the CLI would spell it.
    pub fn name(self) -> &'static str {
        match self {
            App::HubSpot => "hubspot",
            App::Xero => "xero",
        }
    }

    /// Reads a name (`hubspot`, `xero`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "hubspot" => Some(App::HubSpot),
            "xero" => Some(App::Xero),
            _ => None,
        }
    }
}

/// What a new record holds besides its edited fields.
#[derive(Clone, Debug)]
pub struct NewRecord<'a> {
    /// The ledger key (never edited).
    pub key: &'a str,
    /// The e-mail of a person, if any.
    pub email: Option<&'a str>,
    /// The app id of a person's company, if any.
    pub company: Option<&'a str>,
    /// The edited fields.
    pub fields: &'a Fields,
}

/// Request paths the app's faults may target.
#[derive(Clone, Copy, Debug)]
pub struct FaultPaths {
    /// Any call (substrings of the request path).
    pub any: &'static [&'static str],
    /// Write calls (a lost answer after commit targets these).
    pub writes: &'static [&'static str],
}

/// One app's emulator as the suite drives it.
pub trait AppSide: Send + Sync {
    /// Which app.
    fn app(&self) -> App;
    /// The implementation itself (tests reach the emulator through it).
    fn as_any(&self) -> &dyn std::any::Any;
    /// The emulator's base URL (once started).
    fn url(&self) -> &str;
    /// The provider the engine is built with.
    fn provider(&self, tuning: &Tuning) -> Result<Arc<dyn AppProvider>, String>;
    /// The organization's provider and realm.
    fn link(&self) -> (Provider, Realm);

    /// Dotted Connec! paths of the edited fields of a kind, in [`Fields`] order.
    fn hub_paths(&self, kind: Kind) -> &'static [&'static str];
    /// The values edit number `seq` writes.
    fn fields_of_edit(&self, kind: Kind, seq: u64) -> Fields;

    /// Every record of a kind, archived ones included.
    fn all(&self, kind: Kind) -> Vec<Value>;
    /// One record by id (archived ones included).
    fn get(&self, kind: Kind, id: &str) -> Option<Value>;
    /// A record's id.
    fn id_of(&self, kind: Kind, record: &Value) -> Option<String>;
    /// A record's ledger key.
    fn key_of(&self, kind: Kind, record: &Value) -> Option<String>;
    /// Whether a record is archived.
    fn is_archived(&self, record: &Value) -> bool;
    /// A record's modification time, as the engine reads it.
    fn stamp(&self, kind: Kind, record: &Value) -> Option<Timestamp>;
    /// The edited fields a record holds.
    fn fields_of(&self, kind: Kind, record: &Value) -> Fields;
    /// A person's e-mail, lower-cased.
    fn email_of(&self, record: &Value) -> Option<String>;
    /// The app id of a person's company.
    fn company_of(&self, record: &Value) -> Option<String>;

    /// Creates a record as a third party would; the stored record.
    fn create(&self, kind: Kind, new: NewRecord<'_>) -> Option<Value>;
    /// Rewrites the edited fields of a record; the stored record.
    fn update(&self, kind: Kind, id: &str, fields: &Fields) -> Option<Value>;
    /// Edits a field no mapping names.
    fn unmapped(&self, kind: Kind, id: &str, seq: u64) -> bool;
    /// Archives a record.
    fn archive(&self, kind: Kind, id: &str) -> bool;
    /// Why the suite does not archive this record in the app (it archives it in Connec!
    /// instead); `None`: it may.
    fn archive_restriction(&self, _kind: Kind, _record: &Value) -> Option<&'static str> {
        None
    }
    /// Why a person created in a company always gets an e-mail here (`None`: the suite's
    /// draw decides).
    fn company_person_email_restriction(&self) -> Option<&'static str> {
        None
    }
    /// How many people a company may hold in the app (`None`: no limit).
    fn people_per_company(&self) -> Option<usize> {
        None
    }
    /// Why a wrong-shaped answer (a 200 without the expected envelope) is not armed here: it
    /// is armed as a 502 instead and counted as `wrong_shape_as_502`. `None`: armed.
    fn wrong_shape_restriction(&self) -> Option<&'static str> {
        None
    }
    /// Whether an inactive id-map may name this app record after it was archived: the app
    /// removes such records instead of archiving them (Xero: a contact person is removed from
    /// its contact), so the id-map names nothing and that is not dangling.
    fn removed_when_archived(&self, _kind: Kind, _id: &str) -> bool {
        false
    }
    /// Whether archiving a company archives its people with it (Xero: a company contact's
    /// contact persons).
    fn archive_takes_people(&self) -> bool {
        false
    }
    /// Whether the record's modification time as the engine reads it may be later than
    /// `after` for reasons other than its own edits (Xero: a part carries its contact's
    /// `UpdatedDateUTC`, which every write of the contact moves).
    fn touched_after(&self, _kind: Kind, _record: &Value, _after: Timestamp) -> bool {
        false
    }

    /// Refuses the writes of the record with this key, `times` times.
    fn fail_record(&self, kind: Kind, key: &str, times: u32);
    /// Fails matching calls.
    fn fail_calls(&self, rule: CallFault);
    /// The paths faults may target.
    fn fault_paths(&self) -> FaultPaths;
    /// Removes every fault.
    fn clear_faults(&self);
    /// Call counters.
    fn stats(&self) -> CallStats;
    /// Zeroes the call counters.
    fn reset_stats(&self);
    /// Registers a change observer.
    fn on_change(&self, hook: ChangeHook);
    /// The engine entity a change event of `collection` is delivered to (`None`: not
    /// delivered).
    fn entity_of_change(&self, collection: &str) -> Option<&'static str>;
}
