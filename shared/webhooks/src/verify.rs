//! Request verification on raw bytes: the [`Verifier`] trait and one implementation per scheme.
//!
//! Every verifier works on the untouched request ([`RawRequest`]) and must run before the body is
//! parsed. Rejections carry a status and a message that is safe to send back: it names what is
//! wrong (a missing header, a signature mismatch, a stale timestamp) and what to do, and never
//! contains a secret, a signature, a credential or any part of the body.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use hmac::Mac;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::sign::hmac_sha256;

/// Standard-alphabet base64 that accepts values with or without `=` padding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Header carrying HTTP Basic credentials.
pub const AUTHORIZATION_HEADER: &str = "Authorization";

/// What the HTTP layer hands over, untouched.
///
/// `Debug` shows header names and the body length only: values may hold credentials.
#[derive(Clone, Copy)]
pub struct RawRequest<'a> {
    /// The HTTP method as sent (`POST`).
    pub method: &'a str,
    /// The full URI as the sender signed it: `scheme://host/path?query`.
    pub uri: &'a str,
    /// All headers; names are compared case-insensitively.
    pub headers: &'a [(String, String)],
    /// The raw body bytes, before any parsing.
    pub body: &'a [u8],
}

impl RawRequest<'_> {
    /// The value of the first header named `name` (case-insensitive), if any.
    ///
    /// ```
    /// use webhooks::RawRequest;
    ///
    /// let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    /// let request = RawRequest { method: "POST", uri: "https://h/p", headers: &headers, body: b"{}" };
    /// assert_eq!(request.header("Content-Type"), Some("application/json"));
    /// assert_eq!(request.header("Authorization"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl fmt::Debug for RawRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("RawRequest")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("header_names", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The HTTP answer a verifier wants when it rejects a request.
///
/// `message` is safe to show to the caller; it is empty when the scheme demands an empty body
/// (a sender that checks the endpoint by sending badly signed requests, for instance).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("HTTP {status}: {message}")]
pub struct Rejection {
    /// `401` (not authentic) or `400` (unusable request).
    pub status: u16,
    /// Says what is wrong and what to do; never contains secrets, signatures or body contents.
    pub message: String,
}

impl Rejection {
    /// A `401 Unauthorized` rejection.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: 401,
            message: message.into(),
        }
    }

    /// A `400 Bad Request` rejection.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
        }
    }
}

impl From<VerifyError> for Rejection {
    fn from(error: VerifyError) -> Self {
        Self {
            status: error.status(),
            message: error.to_string(),
        }
    }
}

/// What to answer to an authentic, accepted request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledgement {
    /// HTTP status (200).
    pub status: u16,
    /// Response body; empty when the scheme demands it.
    pub body: Vec<u8>,
    /// `Content-Type` of `body`, `None` when the body is empty.
    pub content_type: Option<&'static str>,
}

impl Acknowledgement {
    /// `200` with the JSON body `{"status":"ok"}`.
    ///
    /// ```
    /// let ack = webhooks::Acknowledgement::json_ok();
    /// assert_eq!((ack.status, ack.content_type), (200, Some("application/json")));
    /// assert_eq!(ack.body, br#"{"status":"ok"}"#);
    /// ```
    pub fn json_ok() -> Self {
        Self {
            status: 200,
            body: br#"{"status":"ok"}"#.to_vec(),
            content_type: Some("application/json"),
        }
    }

    /// `200` with an empty body and no content type.
    pub fn empty_ok() -> Self {
        Self {
            status: 200,
            body: Vec::new(),
            content_type: None,
        }
    }
}

/// Why a request is not authentic. `Display` is the safe, actionable message of the
/// [`Rejection`]; no variant holds a secret, a signature or body bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing `{header}` header: every webhook request must be signed or authenticated")]
    MissingHeader {
        /// The header name.
        header: String,
    },
    /// A header is present but cannot be read (bad base64, wrong scheme, not a number, ...).
    #[error("malformed `{header}` header: {problem}")]
    MalformedHeader {
        /// The header name.
        header: String,
        /// What is wrong with it, without its value.
        problem: &'static str,
    },
    /// The signature does not match the request.
    #[error(
        "`{header}` does not match the request: check that the webhook secret configured here is \
         the one the sender uses and that the request was not modified in transit"
    )]
    SignatureMismatch {
        /// The signature header name.
        header: String,
    },
    /// The request timestamp is older than the accepted window (possible replay).
    #[error(
        "request timestamp too old: `{header}` is more than {max_age_secs}s in the past; \
         send a freshly signed request and check the server clock"
    )]
    TimestampTooOld {
        /// The timestamp header name.
        header: &'static str,
        /// The accepted window, in seconds.
        max_age_secs: u64,
    },
    /// The request timestamp is further in the future than the accepted window.
    #[error(
        "request timestamp too far in the future: `{header}` is more than {max_age_secs}s ahead; \
         check the sender's and the server's clocks"
    )]
    TimestampInFuture {
        /// The timestamp header name.
        header: &'static str,
        /// The accepted window, in seconds.
        max_age_secs: u64,
    },
    /// HTTP Basic credentials that are not the expected ones.
    #[error("invalid credentials in the `Authorization` header: use the tenant's API id and key")]
    InvalidCredentials,
    /// The verifier was built with an empty secret; it rejects everything.
    #[error(
        "webhook verification is not configured for this endpoint (empty secret): \
         the operator must set the webhook secret"
    )]
    NotConfigured,
}

