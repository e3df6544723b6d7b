//! Pacing against a rolling-window limit, over a local test server, on tokio's paused clock
//! (the server keeps its window on the same clock, so a window passes in no real time).
//!
//! The server allows `limit` calls per rolling `window`, answers what remains with every call
//! (as HubSpot and Xero do, with more or fewer headers) and refuses a call over the limit with
//! 429 without counting it. Once the headers said the window is used up, the client makes no
//! call the server would refuse, and still uses the whole allowance of every window.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_client::{ApiClient, Budgets, HeaderRateLimit, HttpConfig, Idempotency, RateLimitPolicy};
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_secs(10);
const LIMIT: usize = 5;

/// Which rate-limit headers the server sends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Headers {
    /// Remaining, the limit and the window (HubSpot's `X-HubSpot-RateLimit-*`).
    Full,
    /// Remaining and the window, no limit.
    Remaining,
    /// Remaining only, read by a policy that only says when nothing remains (as the Xero
    /// connector's reads `X-MinLimit-Remaining`).
    ZeroOnly,
}

#[derive(Debug, Default)]
struct Log {
    /// Accepted calls in the window.
    window: VecDeque<Instant>,
    /// Every call received: when, and the status answered.
    received: Vec<(Instant, u16)>,
    /// Calls of "another process" to count when the server starts.
    foreign_at_start: usize,
    /// Refuse this many first calls with 429 and this `Retry-After`, whatever the window.
    refuse_first: usize,
    refuse_retry_after: Option<u64>,
    /// Whether a 429 over the limit says `Retry-After`.
    retry_after_on_429: bool,
}

#[derive(Clone)]
struct Server {
    log: Arc<Mutex<Log>>,
    headers: Headers,
    started: Instant,
}

fn set(map: &mut HeaderMap, name: &'static str, value: impl ToString) {
    map.insert(name, HeaderValue::from_str(&value.to_string()).unwrap());
}

async fn call(State(server): State<Server>) -> Response {
    let now = Instant::now();
    let mut log = server.log.lock().unwrap();
    while log.window.front().is_some_and(|t| now - *t >= WINDOW) {
        log.window.pop_front();
    }
    let mut headers = HeaderMap::new();
    let rate_headers = |headers: &mut HeaderMap, remaining: usize| {
        set(headers, "x-ratelimit-remaining", remaining);
        if server.headers != Headers::ZeroOnly {
            set(
                headers,
                "x-ratelimit-interval-milliseconds",
                WINDOW.as_millis(),
            );
        }
        if server.headers == Headers::Full {
            set(headers, "x-ratelimit-max", LIMIT);
        }
    };
    if log.refuse_first > 0 {
        log.refuse_first -= 1;
        if let Some(secs) = log.refuse_retry_after {
            set(&mut headers, "retry-after", secs);
        }
        log.received.push((now, 429));
        return (StatusCode::TOO_MANY_REQUESTS, headers).into_response();
    }
    if log.window.len() >= LIMIT {
        let frees = *log.window.front().unwrap() + WINDOW - now;
        rate_headers(&mut headers, 0);
        if log.retry_after_on_429 {
            set(
                &mut headers,
                "retry-after",
                frees.as_millis().div_ceil(1000),
            );
        }
        log.received.push((now, 429));
        return (StatusCode::TOO_MANY_REQUESTS, headers).into_response();
    }
    log.window.push_back(now);
    rate_headers(&mut headers, LIMIT - log.window.len());
    log.received.push((now, 200));
    (StatusCode::OK, headers, "{}").into_response()
}

async fn start(headers: Headers, setup: impl FnOnce(&mut Log)) -> (String, Server) {
    let mut log = Log {
        retry_after_on_429: true,
        ..Log::default()
    };
    setup(&mut log);
    let started = Instant::now();
    for _ in 0..log.foreign_at_start {
        log.window.push_back(started);
    }
    let server = Server {
        log: Arc::new(Mutex::new(log)),
        headers,
        started,
    };
    let app = axum::Router::new()
        .route("/calls", get(call))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/calls", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, server)
}

/// Says a window of [`WINDOW`] is used up when `x-ratelimit-remaining` is 0, nothing more.
#[derive(Debug)]
struct ZeroOnly;

impl RateLimitPolicy for ZeroOnly {
    fn pause_after(&self, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
        let remaining = headers.get("x-ratelimit-remaining")?.to_str().ok()?;
        (remaining == "0").then_some(WINDOW)
    }
}

