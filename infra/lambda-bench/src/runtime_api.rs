//! A local Lambda Runtime API (version 2018-06-01), the protocol a `bootstrap` speaks with the
//! Lambda service: `GET /runtime/invocation/next` (a long poll answered with one event and its
//! `Lambda-Runtime-*` headers), `POST /runtime/invocation/{id}/response`,
//! `POST /runtime/invocation/{id}/error` and `POST /runtime/init/error`.
//!
//! Everything the function does is reported, with the instant it happened, on one channel read
//! by [`RuntimeApi::wait_ready`] and [`RuntimeApi::invoke`].

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::mpsc;

/// The API version prefix of every route.
pub const PREFIX: &str = "/2018-06-01/runtime";

/// The largest response Lambda accepts from a synchronous invocation (6 MB), plus headroom.
const BODY_LIMIT: usize = 7 * 1024 * 1024;

/// What the function did, and when.
#[derive(Clone, Debug)]
pub enum Report {
    /// It asked for the next event.
    Next {
        /// When the request arrived.
        at: Instant,
    },
    /// An event was handed to it (the answer to a `/next`).
    HandedOut {
        /// The invocation's request id.
        request_id: String,
        /// When the answer was produced.
        at: Instant,
    },
    /// It answered an invocation.
    Response {
        /// The invocation's request id.
        request_id: String,
        /// When the answer arrived (whole body read).
        at: Instant,
        /// The answer.
        body: Vec<u8>,
    },
    /// It reported an invocation's error.
    InvocationError {
        /// The invocation's request id.
        request_id: String,
        /// When the report arrived.
        at: Instant,
        /// `Lambda-Runtime-Function-Error-Type`, if sent.
        error_type: Option<String>,
        /// The error document.
        body: Vec<u8>,
    },
    /// It reported that its initialisation failed.
    InitError {
        /// When the report arrived.
        at: Instant,
        /// `Lambda-Runtime-Function-Error-Type`, if sent.
        error_type: Option<String>,
        /// The error document.
        body: Vec<u8>,
    },
}

/// What an invocation ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `POST .../response`.
    Response(Vec<u8>),
    /// `POST .../error`.
    Error {
        /// `Lambda-Runtime-Function-Error-Type`, if sent.
        error_type: Option<String>,
        /// The error document.
        body: Vec<u8>,
    },
}

/// One invocation as the API saw it.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The request id it was handed out with.
    pub request_id: String,
    /// When the event was handed out (the `/next` answered).
    pub handed_out: Instant,
    /// When the response or error arrived.
    pub finished: Instant,
    /// The response or error.
    pub outcome: Outcome,
}

impl Invocation {
    /// Handed out -> response received.
    pub fn duration(&self) -> Duration {
        self.finished - self.handed_out
    }
}

/// Why waiting on the function failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Nothing arrived in time.
    #[error("the function did not {what} within {timeout:?}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// How long.
        timeout: Duration,
    },
    /// The function reported an initialisation error.
    #[error("the function reported an init error ({error_type:?}): {body}")]
    InitError {
        /// `Lambda-Runtime-Function-Error-Type`, if sent.
        error_type: Option<String>,
        /// The error document, as text.
        body: String,
    },
    /// The server stopped.
    #[error("the runtime API server stopped")]
    Stopped,
}

/// An event waiting for a `/next`.
struct Pending {
    request_id: String,
    body: Vec<u8>,
    timeout: Duration,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    reports: mpsc::UnboundedSender<Report>,
    /// Handed out and not answered yet.
    open: Mutex<HashSet<String>>,
    function_arn: String,
}

