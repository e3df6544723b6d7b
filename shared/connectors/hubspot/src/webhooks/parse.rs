//! HubSpot webhook batches (`POST /webhooks/hubspot`): typed parsing of a verified body.
//!
//! Run [`parse_hubspot_events`] only after [`HubSpotV3Verifier`](super::HubSpotV3Verifier)
//! accepted the raw request. Errors say what is wrong and where (event index, field) but never
//! echo values from the body.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use webhooks::ParseError;
use webhooks::parse::{Fields, kind, parse_json};

/// The CRM object type of a HubSpot event: the part of `subscriptionType` before the dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HubSpotObject {
    /// `contact.*`
    Contact,
    /// `company.*`
    Company,
    /// `deal.*`
    Deal,
    /// Any other prefix (`ticket`, `product`, `object`, ...), as sent.
    Other(String),
}

impl HubSpotObject {
    /// Maps a `subscriptionType` prefix.
    pub fn from_prefix(prefix: &str) -> Self {
        match prefix {
            "contact" => Self::Contact,
            "company" => Self::Company,
            "deal" => Self::Deal,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The prefix as HubSpot spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Contact => "contact",
            Self::Company => "company",
            Self::Deal => "deal",
            Self::Other(other) => other,
        }
    }
}

impl fmt::Display for HubSpotObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened, from the part of `subscriptionType` after the dot.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HubSpotChange {
    /// `*.creation`
    Creation,
    /// `*.propertyChange`
    PropertyChange,
    /// `*.deletion`
    Deletion,
    /// `*.merge`
    Merge,
    /// `*.restore`
    Restore,
    /// `*.associationChange`
    AssociationChange,
    /// Any other suffix (`privacyDeletion`, ...), as sent.
    Other(String),
}

impl HubSpotChange {
    /// Maps a `subscriptionType` suffix.
    pub fn from_suffix(suffix: &str) -> Self {
        match suffix {
            "creation" => Self::Creation,
            "propertyChange" => Self::PropertyChange,
            "deletion" => Self::Deletion,
            "merge" => Self::Merge,
            "restore" => Self::Restore,
            "associationChange" => Self::AssociationChange,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The suffix as HubSpot spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Creation => "creation",
            Self::PropertyChange => "propertyChange",
            Self::Deletion => "deletion",
            Self::Merge => "merge",
            Self::Restore => "restore",
            Self::AssociationChange => "associationChange",
            Self::Other(other) => other,
        }
    }
}

impl fmt::Display for HubSpotChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event of a HubSpot webhook batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HubSpotEvent {
    /// `eventId`.
    pub event_id: u64,
    /// `subscriptionType` as sent (`contact.propertyChange`).
    pub subscription_type: String,
    /// The object type, from the `subscriptionType` prefix.
    pub object_type: HubSpotObject,
    /// The change, from the `subscriptionType` suffix.
    pub change: HubSpotChange,
    /// `portalId`: the HubSpot account.
    pub portal_id: u64,
    /// `objectId` (number or numeric string); for association changes without one,
    /// `fromObjectId`.
    pub object_id: u64,
    /// `occurredAt` (epoch milliseconds).
    pub occurred_at: DateTime<Utc>,
    /// `attemptNumber` (0 on first delivery; 0 when absent).
    pub attempt_number: u32,
    /// `propertyName`, for property changes.
    pub property_name: Option<String>,
    /// `propertyValue`, for property changes (numbers and booleans rendered as strings).
    pub property_value: Option<String>,
    /// `changeSource` (`CRM`, `API`, `INTEGRATION`, ...).
    pub change_source: Option<String>,
    /// `subscriptionId`, when present.
    pub subscription_id: Option<u64>,
    /// `appId`, when present.
    pub app_id: Option<u64>,
    /// The whole event object as received (merge and association details live here).
    pub raw: Value,
}

