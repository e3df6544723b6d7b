//! The `datetime` transform: [`DateFormat`]s and the conversion between
//! them (everything goes through a UTC instant).

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::error::TransformError;

/// A date/time representation for the `datetime` transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateFormat {
    /// `2024-05-01T12:30:00Z`. Output is always UTC with `Z`; input accepts
    /// any offset, and also a naive `YYYY-MM-DDTHH:MM:SS[.f]` taken as UTC.
    Rfc3339,
    /// Milliseconds since the Unix epoch (number, or numeric string on input).
    EpochMillis,
    /// Seconds since the Unix epoch (number, or numeric string on input).
    EpochSeconds,
    /// `YYYY-MM-DD` (midnight UTC on input).
    Date,
    /// Xero's `/Date(1700000000000+0000)/` (the offset suffix is ignored on
    /// input: the millisecond count is UTC; output always writes `+0000`).
    XeroDate,
    /// A chrono strftime pattern, e.g. `%d/%m/%Y %H:%M`. Values without an
    /// offset are taken as UTC.
    Pattern(String),
}

impl DateFormat {
    /// Parses a format keyword, or a strftime pattern (anything containing
    /// `%`). Returns `None` for anything else.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "rfc3339" => DateFormat::Rfc3339,
            "epoch_millis" => DateFormat::EpochMillis,
            "epoch_seconds" => DateFormat::EpochSeconds,
            "date" => DateFormat::Date,
            "xero_date" => DateFormat::XeroDate,
            p if p.contains('%') => DateFormat::Pattern(p.to_string()),
            _ => return None,
        })
    }

    fn label(&self) -> String {
        match self {
            DateFormat::Rfc3339 => "rfc3339".into(),
            DateFormat::EpochMillis => "epoch_millis".into(),
            DateFormat::EpochSeconds => "epoch_seconds".into(),
            DateFormat::Date => "date".into(),
            DateFormat::XeroDate => "xero_date".into(),
            DateFormat::Pattern(p) => format!("\"{p}\""),
        }
    }

    /// True when a strftime pattern is well formed (keywords always are).
    pub(crate) fn is_valid(&self) -> bool {
        match self {
            DateFormat::Pattern(p) => chrono::format::StrftimeItems::new(p)
                .all(|item| !matches!(item, chrono::format::Item::Error)),
            _ => true,
        }
    }

    fn read(&self, v: &Value) -> Option<DateTime<Utc>> {
        match self {
            DateFormat::Rfc3339 => read_rfc3339(v.as_str()?),
            DateFormat::EpochMillis => DateTime::from_timestamp_millis(read_epoch(v)?),
            DateFormat::EpochSeconds => {
                let secs = read_epoch_f64(v)?;
                DateTime::from_timestamp_millis((secs * 1000.0).round() as i64)
            }
            DateFormat::Date => Some(
                NaiveDate::parse_from_str(v.as_str()?.trim(), "%Y-%m-%d")
                    .ok()?
                    .and_hms_opt(0, 0, 0)?
                    .and_utc(),
            ),
            DateFormat::XeroDate => {
                let s = v.as_str()?.trim();
                match s.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
                    Some(inner) => {
                        // Digits, optionally signed, then an optional ±HHMM.
                        let body = inner.strip_prefix('-').unwrap_or(inner);
                        let digits = body.find(['+', '-']).map_or(body, |i| &body[..i]);
                        let millis: i64 = digits.parse().ok()?;
                        let millis = if inner.starts_with('-') {
                            -millis
                        } else {
                            millis
                        };
                        DateTime::from_timestamp_millis(millis)
                    }
                    // Xero also returns ISO strings in *DateString fields.
                    None => read_rfc3339(s),
                }
            }
            DateFormat::Pattern(p) => {
                let s = v.as_str()?;
                DateTime::parse_from_str(s, p)
                    .map(|d| d.with_timezone(&Utc))
                    .ok()
                    .or_else(|| {
                        NaiveDateTime::parse_from_str(s, p)
                            .ok()
                            .map(|d| d.and_utc())
                    })
                    .or_else(|| {
                        NaiveDate::parse_from_str(s, p)
                            .ok()
                            .and_then(|d| d.and_hms_opt(0, 0, 0))
                            .map(|d| d.and_utc())
                    })
            }
        }
    }

    fn write(&self, dt: DateTime<Utc>) -> Result<Value, TransformError> {
        Ok(match self {
            DateFormat::Rfc3339 => Value::String(dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            DateFormat::EpochMillis => Value::from(dt.timestamp_millis()),
            DateFormat::EpochSeconds => Value::from(dt.timestamp()),
            DateFormat::Date => Value::String(dt.format("%Y-%m-%d").to_string()),
            DateFormat::XeroDate => {
                Value::String(format!("/Date({}+0000)/", dt.timestamp_millis()))
            }
            DateFormat::Pattern(p) => {
                let mut out = String::new();
                // Formatting reports bad patterns as fmt::Error instead of panicking here.
                write!(out, "{}", dt.format(p)).map_err(|_| TransformError::DateFormat {
                    format: self.label(),
                })?;
                Value::String(out)
            }
        })
    }
}

