//! The HTTP client every API client shares: timeouts, retries with exponential backoff and
//! jitter (schedule from `backon`), `Retry-After`, rate-limit headers and a concurrency cap.
//!
//! Retry rules (the README's "How a sync works"): 429 is always retried (the request was not
//! processed), honouring `Retry-After`; 5xx and timeouts are retried only for idempotent requests,
//! because a create that timed out may have happened; 4xx validation errors are never retried.
//!
//! Each API says what its rate-limit headers mean through a [`RateLimitPolicy`] (for example
//! [`HeaderRateLimit`] naming a "remaining" header and a window header); the client only acts on
//! the [`WindowReading`] it gives: the account's [`Pacer`] holds each call until the rolling
//! window has room for it, so that the whole allowance is used and the API does not have to
//! answer 429. A 429 holds every call of the account until its `Retry-After`.
//!
//! Calls draw from a [`CallBudget`]: the concurrency cap, the pacer, and the quota. When the
//! policy says the quota is used up ([`RateLimitPolicy::exhausted`], Xero's daily limit), the
//! call fails at once with [`HttpError::QuotaExhausted`], and so does every later call on the
//! same budget until the time has passed: nothing spins against a closed door. Clients of one
//! account share its budget through [`Budgets`].

mod budget;
mod pacer;
mod shared;

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};

pub use budget::{Budgets, CallBudget};
pub use pacer::{Pacer, Ticket, WindowReading};
pub use shared::{ClientBuildError, shared, shared_builds};
pub use sync_core::error::HttpError;

/// Tunables of an [`ApiClient`].
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Per-request timeout (connecting included), set on each request [`ApiClient::send`]
    /// sends that has none of its own.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff delay.
    pub base_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Longest `Retry-After` we wait for; a longer one fails the call.
    pub max_retry_after: Duration,
    /// Requests in flight at once (Xero allows 5 per tenant).
    pub max_concurrency: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_retries: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
            max_concurrency: 8,
        }
    }
}

impl HttpConfig {
    /// Short timeouts and delays for tests and demos against local emulators.
    pub fn fast() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            max_retries: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
            max_retry_after: Duration::from_secs(5),
            max_concurrency: 8,
        }
    }
}

/// Whether a request may be repeated when its outcome is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, upserts by external id, updates: safe to repeat.
    Idempotent,
    /// Creates: repeated only when the server surely did not process it (429, connect error).
    NotIdempotent,
}

/// A successful (2xx) response.
#[derive(Debug)]
pub struct HttpResponse {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Vec<u8>,
}

/// Extracts a readable message from an API's error body.
pub type ErrorDetail = fn(&[u8]) -> String;

/// What an API's rate-limit headers say. Each connector supplies its own; the client never
/// names an API.
pub trait RateLimitPolicy: Send + Sync + std::fmt::Debug {
    /// The pause the response's headers ask for, if any: the window's length when nothing
    /// remains in it.
    fn pause_after(&self, headers: &HeaderMap) -> Option<Duration>;

    /// What the headers say about the rate-limit window the call was counted in. By default
    /// only what [`RateLimitPolicy::pause_after`] says: nothing remains in a window of that
    /// length (the pacer learns the limit from the calls it counted then).
    fn window(&self, headers: &HeaderMap) -> Option<WindowReading> {
        self.pause_after(headers).map(|window| WindowReading {
            remaining: 0,
            limit: None,
            window,
        })
    }

    /// Whether a response says the account's quota is used up (not a short window: a daily
    /// budget), and for how long. By default never.
    fn exhausted(&self, _status: u16, _headers: &HeaderMap) -> Option<Duration> {
        None
    }
}

/// No rate-limit headers: the API signals limits only with 429 and `Retry-After`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRateLimitHeaders;

impl RateLimitPolicy for NoRateLimitHeaders {
    fn pause_after(&self, _headers: &HeaderMap) -> Option<Duration> {
        None
    }
}

/// A limit announced by a "calls remaining" header and, optionally, headers giving the window
/// length in milliseconds and the limit: the first present "remaining" header is read.
#[derive(Clone, Debug)]
pub struct HeaderRateLimit {
    remaining: Vec<&'static str>,
    window_ms: Option<&'static str>,
    limit: Option<&'static str>,
    default_window: Duration,
}

impl HeaderRateLimit {
    /// A policy reading the first present of `remaining` (lower-case header names), with a
    /// window of one second unless [`HeaderRateLimit::window_ms`] or
    /// [`HeaderRateLimit::default_window`] say otherwise.
    pub fn new(remaining: &[&'static str]) -> Self {
        Self {
            remaining: remaining.to_vec(),
            window_ms: None,
            limit: None,
            default_window: Duration::from_secs(1),
        }
    }

    /// The header giving the calls a window allows in all (without it the pacer learns it).
    pub fn limit_header(mut self, header: &'static str) -> Self {
        self.limit = Some(header);
        self
    }

    /// The header giving the window length in milliseconds.
    pub fn window_ms(mut self, header: &'static str) -> Self {
        self.window_ms = Some(header);
        self
    }

    /// The window when no header gives it.
    pub fn default_window(mut self, window: Duration) -> Self {
        self.default_window = window;
        self
    }
}

impl RateLimitPolicy for HeaderRateLimit {
    fn pause_after(&self, headers: &HeaderMap) -> Option<Duration> {
        self.window(headers)
            .and_then(|r| (r.remaining == 0).then_some(r.window))
    }

