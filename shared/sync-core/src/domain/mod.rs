//! Domain types: identifiers, timestamps, organizations, id-maps, runs.
//!
//! Everything that crosses a port boundary has its own type so that a hub id can never be passed
//! where an app id is expected, and every timestamp is UTC.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Timelike, Utc,
};
use serde::{Deserialize, Serialize};

pub use mapping::ContentHash;

mod group_id;
mod run;
pub use group_id::{InvalidGroupId, MAX_GROUP_ID_LEN};
pub use run::{ConflictNote, ConflictPolicy, CountKey, Counts, Resume, Run, RunStatus, Winner};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a raw identifier.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The raw identifier.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

/// [`string_id!`] over shared text: for the ids every id-map, lookup and counter key repeats
/// (one organization, a few entities), so that a copy is a reference count, not an
/// allocation. Compared, ordered, hashed, shown and serialized as the text, as a `String`.
macro_rules! shared_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(std::sync::Arc<str>);

        impl $name {
            /// Wraps a raw identifier.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into().into())
            }
            /// The raw identifier.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.into())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }
    };
}

shared_id!(
    /// Our key for an organization (one Connec! group linked to one app account).
    OrgId
);
string_id!(
    /// A Connec! customer group (`cld-...`), the scope in every hub URL. One that comes from
    /// outside is checked with [`GroupId::parse`].
    GroupId
);
string_id!(
    /// A Connec! record id (the `provider: connec` entry of an id array).
    HubId
);
string_id!(
    /// An external application's record id.
    AppId
);
shared_id!(
    /// A hub collection (`people`, `organizations`); also names an entity pair.
    EntityName
);
string_id!(
    /// An app's entity name (`contacts`, `companies`).
    AppEntityName
);
string_id!(
    /// The app's provider name as it appears in Connec! external ids (`hubspot`).
    Provider
);
string_id!(
    /// The linked app account (HubSpot portal id, Xero tenant id): the `realm` of external ids.
    Realm
);
string_id!(
    /// The tenant (marketplace) whose Connec! credentials are used.
    Tenant
);
string_id!(
    /// One sync run.
    RunId
);

/// A UTC instant with millisecond precision, printed as RFC 3339 with a `Z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// Wraps a chrono UTC time.
    pub fn from_datetime(value: DateTime<Utc>) -> Self {
        Self(value)
    }
    /// Parses RFC 3339 with any offset (converted to UTC) or epoch milliseconds.
    ///
    /// ```
    /// use sync_core::domain::Timestamp;
    /// let a = Timestamp::parse("2024-01-01T10:00:00+02:00").unwrap();
    /// let b = Timestamp::parse("1704096000000").unwrap();
    /// assert_eq!(a, b);
    /// assert_eq!(a.to_rfc3339(), "2024-01-01T08:00:00.000Z");
    /// ```
    pub fn parse(text: &str) -> Option<Self> {
        let trimmed = text.trim();
        // Nearly every instant comes as the apps and `to_rfc3339` write them (UTC, `Z`): read
        // those directly, anything else through chrono's general parser.
        if let Some(at) = parse_utc_z(trimmed) {
            return Some(Self(at));
        }
        if let Ok(parsed) = DateTime::parse_from_rfc3339(trimmed) {
            return Some(Self(parsed.with_timezone(&Utc)));
        }
        if let Ok(millis) = trimmed.parse::<i64>() {
            return DateTime::from_timestamp_millis(millis).map(Self);
        }
        None
    }
    /// Epoch milliseconds.
    pub fn epoch_millis(&self) -> i64 {
        self.0.timestamp_millis()
    }
    /// RFC 3339, UTC, milliseconds.
    pub fn to_rfc3339(&self) -> String {
        // Written digit by digit (chrono's formatter costs several times as much, and the
        // fakes and connectors write two instants per record); chrono for years outside
        // 0-9999 and leap seconds.
        let (date, time) = (self.0.date_naive(), self.0.time());
        let nanos = time.nanosecond();
        let year = match u32::try_from(date.year()) {
            Ok(year) if year <= 9999 && nanos < 1_000_000_000 => year,
            _ => return self.0.to_rfc3339_opts(SecondsFormat::Millis, true),
        };
        let mut out = String::with_capacity(24);
        push_digits(&mut out, year, 4);
        out.push('-');
        push_digits(&mut out, date.month(), 2);
        out.push('-');
        push_digits(&mut out, date.day(), 2);
        out.push('T');
        push_digits(&mut out, time.hour(), 2);
        out.push(':');
        push_digits(&mut out, time.minute(), 2);
        out.push(':');
        push_digits(&mut out, time.second(), 2);
        out.push('.');
        push_digits(&mut out, nanos / 1_000_000, 3);
        out.push('Z');
        out
    }
    /// The underlying chrono value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
    /// This instant moved back by `by` (saturating at the epoch range).
    pub fn minus(&self, by: std::time::Duration) -> Self {
        let delta = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        Self(self.0 - delta)
    }
    /// This instant moved forward by `by`.
    pub fn plus(&self, by: std::time::Duration) -> Self {
        let delta = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        Self(self.0 + delta)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Which system a record comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// Connec!.
    Hub,
    /// The external application.
    App,
}

