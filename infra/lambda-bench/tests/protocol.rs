//! The runtime API against a real runtime client: `fake-bootstrap`, a function on
//! `lambda_runtime`, gets its events with their headers, answers them, reports a failed
//! invocation, and reports an init error; answers for unknown request ids are refused.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use lambda_bench::runtime_api::{ApiError, Outcome, RuntimeApi};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(30);

fn spawn(api: &RuntimeApi, extra: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fake-bootstrap"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "fake")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/fake")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "stream")
        .envs(extra.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("fake-bootstrap starts")
}

fn json_of(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Response(body) => serde_json::from_slice(body).expect("a JSON response"),
        other => panic!("expected a response, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_delivered_with_their_headers_and_answers_and_errors_come_back() {
    let api = RuntimeApi::start("fake").await.unwrap();
    let mut child = spawn(&api, &[]);
    api.wait_ready(WAIT)
        .await
        .expect("the function asks for an event");

    let before = chrono::Utc::now().timestamp_millis();
    let first = api
        .invoke(br#"{"hello":"world"}"#, Duration::from_secs(10))
        .await
        .unwrap();
    let answer = json_of(&first.outcome);
    assert_eq!(answer["echo"], json!({ "hello": "world" }));
    assert_eq!(answer["request_id"], json!(first.request_id));
    assert_eq!(
        answer["invoked_function_arn"],
        json!("arn:aws:lambda:us-east-1:123456789012:function:fake")
    );
    let deadline = answer["deadline_ms"].as_i64().unwrap();
    assert!(
        deadline >= before + 9_000 && deadline <= chrono::Utc::now().timestamp_millis() + 10_000,
        "the deadline is the invocation's timeout from its hand-out: {deadline}"
    );
    assert!(
        answer["trace_id"].as_str().unwrap().starts_with("Root=1-"),
        "{answer}"
    );
    assert!(first.finished >= first.handed_out);

    let failed = api
        .invoke(br#"{"fail":true}"#, Duration::from_secs(10))
        .await
        .unwrap();
    match &failed.outcome {
        Outcome::Error { error_type, body } => {
            assert!(error_type.is_some(), "lambda_runtime names the error type");
            assert!(
                String::from_utf8_lossy(body).contains("the event asked to fail"),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
    assert_ne!(failed.request_id, first.request_id);

    // The function goes on after a failed invocation.
    let third = api
        .invoke(b"[1,2,3]", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(json_of(&third.outcome)["echo"], json!([1, 2, 3]));

    // An answer for an id that was never handed out (or already answered) is refused.
    for id in ["never-handed-out", first.request_id.as_str()] {
        let status = post(
            &api.address(),
            &format!("/2018-06-01/runtime/invocation/{id}/response"),
            "{}",
        );
        assert!(status.starts_with("HTTP/1.1 400"), "{id}: {status}");
    }
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_error_is_reported() {
    let api = RuntimeApi::start("fake").await.unwrap();
    let child = spawn(&api, &[("FAKE_INIT_ERROR", "TABLE_NAME is not set")]);
    match api.wait_ready(WAIT).await {
        Err(ApiError::InitError { error_type, body }) => {
            assert_eq!(error_type.as_deref(), Some("Runtime.FakeInit"));
            assert!(body.contains("TABLE_NAME is not set"), "{body}");
        }
        other => panic!("expected an init error, got {other:?}"),
    }
    let output = child.wait_with_output().await.unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).starts_with("HTTP/1.1 202"),
        "the init error is accepted: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A raw HTTP/1.1 POST; returns the status line.
fn post(address: &str, path: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or_default().to_owned()
}