    fn window(&self, headers: &HeaderMap) -> Option<WindowReading> {
        let remaining = self.remaining.iter().find_map(|h| header_u64(headers, h))?;
        Some(WindowReading {
            remaining,
            limit: self.limit.and_then(|h| header_u64(headers, h)),
            window: self
                .window_ms
                .and_then(|h| header_u64(headers, h))
                .map(Duration::from_millis)
                .unwrap_or(self.default_window),
        })
    }
}

/// One API's HTTP client.
#[derive(Clone)]
pub struct ApiClient {
    api: &'static str,
    client: reqwest::Client,
    config: HttpConfig,
    error_detail: ErrorDetail,
    rate_limits: Arc<dyn RateLimitPolicy>,
    budget: Arc<CallBudget>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient").field("api", &self.api).finish()
    }
}

impl ApiClient {
    /// A client for the API named `api` (used in errors and logs), over the process's
    /// [`shared`] HTTP client.
    pub fn new(
        api: &'static str,
        config: HttpConfig,
        error_detail: ErrorDetail,
    ) -> Result<Self, HttpError> {
        let client = shared().map_err(|e| HttpError::Url {
            api,
            detail: e.to_string(),
        })?;
        Ok(Self {
            api,
            budget: Arc::new(CallBudget::new(config.max_concurrency)),
            client,
            config,
            error_detail,
            rate_limits: Arc::new(NoRateLimitHeaders),
        })
    }

    /// Draws from `budget` (shared with the account's other clients) instead of its own.
    pub fn with_budget(mut self, budget: Arc<CallBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// Reads the API's rate-limit headers with `policy`.
    pub fn with_rate_limits(mut self, policy: Arc<dyn RateLimitPolicy>) -> Self {
        self.rate_limits = policy;
        self
    }

    /// The underlying reqwest client, to build requests. It has no timeout of its own:
    /// [`ApiClient::send`] gives each request [`HttpConfig::timeout`].
    pub fn http(&self) -> &reqwest::Client {
        &self.client
    }

    /// The API name.
    pub fn api(&self) -> &'static str {
        self.api
    }

