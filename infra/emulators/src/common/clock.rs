//! Time: the strictly increasing millisecond clock both emulators stamp records with, and
//! the ISO-8601 formatting and parsing they share.

use chrono::{DateTime, TimeZone, Utc};

/// Millisecond clock that never repeats or goes backwards, so that ordering by
/// timestamp is total and deterministic even for bursts of writes.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    last_ms: i64,
}

impl Clock {
    pub(crate) fn now(&mut self) -> DateTime<Utc> {
        let mut ms = Utc::now().timestamp_millis();
        if ms <= self.last_ms {
            ms = self.last_ms + 1;
        }
        self.last_ms = ms;
        Utc.timestamp_millis_opt(ms)
            .single()
            .unwrap_or_else(Utc::now)
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
    fn clock_is_strictly_increasing() {
        let mut c = Clock::default();
        let a = c.now();
        let b = c.now();
        assert!(b > a);
        assert_eq!(iso(&a).len(), 24);
    }
}
