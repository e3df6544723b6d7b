//! UTC instants with millisecond precision, read and written as RFC 3339.

use std::fmt;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Timelike, Utc,
};
use serde::{Deserialize, Serialize};

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
