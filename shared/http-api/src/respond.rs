//! Statuses and bodies, decided here and nowhere else: the service's typed outcomes and the
//! router's own refusals as HTTP answers. OAuth routes answer with small HTML pages (a person is
//! looking at them), webhook routes and unknown routes with JSON (`{"error": "..."}`). Messages
//! come from the outcomes' `Display`, which names the problem and what to do, never a secret, a
//! token, a code, a state or a value from the body.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use service::{AccessError, ConsoleError, LinkError, Linked, ReceiveError, Received};

/// A request refused by the router itself, before any use case runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// No route has this path (`404`).
    NotFound,
    /// The route exists, but not for this method (`405`).
    MethodNotAllowed,
    /// The body is over [`BODY_LIMIT`](crate::BODY_LIMIT) (`413`).
    PayloadTooLarge,
    /// A path segment cannot be read: not valid UTF-8 once percent-decoded (`400`).
    InvalidPath,
    /// The query string cannot be read, e.g. a parameter given twice (`400`).
    InvalidQuery,
    /// The body could not be read to its end (`400`).
    UnreadableBody,
}

impl RequestError {
    /// The status answered.
    pub fn status(self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidPath | Self::InvalidQuery | Self::UnreadableBody => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    /// What is wrong, for the person or program that sent the request.
    pub fn message(self) -> &'static str {
        match self {
            Self::NotFound => "no such route",
            Self::MethodNotAllowed => "this route does not take this method",
            Self::PayloadTooLarge => "the body is too large (at most 6 MiB)",
            Self::InvalidPath => "the path cannot be read: a segment is not valid UTF-8",
            Self::InvalidQuery => "the query string cannot be read (is a parameter given twice?)",
            Self::UnreadableBody => "the body could not be read",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::PayloadTooLarge => "Request too large",
            Self::InvalidPath | Self::InvalidQuery | Self::UnreadableBody => "Bad request",
        }
    }
}

/// Why a page route (OAuth linking, the connector's page) did not do what was asked, answered
/// with an HTML page saying what to do (or JSON to a client that does not accept HTML).
#[derive(Debug)]
pub enum PageError {
    /// Linking refused.
    Link(LinkError),
    /// No session, a refused launch or session, another group, a missing CSRF token.
    Access(AccessError),
    /// A page action failed.
    Console(ConsoleError),
    /// The router refused the request.
    Request(RequestError),
}

impl From<ConsoleError> for PageError {
    fn from(error: ConsoleError) -> Self {
        Self::Console(error)
    }
}

/// The status of an access refusal: `401` until the caller proves who they are, `403` when
/// they did but may not do this.
pub fn access_status(error: &AccessError) -> StatusCode {
    match error {
        AccessError::WrongGroup | AccessError::Csrf => StatusCode::FORBIDDEN,
        AccessError::Closed
        | AccessError::NoSession
        | AccessError::Launch(_)
        | AccessError::Session(_) => StatusCode::UNAUTHORIZED,
    }
}

/// The status of a page action's failure.
pub fn console_status(error: &ConsoleError) -> StatusCode {
    match error {
        ConsoleError::UnknownApp(_) | ConsoleError::UnknownEntity { .. } => StatusCode::NOT_FOUND,
        ConsoleError::NotLinked(_) => StatusCode::CONFLICT,
        ConsoleError::Store(_) | ConsoleError::NotQueued(_) => StatusCode::SERVICE_UNAVAILABLE,
        ConsoleError::Retry(_) | ConsoleError::Unlink(_) => StatusCode::BAD_GATEWAY,
    }
}

/// Why a JSON API route refused, as `{"error": "..."}`.
#[derive(Debug)]
pub enum ApiError {
    /// Not allowed.
    Access(AccessError),
    /// The action failed.
    Console(ConsoleError),
    /// The router refused the request.
    Request(RequestError),
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        Self::Access(error)
    }
}

