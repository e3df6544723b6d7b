//! A tiny fixture server for the HTTP tests: every request is recorded, and a handler answers
//! with a status, headers and a JSON body (canned Xero answers taken from the OpenAPI examples).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use std::time::Duration;

use http_client::HttpConfig;
use serde_json::{Value, json};
use sync_core::domain::{AppEntityName, Realm};
use sync_core::ports::StaticToken;
use xero::{XeroConfig, XeroConnector};

/// One request the server received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
    pub raw_body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// An answer: status, headers, JSON body (`Value::Null` for none).
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

impl Answer {
    pub fn ok(body: Value) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body,
        }
    }
    pub fn status(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
        }
    }
    pub fn with(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;

/// A running fixture server.
pub struct Fixture {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fixture {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Starts a server on a free loopback port.
pub async fn serve(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Fixture {
    let handler: Handler = Arc::new(handler);
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let handler = handler.clone();
            let log = log.clone();
            async move {
                let query = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
                let raw_body = String::from_utf8_lossy(&body).into_owned();
                let request = Seen {
                    method: method.to_string(),
                    path: uri.path().to_owned(),
                    query,
                    headers: headers
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                        .collect(),
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    raw_body,
                };
                let answer = handler(&request);
                log.lock().unwrap().push(request);
                let mut response = Response::builder().status(answer.status);
                for (name, value) in &answer.headers {
                    response = response.header(*name, value);
                }
                let body = if answer.body.is_null() {
                    Body::empty()
                } else {
                    response = response.header("content-type", "application/json");
                    Body::from(answer.body.to_string())
                };
                response.body(body).unwrap()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Fixture { url, seen }
}

pub fn connector(url: &str, page_size: usize) -> XeroConnector {
    let mut config = XeroConfig::new(&format!("{url}/api.xro/2.0")).unwrap();
    config.http = HttpConfig::fast();
    config.page_size = page_size;
    config.overlap = Duration::from_secs(60);
    config.payment_account_code = Some("090".into());
    XeroConnector::new(
        config,
        Realm::new("tenant-1"),
        Arc::new(StaticToken::new("tok-1")),
    )
    .unwrap()
}

pub fn entity(name: &str) -> AppEntityName {
    AppEntityName::new(name)
}

pub fn contact(id: &str, name: &str) -> Value {
    json!({ "ContactID": id, "Name": name, "ContactStatus": "ACTIVE",
            "UpdatedDateUTC": "/Date(1503348544227+0000)/", "ContactPersons": [] })
}

/// The answer to a write: the records sent, each given an id.
pub fn echo(seen: &Seen, collection: &str, id_field: &str) -> Value {
    let records: Vec<Value> = seen.body[collection]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let mut r = r.clone();
            if r.get(id_field).is_none() {
                r[id_field] = json!(format!("new-{n}"));
            }
            r["UpdatedDateUTC"] = json!("/Date(1714521600000+0000)/");
            r
        })
        .collect();
    json!({ "Status": "OK", collection: records })
}
