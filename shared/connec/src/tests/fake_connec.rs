//! A stand-in Connec! for what the emulator does not do: answer `get` ops inside `/batch` with
//! another status (a deployment whose `/batch` takes `post` and `put` only), and hold answers
//! back to see how many calls travel at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as it arrived.
#[derive(Clone, Debug)]
pub(super) struct Request {
    pub(super) method: String,
    /// Path and query.
    pub(super) target: String,
    /// The JSON body (`Null` when there is none).
    pub(super) body: Value,
}

type Answer = dyn Fn(&Request) -> (u16, Value) + Send + Sync;

/// Calls in flight now and at most.
#[derive(Default)]
struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

pub(super) struct FakeConnec {
    pub(super) base_url: String,
    log: Arc<Mutex<Vec<Request>>>,
    gauge: Arc<Gauge>,
}

impl FakeConnec {
    /// Answers each request with `answer`'s status and JSON body. Each answer waits until
    /// `hold_until` requests are in flight (at most a second), so that calls sent at once are
    /// seen at once however slowly the machine runs.
    pub(super) async fn start(
        hold_until: usize,
        answer: impl Fn(&Request) -> (u16, Value) + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let gauge = Arc::new(Gauge::default());
        let answer: Arc<Answer> = Arc::new(answer);
        let (log_in, gauge_in) = (log.clone(), gauge.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (log, gauge, answer) = (log_in.clone(), gauge_in.clone(), answer.clone());
                tokio::spawn(serve(socket, log, gauge, answer, hold_until));
            }
        });
        Self {
            base_url,
            log,
            gauge,
        }
    }

    /// `"METHOD target"` of every request so far, in arrival order.
    pub(super) fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.target))
            .collect()
    }

    pub(super) fn requests(&self) -> Vec<Request> {
        self.log.lock().expect("log").clone()
    }

    /// The most requests that were in flight at once.
    pub(super) fn max_in_flight(&self) -> usize {
        self.gauge.max.load(Ordering::SeqCst)
    }
}

/// One request per connection (answered with `connection: close`).
async fn serve(
    mut socket: TcpStream,
    log: Arc<Mutex<Vec<Request>>>,
    gauge: Arc<Gauge>,
    answer: Arc<Answer>,
    hold_until: usize,
) {
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    log.lock().expect("log").push(request.clone());
    let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
    gauge.max.fetch_max(now, Ordering::SeqCst);
    let start = Instant::now();
    while gauge.now.load(Ordering::SeqCst) < hold_until && start.elapsed() < Duration::from_secs(1)
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (status, body) = answer(&request);
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(body.as_bytes()).await;
    let _ = socket.flush().await;
    gauge.now.fetch_sub(1, Ordering::SeqCst);
}

async fn read_request(socket: &mut TcpStream) -> Option<Request> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        let n = socket.read(&mut buf).await.ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while data.len() < head_end + length {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
    let mut line = head.lines().next()?.split(' ');
    let method = line.next()?.to_owned();
    let target = line.next()?.to_owned();
    let body = serde_json::from_slice(&data[head_end..]).unwrap_or(Value::Null);
    Some(Request {
        method,
        target,
        body,
    })
}
