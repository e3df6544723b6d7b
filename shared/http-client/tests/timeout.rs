//! The per-request timeout: the process's shared HTTP client has none, so `ApiClient::send`
//! must give each request the configured one, and a server that accepts but never answers
//! fails the call in about that time instead of hanging it.

use std::time::{Duration, Instant};

use http_client::{ApiClient, HttpConfig, HttpError, Idempotency};

/// A server that accepts connections and never answers (the sockets are held open).
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}/never")
}

fn config(timeout: Duration) -> HttpConfig {
    HttpConfig {
        timeout,
        max_retries: 0,
        ..HttpConfig::fast()
    }
}

#[tokio::test]
async fn a_request_to_a_server_that_never_answers_times_out_after_the_configured_timeout() {
    let url = silent_server().await;
    let client = ApiClient::new("silent", config(Duration::from_millis(300)), |_| {
        String::new()
    })
    .expect("client");
    let started = Instant::now();
    // The guard fails the test instead of hanging it when no timeout applies.
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        client.send("GET", "/never", Idempotency::Idempotent, || {
            client.http().get(&url)
        }),
    )
    .await
    .expect("the configured timeout fires, not the test's guard");
    let elapsed = started.elapsed();
    match outcome {
        Err(HttpError::Transport { detail, .. }) => {
            assert!(detail.starts_with("timed out"), "{detail}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
}

#[tokio::test]
async fn a_timeout_the_request_sets_itself_is_kept() {
    let url = silent_server().await;
    // The client's own timeout is long; the request's short one decides.
    let client = ApiClient::new("silent", config(Duration::from_secs(60)), |_| String::new())
        .expect("client");
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        client.send("GET", "/never", Idempotency::Idempotent, || {
            client.http().get(&url).timeout(Duration::from_millis(200))
        }),
    )
    .await
    .expect("the request's timeout fires, not the test's guard");
    assert!(
        matches!(&outcome, Err(HttpError::Transport { detail, .. }) if detail.starts_with("timed out")),
        "{outcome:?}"
    );
}
