//! A minimal Lambda function on `lambda_runtime` for the runtime API's protocol tests: it
//! answers each event with what it received (the event and the invocation's context), fails an
//! event carrying `"fail": true`, and with `FAKE_INIT_ERROR` set reports an init error to
//! `POST /runtime/init/error` (a raw HTTP request, as a runtime that failed before its loop
//! does) and exits.

use std::io::{Read, Write};
use std::net::TcpStream;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    if payload["fail"] == json!(true) {
        return Err("the event asked to fail".into());
    }
    Ok(json!({
        "echo": payload,
        "request_id": context.request_id,
        "deadline_ms": context.deadline,
        "invoked_function_arn": context.invoked_function_arn,
        "trace_id": context.xray_trace_id,
    }))
}

fn report_init_error(api: &str, message: &str) -> std::io::Result<String> {
    let body = json!({ "errorMessage": message, "errorType": "Runtime.FakeInit" }).to_string();
    let mut stream = TcpStream::connect(api)?;
    write!(
        stream,
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: Runtime.FakeInit\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    if let Ok(message) = std::env::var("FAKE_INIT_ERROR") {
        let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
        let answer = report_init_error(&api, &message)?;
        eprintln!("{}", answer.lines().next().unwrap_or_default());
        std::process::exit(1);
    }
    lambda_runtime::run(service_fn(handle)).await
}