impl VerifyError {
    /// The HTTP status to answer with (always `401` today).
    pub fn status(&self) -> u16 {
        401
    }

    /// A [`VerifyError::MissingHeader`] for `header`.
    pub fn missing(header: &str) -> Self {
        Self::MissingHeader {
            header: header.to_owned(),
        }
    }

    /// A [`VerifyError::MalformedHeader`] for `header`; `problem` must not quote the value.
    pub fn malformed(header: &str, problem: &'static str) -> Self {
        Self::MalformedHeader {
            header: header.to_owned(),
            problem,
        }
    }
}

/// Checks that a webhook request is authentic, on its raw bytes, before anything parses it.
pub trait Verifier: Send + Sync {
    /// `Ok(())` when authentic; `Err(Rejection)` otherwise. `now` is injected for tests.
    fn verify(&self, request: &RawRequest<'_>, now: DateTime<Utc>) -> Result<(), Rejection>;

    /// Status and body to send for an authentic request that has been accepted.
    ///
    /// Defaults to [`Acknowledgement::json_ok`].
    fn acknowledgement(&self) -> Acknowledgement {
        Acknowledgement::json_ok()
    }
}

/// Logs a verification failure at debug level (the scheme and the reason, never a value) and
/// converts it into its [`Rejection`].
///
/// Verifiers call it in [`Verifier::verify`], with a short name of their scheme.
pub fn reject(scheme: &'static str, error: VerifyError) -> Rejection {
    tracing::debug!(scheme, reason = %error, "webhook request rejected");
    error.into()
}

/// A required header value, trimmed: [`VerifyError::MissingHeader`] when absent,
/// [`VerifyError::MalformedHeader`] when empty.
///
/// ```
/// use webhooks::{RawRequest, VerifyError, verify::required_header};
///
/// let headers = vec![("X-Signature".to_owned(), " abc ".to_owned())];
/// let request = RawRequest { method: "POST", uri: "https://h/p", headers: &headers, body: b"" };
/// assert_eq!(required_header(&request, "x-signature"), Ok("abc"));
/// assert_eq!(required_header(&request, "X-Other"), Err(VerifyError::missing("X-Other")));
/// ```
pub fn required_header<'r>(
    request: &'r RawRequest<'_>,
    header: &str,
) -> Result<&'r str, VerifyError> {
    match request.header(header).map(str::trim) {
        Some(value) if !value.is_empty() => Ok(value),
        Some(_) => Err(VerifyError::malformed(header, "the value is empty")),
        None => Err(VerifyError::missing(header)),
    }
}

/// Decodes the base64 (standard alphabet, padding optional) value of the signature header
/// `header`; the error names the header, not the value.
pub fn decode_signature(header: &str, value: &str) -> Result<Vec<u8>, VerifyError> {
    LENIENT_BASE64
        .decode(value)
        .map_err(|_| VerifyError::malformed(header, "the signature is not valid base64"))
}

/// Checks `base64(HMAC-SHA256(secret, body))` in `header`, in constant time.
fn check_body_hmac(
    secret: &str,
    header: &str,
    request: &RawRequest<'_>,
) -> Result<(), VerifyError> {
    if secret.is_empty() {
        return Err(VerifyError::NotConfigured);
    }
    let value = required_header(request, header)?;
    let signature = decode_signature(header, value)?;
    hmac_sha256(secret.as_bytes(), &[request.body])
        .verify_slice(&signature)
        .map_err(|_| VerifyError::SignatureMismatch {
            header: header.to_owned(),
        })
}

// ---------------------------------------------------------------------------------------------
// HTTP Basic
// ---------------------------------------------------------------------------------------------

/// HTTP Basic with a tenant's own API id and key.
///
/// The credentials are the ones the sender was given (for a hub, those the tenant's connector
/// uses to call it).
///
/// Both parts are compared in constant time (through their SHA-256 digests, so their lengths do
/// not leak either). A missing or garbled header, or wrong credentials, is a `401`.
///
/// ```
/// use chrono::Utc;
/// use webhooks::{BasicAuthVerifier, RawRequest, Verifier, basic_auth_header};
///
/// let verifier = BasicAuthVerifier::new("api-id", "api-key");
/// let headers = vec![("Authorization".to_owned(), basic_auth_header("api-id", "api-key"))];
/// let request = RawRequest { method: "POST", uri: "https://h/webhooks/hub/t", headers: &headers, body: b"{}" };
/// assert!(verifier.verify(&request, Utc::now()).is_ok());
///
/// let headers = vec![("Authorization".to_owned(), basic_auth_header("api-id", "wrong"))];
/// let request = RawRequest { headers: &headers, ..request };
/// assert_eq!(verifier.verify(&request, Utc::now()).unwrap_err().status, 401);
/// ```
#[derive(Clone)]
pub struct BasicAuthVerifier {
    api_id: String,
    api_key: String,
    /// `false` for [`BasicAuthVerifier::refusing_all`].
    accepts: bool,
}

