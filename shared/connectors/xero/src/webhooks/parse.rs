//! Xero webhook payloads (`POST /webhooks/xero`): typed parsing of a verified body.
//!
//! Run [`parse_xero_events`] only after [`XeroVerifier`](super::XeroVerifier) accepted the raw
//! request. Errors say what is wrong and where (event index, field) but never echo values from
//! the body.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use webhooks::ParseError;
use webhooks::parse::{Fields, body_u64_or_zero, kind, parse_json};

/// One Xero event: a resource of a tenant was created or updated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XeroEvent {
    /// `resourceUrl`: where to fetch the resource.
    pub resource_url: String,
    /// `resourceId`.
    pub resource_id: String,
    /// `tenantId`: the Xero organisation.
    pub tenant_id: String,
    /// `tenantType` (`ORGANISATION`).
    pub tenant_type: String,
    /// `eventCategory` (`INVOICE`, `CONTACT`, ...).
    pub event_category: String,
    /// `eventType` (`CREATE`, `UPDATE`).
    pub event_type: String,
    /// `eventDateUtc`; Xero sends it without an offset, and it is UTC.
    pub event_date_utc: DateTime<Utc>,
}

impl XeroEvent {
    /// Key for deduplicating redeliveries (Xero has no event id):
    /// `xero:<tenantId>:<resourceId>:<eventType>:<eventDateUtc epoch ms>`.
    pub fn dedupe_key(&self) -> String {
        format!(
            "xero:{}:{}:{}:{}",
            self.tenant_id,
            self.resource_id,
            self.event_type,
            self.event_date_utc.timestamp_millis()
        )
    }
}

/// A Xero webhook payload.
///
/// The intent-to-receive probe has no events (`events` is empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XeroEvents {
    /// The events, in payload order.
    pub events: Vec<XeroEvent>,
    /// `firstEventSequence` (0 when absent).
    pub first_event_sequence: u64,
    /// `lastEventSequence` (0 when absent).
    pub last_event_sequence: u64,
}

/// Parses a Xero webhook body: `{"events": [...], "firstEventSequence": n,
/// "lastEventSequence": n, "entropy": "..."}`.
///
/// Every event needs all seven fields of [`XeroEvent`]. `eventDateUtc` is accepted with or
/// without an offset (Xero omits it).
///
/// ```
/// let body = br#"{"events":[{"resourceUrl":"https://api.xero.com/api.xro/2.0/Contacts/c1",
///   "resourceId":"c1","eventDateUtc":"2024-05-01T10:00:00.123","eventType":"UPDATE",
///   "eventCategory":"CONTACT","tenantId":"t1","tenantType":"ORGANISATION"}],
///   "firstEventSequence":3,"lastEventSequence":3,"entropy":"ABC"}"#;
/// let payload = xero::webhooks::parse_xero_events(body)?;
/// assert_eq!(payload.events[0].event_category, "CONTACT");
/// assert_eq!(payload.first_event_sequence, 3);
/// # Ok::<(), webhooks::ParseError>(())
/// ```
pub fn parse_xero_events(body: &[u8]) -> Result<XeroEvents, ParseError> {
    let value = parse_json(body)?;
    let Value::Object(map) = &value else {
        return Err(ParseError::UnexpectedBody {
            expected: "object with an `events` array",
            found: kind(&value),
        });
    };
    let events = match map.get("events") {
        None | Some(Value::Null) => return Err(ParseError::MissingBodyField { field: "events" }),
        Some(Value::Array(events)) => events,
        Some(_) => {
            return Err(ParseError::InvalidBodyField {
                field: "events",
                expected: "an array",
            });
        }
    };
    let events = events
        .iter()
        .enumerate()
        .map(|(index, event)| parse_event(index, event))
        .collect::<Result<_, _>>()?;
    Ok(XeroEvents {
        events,
        first_event_sequence: body_u64_or_zero(map, "firstEventSequence")?,
        last_event_sequence: body_u64_or_zero(map, "lastEventSequence")?,
    })
}

fn parse_event(index: usize, event: &Value) -> Result<XeroEvent, ParseError> {
    let Value::Object(map) = event else {
        return Err(ParseError::EventNotObject {
            index,
            found: kind(event),
        });
    };
    let fields = Fields::new(index, map);
    let resource_url = fields.string("resourceUrl")?.to_owned();
    let resource_id = fields.string("resourceId")?.to_owned();
    let tenant_id = fields.string("tenantId")?.to_owned();
    let tenant_type = fields.string("tenantType")?.to_owned();
    let event_category = fields.string("eventCategory")?.to_owned();
    let event_type = fields.string("eventType")?.to_owned();
    let event_date_utc = parse_xero_date(fields.string("eventDateUtc")?).ok_or_else(|| {
        fields.invalid(
            "eventDateUtc",
            "an ISO 8601 date-time (`2024-05-01T10:00:00.123`)",
        )
    })?;
    Ok(XeroEvent {
        resource_url,
        resource_id,
        tenant_id,
        tenant_type,
        event_category,
        event_type,
        event_date_utc,
    })
}

/// RFC 3339, or a naive ISO 8601 date-time taken as UTC.
fn parse_xero_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|naive| naive.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_with_and_without_offset() {
        let naive = parse_xero_date("2017-06-21T01:15:39.902").unwrap();
        assert_eq!(naive.timestamp_millis(), 1_498_007_739_902);
        let zoned = parse_xero_date("2017-06-21T03:15:39.902+02:00").unwrap();
        assert_eq!(zoned, naive);
        assert_eq!(
            parse_xero_date("2017-06-21T01:15:39").unwrap().timestamp(),
            1_498_007_739
        );
        assert!(parse_xero_date("yesterday").is_none());
    }
}
