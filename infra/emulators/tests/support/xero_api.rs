//! The Xero emulator's tests' client: the emulator on loopback with the demo tenant, a token
//! granted to it, and requests carrying both (shared by `xero_contacts` and `xero_invoices`).

#![allow(dead_code)]

use emulators::{RunningServer, XeroConfig, XeroEmulator, XeroLimits};
use reqwest::{Client, StatusCode};
use serde_json::Value;

pub struct Api {
    pub emu: XeroEmulator,
    pub srv: RunningServer,
    pub c: Client,
    pub token: String,
    pub tenant: String,
}

impl Api {
    pub async fn new() -> Self {
        let emu = XeroEmulator::new(XeroConfig {
            limits: XeroLimits {
                per_minute: 10_000,
                ..XeroLimits::default()
            },
            ..XeroConfig::default()
        });
        let tenant = emu.tenants()[0].clone();
        let token = emu.grant(&[&tenant]).access_token;
        let srv = emu.start().await.unwrap();
        Self {
            emu,
            srv,
            c: Client::new(),
            token,
            tenant,
        }
    }

    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.c
            .request(method, format!("{}/api.xro/2.0/{path}", self.srv.base_url))
            .bearer_auth(&self.token)
            .header("xero-tenant-id", &self.tenant)
            .header("accept", "application/json")
    }

    pub async fn send(rb: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let r = rb.send().await.unwrap();
        let s = r.status();
        let text = r.text().await.unwrap();
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        Self::send(self.req(reqwest::Method::GET, path)).await
    }

    pub async fn get_since(&self, path: &str, since: &str) -> (StatusCode, Value) {
        Self::send(
            self.req(reqwest::Method::GET, path)
                .header("If-Modified-Since", since),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::send(self.req(reqwest::Method::PUT, path).json(&body)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        Self::send(self.req(reqwest::Method::POST, path).json(&body)).await
    }
}
