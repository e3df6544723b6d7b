//! Parsing of verified webhook bodies.

use chrono::{TimeZone, Utc};
use webhooks::{ParseError, parse_connec_notification, parse_xero_events};

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
