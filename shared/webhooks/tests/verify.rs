//! Verifier behaviour on raw requests.

use chrono::{DateTime, TimeZone, Utc};
use webhooks::{
    BasicAuthVerifier, BodyHmacVerifier, RawRequest, Rejection, Verifier, VerifyError,
    basic_auth_header, body_hmac_signature,
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
// HTTP Basic
// ---------------------------------------------------------------------------------------------

const BASIC_URI: &str = "https://sync.example.com/webhooks/hub/acme";
const BASIC_BODY: &[u8] = br#"{"people":[{"id":"p1","group_id":"cld-1"}]}"#;

#[test]
fn basic_accepts_the_right_credentials() {
    let verifier = BasicAuthVerifier::new("api-id", "api-key");
    let h = headers(&[("authorization", &basic_auth_header("api-id", "api-key"))]);
    assert_eq!(
        verifier.verify(&request(BASIC_URI, &h, BASIC_BODY), now()),
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
            .verify(&request(BASIC_URI, &h, BASIC_BODY), now())
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
        let req = request(BASIC_URI, &h, BASIC_BODY);
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
        .verify(&request(BASIC_URI, &[], BASIC_BODY), now())
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
        let req = request(BASIC_URI, &h, BASIC_BODY);
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
    let req = request(BASIC_URI, &h, BASIC_BODY);
    assert_eq!(verifier.check(&req), Err(VerifyError::NotConfigured));
    assert_eq!(verifier.verify(&req, now()).unwrap_err().status, 401);
}

#[test]
fn debug_output_redacts_secrets() {
    let basic = format!("{:?}", BasicAuthVerifier::new("the-id", "the-key"));
    let body = format!(
        "{:?}",
        BodyHmacVerifier::new("X-Body-Hmac-Sha256", "app-secret")
    );
    for (out, secret) in [
        (&basic, "the-id"),
        (&basic, "the-key"),
        (&body, "app-secret"),
    ] {
        assert!(!out.contains(secret), "{out}");
    }
    let h = headers(&[("Authorization", "Basic c2VjcmV0OnNlY3JldA==")]);
    let req = format!("{:?}", request(BASIC_URI, &h, b"private body"));
    assert!(
        !req.contains("c2VjcmV0") && !req.contains("private"),
        "{req}"
    );
}

// ---------------------------------------------------------------------------------------------
// Body HMAC
// ---------------------------------------------------------------------------------------------

const HMAC_URI: &str = "https://sync.example.com/webhooks/app";
const HMAC_BODY: &[u8] = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;

#[test]
fn body_hmac_accepts_a_valid_signature() {
    let verifier = BodyHmacVerifier::new("X-Body-Hmac-Sha256", "app-secret");
    let h = headers(&[(
        "x-body-hmac-sha256",
        &body_hmac_signature("app-secret", HMAC_BODY),
    )]);
    assert_eq!(
        verifier.verify(&request(HMAC_URI, &h, HMAC_BODY), now()),
        Ok(())
    );
    assert_eq!(verifier.acknowledgement().status, 200);

    let second = BodyHmacVerifier::new("body-signature", "verifier-token");
    let h = headers(&[(
        "body-signature",
        &body_hmac_signature("verifier-token", HMAC_BODY),
    )]);
    assert_eq!(
        second.verify(&request(HMAC_URI, &h, HMAC_BODY), now()),
        Ok(())
    );
}

#[test]
fn body_hmac_rejects_tampering_wrong_secret_and_missing_header() {
    let verifier = BodyHmacVerifier::new("X-Body-Hmac-Sha256", "app-secret");
    let good = body_hmac_signature("app-secret", HMAC_BODY);

    let h = headers(&[("X-Body-Hmac-Sha256", &good)]);
    let tampered = br#"{"id":820982911946154508,"email":"eve@example.com"}"#;
    let rejection = verifier
        .verify(&request(HMAC_URI, &h, tampered), now())
        .unwrap_err();
    assert_eq!(rejection.status, 401);
    assert!(
        rejection
            .message
            .contains("`X-Body-Hmac-Sha256` does not match"),
        "{}",
        rejection.message
    );
    assert_no_leak(&rejection, &["app-secret", &good, "eve@example.com"]);

    let h = headers(&[(
        "X-Body-Hmac-Sha256",
        &body_hmac_signature("wrong", HMAC_BODY),
    )]);
    assert_eq!(
        verifier
            .verify(&request(HMAC_URI, &h, HMAC_BODY), now())
            .unwrap_err()
            .status,
        401
    );

    let rejection = verifier
        .verify(&request(HMAC_URI, &[], HMAC_BODY), now())
        .unwrap_err();
    assert_eq!(rejection.status, 401);
    assert!(
        rejection
            .message
            .contains("missing `X-Body-Hmac-Sha256` header"),
        "{}",
        rejection.message
    );

    // A truncated (but valid base64) signature is a mismatch, an undecodable one malformed.
    let h = headers(&[("X-Body-Hmac-Sha256", "AAAA")]);
    assert!(matches!(
        verifier.check(&request(HMAC_URI, &h, HMAC_BODY)),
        Err(VerifyError::SignatureMismatch { .. })
    ));
    let h = headers(&[("X-Body-Hmac-Sha256", "%%%")]);
    assert!(matches!(
        verifier.check(&request(HMAC_URI, &h, HMAC_BODY)),
        Err(VerifyError::MalformedHeader { .. })
    ));
}

#[test]
fn body_hmac_with_empty_secret_rejects_everything() {
    let verifier = BodyHmacVerifier::new("X-Body-Hmac-Sha256", "");
    let h = headers(&[("X-Body-Hmac-Sha256", &body_hmac_signature("", HMAC_BODY))]);
    assert_eq!(
        verifier.check(&request(HMAC_URI, &h, HMAC_BODY)),
        Err(VerifyError::NotConfigured)
    );
}

// ---------------------------------------------------------------------------------------------
// Every verifier
// ---------------------------------------------------------------------------------------------

#[test]
fn verifiers_work_as_trait_objects() {
    let verifiers: Vec<Box<dyn Verifier>> = vec![
        Box::new(BasicAuthVerifier::new("a", "b")),
        Box::new(BodyHmacVerifier::new("X-Body-Hmac-Sha256", "s")),
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
