//! Pieces shared by both emulators: server lifecycle, clock, fault injection,
//! call statistics, rate limiting, change hooks and small HTTP helpers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Largest request body either emulator accepts.
pub(crate) const MAX_BODY: usize = 32 * 1024 * 1024;

/// Locks a mutex, ignoring poisoning: a panicking test must not wedge the
/// emulator for every other test sharing it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// Server lifecycle
// ---------------------------------------------------------------------------

/// A running emulator bound to a local socket.
///
/// Dropping it stops the server too; [`RunningServer::shutdown`] additionally
/// waits for the server task to finish.
#[derive(Debug)]
pub struct RunningServer {
    /// Base URL without trailing slash, e.g. `http://127.0.0.1:40123`.
    pub base_url: String,
    /// The bound socket address.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Stops the server and waits (briefly) for it to wind down.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // In-flight slow requests (e.g. injected timeouts) must not hold
            // shutdown hostage.
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` and serves `router` in a background task.
pub(crate) async fn start_router(
    router: Router,
    addr: SocketAddr,
) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "emulator server stopped with an error");
        }
    });
    Ok(RunningServer {
        base_url: format!("http://{local}"),
        addr: local,
        stop: Some(tx),
        task: Some(task),
    })
}

/// Binds `addr` and serves `router` until `shutdown` resolves.
pub(crate) async fn serve_until(
    router: Router,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

// ---------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------

/// Millisecond clock that never repeats or goes backwards, so that ordering by
/// timestamp is total and deterministic even for bursts of writes.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    last_ms: i64,
}

impl Clock {
    pub(crate) fn now(&mut self) -> DateTime<Utc> {
        let mut ms = Utc::now().timestamp_millis();
        if ms <= self.last_ms {
            ms = self.last_ms + 1;
        }
        self.last_ms = ms;
        Utc.timestamp_millis_opt(ms)
            .single()
            .unwrap_or_else(Utc::now)
    }
}

/// ISO-8601 UTC with milliseconds and `Z`.
pub(crate) fn iso(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Parses an RFC 3339 / ISO-8601 instant (also tolerates a missing offset,
/// which is then taken as UTC).
pub(crate) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(n) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n.and_utc());
        }
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| n.and_utc())
}

// ---------------------------------------------------------------------------
// Fault injection
// ---------------------------------------------------------------------------

/// Rejects writes of records whose `field` equals `value`.
///
/// For Connec! `field` is a dotted path into the record body (e.g.
/// `email.address`); for HubSpot it is a property name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordFault {
    /// Dotted path (Connec!) or property name (HubSpot).
    #[serde(alias = "path", alias = "property")]
    pub field: String,
    /// Value to match; strings compare case-insensitively and scalars compare
    /// by their string form (HubSpot stores everything as strings).
    pub value: Value,
    /// How many writes to reject; `None` = until cleared.
    #[serde(default)]
    pub times: Option<u32>,
}

impl RecordFault {
    /// Rule that rejects matching writes until cleared.
    pub fn new(field: impl Into<String>, value: impl Into<Value>) -> Self {
        Self {
            field: field.into(),
            value: value.into(),
            times: None,
        }
    }
}

/// Makes whole HTTP calls fail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallFault {
    /// HTTP method to match (case-insensitive); `None` matches any.
    #[serde(default)]
    pub method: Option<String>,
    /// Substring the request path must contain (empty matches everything).
    #[serde(default)]
    pub path_contains: String,
    /// How many calls to fail; `0` means until cleared.
    #[serde(default)]
    pub times: u32,
    /// What the failure looks like.
    pub kind: FaultKind,
}

impl CallFault {
    /// Fails the next `times` calls whose path contains `path_contains` with `status`.
    pub fn status(path_contains: impl Into<String>, status: u16, times: u32) -> Self {
        Self {
            method: None,
            path_contains: path_contains.into(),
            times,
            kind: FaultKind::Status {
                status,
                retry_after_secs: None,
            },
        }
    }

    /// Same as [`CallFault::status`] with another [`FaultKind`].
    pub fn new(path_contains: impl Into<String>, kind: FaultKind, times: u32) -> Self {
        Self {
            method: None,
            path_contains: path_contains.into(),
            times,
            kind,
        }
    }
}

/// Shape of an injected call failure.
///
/// Over HTTP it is tagged by `type`, e.g. `{"type":"status","status":503}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FaultKind {
    /// Respond with this status and the vendor's error envelope (plus
    /// `Retry-After` when given).
    Status {
        /// HTTP status code.
        status: u16,
        /// Optional `Retry-After` header value in seconds.
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Sleep `delay_ms` then answer 504, so a client-side timeout fires first.
    Timeout {
        /// Delay before the 504.
        delay_ms: u64,
    },
    /// 200 with a truncated JSON body.
    Malformed,
    /// 200 with valid JSON lacking the expected keys.
    WrongShape,
    /// Close the connection without an answer: the client sees the connection reset (or closed)
    /// before a response arrived. The call is not processed.
    Reset,
    /// Process the call (its changes are committed), then answer with `then` instead of the
    /// real answer: a lost answer, e.g. `{"type":"after_commit","then":{"type":"status","status":503}}`.
    AfterCommit {
        /// How the answer is lost.
        then: Box<FaultKind>,
    },
}

#[derive(Debug, Default, Clone, Serialize)]
struct FaultState {
    records: Vec<RecordFault>,
    calls: Vec<CallFault>,
}

/// Registry of active faults; cheap to clone (shared handle).
#[derive(Debug, Default, Clone)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

impl Faults {
    /// Adds a record rule (see [`RecordFault`]).
    pub fn fail_record(&self, rule: RecordFault) {
        lock(&self.inner).records.push(rule);
    }

    /// Adds a call rule (see [`CallFault`]).
    pub fn fail_calls(&self, rule: CallFault) {
        lock(&self.inner).calls.push(rule);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        let mut s = lock(&self.inner);
        s.records.clear();
        s.calls.clear();
    }

    /// Active rules as JSON (for `/_emulator/state`).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&*lock(&self.inner)).unwrap_or(Value::Null)
    }

    /// Consumes one matching call rule that fails the call before it is processed, if any.
    pub(crate) fn take_call(&self, method: &str, path: &str) -> Option<FaultKind> {
        self.take(method, path, false)
    }

    /// Consumes one matching [`FaultKind::AfterCommit`] rule, if any, and returns how the
    /// processed call's answer is lost.
    pub(crate) fn take_after_commit(&self, method: &str, path: &str) -> Option<FaultKind> {
        match self.take(method, path, true)? {
            FaultKind::AfterCommit { then } => Some(*then),
            other => Some(other),
        }
    }

    fn take(&self, method: &str, path: &str, after_commit: bool) -> Option<FaultKind> {
        let mut s = lock(&self.inner);
        let idx = s.calls.iter().position(|f| {
            matches!(f.kind, FaultKind::AfterCommit { .. }) == after_commit
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && path.contains(&f.path_contains)
        })?;
        let kind = s.calls[idx].kind.clone();
        if s.calls[idx].times > 0 {
            s.calls[idx].times -= 1;
            if s.calls[idx].times == 0 {
                s.calls.remove(idx);
            }
        }
        Some(kind)
    }

    /// Consumes one matching record rule; `lookup` resolves a field/path in
    /// the record being written.
    pub(crate) fn record_hit(&self, lookup: impl Fn(&str) -> Option<Value>) -> Option<RecordFault> {
        let mut s = lock(&self.inner);
        let idx = s
            .records
            .iter()
            .position(|r| lookup(&r.field).is_some_and(|v| scalar_eq(&v, &r.value)))?;
        let hit = s.records[idx].clone();
        if let Some(t) = s.records[idx].times.as_mut() {
            *t = t.saturating_sub(1);
            if *t == 0 {
                s.records.remove(idx);
            }
        }
        Some(hit)
    }
}

/// Renders an injected fault in an emulator's own error envelope.
pub(crate) type RenderFault = fn(FaultKind) -> Pin<Box<dyn Future<Output = Response> + Send>>;

/// Wraps an emulator's router so that [`FaultKind::AfterCommit`] rules replace the answer of a
/// call the emulator processed (admin routes excluded).
pub(crate) fn after_commit_layer(router: Router, faults: Faults, render: RenderFault) -> Router {
    router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let faults = faults.clone();
            async move {
                let path = request.uri().path().to_owned();
                let method = request.method().as_str().to_owned();
                let answer = next.run(request).await;
                if path.starts_with("/_emulator") {
                    return answer;
                }
                match faults.take_after_commit(&method, &path) {
                    Some(kind) => render(kind).await,
                    None => answer,
                }
            }
        },
    ))
}

