//! The tenant's launch secret, and the keys derived from it.

use std::fmt;

use crate::jws;

/// A launch secret shorter than this is refused: HS256 wants at least 256 bits.
pub const MIN_SECRET_LEN: usize = 32;

/// Why a launch secret was refused (never quotes it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Too short to sign with.
    #[error(
        "the launch secret is too short: use at least {MIN_SECRET_LEN} characters (e.g. `openssl rand -hex 32`)"
    )]
    TooShort,
}

/// The tenant's launch secret, shared with the hub (or the operator) that mints launch tokens.
/// Sessions and browser bindings are signed with keys derived from it, so that rotating it ends
/// every session. Prints as `<redacted>`.
#[derive(Clone)]
pub struct LaunchSecret {
    launch: Vec<u8>,
    session: Vec<u8>,
    binding: Vec<u8>,
}

impl LaunchSecret {
    /// Wraps the secret as configured.
    ///
    /// # Errors
    ///
    /// [`SecretError::TooShort`] under [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &str) -> Result<Self, SecretError> {
        let secret = secret.trim().as_bytes();
        if secret.len() < MIN_SECRET_LEN {
            return Err(SecretError::TooShort);
        }
        Ok(Self {
            launch: secret.to_vec(),
            session: jws::mac(secret, b"connector session key v1"),
            binding: jws::mac(secret, b"connector oauth browser binding v1"),
        })
    }

    /// A launch secret derived from a master secret and the tenant, for a connector run on
    /// one machine where nobody else mints launch tokens (`connector serve` without
    /// `CONNECTOR_LAUNCH_SECRET`): the operator's `connector admin-url` derives the same one.
    pub fn derived(master: &[u8], tenant: &str) -> Self {
        use base64::Engine;
        let derived = jws::mac(
            master,
            format!("connector launch secret v1:{tenant}").as_bytes(),
        );
        let text = base64::engine::general_purpose::STANDARD.encode(derived);
        Self::new(&text).expect("44 characters of base64")
    }

    /// A 32-byte key for another purpose, derived from the secret and `label` (e.g. the key
    /// that seals pending OAuth states on DynamoDB, which only the same function reads back).
    pub fn derived_key(&self, label: &str) -> [u8; 32] {
        let mac = jws::mac(&self.launch, label.as_bytes());
        let mut key = [0u8; 32];
        key.copy_from_slice(&mac[..32]);
        key
    }

    pub(crate) fn launch_key(&self) -> &[u8] {
        &self.launch
    }

    pub(crate) fn session_key(&self) -> &[u8] {
        &self.session
    }

    pub(crate) fn binding_key(&self) -> &[u8] {
        &self.binding
    }
}

impl fmt::Debug for LaunchSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LaunchSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_short_secrets_and_redacts() {
        assert_eq!(
            LaunchSecret::new("short").unwrap_err(),
            SecretError::TooShort
        );
        let secret = LaunchSecret::new(&"s".repeat(32)).unwrap();
        assert_eq!(format!("{secret:?}"), "LaunchSecret(<redacted>)");
        assert_ne!(secret.session_key(), secret.launch_key());
        assert_ne!(secret.session_key(), secret.binding_key());
        let a = LaunchSecret::derived(b"master", "acme");
        assert_eq!(
            a.launch_key(),
            LaunchSecret::derived(b"master", "acme").launch_key()
        );
        assert_ne!(
            a.launch_key(),
            LaunchSecret::derived(b"master", "other").launch_key()
        );
        assert_ne!(
            a.launch_key(),
            LaunchSecret::derived(b"other", "acme").launch_key()
        );
    }
}
