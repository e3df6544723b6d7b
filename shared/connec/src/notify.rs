//! Connec! notifications (`POST /webhooks/connec/{tenant}`): verify, then parse.
//!
//! Connec! authenticates its notifications with HTTP Basic and the tenant's own API id and key:
//! [`verifier`] builds the [`BasicAuthVerifier`] that checks them, on the raw request, before
//! anything parses it. [`parse_connec_notification`] then turns the verified body into one
//! [`ConnecNotification`] per changed record; its errors say what is wrong and where
//! (collection, record index) but never echo values from the body.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sync_core::domain::GroupId;
use webhooks::parse::{bounded, kind, parse_json};
use webhooks::{BasicAuthVerifier, ParseError};

/// Keys of a Connec! notification body that are not collections (legacy framework noise).
const IGNORED_KEYS: [&str; 4] = ["tenant", "controller", "action", "connec"];

/// Connec! collections, in their canonical lower snake plural form.
const KNOWN_COLLECTIONS: &[&str] = &[
    "accounts",
    "app_users",
    "bills",
    "credit_notes",
    "employees",
    "event_orders",
    "events",
    "invoices",
    "items",
    "journals",
    "opportunities",
    "organizations",
    "pay_items",
    "pay_runs",
    "pay_schedules",
    "pay_stubs",
    "payments",
    "people",
    "projects",
    "purchase_orders",
    "quotes",
    "sales_orders",
    "tax_codes",
    "tax_rates",
    "time_activities",
    "time_sheets",
    "venues",
    "warehouses",
    "work_locations",
];

/// What [`GroupId::parse`] accepts, for [`ParseError::InvalidGroupId`].
const GROUP_ID_FORMAT: &str = "1 to 64 characters, ASCII letters, digits, `-` or `_`";

/// Singular -> plural for words that do not simply take an `s` (or `y` -> `ies`).
const IRREGULAR_PLURALS: &[(&str, &str)] = &[("person", "people")];

/// The verifier of a tenant's Connec! notifications: HTTP Basic with the tenant's API id and key
/// (the credentials its [`ConnecConfig`](crate::ConnecConfig) calls Connec! with).
///
/// ```
/// use chrono::Utc;
/// use webhooks::{RawRequest, Verifier, basic_auth_header};
///
/// let verifier = connec::notify::verifier("api-id", "api-key");
/// let headers = vec![("Authorization".to_owned(), basic_auth_header("api-id", "api-key"))];
/// let request = RawRequest { method: "POST", uri: "https://h/webhooks/connec/t", headers: &headers, body: b"{}" };
/// assert!(verifier.verify(&request, Utc::now()).is_ok());
/// ```
pub fn verifier(api_id: impl Into<String>, api_key: impl Into<String>) -> BasicAuthVerifier {
    BasicAuthVerifier::new(api_id, api_key)
}

/// One changed record of a Connec! notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnecNotification {
    /// The collection, normalized by [`normalize_collection`] (`people`, `organizations`).
    pub collection: String,
    /// The record's `group_id`: the Connec! customer group it belongs to.
    pub group_id: String,
    /// The record as sent.
    pub record: Value,
}

/// Normalizes a Connec! collection name to its lower snake plural form.
///
/// `people`, `People`, `Person` and `person` all give `people`; `Organization` gives
/// `organizations`; `SalesOrder` gives `sales_orders`; `TimeActivity` gives `time_activities`.
/// A name that is not a known Connec! collection in any of these spellings is returned as
/// given, lowercased.
///
/// ```
/// use connec::notify::normalize_collection;
///
/// assert_eq!(normalize_collection("Person"), "people");
/// assert_eq!(normalize_collection("Organization"), "organizations");
/// assert_eq!(normalize_collection("SalesOrder"), "sales_orders");
/// assert_eq!(normalize_collection("Widgets"), "widgets");
/// ```
pub fn normalize_collection(name: &str) -> String {
    let name = name.trim();
    let snake = to_snake_case(name);
    if KNOWN_COLLECTIONS.contains(&snake.as_str()) {
        return snake;
    }
    let plural = pluralize(&snake);
    if KNOWN_COLLECTIONS.contains(&plural.as_str()) {
        return plural;
    }
    name.to_lowercase()
}

/// `SalesOrder` / `sales-order` / `Sales Order` -> `sales_order`.
fn to_snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == ' ' || c == '_' {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary =
                prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower);
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// Pluralizes the last word of a snake-case name.
fn pluralize(snake: &str) -> String {
    let (head, last) = match snake.rfind('_') {
        Some(pos) => snake.split_at(pos + 1),
        None => ("", snake),
    };
    let plural_last = if let Some(&(_, plural)) = IRREGULAR_PLURALS.iter().find(|(s, _)| *s == last)
    {
        plural.to_owned()
    } else if let Some(stem) = last.strip_suffix('y')
        && stem.chars().last().is_some_and(|c| !"aeiou".contains(c))
    {
        format!("{stem}ies")
    } else {
        format!("{last}s")
    };
    format!("{head}{plural_last}")
}

