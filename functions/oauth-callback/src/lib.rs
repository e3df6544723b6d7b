//! The `oauth-callback` function's handler, as a library so that tests can invoke it in-process.

pub mod handler;
