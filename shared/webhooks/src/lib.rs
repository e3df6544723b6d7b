//! Pure webhook handling for the connector framework: verify, then parse.
//!
//! The sync framework receives webhooks at `POST /webhooks/connec/{tenant}` (Connec! hub) and
//! `POST /webhooks/{provider}` (HubSpot, Xero, Shopify, QuickBooks, ...). This crate is the part
//! of that path without I/O:
//!
//! 1. **Verify** each request on its raw bytes, before any parsing, with a [`Verifier`]:
//!    - [`BasicAuthVerifier`]: Connec! (HTTP Basic with the tenant's API id and key);
//!    - [`BodyHmacVerifier`]: `base64(HMAC-SHA256(secret, body))` in a named header (Shopify,
//!      QuickBooks);
//!    - [`XeroVerifier`]: Xero `x-xero-signature`, with its intent-to-receive rules (empty
//!      bodies on both `401` and `200`).
//!
//!    A rejection is a [`Rejection`] (status and a message safe to return); an accepted request
//!    is answered with the verifier's [`Acknowledgement`].
//! 2. **Parse** the verified body into typed events: [`parse_connec_notification`],
//!    [`parse_xero_events`]. Failures are [`ParseError`]s that
//!    name the place and the field.
//!
//! The [`sign`] helpers compute the same signatures, for emulators and tests.
//!
//! Comparisons of signatures and credentials are constant-time. Nothing in this crate logs or
//! puts into an error a secret, a signature, a credential or body contents.
//!
//! ```
//! use chrono::Utc;
//! use webhooks::{RawRequest, Verifier, XeroVerifier, body_hmac_signature, parse_xero_events};
//!
//! let verifier = XeroVerifier::new("webhook-key");
//! let body = br#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"E"}"#;
//! let headers = vec![("x-xero-signature".to_owned(), body_hmac_signature("webhook-key", body))];
//! let request = RawRequest { method: "POST", uri: "https://h/webhooks/xero", headers: &headers, body };
//!
//! match verifier.verify(&request, Utc::now()) {
//!     Ok(()) => {
//!         let payload = parse_xero_events(request.body).expect("valid payload");
//!         assert!(payload.events.is_empty());
//!         let ack = verifier.acknowledgement();
//!         assert_eq!((ack.status, ack.body.len()), (200, 0));
//!     }
//!     Err(rejection) => panic!("rejected: {rejection}"),
//! }
//! ```

pub mod parse;
pub mod sign;
pub mod verify;

pub use parse::{
    ConnecNotification, ParseError, XeroEvent, XeroEvents, normalize_collection,
    parse_connec_notification, parse_xero_events,
};
pub use sign::{basic_auth_header, body_hmac_signature};
pub use verify::{
    AUTHORIZATION_HEADER, Acknowledgement, BasicAuthVerifier, BodyHmacVerifier,
    INTUIT_SIGNATURE_HEADER, RawRequest, Rejection, SHOPIFY_HMAC_HEADER, Verifier, VerifyError,
    XERO_SIGNATURE_HEADER, XeroVerifier,
};
