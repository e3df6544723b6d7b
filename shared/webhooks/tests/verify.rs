//! Verifier behaviour on raw requests.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use webhooks::{
    BasicAuthVerifier, BodyHmacVerifier, HubSpotV3Verifier, RawRequest, Rejection, Verifier,
    VerifyError, XeroVerifier, basic_auth_header, body_hmac_signature, hubspot_v3_signature,
};

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
// Basic (Connec!)
// ---------------------------------------------------------------------------------------------

const CONNEC_URI: &str = "https://sync.example.com/webhooks/connec/acme";
const CONNEC_BODY: &[u8] = br#"{"people":[{"id":"p1","group_id":"cld-1"}]}"#;

#[test]
fn basic_accepts_the_right_credentials() {
    let verifier = BasicAuthVerifier::new("api-id", "api-key");
    let h = headers(&[("authorization", &basic_auth_header("api-id", "api-key"))]);
    assert_eq!(
        verifier.verify(&request(CONNEC_URI, &h, CONNEC_BODY), now()),
        Ok(())
    );
    let ack = verifier.acknowledgement();
    assert_eq!(ack.status, 200);
    assert_eq!(ack.content_type, Some("application/json"));
    assert!(serde_json::from_slice::<serde_json::Value>(&ack.body).is_ok());
}

#[test]
fn basic_scheme_is_case_insensitive() {
    let verifier = BasicAuthVerifier::new("api-id", "api-key");
    let value = basic_auth_header("api-id", "api-key").replacen("Basic", "basic", 1);
    let h = headers(&[("Authorization", &value)]);
    assert!(
        verifier
            .verify(&request(CONNEC_URI, &h, CONNEC_BODY), now())
            .is_ok()
    );
}

#[test]
fn basic_rejects_a_wrong_key_or_id() {
    let verifier = BasicAuthVerifier::new("api-id", "api-key");
    for (id, key) in [
        ("api-id", "wrong"),
        ("wrong", "api-key"),
        ("api-id", "api-key-x"),
        ("api-id", ""),
    ] {
        let h = headers(&[("Authorization", &basic_auth_header(id, key))]);
        let req = request(CONNEC_URI, &h, CONNEC_BODY);
        let rejection = verifier.verify(&req, now()).unwrap_err();
        assert_eq!(rejection.status, 401);
        assert!(
            rejection.message.contains("invalid credentials"),
            "{}",
            rejection.message
        );
        assert_no_leak(&rejection, &["api-key", "wrong"]);
        assert_eq!(verifier.check(&req), Err(VerifyError::InvalidCredentials));
    }
}

#[test]
fn basic_rejects_a_missing_header() {
    let verifier = BasicAuthVerifier::new("api-id", "api-key");
    let rejection = verifier
        .verify(&request(CONNEC_URI, &[], CONNEC_BODY), now())
        .unwrap_err();
    assert_eq!(rejection.status, 401);
    assert!(
        rejection.message.contains("missing `Authorization` header"),
        "{}",
        rejection.message
    );
}

#[test]
fn basic_rejects_malformed_headers() {
    let verifier = BasicAuthVerifier::new("api-id", "api-key");
    for value in [
        "Bearer abc",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic aWRrZXk=", /* "idkey" */
        "",
    ] {
        let h = headers(&[("Authorization", value)]);
        let req = request(CONNEC_URI, &h, CONNEC_BODY);
        let rejection = verifier.verify(&req, now()).unwrap_err();
        assert_eq!(rejection.status, 401, "{value}");
        assert!(
            rejection
                .message
                .starts_with("malformed `Authorization` header"),
            "{value}: {}",
            rejection.message
        );
        assert!(matches!(
            verifier.check(&req),
            Err(VerifyError::MalformedHeader { .. })
        ));
    }
}

#[test]
fn basic_with_empty_configured_credentials_rejects_everything() {
    let verifier = BasicAuthVerifier::new("", "");
    let h = headers(&[("Authorization", &basic_auth_header("", ""))]);
    let req = request(CONNEC_URI, &h, CONNEC_BODY);
    assert_eq!(verifier.check(&req), Err(VerifyError::NotConfigured));
    assert_eq!(verifier.verify(&req, now()).unwrap_err().status, 401);
}

#[test]
fn debug_output_redacts_secrets() {
    let basic = format!("{:?}", BasicAuthVerifier::new("the-id", "the-key"));
    let hubspot = format!("{:?}", HubSpotV3Verifier::new("hs-secret"));
    let body = format!(
        "{:?}",
        BodyHmacVerifier::new("X-Shopify-Hmac-Sha256", "shop-secret")
    );
    let xero = format!("{:?}", XeroVerifier::new("xero-key"));
    for (out, secret) in [
        (&basic, "the-id"),
        (&basic, "the-key"),
        (&hubspot, "hs-secret"),
        (&body, "shop-secret"),
        (&xero, "xero-key"),
    ] {
        assert!(!out.contains(secret), "{out}");
    }
    let h = headers(&[("Authorization", "Basic c2VjcmV0OnNlY3JldA==")]);
    let req = format!("{:?}", request(CONNEC_URI, &h, b"private body"));
    assert!(
        !req.contains("c2VjcmV0") && !req.contains("private"),
        "{req}"
    );
}

