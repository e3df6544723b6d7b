//! Xero's webhook signature: [`XeroVerifier`] and the header it reads.
//!
//! The verifier works on the untouched request ([`RawRequest`]) and must run before the body is
//! parsed. Xero must receive empty rejections; the typed reason stays available to the server
//! through [`XeroVerifier::check`], and it never contains the key, the signature or any part of
//! the body.

use std::fmt;

use chrono::{DateTime, Utc};
use webhooks::verify::reject;
use webhooks::{Acknowledgement, BodyHmacVerifier, RawRequest, Rejection, Verifier, VerifyError};

/// Header carrying the Xero body HMAC.
pub const XERO_SIGNATURE_HEADER: &str = "x-xero-signature";

/// Xero webhooks: `x-xero-signature` = `base64(HMAC-SHA256(webhook_key, body))`.
///
/// Xero's intent-to-receive rule is strict: an incorrectly signed request must get a `401` with
/// an **empty** body, and a correctly signed one a `200` with an **empty** body. So every
/// rejection from this verifier has an empty message (the reason is still available from
/// [`check`](Self::check) and is logged at debug level), and [`acknowledgement`] is
/// [`Acknowledgement::empty_ok`].
///
/// [`acknowledgement`]: Verifier::acknowledgement
///
/// ```
/// use chrono::Utc;
/// use webhooks::{RawRequest, Verifier, body_hmac_signature};
/// use xero::webhooks::XeroVerifier;
///
/// let verifier = XeroVerifier::new("webhook-key");
/// let body = br#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"X"}"#;
/// let headers = vec![("x-xero-signature".to_owned(), body_hmac_signature("bad-key", body))];
/// let request = RawRequest { method: "POST", uri: "https://h/webhooks/xero", headers: &headers, body };
/// let rejection = verifier.verify(&request, Utc::now()).unwrap_err();
/// assert_eq!((rejection.status, rejection.message.as_str()), (401, ""));
/// assert!(verifier.acknowledgement().body.is_empty());
/// ```
#[derive(Clone)]
pub struct XeroVerifier {
    /// The body HMAC in [`XERO_SIGNATURE_HEADER`], keyed with the webhook key.
    body_hmac: BodyHmacVerifier,
}

impl XeroVerifier {
    /// Verifies with the webhook key shown in the Xero developer portal.
    pub fn new(webhook_key: impl Into<String>) -> Self {
        Self {
            body_hmac: BodyHmacVerifier::new(XERO_SIGNATURE_HEADER, webhook_key),
        }
    }

    /// Like [`Verifier::verify`], with a typed error (whose message Xero must not receive).
    pub fn check(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        self.body_hmac.check(request)
    }
}

impl fmt::Debug for XeroVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XeroVerifier")
            .field("webhook_key", &"<redacted>")
            .finish()
    }
}

impl Verifier for XeroVerifier {
    fn verify(&self, request: &RawRequest<'_>, _now: DateTime<Utc>) -> Result<(), Rejection> {
        self.check(request).map_err(|e| {
            // Logged for operators; Xero itself must get an empty 401.
            let _ = reject("xero", e);
            Rejection::unauthorized(String::new())
        })
    }

    fn acknowledgement(&self) -> Acknowledgement {
        Acknowledgement::empty_ok()
    }
}
