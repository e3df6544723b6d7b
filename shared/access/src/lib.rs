//! Who may open the connector's page, and the proofs they carry.
//!
//! - [`LaunchToken`]s: the hub (or an operator's `connector admin-url`) opens the connector's
//!   page with a short-lived token naming the tenant, the Connec! group and the user, signed with
//!   the tenant's [`LaunchSecret`]. It is a compact JWS (a JWT) signed with HMAC-SHA256 (`HS256`),
//!   so any JWT library can mint one. It is checked once, at `GET /launch`.
//! - [`Session`]s: what the launch turns into, a signed cookie value (same format, a key derived
//!   from the launch secret) that carries the same names, an expiry and the session's CSRF
//!   token. Stateless, so that it works the same in one process and across Lambda instances.
//! - The [`BrowserBinding`]: the value of the cookie that ties an OAuth `state` to the browser
//!   that started the flow, checked by the callback before the state is consumed.
//!
//! Everything here is pure: the caller passes the clock, and nothing is logged. Errors say what
//! is wrong without echoing the token.

mod jws;
mod keys;
mod launch;
mod session;

pub use jws::JwsError;
pub use keys::{LaunchSecret, SecretError};
pub use launch::{LaunchClaims, LaunchError, LaunchToken, MAX_LAUNCH_LIFETIME};
pub use session::{BrowserBinding, SESSION_LIFETIME, Session, SessionError};
