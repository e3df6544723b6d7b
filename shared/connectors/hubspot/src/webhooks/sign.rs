//! Signing helpers for HubSpot's v3 scheme: the exact computations the verifier checks.
//!
//! [`HubSpotV3Verifier`](super::HubSpotV3Verifier) uses these same functions, so anything
//! signed here (by an emulator or a test) verifies there, and vice versa.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;
use webhooks::sign::{HmacSha256, hmac_sha256};

/// The HubSpot v3 signing input, minus the timestamp: method, normalized URI, body.
pub(crate) fn hubspot_v3_mac(
    client_secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: &str,
) -> HmacSha256 {
    let uri = normalize_hubspot_uri(uri);
    hmac_sha256(
        client_secret.as_bytes(),
        &[
            method.as_bytes(),
            uri.as_bytes(),
            body,
            timestamp.as_bytes(),
        ],
    )
}

/// The `X-HubSpot-Signature-v3` value for a request:
/// `base64(HMAC-SHA256(client_secret, method + uri + body + timestamp_ms))`.
///
/// `uri` is the full URI HubSpot called (`https://host/path?query`). As HubSpot does, the
/// percent-encoded forms of `: / ? @ ! $ ' ( ) * , ;` in it are decoded before signing (see
/// [`normalize_hubspot_uri`]); everything else is signed as given.
///
/// ```
/// use hubspot::webhooks::hubspot_v3_signature;
///
/// let signature = hubspot_v3_signature(
///     "client-secret",
///     "POST",
///     "https://sync.example.com/webhooks/hubspot?portal=42",
///     br#"[{"eventId":1}]"#,
///     1_700_000_000_000,
/// );
/// assert_eq!(signature.len(), 44); // 32 bytes, base64
/// ```
pub fn hubspot_v3_signature(
    client_secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp_ms: i64,
) -> String {
    let timestamp = timestamp_ms.to_string();
    let mac = hubspot_v3_mac(client_secret, method, uri, body, &timestamp);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The percent-encodings HubSpot decodes in the request URI before signing (v3).
const HUBSPOT_DECODED: [(&str, char); 12] = [
    ("%3A", ':'),
    ("%2F", '/'),
    ("%3F", '?'),
    ("%40", '@'),
    ("%21", '!'),
    ("%24", '$'),
    ("%27", '\''),
    ("%28", '('),
    ("%29", ')'),
    ("%2A", '*'),
    ("%2C", ','),
    ("%3B", ';'),
];

/// Decodes, in one left-to-right pass, the percent-encoded characters HubSpot decodes before
/// computing a v3 signature (`%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B`, either hex case).
/// Other escapes (`%20`, `%3D`, ...) are kept as they are.
///
/// ```
/// use hubspot::webhooks::normalize_hubspot_uri;
///
/// assert_eq!(
///     normalize_hubspot_uri("https://h/p?redirect=https%3A%2F%2Fx&q=a%20b"),
///     "https://h/p?redirect=https://x&q=a%20b"
/// );
/// ```
pub fn normalize_hubspot_uri(uri: &str) -> Cow<'_, str> {
    if !uri.contains('%') {
        return Cow::Borrowed(uri);
    }
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let candidate = rest.get(pos..pos + 3);
        let decoded = candidate.and_then(|escape| {
            HUBSPOT_DECODED
                .iter()
                .find(|(encoded, _)| encoded.eq_ignore_ascii_case(escape))
                .map(|&(_, c)| c)
        });
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[pos + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use webhooks::body_hmac_signature;

    use super::*;

    #[test]
    fn hubspot_signature_is_the_body_hmac_of_the_concatenation() {
        let signature = hubspot_v3_signature("s", "POST", "https://h/p?a=1", b"[]", 1234);
        assert_eq!(
            signature,
            body_hmac_signature("s", b"POSThttps://h/p?a=1[]1234")
        );
    }

    #[test]
    fn hubspot_uri_normalization_decodes_only_the_listed_escapes() {
        assert_eq!(normalize_hubspot_uri("https://h/p"), "https://h/p");
        assert_eq!(
            normalize_hubspot_uri("https://h/p?x=%3a%2F%40%21%24%27%28%29%2a%2C%3B%3F"),
            "https://h/p?x=:/@!$'()*,;?"
        );
        assert_eq!(normalize_hubspot_uri("a%20b%3D%"), "a%20b%3D%");
        assert_eq!(normalize_hubspot_uri("%%3A%3"), "%:%3");
        assert_eq!(normalize_hubspot_uri("é%2Fü"), "é/ü");
    }
}