impl BasicAuthVerifier {
    /// Accepts requests authenticated with exactly this API id and key.
    pub fn new(api_id: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            api_id: api_id.into(),
            api_key: api_key.into(),
            accepts: true,
        }
    }

    /// Accepts nothing, and refuses each request exactly as a verifier with other credentials
    /// would: the same checks, the same rejection for a missing or garbled header, and
    /// [`VerifyError::InvalidCredentials`] for any well-formed credentials. For a tenant that
    /// does not exist, so that its answer does not tell it apart from a known one.
    ///
    /// ```
    /// use chrono::Utc;
    /// use webhooks::{BasicAuthVerifier, RawRequest, Verifier, basic_auth_header};
    ///
    /// let known = BasicAuthVerifier::new("api-id", "api-key");
    /// let unknown = BasicAuthVerifier::refusing_all();
    /// let headers = vec![("Authorization".to_owned(), basic_auth_header("api-id", "guess"))];
    /// let request = RawRequest { method: "POST", uri: "https://h/w", headers: &headers, body: b"{}" };
    /// assert_eq!(known.verify(&request, Utc::now()), unknown.verify(&request, Utc::now()));
    /// ```
    pub fn refusing_all() -> Self {
        Self {
            api_id: "refused".into(),
            api_key: "refused".into(),
            accepts: false,
        }
    }

    /// Like [`Verifier::verify`], with a typed error.
    pub fn check(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        if self.api_id.is_empty() || self.api_key.is_empty() {
            return Err(VerifyError::NotConfigured);
        }
        let header = AUTHORIZATION_HEADER;
        let value = required_header(request, header)?;
        let (scheme, credentials) = value
            .split_once(' ')
            .ok_or_else(|| VerifyError::malformed(header, "expected `Basic <base64(id:key)>`"))?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(VerifyError::malformed(
                header,
                "expected the `Basic` scheme with the API id and key",
            ));
        }
        let decoded = LENIENT_BASE64
            .decode(credentials.trim())
            .map_err(|_| VerifyError::malformed(header, "the credentials are not valid base64"))?;
        let colon = decoded
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| VerifyError::malformed(header, "expected `id:key` credentials"))?;
        let (id, key) = (&decoded[..colon], &decoded[colon + 1..]);
        let id_ok = Sha256::digest(id).ct_eq(&Sha256::digest(self.api_id.as_bytes()));
        let key_ok = Sha256::digest(key).ct_eq(&Sha256::digest(self.api_key.as_bytes()));
        if bool::from(id_ok & key_ok) && self.accepts {
            Ok(())
        } else {
            Err(VerifyError::InvalidCredentials)
        }
    }
}

impl fmt::Debug for BasicAuthVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuthVerifier")
            .field("api_id", &"<redacted>")
            .field("api_key", &"<redacted>")
            .finish()
    }
}

impl Verifier for BasicAuthVerifier {
    fn verify(&self, request: &RawRequest<'_>, _now: DateTime<Utc>) -> Result<(), Rejection> {
        self.check(request).map_err(|e| reject("basic", e))
    }
}

// ---------------------------------------------------------------------------------------------
// Body HMAC
// ---------------------------------------------------------------------------------------------

/// `base64(HMAC-SHA256(secret, body))` in a header the connector names, keyed with the secret
/// the sender signs with (a client secret, a verifier token, a webhook key).
///
/// The header is looked up case-insensitively; its value may be padded or not.
///
/// ```
/// use chrono::Utc;
/// use webhooks::{BodyHmacVerifier, RawRequest, Verifier, body_hmac_signature};
///
/// let body = br#"{"id":820982911946154508}"#;
/// let headers = vec![("X-Body-Signature".to_owned(), body_hmac_signature("secret", body))];
/// let request = RawRequest { method: "POST", uri: "https://h/webhooks/app", headers: &headers, body };
/// let verifier = BodyHmacVerifier::new("X-Body-Signature", "secret");
/// assert!(verifier.verify(&request, Utc::now()).is_ok());
/// ```
#[derive(Clone)]
pub struct BodyHmacVerifier {
    header: String,
    secret: String,
}

impl BodyHmacVerifier {
    /// Verifies the HMAC of the body found in `header_name` with `secret`.
    pub fn new(header_name: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            header: header_name.into(),
            secret: secret.into(),
        }
    }

    /// The header this verifier reads.
    pub fn header_name(&self) -> &str {
        &self.header
    }

    /// Like [`Verifier::verify`], with a typed error.
    pub fn check(&self, request: &RawRequest<'_>) -> Result<(), VerifyError> {
        check_body_hmac(&self.secret, &self.header, request)
    }
}

impl fmt::Debug for BodyHmacVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyHmacVerifier")
            .field("header", &self.header)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Verifier for BodyHmacVerifier {
    fn verify(&self, request: &RawRequest<'_>, _now: DateTime<Utc>) -> Result<(), Rejection> {
        self.check(request).map_err(|e| reject("body-hmac", e))
    }
}