impl Side {
    /// Stable lower-case name used in storage keys.
    pub fn as_str(&self) -> &'static str {
        match self {
            Side::Hub => "hub",
            Side::App => "app",
        }
    }
    /// Parses [`Side::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hub" => Some(Side::Hub),
            "app" => Some(Side::App),
            _ => None,
        }
    }
}

/// `value`'s last `width` decimal digits, zero-padded.
fn push_digits(out: &mut String, value: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = (value / 10u32.pow(place)) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z` exactly (what [`Timestamp::to_rfc3339`] writes, and most
/// APIs), without chrono's general parser; `None` for anything else, valid or not. Whatever
/// this reads, `DateTime::parse_from_rfc3339` reads as the same instant (a test compares).
fn parse_utc_z(text: &str) -> Option<DateTime<Utc>> {
    let b = text.as_bytes();
    if !(20..=30).contains(&b.len())
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let year = i32::try_from(number(&b[0..4])?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, number(&b[5..7])?, number(&b[8..10])?)?;
    let time = NaiveTime::from_hms_nano_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
        nanos,
    )?;
    Some(NaiveDateTime::new(date, time).and_utc())
}

/// Which way records travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// App -> Connec!.
    ToHub,
    /// Connec! -> app.
    ToApp,
}

impl Direction {
    /// The side records are read from.
    pub fn source(&self) -> Side {
        match self {
            Direction::ToHub => Side::App,
            Direction::ToApp => Side::Hub,
        }
    }
    /// Human label.
    pub fn label(&self) -> &'static str {
        match self {
            Direction::ToHub => "app -> hub",
            Direction::ToApp => "hub -> app",
        }
    }
}

/// Per-entity switches of an organization: which directions travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectionFlags {
    /// App records are pushed to Connec!.
    pub to_hub: bool,
    /// Connec! records are pushed to the app.
    pub to_app: bool,
}

impl Default for DirectionFlags {
    fn default() -> Self {
        Self {
            to_hub: true,
            to_app: true,
        }
    }
}

impl DirectionFlags {
    /// Whether `direction` is enabled.
    pub fn allows(&self, direction: Direction) -> bool {
        match direction {
            Direction::ToHub => self.to_hub,
            Direction::ToApp => self.to_app,
        }
    }
}

/// One Connec! group linked to one app account, with its sync settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// Our key.
    pub id: OrgId,
    /// Whose Connec! credentials apply.
    pub tenant: Tenant,
    /// The Connec! group.
    pub group_id: GroupId,
    /// The app (`hubspot`).
    pub provider: Provider,
    /// The linked app account.
    pub realm: Realm,
    /// Display name.
    pub name: String,
    /// Master switch for scheduled syncs.
    pub sync_enabled: bool,
    /// Per-entity direction flags; an entity absent here uses the defaults (both ways).
    pub entity_flags: BTreeMap<EntityName, DirectionFlags>,
    /// Records created before this instant do not travel; `None` means historical data is on.
    pub history_from: Option<Timestamp>,
    /// When the account was linked.
    pub linked_at: Timestamp,
}

impl Organization {
    /// Flags for one entity (defaults when unset).
    pub fn flags(&self, entity: &EntityName) -> DirectionFlags {
        self.entity_flags.get(entity).copied().unwrap_or_default()
    }
}

/// The link between one hub record and one app record of an organization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdMap {
    /// Organization.
    pub org: OrgId,
    /// Entity pair (hub collection).
    pub entity: EntityName,
    /// Hub record, once known.
    pub hub_id: Option<HubId>,
    /// App record, once known.
    pub app_id: Option<AppId>,
    /// Hash of the mapped fields in canonical shape as of the last sync in either direction.
    pub hash: Option<ContentHash>,
    /// Last successful write into Connec!.
    pub last_push_to_hub: Option<Timestamp>,
    /// Last successful write into the app.
    pub last_push_to_app: Option<Timestamp>,
    /// Newest `updated_at` seen on the hub record: an older version never overwrites a newer one.
    pub hub_updated_at: Option<Timestamp>,
    /// Newest modification time seen on the app record.
    pub app_updated_at: Option<Timestamp>,
    /// Per-record opt-out of app -> hub.
    pub to_hub: bool,
    /// Per-record opt-out of hub -> app.
    pub to_app: bool,
    /// Deleted or archived on one side: no longer synced, never recreated silently.
    pub inactive: bool,
    /// Last per-record error, cleared on success.
    pub last_error: Option<String>,
    /// Human label (record name), for status screens.
    pub name: Option<String>,
    /// Writes in flight, at most one per side (the side written to and the hash written),
    /// saved before each write is sent: if the run dies before the outcome is saved, that side's
    /// version is recognised as ours (an echo), never taken for a change there that could win a
    /// conflict. A write to one side never forgets the other side's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_writes: Vec<(Side, ContentHash)>,
}

impl IdMap {
    /// A fresh, unlinked id-map.
    pub fn new(org: OrgId, entity: EntityName) -> Self {
        Self {
            org,
            entity,
            hub_id: None,
            app_id: None,
            hash: None,
            last_push_to_hub: None,
            last_push_to_app: None,
            hub_updated_at: None,
            app_updated_at: None,
            to_hub: true,
            to_app: true,
            inactive: false,
            last_error: None,
            name: None,
            pending_writes: Vec::new(),
        }
    }
    /// The write in flight to one side, if any.
    pub fn pending_to(&self, side: Side) -> Option<&ContentHash> {
        self.pending_writes
            .iter()
            .find(|(s, _)| *s == side)
            .map(|(_, hash)| hash)
    }
    /// Records a write in flight to one side (replacing that side's earlier one).
    pub fn set_pending(&mut self, side: Side, hash: ContentHash) {
        self.clear_pending(side);
        self.pending_writes.push((side, hash));
    }
    /// The write to one side settled (or never happened).
    pub fn clear_pending(&mut self, side: Side) {
        self.pending_writes.retain(|(s, _)| *s != side);
    }
    /// Both sides are known.
    pub fn is_linked(&self) -> bool {
        self.hub_id.is_some() && self.app_id.is_some()
    }
}

/// Why a record waits for the next run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingReason {
    /// A reference is not in the id-map yet.
    Deferred,
    /// The write failed.
    Failed,
}

impl PendingReason {
    /// Stable name used in storage.
    pub fn as_str(&self) -> &'static str {
        match self {
            PendingReason::Deferred => "deferred",
            PendingReason::Failed => "failed",
        }
    }
    /// Parses [`PendingReason::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "deferred" => Some(PendingReason::Deferred),
            "failed" => Some(PendingReason::Failed),
            _ => None,
        }
    }
}

