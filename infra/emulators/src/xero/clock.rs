//! The emulator's clock: real UTC time plus an offset tests move forward
//! ([`super::XeroEmulator::advance`]), never going backwards (stamps tie, as Xero's do:
//! lists break ties by creation order), and Xero's date formats (`/Date(ms+0000)/`,
//! `2024-01-31T00:00:00`) both ways.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

/// Real time shifted by an offset; never goes backwards. Not strictly increasing: a burst of
/// writes one millisecond apart each would run ahead of real time.
#[derive(Debug, Default)]
pub(super) struct XeroClock {
    offset_ms: AtomicI64,
    last_ms: AtomicI64,
}

impl XeroClock {
    /// Now, in epoch milliseconds, at least any earlier answer.
    pub(super) fn now_ms(&self) -> i64 {
        let real = Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::SeqCst);
        let prev = self.last_ms.fetch_max(real, Ordering::SeqCst);
        real.max(prev)
    }

    /// The stamp of a change of a record last stamped `prev_ms`: now, or one millisecond
    /// after `prev_ms` when now is not later (the clock itself is not moved ahead), so that a
    /// change is always seen as one.
    pub(super) fn after_ms(&self, prev_ms: i64) -> i64 {
        self.now_ms().max(prev_ms + 1)
    }

    /// Now, without stamping anything (for expiry checks and windows).
    pub(super) fn peek_ms(&self) -> i64 {
        let real = Utc::now().timestamp_millis() + self.offset_ms.load(Ordering::SeqCst);
        real.max(self.last_ms.load(Ordering::SeqCst))
    }

    /// Moves the clock forward by `ms`.
    pub(super) fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst);
    }
}

/// `/Date(ms+0000)/`, Xero's form of a timestamp.
pub(super) fn ms_date(ms: i64) -> String {
    format!("/Date({ms}+0000)/")
}

/// `/Date(ms)/`, Xero's form of the envelope's `DateTimeUTC`.
pub(super) fn ms_date_bare(ms: i64) -> String {
    format!("/Date({ms})/")
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// `2024-01-31T00:00:00` (Xero's `DateString`) of the day of `ms`.
pub(super) fn date_string(ms: i64) -> String {
    utc(ms).format("%Y-%m-%dT00:00:00").to_string()
}

/// `2024-01-31T17:59:28` (seconds, no offset), as `UpdatedDateUTCString`.
pub(super) fn datetime_string(ms: i64) -> String {
    utc(ms).format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `2024-06-21T01:15:39.902`, the `eventDateUtc` of webhook events.
pub(super) fn event_date(ms: i64) -> String {
    utc(ms).format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

/// ISO-8601 with `Z`, as the identity API's dates.
pub(super) fn iso_date(ms: i64) -> String {
    utc(ms).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Midnight UTC of the day of `ms`.
pub(super) fn day_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(86_400_000)
}

/// A date as clients send it: `/Date(ms[+zzzz])/`, `2024-01-31`, `2024-01-31T10:00:00[...]`;
/// the day it names, as epoch ms at midnight UTC.
pub(super) fn parse_date(s: &str) -> Option<i64> {
    parse_instant(s).map(day_of)
}

/// An instant as clients send it: `/Date(ms[+zzzz])/`, RFC 3339 with or without offset
/// (no offset is UTC), a bare date, or an HTTP date (`Tue, 01 Dec 2026 10:00:00 GMT`).
pub(super) fn parse_instant(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        let digits = inner
            .char_indices()
            .find(|&(i, c)| i > 0 && (c == '+' || c == '-'))
            .map_or(inner, |(i, _)| &inner[..i]);
        return digits.parse().ok();
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp_millis());
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n.and_utc().timestamp_millis());
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z"] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_moves_forward_and_never_back() {
        let c = XeroClock::default();
        let a = c.now_ms();
        let mut b = a;
        for _ in 0..10_000 {
            let t = c.now_ms();
            assert!(t >= b);
            b = t;
        }
        assert!(b <= Utc::now().timestamp_millis());
        c.advance(60_000);
        assert!(c.now_ms() > b + 59_000);
        let n = c.now_ms();
        assert!(c.peek_ms() >= n);
    }

    #[test]
    fn dates_parse_in_every_form_clients_send() {
        assert_eq!(
            parse_instant("/Date(1551399323399+0000)/"),
            Some(1551399323399)
        );
        assert_eq!(parse_instant("/Date(1551399323399)/"), Some(1551399323399));
        assert_eq!(
            parse_instant("2019-03-01T00:15:23.399Z"),
            Some(1551399323399)
        );
        assert_eq!(
            parse_instant("2019-03-01T00:15:23.399000+00:00"),
            Some(1551399323399)
        );
        assert_eq!(
            parse_instant("2019-03-01T00:15:23.399"),
            Some(1551399323399)
        );
        assert_eq!(
            parse_instant("Fri, 01 Mar 2019 00:15:23 GMT"),
            Some(1551399323000)
        );
        assert_eq!(parse_date("2019-03-01"), Some(1551398400000));
        assert_eq!(ms_date(5), "/Date(5+0000)/");
        assert_eq!(date_string(1551399323399), "2019-03-01T00:00:00");
    }
}
