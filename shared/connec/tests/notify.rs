//! Parsing of verified Connec! notifications.

use connec::notify::parse_connec_notification;
use webhooks::ParseError;

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
