//! [`RawRequest`]: a webhook request as its sender signed it, for verification on raw bytes.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use service::ConnectorService;

use crate::respond::{JsonError, RequestError};

/// A request as its sender signed it: the method, the full URI rebuilt from the service's public
/// URL ([`ConnectorService::signed_uri`]) and the path and query exactly as they arrived (still
/// percent-encoded), every header whose value is text, and the body bytes untouched.
///
/// Rejected with a JSON `413` when the body is over [`BODY_LIMIT`](crate::BODY_LIMIT), and a
/// JSON `400` when it cannot be read.
#[derive(Clone, Debug)]
pub struct RawRequest {
    /// The method.
    pub method: Method,
    /// `public URL + path and query`, as signed.
    pub signed_uri: String,
    /// Header names (lower case) and values; values that are not visible ASCII are left out.
    pub headers: Vec<(String, String)>,
    /// The body, before any parsing.
    pub body: Bytes,
}

impl RawRequest {
    /// The view the verifiers and the service read.
    pub fn as_webhook(&self) -> webhooks::RawRequest<'_> {
        webhooks::RawRequest {
            method: self.method.as_str(),
            uri: &self.signed_uri,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

impl FromRequest<Arc<ConnectorService>> for RawRequest {
    type Rejection = JsonError;

    async fn from_request(
        request: Request,
        service: &Arc<ConnectorService>,
    ) -> Result<Self, Self::Rejection> {
        let uri = request.uri();
        let path_and_query = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or(uri.path());
        let signed_uri = service.signed_uri(path_and_query);
        let method = request.method().clone();
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                value
                    .to_str()
                    .ok()
                    .map(|value| (name.as_str().to_owned(), value.to_owned()))
            })
            .collect();
        let body = Bytes::from_request(request, service)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    RequestError::PayloadTooLarge
                } else {
                    RequestError::UnreadableBody
                }
            })?;
        Ok(Self {
            method,
            signed_uri,
            headers,
            body,
        })
    }
}