/// A running Runtime API on a free loopback port (stopped when dropped).
pub struct RuntimeApi {
    addr: SocketAddr,
    queue: mpsc::UnboundedSender<Pending>,
    reports: tokio::sync::Mutex<mpsc::UnboundedReceiver<Report>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Starts the API for the function `function_name` (named in the invoked function ARN).
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(queue_rx),
            reports: reports_tx,
            open: Mutex::new(HashSet::new()),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
        });
        let app = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(error))
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            // Only ends when aborted (the listener never fails on loopback in practice).
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            queue: queue_tx,
            reports: tokio::sync::Mutex::new(reports_rx),
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues one event; the next `/next` hands it out with a deadline `timeout` from then.
    /// Returns its request id.
    pub fn enqueue(&self, event: &[u8], timeout: Duration) -> String {
        let request_id = uuid::Uuid::new_v4().to_string();
        // The receiver lives as long as the server's state, which `self` keeps.
        let _ = self.queue.send(Pending {
            request_id: request_id.clone(),
            body: event.to_vec(),
            timeout,
        });
        request_id
    }

    /// The next report, within `timeout`.
    ///
    /// # Errors
    ///
    /// [`ApiError::Timeout`] or [`ApiError::Stopped`].
    pub async fn next_report(&self, timeout: Duration) -> Result<Report, ApiError> {
        let mut reports = self.reports.lock().await;
        match tokio::time::timeout(timeout, reports.recv()).await {
            Ok(Some(report)) => Ok(report),
            Ok(None) => Err(ApiError::Stopped),
            Err(_) => Err(ApiError::Timeout {
                what: "report anything",
                timeout,
            }),
        }
    }

    /// Waits for the function's first `/next`: the end of its initialisation. Returns when it
    /// arrived.
    ///
    /// # Errors
    ///
    /// [`ApiError::InitError`] when the function reports one first; a timeout.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Instant, ApiError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self
                .next_report(left)
                .await
                .map_err(|e| relabel(e, "ask for an event", timeout))?
            {
                Report::Next { at } => return Ok(at),
                Report::InitError {
                    error_type, body, ..
                } => {
                    return Err(ApiError::InitError {
                        error_type,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                }
                _ => {}
            }
        }
    }

    /// Hands `event` to the function and waits for its response or error.
    ///
    /// # Errors
    ///
    /// [`ApiError::InitError`] when the function reports one; a timeout.
    pub async fn invoke(&self, event: &[u8], timeout: Duration) -> Result<Invocation, ApiError> {
        let request_id = self.enqueue(event, timeout);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut handed_out = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let report = self
                .next_report(left)
                .await
                .map_err(|e| relabel(e, "answer the invocation", timeout))?;
            let (id, finished, outcome) = match report {
                Report::HandedOut { request_id: id, at } if id == request_id => {
                    handed_out = Some(at);
                    continue;
                }
                Report::Response {
                    request_id: id,
                    at,
                    body,
                } => (id, at, Outcome::Response(body)),
                Report::InvocationError {
                    request_id: id,
                    at,
                    error_type,
                    body,
                } => (id, at, Outcome::Error { error_type, body }),
                Report::InitError {
                    error_type, body, ..
                } => {
                    return Err(ApiError::InitError {
                        error_type,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                }
                _ => continue,
            };
            if id != request_id {
                continue;
            }
            return Ok(Invocation {
                request_id,
                // A response is only accepted for a handed-out id, so this is always set.
                handed_out: handed_out.unwrap_or(finished),
                finished,
                outcome,
            });
        }
    }
}

fn relabel(error: ApiError, what: &'static str, timeout: Duration) -> ApiError {
    match error {
        ApiError::Timeout { .. } => ApiError::Timeout { what, timeout },
        other => other,
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let _ = shared.reports.send(Report::Next { at: Instant::now() });
    let pending = shared.queue.lock().await.recv().await;
    let Some(pending) = pending else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "runtime API stopping").into_response();
    };
    let deadline = chrono::Utc::now().timestamp_millis()
        + i64::try_from(pending.timeout.as_millis()).unwrap_or(i64::MAX / 2);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", pending.request_id.clone());
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set("lambda-runtime-trace-id", trace_id());
    set("content-type", "application/json".into());
    shared
        .open
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(pending.request_id.clone());
    let _ = shared.reports.send(Report::HandedOut {
        request_id: pending.request_id,
        at: Instant::now(),
    });
    (StatusCode::OK, headers, pending.body).into_response()
}

/// An X-Ray trace header as Lambda sends it (not sampled).
fn trace_id() -> String {
    let epoch = chrono::Utc::now().timestamp();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{epoch:08x}-{};Parent={};Sampled=0",
        &id[..24],
        &parent[..16]
    )
}

/// Closes `id` if it was handed out and not answered yet.
fn close(shared: &Shared, id: &str) -> bool {
    shared
        .open
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(id)
}

fn accepted() -> Response {
    (
        StatusCode::ACCEPTED,
        [("content-type", "application/json")],
        r#"{"status":"OK"}"#,
    )
        .into_response()
}

fn unknown_id() -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/json")],
        r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
    )
        .into_response()
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    if !close(&shared, &id) {
        return unknown_id();
    }
    let _ = shared.reports.send(Report::Response {
        request_id: id,
        at,
        body: body.to_vec(),
    });
    accepted()
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    if !close(&shared, &id) {
        return unknown_id();
    }
    let _ = shared.reports.send(Report::InvocationError {
        request_id: id,
        at,
        error_type: error_type(&headers),
        body: body.to_vec(),
    });
    accepted()
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let _ = shared.reports.send(Report::InitError {
        at: Instant::now(),
        error_type: error_type(&headers),
        body: body.to_vec(),
    });
    accepted()
}