/// A response whose body fails before its first byte: the server closes the connection and
/// the client sees it reset (or closed) without an answer.
pub(crate) fn reset_response() -> Response {
    let failing = futures::stream::once(async {
        Err::<axum::body::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected connection reset",
        ))
    });
    Response::new(Body::from_stream(failing))
}

/// Loose equality: JSON-equal, or equal string forms (case-insensitive).
pub(crate) fn scalar_eq(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (scalar_string(a), scalar_string(b)) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(&y),
        _ => false,
    }
}

/// String form of a JSON scalar (`None` for null/objects/arrays).
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Stats
// ---------------------------------------------------------------------------

/// Counters of API calls seen by an emulator (admin routes excluded).
///
/// Every request that matched an API route is counted in `reads`/`writes` and
/// `by_route`, including refused ones, which are also counted in `rejected`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallStats {
    /// Read calls (GET, HubSpot search and batch/read).
    pub reads: u64,
    /// Write calls (everything else; a Connec! `/batch` counts once).
    pub writes: u64,
    /// Per `"METHOD /route/pattern"` counts (plus `batch-ops` for Connec!).
    pub by_route: BTreeMap<String, u64>,
    /// Calls refused with 401, 429 or an injected call fault.
    pub rejected: u64,
}

impl CallStats {
    pub(crate) fn count(&mut self, route: &str, read: bool) {
        if read {
            self.reads += 1;
        } else {
            self.writes += 1;
        }
        *self.by_route.entry(route.to_string()).or_default() += 1;
    }

