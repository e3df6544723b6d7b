//! Time: the millisecond clock Connec! and HubSpot stamp records with, and the ISO-8601
//! formatting and parsing they share.

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};

/// Real time in milliseconds that never goes backwards (a system clock stepped back repeats
/// the last stamp). Stamps tie, as real APIs' do: a burst of writes shares milliseconds, and
/// every order the emulators page on breaks ties by a sequence number or an id. Stamping each
/// write one millisecond after the last instead would run minutes ahead of real time after a
/// burst of some hundred thousand writes, and records "from the future" would sit after
/// every watermark a client takes.
///
/// One rule on top ([`Clock::after`]): a change of a record stamps it later than its previous
/// stamp, so that a change is always seen as one; only a record written several times within
/// one millisecond runs ahead of real time (a millisecond per extra write).
#[derive(Debug, Default)]
pub(crate) struct Clock {
    last_ms: i64,
}

impl Clock {
    pub(crate) fn now(&mut self) -> DateTime<Utc> {
        let ms = Utc::now().timestamp_millis().max(self.last_ms);
        self.last_ms = ms;
        Utc.timestamp_millis_opt(ms)
            .single()
            .unwrap_or_else(Utc::now)
    }

    /// The stamp of a change of a record last stamped `prev`: now, or one millisecond after
    /// `prev` when now is not later (the clock itself is not moved ahead).
    pub(crate) fn after(&mut self, prev: DateTime<Utc>) -> DateTime<Utc> {
        self.now().max(prev + chrono::Duration::milliseconds(1))
    }
}

/// ISO-8601 UTC with milliseconds and `Z` (`2024-01-31T17:59:28.123Z`). Written digit by
/// digit: every rendered record carries two or three of these, and chrono's `format` parses
/// its pattern on each call. Years outside 0..=9999 take chrono's path.
pub(crate) fn iso(t: &DateTime<Utc>) -> String {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    // Leap seconds show as a nanosecond count past one second: chrono prints 60.
    let nanos = t.nanosecond();
    let (sec, ms) = if nanos >= 1_000_000_000 {
        (60, (nanos - 1_000_000_000) / 1_000_000)
    } else {
        (t.second(), nanos / 1_000_000)
    };
    let mut b = [0u8; 24];
    let mut put = |at: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, t.month(), 2);
    put(8, t.day(), 2);
    put(11, t.hour(), 2);
    put(14, t.minute(), 2);
    put(17, sec, 2);
    put(20, ms, 3);
    for (at, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        b[at] = c;
    }
    b.iter().map(|c| *c as char).collect()
}

/// Parses an RFC 3339 / ISO-8601 instant (also tolerates a missing offset,
/// which is then taken as UTC).
pub(crate) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
}

/// Instant from an ISO string or epoch milliseconds.
pub(crate) fn parse_date_like(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(ms) = s.trim().parse::<i64>() {
        return Utc.timestamp_millis_opt(ms).single();
    }
    parse_instant(s.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_is_chronos_format() {
        let chrono_iso = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let mut ms: i64 = -62_135_596_800_000; // 0001-01-01
        while ms < 253_402_300_799_999 {
            let t = Utc.timestamp_millis_opt(ms).single().unwrap();
            assert_eq!(iso(&t), chrono_iso(&t));
            ms += 7_777_777_777_777 / 1_000 + 123; // about 90 days and an odd millisecond
        }
        for t in [
            "1970-01-01T00:00:00.000Z",
            "2024-02-29T23:59:59.999Z",
            "9999-12-31T23:59:59.999Z",
        ] {
            let d = parse_instant(t).unwrap();
            assert_eq!(iso(&d), t);
        }
        let sub_ms = Utc
            .timestamp_opt(1_700_000_000, 123_456_789)
            .single()
            .unwrap();
        assert_eq!(iso(&sub_ms), chrono_iso(&sub_ms));
        let far = Utc
            .with_ymd_and_hms(12_345, 1, 1, 0, 0, 0)
            .single()
            .unwrap();
        assert_eq!(iso(&far), chrono_iso(&far));
    }

    #[test]
    fn clock_is_real_time_and_never_goes_back() {
        let mut c = Clock::default();
        let mut last = c.now();
        for _ in 0..10_000 {
            let t = c.now();
            assert!(t >= last);
            last = t;
        }
        assert!(last <= Utc::now());
        assert_eq!(iso(&last).len(), 24);
        // A change of a record is later than its previous stamp, without moving the clock.
        let prev = c.now();
        let changed = c.after(prev);
        assert!(changed > prev);
        let next = c.now();
        assert!(next >= prev && next <= Utc::now());
        // A clock stepped back: the last stamp again, not an earlier one.
        c.last_ms = Utc::now().timestamp_millis() + 60_000;
        assert_eq!(c.now().timestamp_millis(), c.last_ms);
    }
}
