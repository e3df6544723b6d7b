//! The `oauth-callback` function serves [`http_api::oauth_routes`] (see `main.rs`); this library
//! holds its in-process tests: the `events/` samples, read as `lambda_http` reads them, handed
//! to those routes.

#[cfg(test)]
mod events;