    pub(crate) fn add(&mut self, key: &str, n: u64) {
        *self.by_route.entry(key.to_string()).or_default() += n;
    }
}

// ---------------------------------------------------------------------------
// Rate limiting
// ---------------------------------------------------------------------------

/// Rolling-window rate limit: at most `max` requests per `interval_ms` per
/// credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub max: u32,
    /// Window length in milliseconds.
    pub interval_ms: u64,
}

#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    windows: HashMap<String, VecDeque<Instant>>,
}

impl RateLimiter {
    /// Records a request for `key`; `Ok(remaining)` or `Err(retry_after_secs)`.
    pub(crate) fn check(&mut self, key: &str, limit: RateLimit) -> Result<u32, u64> {
        let now = Instant::now();
        let interval = Duration::from_millis(limit.interval_ms);
        let q = self.windows.entry(key.to_string()).or_default();
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= interval)
        {
            q.pop_front();
        }
        if q.len() as u32 >= limit.max {
            let wait = q
                .front()
                .map(|t| (*t + interval).saturating_duration_since(now))
                .unwrap_or(interval);
            return Err(wait.as_millis().div_ceil(1000).max(1) as u64);
        }
        q.push_back(now);
        Ok(limit.max - q.len() as u32)
    }
}

// ---------------------------------------------------------------------------
// Change hooks (seam for future webhooks / notifications)
// ---------------------------------------------------------------------------

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A record was created.
    Created,
    /// A record changed.
    Updated,
    /// A record was archived (HubSpot) .
    Archived,
}

/// A state change, emitted after the change is committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// Kind of change.
    pub kind: ChangeKind,
    /// Connec! group id; empty for HubSpot.
    pub scope: String,
    /// Connec! collection or HubSpot object type.
    pub collection: String,
    /// Record id.
    pub id: String,
    /// Timestamp of the change (ISO-8601, ms).
    pub at: String,
}

/// Observer of state changes. Called outside the state lock, so it may call
/// back into the emulator.
pub type ChangeHook = Arc<dyn Fn(&ChangeEvent) + Send + Sync>;

// ---------------------------------------------------------------------------
// Errors and HTTP helpers
// ---------------------------------------------------------------------------

/// Failure of an API operation; each emulator renders it in its vendor's
/// error envelope.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Status { status: u16, message: String },
}

impl ApiError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Status { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

/// Builds a response with a JSON body and content type.
pub(crate) fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: &Value,
) -> Response {
    raw_response(
        status,
        content_type,
        serde_json::to_vec(body).unwrap_or_default(),
    )
}

pub(crate) fn raw_response(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

pub(crate) fn empty_response(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

pub(crate) fn set_header(r: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        r.headers_mut().insert(name, v);
    }
}

/// Decoded query pairs, in order.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

pub(crate) fn query_get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Re-encodes query pairs with `key` set to `value`.
pub(crate) fn query_with(q: &[(String, String)], key: &str, value: &str) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in q.iter().filter(|(k, _)| k != key) {
        s.append_pair(k, v);
    }
    s.append_pair(key, value);
    s.finish()
}

