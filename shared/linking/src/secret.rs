//! [`SecretString`]: a string that never prints itself; [`SealingKey`]: AES-256-GCM sealing
//! of secrets at rest, shared by the stores (embedded file and DynamoDB).

use std::fmt;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, Key, KeyInit, Nonce, Payload};
use subtle::ConstantTimeEq;

/// A secret (token, client secret, API key, PKCE verifier) that prints as `<redacted>`.
///
/// `Debug` and `Display` never show the value, so a secret inside a struct that is logged or put
/// into an error message stays hidden. Read it with [`SecretString::expose`], only where it is
/// sent (an `Authorization` header, a token request) or encrypted. Equality is constant-time.
///
/// ```
/// use linking::SecretString;
/// let token = SecretString::new("s3cr3t");
/// assert_eq!(format!("{token} {token:?}"), "<redacted> <redacted>");
/// assert_eq!(token.expose(), "s3cr3t");
/// ```
#[derive(Clone, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value. Never log it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretString {}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// A 256-bit key sealing secrets at rest with AES-256-GCM: a fresh random 96-bit nonce per
/// [`SealingKey::seal`], and associated data that binds a sealed value to where it is stored
/// (its account, its state, ...), so that a sealed value copied elsewhere does not open. Prints
/// as `SealingKey(<redacted>)`.
///
/// ```
/// use linking::SealingKey;
/// let key = SealingKey::new([7; 32]);
/// let sealed = key.seal(b"state-1", b"verifier")?;
/// assert_eq!(key.open(b"state-1", &sealed.nonce, &sealed.ciphertext).unwrap(), b"verifier");
/// assert!(key.open(b"state-2", &sealed.nonce, &sealed.ciphertext).is_none());
/// assert!(SealingKey::new([8; 32]).open(b"state-1", &sealed.nonce, &sealed.ciphertext).is_none());
/// # Ok::<(), linking::SealError>(())
/// ```
#[derive(Clone)]
pub struct SealingKey(Aes256Gcm);

/// A sealed value: its nonce and the ciphertext with its 16-byte tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The random nonce of this seal.
    pub nonce: [u8; SealingKey::NONCE_BYTES],
    /// The ciphertext followed by the authentication tag.
    pub ciphertext: Vec<u8>,
}

/// Sealing failed (the cipher refused the input; it never says why, nor what).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("encryption failed")]
pub struct SealError;

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

impl SealingKey {
    /// Bytes of a nonce.
    pub const NONCE_BYTES: usize = 12;

    /// A key from its 32 bytes.
    #[must_use]
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Aes256Gcm::new(&Key::<Aes256Gcm>::from(bytes)))
    }

    /// Seals `plaintext` under a fresh random nonce, bound to `aad`.
    ///
    /// # Errors
    ///
    /// [`SealError`] if the cipher refuses (a plaintext beyond AES-GCM's limits).
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Sealed, SealError> {
        let nonce: [u8; Self::NONCE_BYTES] = rand::random();
        let ciphertext = self
            .0
            .encrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SealError)?;
        Ok(Sealed { nonce, ciphertext })
    }

    /// Opens a sealed value; `None` when the key, the associated data, the nonce or the
    /// ciphertext does not match (never garbage).
    #[must_use]
    pub fn open(&self, aad: &[u8], nonce: &[u8], ciphertext: &[u8]) -> Option<Vec<u8>> {
        let nonce: [u8; Self::NONCE_BYTES] = nonce.try_into().ok()?;
        self.0
            .decrypt(
                &Nonce::<Aes256Gcm>::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::{SealingKey, SecretString};

    #[test]
    fn never_prints_its_value() {
        let secret = SecretString::new("hunter2");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some(<redacted>)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn sealing_binds_key_and_associated_data() {
        let key = SealingKey::new([1; 32]);
        let first = key.seal(b"aad", b"secret").unwrap();
        let second = key.seal(b"aad", b"secret").unwrap();
        assert_ne!(first.nonce, second.nonce, "a fresh nonce per seal");
        assert_eq!(
            key.open(b"aad", &first.nonce, &first.ciphertext).unwrap(),
            b"secret"
        );
        assert!(
            key.open(b"other", &first.nonce, &first.ciphertext)
                .is_none()
        );
        assert!(key.open(b"aad", &second.nonce, &first.ciphertext).is_none());
        assert!(
            key.open(b"aad", &first.nonce[..11], &first.ciphertext)
                .is_none()
        );
        let mut tampered = first.ciphertext.clone();
        tampered[0] ^= 1;
        assert!(key.open(b"aad", &first.nonce, &tampered).is_none());
        assert!(
            !first
                .ciphertext
                .windows(6)
                .any(|window| window == b"secret")
        );
        assert_eq!(format!("{key:?}"), "SealingKey(<redacted>)");
    }

    #[test]
    fn compares_by_value() {
        assert_eq!(SecretString::new("a"), SecretString::from("a"));
        assert_ne!(SecretString::new("a"), SecretString::new("b"));
        assert_ne!(SecretString::new("a"), SecretString::new("ab"));
    }
}