impl HubSpotEvent {
    /// Key for deduplicating redeliveries: `hubspot:<portalId>:<eventId>`.
    ///
    /// ```
    /// let body = br#"[{"eventId":7,"portalId":42,"objectId":1,
    ///     "subscriptionType":"contact.creation","occurredAt":1700000000000}]"#;
    /// let events = hubspot::webhooks::parse_hubspot_events(body).unwrap();
    /// assert_eq!(events[0].dedupe_key(), "hubspot:42:7");
    /// ```
    pub fn dedupe_key(&self) -> String {
        format!("hubspot:{}:{}", self.portal_id, self.event_id)
    }
}

/// Parses a HubSpot webhook body: a JSON array of events.
///
/// Each element must have `eventId`, `portalId`, `objectId`, `subscriptionType` and
/// `occurredAt`; ids may be JSON numbers or numeric strings. An association-change event without
/// `objectId` uses its `fromObjectId`. Errors name the element index and the field, never values.
///
/// ```
/// use hubspot::webhooks::{HubSpotChange, HubSpotObject, parse_hubspot_events};
/// use webhooks::ParseError;
///
/// let body = br#"[{"eventId":1,"portalId":42,"objectId":"123","occurredAt":1700000000000,
///     "subscriptionType":"contact.propertyChange","propertyName":"email",
///     "propertyValue":"a@b.c","changeSource":"CRM","attemptNumber":0}]"#;
/// let events = parse_hubspot_events(body)?;
/// assert_eq!(events[0].object_id, 123);
/// assert_eq!(events[0].object_type, HubSpotObject::Contact);
/// assert_eq!(events[0].change, HubSpotChange::PropertyChange);
///
/// let err = parse_hubspot_events(br#"[{"portalId":1}]"#).unwrap_err();
/// assert_eq!(err, ParseError::MissingField { index: 0, field: "eventId" });
/// # Ok::<(), ParseError>(())
/// ```
pub fn parse_hubspot_events(body: &[u8]) -> Result<Vec<HubSpotEvent>, ParseError> {
    let value = parse_json(body)?;
    let Value::Array(elements) = value else {
        return Err(ParseError::UnexpectedBody {
            expected: "array of events",
            found: kind(&value),
        });
    };
    elements
        .into_iter()
        .enumerate()
        .map(|(index, element)| parse_event(index, element))
        .collect()
}

fn parse_event(index: usize, element: Value) -> Result<HubSpotEvent, ParseError> {
    let Value::Object(map) = &element else {
        return Err(ParseError::EventNotObject {
            index,
            found: kind(&element),
        });
    };
    let fields = Fields::new(index, map);

    let event_id = fields.u64("eventId")?;
    let portal_id = fields.u64("portalId")?;
    let subscription_type = fields.string("subscriptionType")?.to_owned();
    let (prefix, suffix) = subscription_type
        .split_once('.')
        .ok_or_else(|| fields.invalid("subscriptionType", "of the form `object.change`"))?;
    let object_type = HubSpotObject::from_prefix(prefix);
    let change = HubSpotChange::from_suffix(suffix);

    let object_id = match fields.opt_u64("objectId")? {
        Some(id) => id,
        None if change == HubSpotChange::AssociationChange => fields
            .opt_u64("fromObjectId")?
            .ok_or_else(|| fields.missing("objectId"))?,
        None => return Err(fields.missing("objectId")),
    };

    let occurred_ms = fields
        .opt_i64("occurredAt")?
        .ok_or_else(|| fields.missing("occurredAt"))?;
    let occurred_at = Utc
        .timestamp_millis_opt(occurred_ms)
        .single()
        .ok_or_else(|| fields.invalid("occurredAt", "epoch milliseconds in range"))?;

    let attempt_number = match fields.opt_u64("attemptNumber")? {
        None => 0,
        Some(n) => u32::try_from(n)
            .map_err(|_| fields.invalid("attemptNumber", "a 32-bit non-negative integer"))?,
    };

    Ok(HubSpotEvent {
        event_id,
        object_type,
        change,
        portal_id,
        object_id,
        occurred_at,
        attempt_number,
        property_name: fields.opt_scalar_string("propertyName")?,
        property_value: fields.opt_scalar_string("propertyValue")?,
        change_source: fields.opt_scalar_string("changeSource")?,
        subscription_id: fields.opt_u64("subscriptionId")?,
        app_id: fields.opt_u64("appId")?,
        subscription_type,
        raw: element,
    })
}
