//! HubSpot webhooks: v3 verification on raw requests, then parsing of verified batches.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use hubspot::webhooks::{
    HubSpotChange, HubSpotObject, HubSpotV3Verifier, hubspot_v3_signature, parse_hubspot_events,
};
use serde_json::json;
use webhooks::{ParseError, RawRequest, Rejection, Verifier, VerifyError};

const NOW_MS: i64 = 1_700_000_000_000;

fn now() -> DateTime<Utc> {
    Utc.timestamp_millis_opt(NOW_MS).unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn request<'a>(uri: &'a str, headers: &'a [(String, String)], body: &'a [u8]) -> RawRequest<'a> {
    RawRequest {
        method: "POST",
        uri,
        headers,
        body,
    }
}

/// No secret, signature or body fragment may leak into a rejection message.
fn assert_no_leak(rejection: &Rejection, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            !rejection.message.contains(secret),
            "message leaks {secret:?}: {}",
            rejection.message
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Verification (v3)
// ---------------------------------------------------------------------------------------------

const HS_SECRET: &str = "hubspot-client-secret";
const HS_URI: &str = "https://sync.example.com/webhooks/hubspot?portal=42&env=prod";
const HS_BODY: &[u8] = br#"[{"eventId":1,"portalId":42,"objectId":7,"subscriptionType":"contact.creation","occurredAt":1700000000000}]"#;

fn hubspot_headers(secret: &str, uri: &str, body: &[u8], ts: i64) -> Vec<(String, String)> {
    headers(&[
        (
            "X-HubSpot-Signature-v3",
            &hubspot_v3_signature(secret, "POST", uri, body, ts),
        ),
        ("x-hubspot-request-timestamp", &ts.to_string()),
    ])
}

#[test]
fn hubspot_accepts_a_valid_request_with_query_string() {
    let h = hubspot_headers(HS_SECRET, HS_URI, HS_BODY, NOW_MS);
    let verifier = HubSpotV3Verifier::new(HS_SECRET);
    assert_eq!(
        verifier.verify(&request(HS_URI, &h, HS_BODY), now()),
        Ok(())
    );
}

#[test]
fn hubspot_signature_covers_the_query_string_and_method() {
    let h = hubspot_headers(HS_SECRET, HS_URI, HS_BODY, NOW_MS);
    let verifier = HubSpotV3Verifier::new(HS_SECRET);
    let other_query = "https://sync.example.com/webhooks/hubspot?portal=43&env=prod";
    let rejection = verifier
        .verify(&request(other_query, &h, HS_BODY), now())
        .unwrap_err();
    assert_eq!(rejection.status, 401);
    let no_query = "https://sync.example.com/webhooks/hubspot";
    assert!(
        verifier
            .verify(&request(no_query, &h, HS_BODY), now())
            .is_err()
    );
    let put = RawRequest {
        method: "PUT",
        ..request(HS_URI, &h, HS_BODY)
    };
    assert!(verifier.verify(&put, now()).is_err());
}

#[test]
fn hubspot_decodes_the_listed_escapes_in_the_uri() {
    // HubSpot signs the decoded form; the request line may carry the encoded one.
    let signed_uri = "https://sync.example.com/webhooks/hubspot?next=https://x/y";
    let received_uri = "https://sync.example.com/webhooks/hubspot?next=https%3A%2F%2Fx%2Fy";
    let h = headers(&[
        (
            "X-HubSpot-Signature-v3",
            &hubspot_v3_signature(HS_SECRET, "POST", signed_uri, HS_BODY, NOW_MS),
        ),
        ("X-HubSpot-Request-Timestamp", &NOW_MS.to_string()),
    ]);
    let verifier = HubSpotV3Verifier::new(HS_SECRET);
    assert!(
        verifier
            .verify(&request(received_uri, &h, HS_BODY), now())
            .is_ok()
    );
}

#[test]
fn hubspot_rejects_a_tampered_body() {
    let h = hubspot_headers(HS_SECRET, HS_URI, HS_BODY, NOW_MS);
    let tampered = br#"[{"eventId":1,"portalId":42,"objectId":8,"subscriptionType":"contact.creation","occurredAt":1700000000000}]"#;
    let req = request(HS_URI, &h, tampered);
    let verifier = HubSpotV3Verifier::new(HS_SECRET);
    let rejection = verifier.verify(&req, now()).unwrap_err();
    assert_eq!(rejection.status, 401);
    assert!(
        rejection.message.contains("does not match"),
        "{}",
        rejection.message
    );
    assert_no_leak(&rejection, &[HS_SECRET, &h[0].1, "objectId"]);
}

#[test]
fn hubspot_rejects_the_wrong_secret() {
    let h = hubspot_headers("another-secret", HS_URI, HS_BODY, NOW_MS);
    let verifier = HubSpotV3Verifier::new(HS_SECRET);
    let req = request(HS_URI, &h, HS_BODY);
    assert_eq!(
        verifier.check(&req, now()),
        Err(VerifyError::SignatureMismatch {
            header: "X-HubSpot-Signature-v3".into()
        })
    );
}

#[test]
fn hubspot_rejects_missing_headers() {
    let full = hubspot_headers(HS_SECRET, HS_URI, HS_BODY, NOW_MS);
    let verifier = HubSpotV3Verifier::new(HS_SECRET);
    for (kept, missing) in [
        (1, "X-HubSpot-Signature-v3"),
        (0, "X-HubSpot-Request-Timestamp"),
    ] {
        let h = vec![full[kept].clone()];
        let rejection = verifier
            .verify(&request(HS_URI, &h, HS_BODY), now())
            .unwrap_err();
        assert_eq!(rejection.status, 401);
        assert!(
            rejection
                .message
                .contains(&format!("missing `{missing}` header")),
            "{}",
            rejection.message
        );
    }
}

#[test]
fn hubspot_rejects_undecodable_signature_and_bad_timestamp() {
    let verifier = HubSpotV3Verifier::new(HS_SECRET);
    let h = headers(&[
        ("X-HubSpot-Signature-v3", "***"),
        ("X-HubSpot-Request-Timestamp", &NOW_MS.to_string()),
    ]);
    let rejection = verifier
        .verify(&request(HS_URI, &h, HS_BODY), now())
        .unwrap_err();
    assert_eq!(rejection.status, 401);
    assert!(
        rejection.message.contains("not valid base64"),
        "{}",
        rejection.message
    );

    let mut h = hubspot_headers(HS_SECRET, HS_URI, HS_BODY, NOW_MS);
    h[1].1 = "yesterday".into();
    let rejection = verifier
        .verify(&request(HS_URI, &h, HS_BODY), now())
        .unwrap_err();
    assert_eq!(rejection.status, 401);
    assert!(
        rejection.message.contains("epoch milliseconds"),
        "{}",
        rejection.message
    );
}

#[test]
fn hubspot_timestamp_window() {
    let verifier = HubSpotV3Verifier::new(HS_SECRET);
    let minute = 60_000;
    let check = |ts: i64| {
        let h = hubspot_headers(HS_SECRET, HS_URI, HS_BODY, ts);
        verifier.verify(&request(HS_URI, &h, HS_BODY), now())
    };
    // Six minutes old: rejected as too old.
    let rejection = check(NOW_MS - 6 * minute).unwrap_err();
    assert_eq!(rejection.status, 401);
    assert!(
        rejection.message.contains("timestamp too old"),
        "{}",
        rejection.message
    );
    // Four minutes old, and exactly five: accepted.
    assert_eq!(check(NOW_MS - 4 * minute), Ok(()));
    assert_eq!(check(NOW_MS - 5 * minute), Ok(()));
    // Small clock skew ahead: accepted; six minutes ahead: rejected.
    assert_eq!(check(NOW_MS + 30_000), Ok(()));
    let rejection = check(NOW_MS + 6 * minute).unwrap_err();
    assert_eq!(rejection.status, 401);
    assert!(
        rejection.message.contains("in the future"),
        "{}",
        rejection.message
    );
    // Absurd values do not overflow.
    assert!(check(i64::MIN).is_err());
    assert!(check(i64::MAX).is_err());
}

#[test]
fn hubspot_max_age_is_configurable() {
    let verifier = HubSpotV3Verifier::new(HS_SECRET).max_age(Duration::from_secs(60));
    let h = hubspot_headers(HS_SECRET, HS_URI, HS_BODY, NOW_MS - 90_000);
    let req = request(HS_URI, &h, HS_BODY);
    assert_eq!(
        verifier.check(&req, now()),
        Err(VerifyError::TimestampTooOld {
            header: "X-HubSpot-Request-Timestamp",
            max_age_secs: 60
        })
    );
    assert!(
        HubSpotV3Verifier::new(HS_SECRET)
            .verify(&req, now())
            .is_ok()
    );
}

#[test]
fn hubspot_debug_output_redacts_the_client_secret() {
    let out = format!("{:?}", HubSpotV3Verifier::new("hs-secret"));
    assert!(!out.contains("hs-secret"), "{out}");
}

#[test]
fn hubspot_verifier_works_as_a_trait_object() {
    let verifier: Box<dyn Verifier> = Box::new(HubSpotV3Verifier::new("s"));
    assert_eq!(
        verifier
            .verify(&request("https://h/", &[], b""), now())
            .unwrap_err()
            .status,
        401
    );
}

// ---------------------------------------------------------------------------------------------
// Parsing
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