    /// Sends the request built by `build` (called again for each attempt) and returns a 2xx
    /// response, retrying what may be retried.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        idempotency: Idempotency,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<HttpResponse, HttpError> {
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(self.config.base_delay)
            .with_max_delay(self.config.max_delay)
            .with_max_times(self.config.max_retries as usize)
            .with_jitter()
            .build();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            self.check_quota()?;
            let (outcome, ticket) = {
                let _permit = self
                    .budget
                    .permits
                    .acquire()
                    .await
                    .expect("semaphore never closed");
                // After the permit: the place is taken when the call really goes.
                let ticket = self.budget.pacer().acquire().await;
                // The quota may have been used up while this call waited.
                if let Err(e) = self.check_quota() {
                    ticket.uncounted();
                    return Err(e);
                }
                (self.execute(build()).await, ticket)
            };
            let (retryable, retry_after, failure) = match outcome {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let reading = self.rate_limits.window(&headers);
                    let exhausted = self.rate_limits.exhausted(status.as_u16(), &headers);
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        if exhausted.is_some() {
                            ticket.uncounted();
                        } else {
                            let asked = parse_retry_after(&headers)
                                .map(|wait| wait.min(self.config.max_retry_after));
                            ticket.refused(reading, asked);
                        }
                    } else {
                        ticket.answered(reading);
                    }
                    if let Some(wait) = exhausted {
                        self.budget.exhaust(wait);
                        tracing::warn!(
                            api = self.api,
                            method,
                            path,
                            wait_s = wait.as_secs(),
                            "the account's call quota is used up"
                        );
                        if !status.is_success() {
                            return Err(HttpError::QuotaExhausted {
                                api: self.api,
                                retry_after: wait,
                            });
                        }
                    }
                    let body = match response.bytes().await {
                        Ok(body) => body.to_vec(),
                        Err(e) => {
                            let retryable = idempotency == Idempotency::Idempotent;
                            let failure = self.transport(
                                method,
                                path,
                                attempts,
                                format!("reading body: {e}"),
                            );
                            match self.next_delay(&mut backoff, retryable, None) {
                                Some(delay) => {
                                    self.log_retry(method, path, attempts, None, delay);
                                    tokio::time::sleep(delay).await;
                                    continue;
                                }
                                None => return Err(failure),
                            }
                        }
                    };
                    if status.is_success() {
                        return Ok(HttpResponse {
                            status,
                            headers,
                            body,
                        });
                    }
                    let retry_after = parse_retry_after(&headers);
                    let retryable = match status.as_u16() {
                        429 => true,
                        503 if retry_after.is_some() => true,
                        500..=599 => idempotency == Idempotency::Idempotent,
                        _ => false,
                    };
                    let failure = HttpError::Status {
                        api: self.api,
                        method: method.to_owned(),
                        path: path.to_owned(),
                        status: status.as_u16(),
                        detail: (self.error_detail)(&body),
                    };
                    (retryable, retry_after, failure)
                }
                Err(e) => {
                    // A connect error means the server never saw the request.
                    let retryable = e.is_connect() || idempotency == Idempotency::Idempotent;
                    let kind = if e.is_timeout() {
                        "timed out"
                    } else if e.is_connect() {
                        "could not connect"
                    } else {
                        "transport error"
                    };
                    (
                        retryable,
                        None,
                        self.transport(
                            method,
                            path,
                            attempts,
                            format!("{kind}: {}", without_url(&e)),
                        ),
                    )
                }
            };
            if let Some(wait) = retry_after
                && wait > self.config.max_retry_after
            {
                return Err(failure);
            }
            match self.next_delay(&mut backoff, retryable, retry_after) {
                Some(delay) => {
                    self.log_retry(method, path, attempts, failure.status(), delay);
                    tokio::time::sleep(delay).await;
                }
                None => return Err(failure),
            }
        }
    }

    /// Sends one attempt, with [`HttpConfig::timeout`] unless the request set its own (the
    /// clients of `shared` have none).
    async fn execute(&self, builder: RequestBuilder) -> reqwest::Result<reqwest::Response> {
        let (client, request) = builder.build_split();
        let mut request = request?;
        request.timeout_mut().get_or_insert(self.config.timeout);
        client.execute(request).await
    }

    fn transport(&self, method: &str, path: &str, attempts: u32, detail: String) -> HttpError {
        HttpError::Transport {
            api: self.api,
            method: method.to_owned(),
            path: path.to_owned(),
            attempts,
            detail,
        }
    }

    fn next_delay(
        &self,
        backoff: &mut impl Iterator<Item = Duration>,
        retryable: bool,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if !retryable {
            return None;
        }
        let scheduled = backoff.next()?;
        // The server's word beats our schedule; never retry sooner than it asked.
        Some(retry_after.map_or(scheduled, |asked| {
            asked.max(scheduled.min(self.config.base_delay))
        }))
    }

    fn log_retry(
        &self,
        method: &str,
        path: &str,
        attempt: u32,
        status: Option<u16>,
        delay: Duration,
    ) {
        tracing::warn!(
            api = self.api,
            method,
            path,
            attempt,
            status,
            delay_ms = delay.as_millis() as u64,
            "retrying request"
        );
    }

    /// Fails at once while the budget's quota is used up.
    fn check_quota(&self) -> Result<(), HttpError> {
        match self.budget.exhausted_for() {
            Some(retry_after) => Err(HttpError::QuotaExhausted {
                api: self.api,
                retry_after,
            }),
            None => Ok(()),
        }
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `Retry-After` as delta-seconds or an HTTP date.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// A reqwest error's text without the URL (query strings may carry personal data).
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<url>");
    }
    if let Some(source) = std::error::Error::source(error) {
        text.push_str(&format!(" ({source})"));
    }
    text
}

/// Parses a JSON body, with an error naming the API call.
pub fn parse_json<'a, T: serde::Deserialize<'a>>(
    api: &'static str,
    method: &str,
    path: &str,
    body: &'a [u8],
) -> Result<T, HttpError> {
    serde_json::from_slice(body).map_err(|e| HttpError::Malformed {
        api,
        method: method.to_owned(),
        path: path.to_owned(),
        // Syntax errors only name positions; the body itself may hold personal data.
        detail: format!("{e} (in a {}-byte body)", body.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: Headers) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    type Headers = &'static [(&'static str, &'static str)];

    #[test]
    fn a_header_policy_pauses_for_one_window_only_when_nothing_remains() {
        let policy = HeaderRateLimit::new(&["x-a-remaining", "x-b-remaining"])
            .window_ms("x-a-interval-milliseconds");
        let cases: &[(Headers, Option<Duration>)] = &[
            (&[], None),
            (&[("x-a-remaining", "3")], None),
            (&[("x-a-remaining", "0")], Some(Duration::from_secs(1))),
            (
                &[
                    ("x-a-remaining", "0"),
                    ("x-a-interval-milliseconds", "10000"),
                ],
                Some(Duration::from_secs(10)),
            ),
            // The second name is read when the first is absent.
            (&[("x-b-remaining", "0")], Some(Duration::from_secs(1))),
            // A value that is not a count is no signal.
            (&[("x-a-remaining", "soon")], None),
        ];
        for (pairs, expected) in cases {
            assert_eq!(policy.pause_after(&headers(pairs)), *expected, "{pairs:?}");
        }
        let minute =
            HeaderRateLimit::new(&["x-a-remaining"]).default_window(Duration::from_secs(60));
        assert_eq!(
            minute.pause_after(&headers(&[("x-a-remaining", "0")])),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            NoRateLimitHeaders.pause_after(&headers(&[("x-a-remaining", "0")])),
            None
        );
    }
}