// ---------------------------------------------------------------------------------------------
// HubSpot v3
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

// ---------------------------------------------------------------------------------------------
// Body HMAC (Shopify, QuickBooks)
// ---------------------------------------------------------------------------------------------

const SHOP_URI: &str = "https://sync.example.com/webhooks/shopify";
const SHOP_BODY: &[u8] = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;

#[test]
fn body_hmac_accepts_a_valid_signature() {
    let verifier = BodyHmacVerifier::new("X-Shopify-Hmac-Sha256", "shop-secret");
    let h = headers(&[(
        "x-shopify-hmac-sha256",
        &body_hmac_signature("shop-secret", SHOP_BODY),
    )]);
    assert_eq!(
        verifier.verify(&request(SHOP_URI, &h, SHOP_BODY), now()),
        Ok(())
    );
    assert_eq!(verifier.acknowledgement().status, 200);

    let intuit = BodyHmacVerifier::new(webhooks::INTUIT_SIGNATURE_HEADER, "verifier-token");
    let h = headers(&[(
        "intuit-signature",
        &body_hmac_signature("verifier-token", SHOP_BODY),
    )]);
    assert_eq!(
        intuit.verify(&request(SHOP_URI, &h, SHOP_BODY), now()),
        Ok(())
    );
}

#[test]
fn body_hmac_rejects_tampering_wrong_secret_and_missing_header() {
    let verifier = BodyHmacVerifier::new("X-Shopify-Hmac-Sha256", "shop-secret");
    let good = body_hmac_signature("shop-secret", SHOP_BODY);

    let h = headers(&[("X-Shopify-Hmac-Sha256", &good)]);
    let tampered = br#"{"id":820982911946154508,"email":"eve@example.com"}"#;
    let rejection = verifier
        .verify(&request(SHOP_URI, &h, tampered), now())
        .unwrap_err();
    assert_eq!(rejection.status, 401);
    assert!(
        rejection
            .message
            .contains("`X-Shopify-Hmac-Sha256` does not match"),
        "{}",
        rejection.message
    );
    assert_no_leak(&rejection, &["shop-secret", &good, "eve@example.com"]);

    let h = headers(&[(
        "X-Shopify-Hmac-Sha256",
        &body_hmac_signature("wrong", SHOP_BODY),
    )]);
    assert_eq!(
        verifier
            .verify(&request(SHOP_URI, &h, SHOP_BODY), now())
            .unwrap_err()
            .status,
        401
    );

    let rejection = verifier
        .verify(&request(SHOP_URI, &[], SHOP_BODY), now())
        .unwrap_err();
    assert_eq!(rejection.status, 401);
    assert!(
        rejection
            .message
            .contains("missing `X-Shopify-Hmac-Sha256` header"),
        "{}",
        rejection.message
    );

    // A truncated (but valid base64) signature is a mismatch, an undecodable one malformed.
    let h = headers(&[("X-Shopify-Hmac-Sha256", "AAAA")]);
    assert!(matches!(
        verifier.check(&request(SHOP_URI, &h, SHOP_BODY)),
        Err(VerifyError::SignatureMismatch { .. })
    ));
    let h = headers(&[("X-Shopify-Hmac-Sha256", "%%%")]);
    assert!(matches!(
        verifier.check(&request(SHOP_URI, &h, SHOP_BODY)),
        Err(VerifyError::MalformedHeader { .. })
    ));
}

#[test]
fn body_hmac_with_empty_secret_rejects_everything() {
    let verifier = BodyHmacVerifier::new("X-Shopify-Hmac-Sha256", "");
    let h = headers(&[("X-Shopify-Hmac-Sha256", &body_hmac_signature("", SHOP_BODY))]);
    assert_eq!(
        verifier.check(&request(SHOP_URI, &h, SHOP_BODY)),
        Err(VerifyError::NotConfigured)
    );
}

// ---------------------------------------------------------------------------------------------
// Xero
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
fn verifiers_work_as_trait_objects() {
    let verifiers: Vec<Box<dyn Verifier>> = vec![
        Box::new(BasicAuthVerifier::new("a", "b")),
        Box::new(HubSpotV3Verifier::new("s")),
        Box::new(BodyHmacVerifier::new("X-Shopify-Hmac-Sha256", "s")),
        Box::new(XeroVerifier::new("s")),
    ];
    for verifier in &verifiers {
        assert_eq!(
            verifier
                .verify(&request("https://h/", &[], b""), now())
                .unwrap_err()
                .status,
            401
        );
    }
}