impl From<ConsoleError> for ApiError {
    fn from(error: ConsoleError) -> Self {
        Self::Console(error)
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(_: axum::extract::rejection::PathRejection) -> Self {
        Self::Request(RequestError::InvalidPath)
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(_: axum::extract::rejection::QueryRejection) -> Self {
        Self::Request(RequestError::InvalidQuery)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Self::Access(e) => (access_status(e), e.to_string()),
            Self::Console(e) => (console_status(e), e.to_string()),
            Self::Request(e) => (e.status(), e.message().to_owned()),
        };
        json_body(status, json!({ "error": message }))
    }
}

impl From<LinkError> for PageError {
    fn from(error: LinkError) -> Self {
        Self::Link(error)
    }
}

impl From<RequestError> for PageError {
    fn from(error: RequestError) -> Self {
        Self::Request(error)
    }
}

impl From<axum::extract::rejection::PathRejection> for PageError {
    fn from(_: axum::extract::rejection::PathRejection) -> Self {
        Self::Request(RequestError::InvalidPath)
    }
}

impl From<axum::extract::rejection::QueryRejection> for PageError {
    fn from(_: axum::extract::rejection::QueryRejection) -> Self {
        Self::Request(RequestError::InvalidQuery)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title) = match &self {
            Self::Link(LinkError::UnknownApp { .. }) => (StatusCode::NOT_FOUND, "Unknown app"),
            Self::Link(LinkError::CannotStart(_)) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "Cannot start linking")
            }
            Self::Link(LinkError::Refused(_) | LinkError::OtherBrowser) => {
                (StatusCode::BAD_REQUEST, "Linking failed")
            }
            Self::Link(LinkError::AccountUnknown { .. }) => {
                (StatusCode::BAD_GATEWAY, "Linking failed")
            }
            Self::Link(LinkError::NotLinked(_)) => (StatusCode::CONFLICT, "Linking refused"),
            Self::Access(error) => (access_status(error), "Sign-in needed"),
            Self::Console(error) => (console_status(error), "That did not work"),
            Self::Request(error) => (error.status(), error.title()),
        };
        let title = match &self {
            Self::Access(AccessError::WrongGroup | AccessError::Csrf) => "Not allowed",
            _ => title,
        };
        let message = match &self {
            Self::Link(error) => error.to_string(),
            Self::Access(error) => error.to_string(),
            Self::Console(error) => error.to_string(),
            Self::Request(error) => error.message().to_owned(),
        };
        page(status, title, &message)
    }
}

/// The page of an account just linked.
#[derive(Debug)]
pub struct LinkedPage(pub Linked);

impl IntoResponse for LinkedPage {
    fn into_response(self) -> Response {
        let Linked {
            group,
            app_name,
            realm,
            ..
        } = self.0;
        let markup = crate::console::screens::linked(group.as_str(), &app_name, realm.as_str());
        html(StatusCode::OK, markup.into_string())
    }
}

/// Why a webhook route queued nothing, answered with a JSON error (or with the empty body the
/// sender's scheme demands, when the verifier's message is empty).
#[derive(Debug)]
pub enum JsonError {
    /// The use case refused.
    Receive(ReceiveError),
    /// The router refused the request.
    Request(RequestError),
}

impl From<ReceiveError> for JsonError {
    fn from(error: ReceiveError) -> Self {
        Self::Receive(error)
    }
}

impl From<RequestError> for JsonError {
    fn from(error: RequestError) -> Self {
        Self::Request(error)
    }
}

impl From<axum::extract::rejection::PathRejection> for JsonError {
    fn from(_: axum::extract::rejection::PathRejection) -> Self {
        Self::Request(RequestError::InvalidPath)
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> Response {
        match self {
            Self::Receive(ReceiveError::Rejected { status, message }) if message.is_empty() => {
                verifier_status(status).into_response()
            }
            Self::Receive(error) => {
                let status = match &error {
                    ReceiveError::UnknownTenant(_) | ReceiveError::NoWebhooks(_) => {
                        StatusCode::NOT_FOUND
                    }
                    ReceiveError::Rejected { status, .. } => verifier_status(*status),
                    ReceiveError::BadBody(_) => StatusCode::BAD_REQUEST,
                    ReceiveError::TooManyEvents { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    ReceiveError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                };
                json_body(status, json!({ "error": error.to_string() }))
            }
            Self::Request(error) => json_body(error.status(), json!({ "error": error.message() })),
        }
    }
}

/// An accepted webhook: `200` with the counts as JSON, or `200` with an empty body when the
/// sender's scheme demands one (the verifier's acknowledgement, e.g. Xero's).
#[derive(Debug)]
pub struct Acknowledged(pub Received);

impl IntoResponse for Acknowledged {
    fn into_response(self) -> Response {
        let Received {
            accepted,
            duplicates,
            ignored,
            acknowledgement: ack,
        } = self.0;
        if ack.status == 200 && ack.body.is_empty() && ack.content_type.is_none() {
            return StatusCode::OK.into_response();
        }
        json_body(
            StatusCode::OK,
            json!({ "accepted": accepted, "duplicates": duplicates, "ignored": ignored }),
        )
    }
}

/// A verifier's status, which should be a 4xx (anything else is our bug: a 500).
fn verifier_status(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn json_body(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response()
}

/// The message of an error page, kept on the response so that a client that does not accept
/// HTML gets it as JSON instead (see [`crate::headers`]).
#[derive(Clone, Debug)]
pub struct ErrorMessage(pub String);

/// An error page; `title` and `message` are escaped.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let markup = crate::console::screens::message(title, message, None);
    let mut response = html(status, markup.into_string());
    response
        .extensions_mut()
        .insert(ErrorMessage(message.to_owned()));
    response
}

/// An HTML answer.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// The router's own refusal of `path`: a page on the routes people open, JSON elsewhere (and
/// JSON on every route to a client that does not accept HTML, see [`crate::headers`]).
pub(crate) fn refuse(path: &str, error: RequestError) -> Response {
    if path.starts_with("/oauth/") || path == "/connector" || path.starts_with("/connector/") {
        PageError::Request(error).into_response()
    } else {
        JsonError::Request(error).into_response()
    }
}
