//! Parsing of verified webhook bodies.

use chrono::{TimeZone, Utc};
use serde_json::json;
use webhooks::{
    HubSpotChange, HubSpotObject, ParseError, parse_connec_notification, parse_hubspot_events,
    parse_xero_events,
};

// ---------------------------------------------------------------------------------------------
// HubSpot
// ---------------------------------------------------------------------------------------------

const HUBSPOT_BATCH: &[u8] = br#"[
  {"eventId": 100, "subscriptionId": 9, "portalId": 62515, "appId": 54321,
   "occurredAt": 1700000000000, "subscriptionType": "contact.propertyChange",
   "attemptNumber": 0, "objectId": 123, "changeSource": "CRM",
   "propertyName": "email", "propertyValue": "jane@example.com"},
  {"eventId": 101, "portalId": 62515, "occurredAt": 1700000001000,
   "subscriptionType": "company.creation", "attemptNumber": 2, "objectId": "456"},
  {"eventId": "102", "portalId": 62515, "occurredAt": 1700000002000,
   "subscriptionType": "deal.deletion", "objectId": 789, "propertyValue": 42}
]"#;

#[test]
fn hubspot_batch_of_three() {
    let events = parse_hubspot_events(HUBSPOT_BATCH).unwrap();
    assert_eq!(events.len(), 3);

    let first = &events[0];
    assert_eq!(first.event_id, 100);
    assert_eq!(first.subscription_type, "contact.propertyChange");
    assert_eq!(first.object_type, HubSpotObject::Contact);
    assert_eq!(first.change, HubSpotChange::PropertyChange);
    assert_eq!(first.portal_id, 62515);
    assert_eq!(first.object_id, 123);
    assert_eq!(
        first.occurred_at,
        Utc.timestamp_millis_opt(1_700_000_000_000).unwrap()
    );
    assert_eq!(first.attempt_number, 0);
    assert_eq!(first.property_name.as_deref(), Some("email"));
    assert_eq!(first.property_value.as_deref(), Some("jane@example.com"));
    assert_eq!(first.change_source.as_deref(), Some("CRM"));
    assert_eq!(first.subscription_id, Some(9));
    assert_eq!(first.app_id, Some(54321));
    assert_eq!(first.dedupe_key(), "hubspot:62515:100");
    assert_eq!(first.raw["propertyName"], "email");

    let second = &events[1];
    assert_eq!(second.object_id, 456, "numeric-string objectId");
    assert_eq!(second.object_type, HubSpotObject::Company);
    assert_eq!(second.change, HubSpotChange::Creation);
    assert_eq!(second.attempt_number, 2);
    assert_eq!(second.property_name, None);
    assert_eq!(second.change_source, None);

    let third = &events[2];
    assert_eq!(third.event_id, 102);
    assert_eq!(third.object_type, HubSpotObject::Deal);
    assert_eq!(third.change, HubSpotChange::Deletion);
    assert_eq!(third.property_value.as_deref(), Some("42"));
    assert_eq!(third.dedupe_key(), "hubspot:62515:102");
}

#[test]
fn hubspot_other_types_and_association_changes() {
    let body = json!([
        {"eventId": 1, "portalId": 1, "objectId": 5, "occurredAt": 1, "subscriptionType": "ticket.privacyDeletion"},
        {"eventId": 2, "portalId": 1, "fromObjectId": 6, "toObjectId": 7, "occurredAt": 1,
         "subscriptionType": "contact.associationChange", "associationType": "CONTACT_TO_COMPANY"},
        {"eventId": 3, "portalId": 1, "objectId": 8, "occurredAt": 1, "subscriptionType": "company.merge",
         "mergedObjectIds": [9, 10], "primaryObjectId": 8}
    ]);
    let events = parse_hubspot_events(body.to_string().as_bytes()).unwrap();
    assert_eq!(events[0].object_type, HubSpotObject::Other("ticket".into()));
    assert_eq!(
        events[0].change,
        HubSpotChange::Other("privacyDeletion".into())
    );
    assert_eq!(events[1].change, HubSpotChange::AssociationChange);
    assert_eq!(events[1].object_id, 6);
    assert_eq!(events[2].change, HubSpotChange::Merge);
    assert_eq!(events[2].raw["mergedObjectIds"], json!([9, 10]));
}