/// Parses a Connec! notification body: an object mapping collection names to arrays of records.
///
/// One body may mix collections and customer groups. The keys `tenant`, `controller`, `action`
/// and `connec` are ignored. Collections are normalized with [`normalize_collection`]; records
/// keep their order within a collection, but the order of collections is unspecified (it follows
/// `serde_json`'s map order). Every record must carry a string `group_id` that is a group id
/// ([`GroupId::parse`]); one that does not refuses the whole body, naming the collection and the
/// record index ([`ParseError::MissingGroupId`], [`ParseError::InvalidGroupId`]).
///
/// ```
/// use connec::notify::parse_connec_notification;
///
/// let body = br#"{"Person": [{"id": "p1", "group_id": "cld-1"}],
///                 "organizations": [{"id": "o1", "group_id": "cld-2"}],
///                 "tenant": "default"}"#;
/// let notifications = parse_connec_notification(body)?;
/// assert_eq!(notifications.len(), 2);
/// let person = notifications.iter().find(|n| n.collection == "people").unwrap();
/// assert_eq!(person.group_id, "cld-1");
/// assert_eq!(person.record["id"], "p1");
/// # Ok::<(), webhooks::ParseError>(())
/// ```
pub fn parse_connec_notification(body: &[u8]) -> Result<Vec<ConnecNotification>, ParseError> {
    let value = parse_json(body)?;
    let Value::Object(map) = value else {
        return Err(ParseError::UnexpectedBody {
            expected: "object of collection name to records",
            found: kind(&value),
        });
    };
    let mut notifications = Vec::new();
    for (key, value) in map {
        if IGNORED_KEYS.contains(&key.as_str()) {
            continue;
        }
        let Value::Array(records) = value else {
            return Err(ParseError::CollectionNotArray {
                collection: bounded(&key),
                found: kind(&value),
            });
        };
        let collection = normalize_collection(&key);
        for (index, record) in records.into_iter().enumerate() {
            let Value::Object(fields) = &record else {
                return Err(ParseError::RecordNotObject {
                    collection: bounded(&key),
                    index,
                    found: kind(&record),
                });
            };
            let group_id = match fields.get("group_id") {
                Some(Value::String(id)) if !id.trim().is_empty() => id,
                _ => {
                    return Err(ParseError::MissingGroupId {
                        collection: bounded(&key),
                        index,
                    });
                }
            };
            let group_id = GroupId::parse(group_id)
                .map_err(|_| ParseError::InvalidGroupId {
                    collection: bounded(&key),
                    index,
                    expected: GROUP_ID_FORMAT,
                })?
                .as_str()
                .to_owned();
            notifications.push(ConnecNotification {
                collection: collection.clone(),
                group_id,
                record,
            });
        }
    }
    Ok(notifications)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_whose_group_id_is_not_a_group_id_refuses_the_body_naming_the_place() {
        for bad in [
            "x/../cld-victim",
            "%2e%2e",
            "cld-1?x",
            "<b>hi</b>",
            "cld 1",
            &"a".repeat(65),
        ] {
            let body = serde_json::json!({
                "people": [{ "id": "p0", "group_id": "cld-1" }, { "id": "p1", "group_id": bad }]
            })
            .to_string();
            let err = parse_connec_notification(body.as_bytes()).unwrap_err();
            assert!(
                matches!(&err, ParseError::InvalidGroupId { collection, index: 1, .. } if collection == "people"),
                "{bad:?}: {err:?}"
            );
            let message = err.to_string();
            assert!(
                message.contains("collection `people` record 1"),
                "{message}"
            );
            assert!(!message.contains(bad), "the value is not echoed: {message}");
        }
    }

    #[test]
    fn normalizes_known_collections_in_any_spelling() {
        for name in ["people", "People", "Person", "person", " person "] {
            assert_eq!(normalize_collection(name), "people", "{name}");
        }
        for name in [
            "Organization",
            "organization",
            "organizations",
            "Organizations",
        ] {
            assert_eq!(normalize_collection(name), "organizations", "{name}");
        }
        assert_eq!(normalize_collection("SalesOrder"), "sales_orders");
        assert_eq!(normalize_collection("sales_order"), "sales_orders");
        assert_eq!(normalize_collection("sales-orders"), "sales_orders");
        assert_eq!(normalize_collection("TimeActivity"), "time_activities");
        assert_eq!(normalize_collection("Opportunity"), "opportunities");
        assert_eq!(normalize_collection("TaxCode"), "tax_codes");
        assert_eq!(normalize_collection("Invoice"), "invoices");
    }

    #[test]
    fn unknown_collections_stay_as_given_lowercased() {
        assert_eq!(normalize_collection("Gadget"), "gadget");
        assert_eq!(normalize_collection("FooBar"), "foobar");
        assert_eq!(normalize_collection("Company"), "company");
    }

    #[test]
    fn snake_case_and_plural_rules() {
        assert_eq!(to_snake_case("HTTPRequest"), "http_request");
        assert_eq!(to_snake_case("pay_Item"), "pay_item");
        assert_eq!(pluralize("sales_person"), "sales_people");
        assert_eq!(pluralize("key"), "keys");
        assert_eq!(pluralize("tax_rate"), "tax_rates");
    }
}
