//! Xero webhooks: verification with the intent-to-receive rules, then parsing of verified
//! payloads.

use chrono::{DateTime, TimeZone, Utc};
use webhooks::{ParseError, RawRequest, Rejection, Verifier, VerifyError, body_hmac_signature};
use xero::webhooks::{XeroVerifier, parse_xero_events};

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

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

const XERO_URI: &str = "https://sync.example.com/webhooks/xero";
const XERO_ITR: &[u8] =
    br#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}"#;

#[test]
fn xero_good_signature_gets_an_empty_200() {
    let verifier = XeroVerifier::new("xero-key");
    let h = headers(&[(
        "x-xero-signature",
        &body_hmac_signature("xero-key", XERO_ITR),
    )]);
    assert_eq!(
        verifier.verify(&request(XERO_URI, &h, XERO_ITR), now()),
        Ok(())
    );
    let ack = verifier.acknowledgement();
    assert_eq!(ack.status, 200);
    assert!(ack.body.is_empty());
    assert_eq!(ack.content_type, None);
}

#[test]
fn xero_bad_signature_gets_an_empty_401() {
    let verifier = XeroVerifier::new("xero-key");
    let cases = [
        headers(&[(
            "X-Xero-Signature",
            &body_hmac_signature("wrong-key", XERO_ITR),
        )]),
        headers(&[("x-xero-signature", "not base64!")]),
        headers(&[]),
    ];
    for h in &cases {
        let rejection = verifier
            .verify(&request(XERO_URI, h, XERO_ITR), now())
            .unwrap_err();
        assert_eq!(
            rejection,
            Rejection {
                status: 401,
                message: String::new()
            }
        );
    }
    // The typed reason stays available to the server.
    assert!(matches!(
        verifier.check(&request(XERO_URI, &cases[0], XERO_ITR)),
        Err(VerifyError::SignatureMismatch { .. })
    ));
    assert!(matches!(
        verifier.check(&request(XERO_URI, &cases[2], XERO_ITR)),
        Err(VerifyError::MissingHeader { .. })
    ));
}

#[test]
fn xero_rejects_a_tampered_body() {
    let verifier = XeroVerifier::new("xero-key");
    let h = headers(&[(
        "x-xero-signature",
        &body_hmac_signature("xero-key", XERO_ITR),
    )]);
    let tampered =
        br#"{"events":[],"firstEventSequence":0,"lastEventSequence":1,"entropy":"S0m3r4Nd0mt3xt"}"#;
    let rejection = verifier
        .verify(&request(XERO_URI, &h, tampered), now())
        .unwrap_err();
    assert_eq!((rejection.status, rejection.message.as_str()), (401, ""));
}

#[test]
fn xero_debug_output_redacts_the_webhook_key() {
    let out = format!("{:?}", XeroVerifier::new("xero-key"));
    assert!(!out.contains("xero-key"), "{out}");
}

#[test]
fn xero_verifier_works_as_a_trait_object() {
    let verifier: Box<dyn Verifier> = Box::new(XeroVerifier::new("s"));
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