/// A record to retry on the next run even if it did not change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PendingRecord {
    /// Organization.
    pub org: OrgId,
    /// Entity pair.
    pub entity: EntityName,
    /// Where the record is read from when retried.
    pub source: Side,
    /// Its id on that side.
    pub source_id: String,
    /// Why it waits.
    pub reason: PendingReason,
    /// What went wrong (no personal data).
    pub error: String,
    /// How many runs tried it.
    pub attempts: u32,
    /// First time it was parked.
    pub since: Timestamp,
}

/// Where a paged fetch stands, stored as a checkpoint so that an interrupted run resumes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PageCursor(String);

impl PageCursor {
    /// Wraps an opaque cursor.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The opaque cursor.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A watermark: changes after this instant are fetched next time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark(pub Timestamp);

#[cfg(test)]
mod tests {
    use super::*;

    /// [`Timestamp::parse`] as it was before its fast path.
    fn parse_slowly(text: &str) -> Option<Timestamp> {
        let trimmed = text.trim();
        if let Ok(parsed) = DateTime::parse_from_rfc3339(trimmed) {
            return Some(Timestamp(parsed.with_timezone(&Utc)));
        }
        let millis = trimmed.parse::<i64>().ok()?;
        DateTime::from_timestamp_millis(millis).map(Timestamp)
    }

