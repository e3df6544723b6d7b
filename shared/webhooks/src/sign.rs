//! Signing helpers: the exact computations the verifiers check.
//!
//! The verifiers in [`crate::verify`] use these same functions, so anything signed here (by an
//! emulator or a test) verifies there, and vice versa.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// HMAC-SHA256, as every signing scheme here uses it.
pub type HmacSha256 = Hmac<Sha256>;

/// A fresh HMAC-SHA256 keyed with `key`, fed with every part in order.
///
/// Finish it with `finalize` to sign, or with `verify_slice` (constant-time) to check a
/// signature (both from [`hmac::Mac`]).
///
/// ```
/// use hmac::Mac;
/// use webhooks::sign::hmac_sha256;
///
/// let one = hmac_sha256(b"key", &[b"ab", b"c"]).finalize().into_bytes();
/// let other = hmac_sha256(b"key", &[b"abc"]).finalize().into_bytes();
/// assert_eq!(one, other);
/// ```
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC accepts keys of any length (long keys are hashed, short ones padded).
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac
}

/// `base64(HMAC-SHA256(secret, body))`: the header value [`BodyHmacVerifier`] checks.
///
/// [`BodyHmacVerifier`]: crate::BodyHmacVerifier
///
/// ```
/// use webhooks::body_hmac_signature;
///
/// let signature = body_hmac_signature("app-secret", br#"{"id":1}"#);
/// assert_eq!(signature, body_hmac_signature("app-secret", br#"{"id":1}"#));
/// assert_ne!(signature, body_hmac_signature("other", br#"{"id":1}"#));
/// ```
pub fn body_hmac_signature(secret: &str, body: &[u8]) -> String {
    let mac = hmac_sha256(secret.as_bytes(), &[body]);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// An HTTP Basic `Authorization` header value: `Basic base64(api_id:api_key)`.
///
/// ```
/// use webhooks::basic_auth_header;
///
/// assert_eq!(basic_auth_header("id", "key"), "Basic aWQ6a2V5");
/// ```
pub fn basic_auth_header(api_id: &str, api_key: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{api_id}:{api_key}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_hmac_matches_a_known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let expected = STANDARD.encode([
            0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
            0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
            0x64, 0xec, 0x38, 0x43,
        ]);
        assert_eq!(
            body_hmac_signature("Jefe", b"what do ya want for nothing?"),
            expected
        );
    }

    #[test]
    fn basic_header_round_trips() {
        assert_eq!(basic_auth_header("", ""), "Basic Og==");
        assert_eq!(basic_auth_header("a:b", "c"), "Basic YTpiOmM=");
    }
}