fn policy(headers: Headers) -> Arc<dyn RateLimitPolicy> {
    match headers {
        Headers::ZeroOnly => Arc::new(ZeroOnly),
        _ => Arc::new(
            HeaderRateLimit::new(&["x-ratelimit-remaining"])
                .window_ms("x-ratelimit-interval-milliseconds")
                .limit_header("x-ratelimit-max"),
        ),
    }
}

fn client(budgets: &Budgets, headers: Headers) -> ApiClient {
    let config = HttpConfig {
        // Long enough for every wait here: the pacing, not the retries, must avoid refusals.
        max_retry_after: Duration::from_secs(60),
        ..HttpConfig::fast()
    };
    ApiClient::new("test-api", config, |b| String::from_utf8_lossy(b).into())
        .unwrap()
        .with_rate_limits(policy(headers))
        .with_budget(budgets.of("account"))
}

async fn get_ok(client: &ApiClient, url: &str) {
    client
        .send("GET", "/calls", Idempotency::Idempotent, || {
            client.http().get(url)
        })
        .await
        .expect("the call succeeds");
}

/// Accepted calls in each whole window since the server started, and the refusals.
fn per_window(server: &Server) -> (Vec<usize>, usize) {
    let log = server.log.lock().unwrap();
    let mut windows = Vec::new();
    for (at, status) in &log.received {
        if *status == 200 {
            let i = ((*at - server.started).as_millis() / WINDOW.as_millis()) as usize;
            if windows.len() <= i {
                windows.resize(i + 1, 0);
            }
            windows[i] += 1;
        }
    }
    let refused = log.received.iter().filter(|(_, s)| *s == 429).count();
    (windows, refused)
}

/// `workers` tasks of one account make `calls` calls in all.
async fn run(headers: Headers, workers: usize, calls: usize) -> Server {
    let (url, server) = start(headers, |_| {}).await;
    let budgets = Budgets::new(8);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let client = client(&budgets, headers);
        let url = url.clone();
        let mine = calls / workers + usize::from(w < calls % workers);
        tasks.push(tokio::spawn(async move {
            for _ in 0..mine {
                get_ok(&client, &url).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    server
}

#[tokio::test(start_paused = true)]
async fn with_the_limit_announced_concurrent_calls_fill_each_window_and_none_is_refused() {
    let server = run(Headers::Full, 3, 4 * LIMIT + 2).await;
    let (windows, refused) = per_window(&server);
    assert_eq!(refused, 0, "no call over the limit");
    assert_eq!(windows, vec![LIMIT, LIMIT, LIMIT, LIMIT, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_limit_learned_from_what_remains_fills_each_window_and_none_is_refused() {
    for headers in [Headers::Remaining, Headers::ZeroOnly] {
        let server = run(headers, 1, 3 * LIMIT + 1).await;
        let (windows, refused) = per_window(&server);
        assert_eq!(refused, 0, "{headers:?}: no call over the limit");
        assert_eq!(windows, vec![LIMIT, LIMIT, LIMIT, 1], "{headers:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_429_holds_every_call_of_the_account_until_its_retry_after() {
    let (url, server) = start(Headers::Full, |log| {
        log.refuse_first = 1;
        log.refuse_retry_after = Some(3);
    })
    .await;
    let budgets = Budgets::new(8);
    let first = client(&budgets, Headers::Full);
    let second = client(&budgets, Headers::Full);
    let refused_then = {
        let url = url.clone();
        tokio::spawn(async move { get_ok(&first, &url).await })
    };
    // The second call of the account comes while the first waits out its Retry-After.
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        get_ok(&second, &url).await
    });
    refused_then.await.unwrap();
    later.await.unwrap();
    let log = server.log.lock().unwrap();
    let (refused_at, status) = log.received[0];
    assert_eq!(status, 429);
    assert_eq!(log.received.len(), 3, "one refusal, then the two calls");
    for (at, status) in &log.received[1..] {
        assert_eq!(*status, 200);
        assert!(
            *at - refused_at >= Duration::from_secs(3),
            "a call {:?} after the 429 that asked for 3 s",
            *at - refused_at
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_window_full_of_another_process_calls_costs_one_429_and_no_storm() {
    // Another process used the whole window just before; the 429 says no Retry-After.
    let (url, server) = start(Headers::Full, |log| {
        log.foreign_at_start = LIMIT;
        log.retry_after_on_429 = false;
    })
    .await;
    let budgets = Budgets::new(8);
    let client = client(&budgets, Headers::Full);
    for _ in 0..LIMIT {
        get_ok(&client, &url).await;
    }
    let (windows, refused) = per_window(&server);
    assert_eq!(
        refused, 1,
        "the first call learns the window is full, no more"
    );
    assert_eq!(windows, vec![0, LIMIT]);
}
