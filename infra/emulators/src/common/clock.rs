//! Time: the millisecond clock Connec! and HubSpot stamp records with, and the ISO-8601
//! formatting and parsing they share.

use chrono::{DateTime, TimeZone, Utc};

/// Real time in milliseconds that never goes backwards (a system clock stepped back repeats
/// the last stamp). Stamps tie, as real APIs' do: a burst of writes shares milliseconds, and
/// every order the emulators page on breaks ties by a sequence number or an id. Stamping each
/// write one millisecond after the last instead would run minutes ahead of real time after a
/// burst of some hundred thousand writes, and records "from the future" would sit after
/// every watermark a client takes.
///
/// One rule on top ([`Clock::after`]): a change of a record stamps it later than its previous
/// stamp, so that a change is always seen as one; only a record written twice within one
/// millisecond gets a stamp (one millisecond) ahead of real time.
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

/// ISO-8601 UTC with milliseconds and `Z`.
pub(crate) fn iso(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
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
