//! Every path segment of a Connec! URL is one segment: a group, collection or record id holding
//! `/`, `..`, `%2e%2e`, `?` or `#` cannot address another path, in a GET or in a `/batch` op.
//! A tiny local server records each request line and body as they arrive, and answers 404.

use std::sync::{Arc, Mutex};

use connec::{ConnecClient, ConnecConfig};
use http_client::HttpConfig;
use serde_json::{Value, json};
use sync_core::domain::{EntityName, GroupId, HubId};
use sync_core::ports::{Hub, HubChange, HubWrite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What one request looked like on the wire: its target (path and query) and body.
#[derive(Clone, Debug)]
struct Seen {
    target: String,
    body: Vec<u8>,
}

/// Accepts connections on loopback; records each request; answers `404`, empty.
async fn recording_server() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 8192];
                let head_end = loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
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
                let target = head
                    .lines()
                    .next()
                    .and_then(|line| line.split(' ').nth(1))
                    .unwrap_or_default()
                    .to_owned();
                log.lock().unwrap().push(Seen {
                    target,
                    body: data[head_end..].to_vec(),
                });
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    (base, seen)
}

fn client(base: &str) -> ConnecClient {
    let mut config = ConnecConfig::new(base, "demo-id", "demo-key").unwrap();
    config.http = HttpConfig::fast();
    ConnecClient::new(config).unwrap()
}

/// The path of a request target, without its query.
fn path(target: &str) -> &str {
    target.split('?').next().unwrap_or_default()
}

/// The segments of a path, percent-decoded by hand (`%XX` only).
fn decoded_segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|segment| {
            let bytes = segment.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' && i + 2 < bytes.len() {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        })
        .collect()
}

const HOSTILE: [&str; 6] = [
    "x/../cld-victim",
    "%2e%2e",
    "%2E%2E%2Fcld-victim",
    "cld-1?group=cld-victim",
    "cld-1#frag",
    "a/b",
];

#[tokio::test]
async fn hostile_group_and_record_ids_stay_one_path_segment_in_gets() {
    let (base, seen) = recording_server().await;
    let client = client(&base);
    let people = EntityName::new("people");
    for hostile in HOSTILE {
        let group = GroupId::new(hostile);
        let _ = client.fetch_page(&group, &people, None, None).await;
        // The single GET `fetch_by_ids` falls back to (its `/batch` ops: the next test).
        let _ = client
            .get(&GroupId::new("cld-1"), &people, &HubId::new(hostile))
            .await;
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2 * HOSTILE.len(), "{seen:?}");
    for (i, hostile) in HOSTILE.iter().enumerate() {
        let list = &seen[2 * i];
        assert_eq!(
            decoded_segments(path(&list.target)),
            ["api", "v2", hostile, "people"],
            "listing of group {hostile:?} went to {}",
            list.target
        );
        assert!(
            list.target.contains("?%24top=") || list.target.contains("?$top="),
            "the query is ours: {}",
            list.target
        );
        let one = &seen[2 * i + 1];
        assert_eq!(
            decoded_segments(path(&one.target)),
            ["api", "v2", "cld-1", "people", hostile],
            "record {hostile:?} went to {}",
            one.target
        );
        assert!(!one.target.contains('?'), "no query: {}", one.target);
    }
}

#[tokio::test]
async fn dot_segments_are_refused_before_any_request() {
    let (base, seen) = recording_server().await;
    let client = client(&base);
    let people = EntityName::new("people");
    for dots in ["..", ".", ""] {
        assert!(
            client
                .fetch_page(&GroupId::new(dots), &people, None, None)
                .await
                .is_err()
        );
        assert!(
            client
                .fetch_by_ids(&GroupId::new("cld-1"), &people, &[HubId::new(dots)])
                .await
                .is_err()
        );
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
}

#[tokio::test]
async fn batch_op_urls_encode_every_segment_and_refuse_dot_segments() {
    let (base, seen) = recording_server().await;
    let client = client(&base);
    let people = EntityName::new("people");
    let write = |hub_id: Option<&str>| HubWrite {
        hub_id: hub_id.map(HubId::new),
        change: HubChange::Fields(json!({ "first_name": "A" })),
        source: None,
        matching_fields: Vec::new(),
    };
    for hostile in HOSTILE {
        let _ = client
            .write(&GroupId::new(hostile), &people, vec![write(None)])
            .await;
        let _ = client
            .write(&GroupId::new("cld-1"), &people, vec![write(Some(hostile))])
            .await;
        let _ = client
            .fetch_by_ids(&GroupId::new("cld-1"), &people, &[HubId::new(hostile)])
            .await;
    }
    // A record id `..` is refused as that record's error; nothing is sent for it.
    let outcomes = client
        .write(&GroupId::new("cld-1"), &people, vec![write(Some(".."))])
        .await
        .unwrap();
    assert!(outcomes[0].is_err());

    let seen = seen.lock().unwrap().clone();
    // The read's `/batch` answered 404 as a whole: an error, and no single GET after it.
    assert_eq!(seen.len(), 3 * HOSTILE.len(), "{seen:?}");
    let op_url = |seen: &Seen, method: &str| -> String {
        assert_eq!(seen.target, "/batch");
        let body: Value = serde_json::from_slice(&seen.body).unwrap();
        assert_eq!(body["ops"][0]["method"], json!(method));
        body["ops"][0]["url"].as_str().unwrap().to_owned()
    };
    for (i, hostile) in HOSTILE.iter().enumerate() {
        let read = op_url(&seen[3 * i + 2], "get");
        assert!(!read.contains(['?', '#']), "{read}");
        assert_eq!(
            decoded_segments(&read),
            ["api", "v2", "cld-1", "people", hostile],
            "{read}"
        );
        let url = op_url(&seen[3 * i], "post");
        assert!(!url.contains(['?', '#']), "{url}");
        assert_eq!(
            decoded_segments(&url),
            ["api", "v2", hostile, "people"],
            "{url}"
        );
        let url = op_url(&seen[3 * i + 1], "put");
        assert!(!url.contains(['?', '#']), "{url}");
        assert_eq!(
            decoded_segments(&url),
            ["api", "v2", "cld-1", "people", hostile],
            "{url}"
        );
    }
}
