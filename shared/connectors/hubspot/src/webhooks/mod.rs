//! HubSpot webhooks (`POST /webhooks/hubspot`): verify, then parse.
//!
//! 1. **Verify** the raw request with [`HubSpotV3Verifier`]: `X-HubSpot-Signature-v3` is
//!    `base64(HMAC-SHA256(client_secret, method + uri + body + timestamp))` and
//!    `X-HubSpot-Request-Timestamp` must be within a window of now (five minutes by default).
//! 2. **Parse** the verified body, a JSON array of events, with [`parse_hubspot_events`] into
//!    [`HubSpotEvent`]s; failures are [`webhooks::ParseError`]s that name the event index and
//!    the field, never a value.
//!
//! The [`sign`] helpers compute the same signatures, for emulators and tests. The generic parts
//! (the [`webhooks::Verifier`] trait, rejections, HMAC and JSON helpers) come from the
//! `webhooks` crate.

pub mod parse;
pub mod sign;
pub mod verify;

pub use parse::{HubSpotChange, HubSpotEvent, HubSpotObject, parse_hubspot_events};
pub use sign::{hubspot_v3_signature, normalize_hubspot_uri};
pub use verify::{HUBSPOT_SIGNATURE_HEADER, HUBSPOT_TIMESTAMP_HEADER, HubSpotV3Verifier};
