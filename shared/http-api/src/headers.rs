//! One layer over every answer: security headers, and JSON instead of an HTML error page for a
//! client that does not accept HTML (scripts, curl, the hub).

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::respond::ErrorMessage;

/// The content security policy of every answer: our own script and stylesheet only, no inline
/// code, no framing (clickjacking), no plugins, no `<base>` games.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the headers, and turns error pages into JSON for clients that do not accept HTML.
pub async fn secure(request: Request, next: Next) -> Response {
    let accepts_html = request
        .headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    let is_asset = request.uri().path().starts_with("/connector/assets/");
    let mut response = next.run(request).await;
    if !accepts_html
        && let Some(ErrorMessage(message)) = response.extensions().get::<ErrorMessage>().cloned()
    {
        let status = response.status();
        let cookies: Vec<HeaderValue> = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .cloned()
            .collect();
        response = (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json!({ "error": message }).to_string(),
        )
            .into_response();
        for cookie in cookies {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    let headers = response.headers_mut();
    let cache = if is_asset {
        "public, max-age=300"
    } else {
        "no-store"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
