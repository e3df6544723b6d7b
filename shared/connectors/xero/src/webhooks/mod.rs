//! Xero webhooks (`POST /webhooks/xero`): verify, then parse.
//!
//! 1. **Verify** the raw request with [`XeroVerifier`]: `x-xero-signature` must be
//!    `base64(HMAC-SHA256(webhook_key, body))`. Xero's intent-to-receive check wants an empty
//!    `401` for a bad signature and an empty `200` for a good one, and gets them.
//! 2. **Parse** the verified body with [`parse_xero_events`] into [`XeroEvents`]; failures are
//!    [`webhooks::ParseError`]s that name the place and the field, never a value.
//!
//! Signatures are computed with the generic [`webhooks::body_hmac_signature`].

pub mod parse;
pub mod verify;

pub use parse::{XeroEvent, XeroEvents, parse_xero_events};
pub use verify::{XERO_SIGNATURE_HEADER, XeroVerifier};