#[test]
fn hubspot_malformed_json() {
    let err = parse_hubspot_events(br#"[{"eventId": 1,"#).unwrap_err();
    assert!(matches!(err, ParseError::InvalidJson { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with("body is not valid JSON"),
        "{err}"
    );

    let err = parse_hubspot_events(br#"{"eventId": 1}"#).unwrap_err();
    assert_eq!(
        err,
        ParseError::UnexpectedBody {
            expected: "array of events",
            found: "an object"
        }
    );

    let err = parse_hubspot_events(br#"[1]"#).unwrap_err();
    assert_eq!(
        err,
        ParseError::EventNotObject {
            index: 0,
            found: "a number"
        }
    );
}

#[test]
fn hubspot_missing_event_id_names_the_index() {
    let body = json!([
        {"eventId": 1, "portalId": 1, "objectId": 5, "occurredAt": 1, "subscriptionType": "contact.creation"},
        {"portalId": 1, "objectId": 5, "occurredAt": 1, "subscriptionType": "contact.creation"}
    ]);
    let err = parse_hubspot_events(body.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        err,
        ParseError::MissingField {
            index: 1,
            field: "eventId"
        }
    );
    assert_eq!(err.to_string(), "event 1: missing required field `eventId`");
}

#[test]
fn hubspot_each_required_field_is_checked() {
    let full = json!({"eventId": 1, "portalId": 2, "objectId": 3, "occurredAt": 4, "subscriptionType": "contact.creation"});
    for field in [
        "eventId",
        "portalId",
        "objectId",
        "occurredAt",
        "subscriptionType",
    ] {
        let mut event = full.clone();
        event.as_object_mut().unwrap().remove(field);
        let err = parse_hubspot_events(json!([event]).to_string().as_bytes()).unwrap_err();
        assert_eq!(err, ParseError::MissingField { index: 0, field }, "{field}");
    }
}

#[test]
fn hubspot_invalid_values_are_named_but_not_echoed() {
    let body = br#"[{"eventId": 1, "portalId": 2, "objectId": "secret-value", "occurredAt": 4, "subscriptionType": "contact.creation"}]"#;
    let err = parse_hubspot_events(body).unwrap_err();
    assert_eq!(
        err,
        ParseError::InvalidField {
            index: 0,
            field: "objectId",
            expected: "a non-negative integer"
        }
    );
    assert!(!err.to_string().contains("secret-value"));

    // serde's own messages quote values; ours must not.
    let err = parse_hubspot_events(br#"["secret-value" oops]"#).unwrap_err();
    assert!(!err.to_string().contains("secret"), "{err}");

    let body = br#"[{"eventId": 1, "portalId": 2, "objectId": 3, "occurredAt": 4, "subscriptionType": "nodot"}]"#;
    assert!(matches!(
        parse_hubspot_events(body).unwrap_err(),
        ParseError::InvalidField {
            index: 0,
            field: "subscriptionType",
            ..
        }
    ));
}

#[test]
fn hubspot_empty_batch() {
    assert!(parse_hubspot_events(b"[]").unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Connec!
// ---------------------------------------------------------------------------------------------

#[test]
fn connec_two_collections_two_groups() {
    let body = br#"{
        "Person": [
            {"id": [{"id": "p1", "provider": "connec", "realm": "org-1"}], "group_id": "cld-aaa", "first_name": "Jane"},
            {"id": [{"id": "p2", "provider": "connec", "realm": "org-2"}], "group_id": "cld-bbb", "first_name": "John"}
        ],
        "organizations": [
            {"id": [{"id": "o1", "provider": "connec", "realm": "org-1"}], "group_id": "cld-aaa", "name": "Acme"}
        ],
        "tenant": "default",
        "controller": "webhooks",
        "action": "receive",
        "connec": {"people": []}
    }"#;
    let notifications = parse_connec_notification(body).unwrap();
    assert_eq!(notifications.len(), 3);

    let people: Vec<_> = notifications
        .iter()
        .filter(|n| n.collection == "people")
        .collect();
    assert_eq!(people.len(), 2);
    assert_eq!(people[0].group_id, "cld-aaa");
    assert_eq!(people[0].record["first_name"], "Jane");
    assert_eq!(people[1].group_id, "cld-bbb");
    assert_eq!(people[1].record["first_name"], "John");

    let orgs: Vec<_> = notifications
        .iter()
        .filter(|n| n.collection == "organizations")
        .collect();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].group_id, "cld-aaa");
    assert_eq!(orgs[0].record["name"], "Acme");

    assert!(
        notifications
            .iter()
            .all(|n| n.collection == "people" || n.collection == "organizations")
    );
}

#[test]
fn connec_record_without_group_id() {
    let body = br#"{"people": [{"id": "p1", "group_id": "cld-1"}, {"id": "p2"}]}"#;
    let err = parse_connec_notification(body).unwrap_err();
    assert_eq!(
        err,
        ParseError::MissingGroupId {
            collection: "people".into(),
            index: 1
        }
    );
    assert!(
        err.to_string().contains("collection `people` record 1"),
        "{err}"
    );

    let body = br#"{"Organization": [{"group_id": 42}]}"#;
    assert_eq!(
        parse_connec_notification(body).unwrap_err(),
        ParseError::MissingGroupId {
            collection: "Organization".into(),
            index: 0
        }
    );
}

#[test]
fn connec_shape_errors() {
    assert_eq!(
        parse_connec_notification(b"[]").unwrap_err(),
        ParseError::UnexpectedBody {
            expected: "object of collection name to records",
            found: "an array"
        }
    );
    assert!(matches!(
        parse_connec_notification(b"{").unwrap_err(),
        ParseError::InvalidJson { .. }
    ));
    assert_eq!(
        parse_connec_notification(br#"{"people": {"group_id": "x"}}"#).unwrap_err(),
        ParseError::CollectionNotArray {
            collection: "people".into(),
            found: "an object"
        }
    );
    assert_eq!(
        parse_connec_notification(br#"{"people": ["x"]}"#).unwrap_err(),
        ParseError::RecordNotObject {
            collection: "people".into(),
            index: 0,
            found: "a string"
        }
    );
    assert!(
        parse_connec_notification(br#"{"tenant": "t"}"#)
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Xero
// ---------------------------------------------------------------------------------------------

#[test]
fn xero_payload() {
    let body = br#"{
      "events": [
        {"resourceUrl": "https://api.xero.com/api.xro/2.0/Contacts/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777",
         "resourceId": "717f2bfc-c6d4-41fd-b238-3f2f0c0cf777",
         "eventDateUtc": "2017-06-21T01:15:39.902",
         "eventType": "UPDATE", "eventCategory": "CONTACT",
         "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f", "tenantType": "ORGANISATION"},
        {"resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/i1", "resourceId": "i1",
         "eventDateUtc": "2017-06-21T01:16:00Z", "eventType": "CREATE", "eventCategory": "INVOICE",
         "tenantId": "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f", "tenantType": "ORGANISATION"}
      ],
      "lastEventSequence": 2,
      "firstEventSequence": 1,
      "entropy": "S0m3r4Nd0mt3xt"
    }"#;
    let payload = parse_xero_events(body).unwrap();
    assert_eq!(payload.first_event_sequence, 1);
    assert_eq!(payload.last_event_sequence, 2);
    assert_eq!(payload.events.len(), 2);
    let contact = &payload.events[0];
    assert_eq!(contact.resource_id, "717f2bfc-c6d4-41fd-b238-3f2f0c0cf777");
    assert_eq!(contact.tenant_id, "c2cc9b6e-9458-4c7d-93cc-f02b81b0594f");
    assert_eq!(contact.tenant_type, "ORGANISATION");
    assert_eq!(contact.event_category, "CONTACT");
    assert_eq!(contact.event_type, "UPDATE");
    assert!(
        contact
            .resource_url
            .ends_with("/Contacts/717f2bfc-c6d4-41fd-b238-3f2f0c0cf777")
    );
    assert_eq!(
        contact.event_date_utc,
        Utc.timestamp_millis_opt(1_498_007_739_902).unwrap()
    );
    assert_eq!(
        contact.dedupe_key(),
        "xero:c2cc9b6e-9458-4c7d-93cc-f02b81b0594f:717f2bfc-c6d4-41fd-b238-3f2f0c0cf777:UPDATE:1498007739902"
    );
    assert_eq!(payload.events[1].event_category, "INVOICE");
}

#[test]
fn xero_intent_to_receive_and_errors() {
    let itr = parse_xero_events(
        br#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"E"}"#,
    )
    .unwrap();
    assert!(itr.events.is_empty());

    assert_eq!(
        parse_xero_events(br#"{"entropy":"E"}"#).unwrap_err(),
        ParseError::MissingBodyField { field: "events" }
    );
    let body =
        br#"{"events":[{"resourceUrl":"u","resourceId":"r","eventDateUtc":"2017-06-21T01:15:39",
        "eventType":"UPDATE","eventCategory":"CONTACT","tenantType":"ORGANISATION"}]}"#;
    assert_eq!(
        parse_xero_events(body).unwrap_err(),
        ParseError::MissingField {
            index: 0,
            field: "tenantId"
        }
    );
    let body =
        br#"{"events":[{"resourceUrl":"u","resourceId":"r","eventDateUtc":"soon","tenantId":"t",
        "eventType":"UPDATE","eventCategory":"CONTACT","tenantType":"ORGANISATION"}]}"#;
    assert!(matches!(
        parse_xero_events(body).unwrap_err(),
        ParseError::InvalidField {
            index: 0,
            field: "eventDateUtc",
            ..
        }
    ));
}