/// `http://host` as seen by the client, for absolute paging links.
pub(crate) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// Looks up a dotted path (`a.b.c`) in a JSON value.
pub(crate) fn lookup_path<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, seg| match cur {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Orders two JSON scalars: as instants when both parse as timestamps, as
/// numbers when both are numeric, else as strings. `None` if incomparable.
pub(crate) fn compare_scalars(a: &Value, b: &Value, dates: bool) -> Option<std::cmp::Ordering> {
    let (sa, sb) = (scalar_string(a)?, scalar_string(b)?);
    if dates {
        if let (Some(x), Some(y)) = (parse_date_like(&sa), parse_date_like(&sb)) {
            return Some(x.cmp(&y));
        }
    } else if a.is_string()
        && b.is_string()
        && let (Some(x), Some(y)) = (parse_instant(&sa), parse_instant(&sb))
    {
        return Some(x.cmp(&y));
    }
    if let (Ok(x), Ok(y)) = (sa.trim().parse::<f64>(), sb.trim().parse::<f64>()) {
        return x.partial_cmp(&y);
    }
    Some(sa.cmp(&sb))
}

/// Instant from an ISO string or epoch milliseconds.
pub(crate) fn parse_date_like(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(ms) = s.trim().parse::<i64>() {
        return Utc.timestamp_millis_opt(ms).single();
    }
    parse_instant(s.trim())
}

/// The `/_emulator/faults/...` and `/_emulator/stats...` admin routes both emulators share;
/// `None` for any other route. Answers are JSON of `content_type`.
pub(crate) fn faults_and_stats_admin(
    content_type: &'static str,
    faults: &Faults,
    stats: &Mutex<CallStats>,
    method: &Method,
    segs: &[&str],
    bytes: &[u8],
) -> Option<Response> {
    let ok = || {
        json_response(
            StatusCode::OK,
            content_type,
            &serde_json::json!({ "ok": true }),
        )
    };
    let bad = |m: String| {
        json_response(
            StatusCode::BAD_REQUEST,
            content_type,
            &serde_json::json!({ "error": m }),
        )
    };
    Some(match (method, segs) {
        (&Method::POST, ["faults", "record"]) => match serde_json::from_slice::<RecordFault>(bytes)
        {
            Ok(rule) => {
                faults.fail_record(rule);
                ok()
            }
            Err(e) => bad(format!("invalid record fault: {e}")),
        },
        (&Method::POST, ["faults", "call"]) => match serde_json::from_slice::<CallFault>(bytes) {
            Ok(rule) => {
                faults.fail_calls(rule);
                ok()
            }
            Err(e) => bad(format!("invalid call fault: {e}")),
        },
        (&Method::DELETE, ["faults"]) => {
            faults.clear();
            empty_response(StatusCode::NO_CONTENT)
        }
        (&Method::GET, ["stats"]) => json_response(
            StatusCode::OK,
            content_type,
            &serde_json::to_value(lock(stats).clone()).unwrap_or_default(),
        ),
        (&Method::POST, ["stats", "reset"]) => {
            *lock(stats) = CallStats::default();
            empty_response(StatusCode::NO_CONTENT)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_is_strictly_increasing() {
        let mut c = Clock::default();
        let a = c.now();
        let b = c.now();
        assert!(b > a);
        assert_eq!(iso(&a).len(), 24);
    }

    #[test]
    fn rate_limiter_window() {
        let mut r = RateLimiter::default();
        let l = RateLimit {
            max: 2,
            interval_ms: 10_000,
        };
        assert_eq!(r.check("t", l), Ok(1));
        assert_eq!(r.check("t", l), Ok(0));
        assert!(r.check("t", l).is_err());
        assert_eq!(r.check("u", l), Ok(1));
    }

    #[test]
    fn call_fault_counts_down() {
        let f = Faults::default();
        f.fail_calls(CallFault::status("/x", 500, 2));
        assert!(f.take_call("GET", "/x/y").is_some());
        assert!(f.take_call("GET", "/z").is_none());
        assert!(f.take_call("GET", "/x").is_some());
        assert!(f.take_call("GET", "/x").is_none());
    }

    #[test]
    fn after_commit_rules_are_only_taken_after_processing() {
        let f = Faults::default();
        let then = FaultKind::Status {
            status: 503,
            retry_after_secs: None,
        };
        f.fail_calls(CallFault::new(
            "/x",
            FaultKind::AfterCommit {
                then: Box::new(then.clone()),
            },
            1,
        ));
        assert!(f.take_call("POST", "/x").is_none());
        assert_eq!(f.take_after_commit("POST", "/x"), Some(then));
        assert!(f.take_after_commit("POST", "/x").is_none());
    }
}
