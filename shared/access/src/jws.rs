//! Compact JWS with HMAC-SHA256 (`HS256`, RFC 7515/7519): `base64url(header).base64url(claims).
//! base64url(mac)`. Only `HS256` is accepted, whatever the header says, so that no `alg: none`
//! or algorithm confusion can get through.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Tokens longer than this are refused before any decoding.
pub(crate) const MAX_TOKEN_LEN: usize = 4096;

/// Why a token could not be read. None of the messages quotes the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not three base64url parts, too long, or not JSON inside.
    #[error("the token is malformed")]
    Malformed,
    /// The header names another algorithm than HS256.
    #[error("the token is not signed with HS256")]
    WrongAlgorithm,
    /// The signature does not match: another key, or the token was changed.
    #[error("the token's signature does not match")]
    BadSignature,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// Signs `claims` with `key`.
pub(crate) fn sign<C: Serialize>(key: &[u8], claims: &C) -> String {
    let header = URL_SAFE_NO_PAD.encode(HEADER);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let mac = URL_SAFE_NO_PAD.encode(mac(key, signing_input.as_bytes()));
    format!("{signing_input}.{mac}")
}

/// Checks the signature of `token` with `key`, then reads its claims.
pub(crate) fn verify<C: DeserializeOwned>(key: &[u8], token: &str) -> Result<C, JwsError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwsError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(JwsError::Malformed)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(JwsError::WrongAlgorithm);
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| JwsError::Malformed)?;
    let signing_input_len = token.len() - token.rsplit('.').next().map_or(0, str::len) - 1;
    let mut check = HmacSha256::new_from_slice(key).map_err(|_| JwsError::BadSignature)?;
    check.update(&token.as_bytes()[..signing_input_len]);
    check
        .verify_slice(&signature)
        .map_err(|_| JwsError::BadSignature)?;
    let payload = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| JwsError::Malformed)?;
    serde_json::from_slice(&payload).map_err(|_| JwsError::Malformed)
}

/// HMAC-SHA256 of `data` under `key`.
pub(crate) fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Claims {
        sub: String,
    }

    #[test]
    fn round_trips_and_refuses_changes() {
        let token = sign(b"key", &Claims { sub: "u".into() });
        assert_eq!(
            verify::<Claims>(b"key", &token),
            Ok(Claims { sub: "u".into() })
        );
        assert_eq!(
            verify::<Claims>(b"other", &token),
            Err(JwsError::BadSignature)
        );
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged_claims = URL_SAFE_NO_PAD.encode(r#"{"sub":"admin"}"#);
        assert_eq!(
            verify::<Claims>(b"key", &format!("{head}.{forged_claims}.{sig}")),
            Err(JwsError::BadSignature)
        );
    }

    #[test]
    fn refuses_other_algorithms_and_shapes() {
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"u"}"#)
        );
        assert_eq!(
            verify::<Claims>(b"key", &none),
            Err(JwsError::WrongAlgorithm)
        );
        for bad in ["", "a", "a.b", "a.b.c.d", "!!.!!.!!", &"a".repeat(5000)] {
            assert_eq!(
                verify::<Claims>(b"key", bad),
                Err(JwsError::Malformed),
                "{bad:.10}"
            );
        }
    }

    #[test]
    fn matches_a_known_hs256_vector() {
        // Computed independently (Python's hmac over the same header and claims bytes).
        let token = sign(b"secret", &Claims { sub: "1234".into() });
        assert_eq!(
            token,
            concat!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0In0.",
                "_MKAH6SGiKnRNBtRqUDApiNQV7UAFSoqgwmqUaxuMyE"
            )
        );
    }
}
