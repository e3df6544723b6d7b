//! Pure webhook handling for the connector framework: verify, then parse.
//!
//! The sync framework receives webhooks from the hub and from every connected app. This crate
//! is the provider-agnostic part of that path, without I/O; each app's crate (and the hub's)
//! builds its own verifier and parser on it.
//!
//! 1. **Verify** each request on its raw bytes, before any parsing, with a [`Verifier`]:
//!    - [`BasicAuthVerifier`]: HTTP Basic with an API id and key;
//!    - [`BodyHmacVerifier`]: `base64(HMAC-SHA256(secret, body))` in a header the connector
//!      names.
//!
//!    A scheme of its own implements [`Verifier`] with the helpers of [`verify`] and [`sign`].
//!    A rejection is a [`Rejection`] (status and a message safe to return); an accepted request
//!    is answered with the verifier's [`Acknowledgement`].
//! 2. **Parse** the verified body into typed events with the JSON helpers of [`parse`].
//!    Failures are [`ParseError`]s that name the place and the field.
//!
//! The [`sign`] helpers compute the same signatures, for emulators and tests.
//!
//! Comparisons of signatures and credentials are constant-time. Nothing in this crate logs or
//! puts into an error a secret, a signature, a credential or body contents.
//!
//! ```
//! use chrono::Utc;
//! use webhooks::parse::{Fields, parse_json};
//! use webhooks::{BodyHmacVerifier, RawRequest, Verifier, body_hmac_signature};
//!
//! let verifier = BodyHmacVerifier::new("X-Signature", "webhook-secret");
//! let body = br#"{"id":7,"type":"created"}"#;
//! let headers = vec![("x-signature".to_owned(), body_hmac_signature("webhook-secret", body))];
//! let request = RawRequest { method: "POST", uri: "https://h/webhooks/app", headers: &headers, body };
//!
//! match verifier.verify(&request, Utc::now()) {
//!     Ok(()) => {
//!         let event = parse_json(request.body).expect("valid JSON");
//!         let fields = Fields::new(0, event.as_object().expect("an object"));
//!         assert_eq!(fields.u64("id"), Ok(7));
//!         let ack = verifier.acknowledgement();
//!         assert_eq!((ack.status, ack.content_type), (200, Some("application/json")));
//!     }
//!     Err(rejection) => panic!("rejected: {rejection}"),
//! }
//!
//! // A modified body is rejected, and the message quotes neither the secret nor the body.
//! let tampered = RawRequest { body: br#"{"id":8,"type":"created"}"#, ..request };
//! let rejection = verifier.verify(&tampered, Utc::now()).unwrap_err();
//! assert_eq!(rejection.status, 401);
//! assert!(!rejection.message.contains("webhook-secret") && !rejection.message.contains("created"));
//! ```

pub mod parse;
pub mod sign;
pub mod verify;

pub use parse::ParseError;
pub use sign::{basic_auth_header, body_hmac_signature};
pub use verify::{
    AUTHORIZATION_HEADER, Acknowledgement, BasicAuthVerifier, BodyHmacVerifier, RawRequest,
    Rejection, Verifier, VerifyError,
};