    /// A spread of instants: ordinary ones with every kind of fraction, and the edges.
    fn instants() -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut seed = 11u64;
        for _ in 0..2000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let secs = i64::try_from(seed >> 30).unwrap() % 400_000_000_000 - 62_000_000_000;
            let nanos = u32::try_from((seed >> 7) % 1_000_000_000).unwrap();
            out.extend(DateTime::from_timestamp(secs, nanos));
            out.extend(DateTime::from_timestamp(
                secs,
                nanos / 1_000_000 * 1_000_000,
            ));
        }
        for (y, mo, d, h, mi, s, n) in [
            (0, 1, 1, 0, 0, 0, 0),
            (9999, 12, 31, 23, 59, 59, 999_999_999),
            (-1, 12, 31, 23, 59, 59, 0),
            (10000, 1, 1, 0, 0, 0, 0),
            (2016, 12, 31, 23, 59, 59, 1_500_000_000),
            (2024, 2, 29, 12, 0, 0, 1_000_000),
            (1970, 1, 1, 0, 0, 0, 999_999),
        ] {
            let date = NaiveDate::from_ymd_opt(y, mo, d).unwrap();
            let time = NaiveTime::from_hms_nano_opt(h, mi, s, n).unwrap();
            out.push(NaiveDateTime::new(date, time).and_utc());
        }
        out
    }

    /// The shared ids behave as the `String` ids they were: shown, compared, ordered, hashed
    /// and serialized as their text.
    #[test]
    fn shared_ids_behave_as_their_text() {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        let texts = ["", "org-1", "people", "é😀", "a\"b"];
        for a in texts {
            let (org, entity) = (OrgId::new(a), EntityName::from(a));
            assert_eq!(org.as_str(), a);
            assert_eq!(entity.to_string(), a);
            assert_eq!(format!("{org:?}"), format!("OrgId({a:?})"));
            assert_eq!(state.hash_one(&entity), state.hash_one(a.to_owned()));
            let json = serde_json::to_string(a).unwrap();
            assert_eq!(serde_json::to_string(&org).unwrap(), json);
            assert_eq!(serde_json::from_str::<EntityName>(&json).unwrap(), entity);
            for b in texts {
                assert_eq!(OrgId::new(a) == OrgId::new(b), a == b);
                assert_eq!(EntityName::new(a).cmp(&EntityName::new(b)), a.cmp(b));
            }
        }
        let keyed: BTreeMap<EntityName, u8> = [(EntityName::new("people"), 1)].into();
        let json = serde_json::to_string(&keyed).unwrap();
        assert_eq!(json, r#"{"people":1}"#);
        assert_eq!(
            serde_json::from_str::<BTreeMap<EntityName, u8>>(&json).unwrap(),
            keyed
        );
    }

    #[test]
    fn rfc3339_is_written_as_chrono_writes_it() {
        for at in instants() {
            let chrono = at.to_rfc3339_opts(SecondsFormat::Millis, true);
            assert_eq!(Timestamp(at).to_rfc3339(), chrono);
        }
    }

    #[test]
    fn rfc3339_is_read_as_chrono_reads_it() {
        let mut texts: Vec<String> = Vec::new();
        for at in instants() {
            for format in [
                SecondsFormat::Secs,
                SecondsFormat::Millis,
                SecondsFormat::Micros,
                SecondsFormat::Nanos,
                SecondsFormat::AutoSi,
            ] {
                texts.push(at.to_rfc3339_opts(format, true));
                texts.push(at.to_rfc3339_opts(format, false));
            }
        }
        for text in [
            "2024-01-01T10:00:00Z",
            "2024-01-01T10:00:00.1Z",
            "2024-01-01T10:00:00.1234567891Z",
            "2024-01-01T10:00:00.Z",
            "2024-01-01t10:00:00.000z",
            "2024-01-01 10:00:00.000Z",
            "  2024-01-01T10:00:00.000Z\n",
            "2024-01-01T10:00:00.000+02:00",
            "2024-02-30T10:00:00.000Z",
            "2023-02-29T10:00:00.000Z",
            "2024-13-01T10:00:00.000Z",
            "2024-00-10T10:00:00.000Z",
            "2024-01-01T24:00:00.000Z",
            "2024-01-01T23:60:00.000Z",
            "2024-01-01T23:59:60.000Z",
            "2024-01-01T23:59:60.500Z",
            "2024-01-01T1a:00:00.000Z",
            "2024-01-01T10:00:00.0a0Z",
            "+024-01-01T10:00:00.000Z",
            "2024-1-01T10:00:00.000Z",
            "0000-01-01T00:00:00.000Z",
            "1704096000000",
            "-1",
            "",
            "Z",
        ] {
            texts.push(text.to_owned());
        }
        for text in &texts {
            assert_eq!(Timestamp::parse(text), parse_slowly(text), "{text:?}");
        }
    }
}
