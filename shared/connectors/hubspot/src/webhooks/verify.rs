//! HubSpot's v3 request signature: [`HubSpotV3Verifier`] and the headers it reads.
//!
//! The verifier works on the untouched request ([`RawRequest`]) and must run before the body is
//! parsed. Its rejections name what is wrong (a missing header, a mismatch, a stale timestamp)
//! and never contain the client secret, the signature or any part of the body.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::Mac;
use webhooks::verify::{decode_signature, reject, required_header};
use webhooks::{RawRequest, Rejection, Verifier, VerifyError};

use super::sign::hubspot_v3_mac;

/// Header carrying the HubSpot v3 signature.
pub const HUBSPOT_SIGNATURE_HEADER: &str = "X-HubSpot-Signature-v3";
/// Header carrying the HubSpot request timestamp (epoch milliseconds).
pub const HUBSPOT_TIMESTAMP_HEADER: &str = "X-HubSpot-Request-Timestamp";

/// HubSpot's v3 request signature.
///
/// `X-HubSpot-Signature-v3` must be `base64(HMAC-SHA256(client_secret, method + uri + body +
/// timestamp))` (see [`hubspot_v3_signature`](super::hubspot_v3_signature)), and `X-HubSpot-Request-Timestamp` (epoch
/// milliseconds) must be within [`max_age`](Self::max_age) of `now`, past or future (default five
/// minutes). The timestamp is signed exactly as it appears in the header.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use hubspot::webhooks::{HubSpotV3Verifier, hubspot_v3_signature};
/// use webhooks::{RawRequest, Verifier};
///
/// let now = Utc.timestamp_millis_opt(1_700_000_000_000).unwrap();
/// let (uri, body) = ("https://sync.example.com/webhooks/hubspot", br#"[]"#);
/// let signature = hubspot_v3_signature("secret", "POST", uri, body, 1_700_000_000_000);
/// let headers = vec![
///     ("X-HubSpot-Signature-v3".to_owned(), signature),
///     ("X-HubSpot-Request-Timestamp".to_owned(), "1700000000000".to_owned()),
/// ];
/// let request = RawRequest { method: "POST", uri, headers: &headers, body };
/// assert!(HubSpotV3Verifier::new("secret").verify(&request, now).is_ok());
/// assert!(HubSpotV3Verifier::new("other").verify(&request, now).is_err());
/// ```
#[derive(Clone)]
pub struct HubSpotV3Verifier {
    client_secret: String,
    max_age: Duration,
}

impl HubSpotV3Verifier {
    /// The default accepted clock window: five minutes.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5 * 60);

    /// Verifies with the app's client secret and the default five-minute window.
    pub fn new(client_secret: impl Into<String>) -> Self {
        Self {
            client_secret: client_secret.into(),
            max_age: Self::DEFAULT_MAX_AGE,
        }
    }

    /// Sets how far the request timestamp may be from `now`, either way.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// Like [`Verifier::verify`], with a typed error.
    pub fn check(&self, request: &RawRequest<'_>, now: DateTime<Utc>) -> Result<(), VerifyError> {
        if self.client_secret.is_empty() {
            return Err(VerifyError::NotConfigured);
        }
        let signature = required_header(request, HUBSPOT_SIGNATURE_HEADER)?;
        let timestamp = required_header(request, HUBSPOT_TIMESTAMP_HEADER)?;
        let timestamp_ms: i64 = timestamp.parse().map_err(|_| {
            VerifyError::malformed(
                HUBSPOT_TIMESTAMP_HEADER,
                "expected epoch milliseconds as an integer",
            )
        })?;

        let max_age_ms = i128::try_from(self.max_age.as_millis()).unwrap_or(i128::MAX);
        let age_ms = i128::from(now.timestamp_millis()) - i128::from(timestamp_ms);
        let max_age_secs = self.max_age.as_secs();
        if age_ms > max_age_ms {
            return Err(VerifyError::TimestampTooOld {
                header: HUBSPOT_TIMESTAMP_HEADER,
                max_age_secs,
            });
        }
        if -age_ms > max_age_ms {
            return Err(VerifyError::TimestampInFuture {
                header: HUBSPOT_TIMESTAMP_HEADER,
                max_age_secs,
            });
        }

        let signature = decode_signature(HUBSPOT_SIGNATURE_HEADER, signature)?;
        hubspot_v3_mac(
            &self.client_secret,
            request.method,
            request.uri,
            request.body,
            timestamp,
        )
        .verify_slice(&signature)
        .map_err(|_| VerifyError::SignatureMismatch {
            header: HUBSPOT_SIGNATURE_HEADER.to_owned(),
        })
    }
}

impl fmt::Debug for HubSpotV3Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HubSpotV3Verifier")
            .field("client_secret", &"<redacted>")
            .field("max_age", &self.max_age)
            .finish()
    }
}

impl Verifier for HubSpotV3Verifier {
    fn verify(&self, request: &RawRequest<'_>, now: DateTime<Utc>) -> Result<(), Rejection> {
        self.check(request, now)
            .map_err(|e| reject("hubspot-v3", e))
    }
}
