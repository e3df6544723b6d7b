//! The Xero connector.
//!
//! Its folder starts here with its webhooks ([`webhooks`]): verification of
//! `x-xero-signature`, with Xero's intent-to-receive rules (empty bodies on both the `401` and
//! the `200`), and the typed parsing of the verified payloads. The API client comes next.
//!
//! ```
//! use chrono::Utc;
//! use webhooks::{RawRequest, Verifier, body_hmac_signature};
//! use xero::webhooks::{XeroVerifier, parse_xero_events};
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

pub mod webhooks;