fn read_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|d| d.and_utc())
        })
}

fn read_epoch(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f.round() as i64)
        }),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f.round() as i64)
            })
        }
        _ => None,
    }
}

fn read_epoch_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// Reads `v` as `from`, writes it as `to`.
pub(super) fn convert(
    from: &DateFormat,
    to: &DateFormat,
    v: &Value,
) -> Result<Value, TransformError> {
    let dt = from.read(v).ok_or_else(|| TransformError::DateParse {
        value: v.to_string(),
        format: from.label(),
    })?;
    to.write(dt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Transform;
    use crate::transform::test_support::{err, ok};
    use serde_json::json;

    fn dt(from: &str, to: &str) -> Transform {
        Transform::Datetime {
            from: DateFormat::from_name(from).unwrap(),
            to: DateFormat::from_name(to).unwrap(),
        }
    }

    #[test]
    fn datetime_conversions() {
        assert_eq!(
            ok(&dt("rfc3339", "date"), json!("2024-05-01T23:30:00-02:00")),
            json!("2024-05-02")
        );
        assert_eq!(
            ok(&dt("date", "rfc3339"), json!("2024-05-01")),
            json!("2024-05-01T00:00:00Z")
        );
        assert_eq!(
            ok(
                &dt("rfc3339", "rfc3339"),
                json!("2024-05-01T12:00:00.250+01:00")
            ),
            json!("2024-05-01T11:00:00.250Z")
        );
        assert_eq!(
            ok(&dt("rfc3339", "rfc3339"), json!("2024-05-01T12:00:00")),
            json!("2024-05-01T12:00:00Z")
        );
        assert_eq!(
            ok(&dt("epoch_millis", "rfc3339"), json!(1_700_000_000_000i64)),
            json!("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            ok(&dt("epoch_millis", "rfc3339"), json!("1700000000000")),
            json!("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            ok(
                &dt("rfc3339", "epoch_millis"),
                json!("2023-11-14T22:13:20Z")
            ),
            json!(1_700_000_000_000i64)
        );
        assert_eq!(
            ok(
                &dt("rfc3339", "epoch_seconds"),
                json!("2023-11-14T22:13:20Z")
            ),
            json!(1_700_000_000i64)
        );
        assert_eq!(
            ok(&dt("epoch_seconds", "date"), json!(1_700_000_000i64)),
            json!("2023-11-14")
        );
        assert_eq!(
            ok(
                &dt("xero_date", "rfc3339"),
                json!("/Date(1700000000000+0000)/")
            ),
            json!("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            ok(
                &dt("xero_date", "epoch_millis"),
                json!("/Date(1700000000000)/")
            ),
            json!(1_700_000_000_000i64)
        );
        assert_eq!(
            ok(&dt("rfc3339", "xero_date"), json!("2023-11-14T22:13:20Z")),
            json!("/Date(1700000000000+0000)/")
        );
        assert_eq!(
            ok(&dt("%d/%m/%Y", "date"), json!("02/03/2024")),
            json!("2024-03-02")
        );
        assert_eq!(
            ok(
                &dt("rfc3339", "%d/%m/%Y %H:%M"),
                json!("2024-03-02T10:05:00Z")
            ),
            json!("02/03/2024 10:05")
        );
        assert_eq!(
            err(&dt("date", "rfc3339"), json!("2024-13-01")),
            "cannot read \"2024-13-01\" as a date date/time"
        );
        assert!(dt("rfc3339", "date").apply(&json!(12)).is_err());
        assert!(DateFormat::from_name("iso").is_none());
        assert!(!DateFormat::Pattern("%Q".into()).is_valid());
        assert!(DateFormat::Pattern("%Y-%m".into()).is_valid());
    }
}
