//! Webhooks of the emulated app: the settings and subscriptions (managed through
//! [`super::webhook_routes`]), the events committed changes produce for them, and their
//! signed, batched, retried delivery.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Change, HubSpotEmulator, Inner, ObjType};
use crate::common::{ChangeKind, lock};
use crate::delivery::{Attempt, DeliverFuture, Retry, now_ms};

/// Subscription types the emulator supports.
pub(super) const EVENT_TYPES: [&str; 6] = [
    "contact.creation",
    "contact.propertyChange",
    "contact.deletion",
    "company.creation",
    "company.propertyChange",
    "company.deletion",
];

/// One HTTP request made to the webhook target (see
/// [`HubSpotEmulator::deliveries`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    /// Response status; `None` on a transport error or timeout.
    pub status: Option<u16>,
    /// Number of events in the request body.
    pub events: usize,
    /// `attemptNumber` of the events in this request (0 = first attempt).
    pub attempt: u32,
}

pub(super) struct Settings {
    pub(super) target_url: String,
    pub(super) max_concurrent: u64,
    pub(super) created_at: String,
    pub(super) updated_at: String,
}

impl Settings {
    pub(super) fn render(&self) -> Value {
        json!({
            "targetUrl": self.target_url,
            "throttling": { "maxConcurrentRequests": self.max_concurrent, "period": "SECONDLY" },
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }
}

pub(super) struct Subscription {
    pub(super) id: u64,
    pub(super) event_type: String,
    pub(super) property_name: Option<String>,
    pub(super) active: bool,
    pub(super) created_at: String,
    pub(super) updated_at: String,
}

impl Subscription {
    pub(super) fn render(&self) -> Value {
        let mut v = json!({
            "id": self.id.to_string(),
            "eventType": self.event_type,
            "active": self.active,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        });
        if let Some(p) = &self.property_name {
            v["propertyName"] = p.clone().into();
        }
        v
    }
}

/// Webhook settings, subscriptions, pending events and the delivery log.
#[derive(Default)]
pub(super) struct HookState {
    pub(super) settings: Option<Settings>,
    pub(super) subs: BTreeMap<u64, Subscription>,
    pub(super) next_sub: u64,
    pub(super) next_event: u64,
    /// Events waiting for delivery, without `attemptNumber`.
    pub(super) pending: VecDeque<Value>,
    pub(super) log: Vec<DeliveryRecord>,
}

fn object_prefix(t: ObjType) -> &'static str {
    match t {
        ObjType::Contacts => "contact",
        ObjType::Companies => "company",
    }
}

impl Inner {
    /// Turns committed changes into events for the active subscriptions.
    pub(super) fn enqueue_webhooks(&self, changes: &[Change]) {
        let Some(app) = self.config.oauth.as_ref() else {
            return;
        };
        let mut added = false;
        {
            let mut hs = lock(&self.webhooks);
            if hs.settings.is_none() || hs.subs.is_empty() {
                return;
            }
            let HookState {
                subs,
                next_event,
                pending,
                ..
            } = &mut *hs;
            for c in changes {
                let prefix = object_prefix(c.object);
                let base = |sub: &Subscription, next_event: &mut u64| {
                    *next_event += 1;
                    let mut e = json!({
                        "eventId": 100_000 + *next_event,
                        "subscriptionId": sub.id,
                        "portalId": c.source.portal,
                        "appId": app.app_id,
                        "occurredAt": c.at_ms,
                        "subscriptionType": sub.event_type,
                        "attemptNumber": 0,
                        "objectId": c.object_id,
                        "changeSource": c.source.change_source,
                    });
                    if let Some(s) = &c.source.source_id {
                        e["sourceId"] = s.clone().into();
                    }
                    e
                };
                let suffix = match c.event.kind {
                    ChangeKind::Created => "creation",
                    ChangeKind::Archived => "deletion",
                    ChangeKind::Updated => "propertyChange",
                };
                for sub in subs.values() {
                    let sub_suffix = sub
                        .event_type
                        .strip_prefix(prefix)
                        .and_then(|s| s.strip_prefix('.'));
                    if !sub.active || sub_suffix != Some(suffix) {
                        continue;
                    }
                    match c.event.kind {
                        ChangeKind::Created | ChangeKind::Archived => {
                            let mut e = base(sub, next_event);
                            e["changeFlag"] = if c.event.kind == ChangeKind::Created {
                                "NEW"
                            } else {
                                "DELETED"
                            }
                            .into();
                            pending.push_back(e);
                            added = true;
                        }
                        ChangeKind::Updated => {
                            let Some(name) = &sub.property_name else {
                                continue;
                            };
                            for (prop, value) in c.props.iter().filter(|(p, _)| p == name) {
                                let mut e = base(sub, next_event);
                                e["propertyName"] = prop.clone().into();
                                e["propertyValue"] = value.clone().into();
                                pending.push_back(e);
                                added = true;
                            }
                        }
                    }
                }
            }
        }
        if added {
            self.pump
                .ensure_worker(self.me.clone(), self.config.webhook_interval, deliver_boxed);
        }
    }
}

fn deliver_boxed(inner: Arc<Inner>) -> DeliverFuture {
    Box::pin(async move { deliver(&inner).await })
}

/// The `X-HubSpot-Signature-v3` value.
fn sign(secret: &str, url: &str, body: &[u8], timestamp: &str) -> String {
    // HMAC accepts keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(b"POST");
    mac.update(normalize_uri(url).as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Decodes the escapes HubSpot decodes in the URI before signing.
fn normalize_uri(uri: &str) -> String {
    const DECODED: [(&str, char); 12] = [
        ("%3A", ':'),
        ("%2F", '/'),
        ("%3F", '?'),
        ("%40", '@'),
        ("%21", '!'),
        ("%24", '$'),
        ("%27", '\''),
        ("%28", '('),
        ("%29", ')'),
        ("%2A", '*'),
        ("%2C", ','),
        ("%3B", ';'),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let hit = rest.get(pos..pos + 3).and_then(|esc| {
            DECODED
                .iter()
                .find(|(e, _)| e.eq_ignore_ascii_case(esc))
                .map(|&(_, c)| c)
        });
        match hit {
            Some(c) => {
                out.push(c);
                rest = &rest[pos + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[pos + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Delivers every pending event (unless paused), batch by batch.
async fn deliver(inner: &Inner) {
    if inner.pump.paused() {
        return;
    }
    let _running = inner.pump.run_lock.lock().await;
    let retry = Retry {
        max_attempts: inner.config.webhook_max_attempts,
        backoff: inner.config.webhook_backoff,
        timeout: inner.config.webhook_timeout,
    };
    let Some(secret) = inner.config.oauth.as_ref().map(|a| a.client_secret.clone()) else {
        return;
    };
    loop {
        if inner.pump.paused() {
            return;
        }
        let (url, batch) = {
            let mut hs = lock(&inner.webhooks);
            let Some(url) = hs.settings.as_ref().map(|s| s.target_url.clone()) else {
                // No target any more: nowhere to send them.
                hs.pending.clear();
                return;
            };
            if hs.pending.is_empty() {
                return;
            }
            let n = hs.pending.len().min(inner.config.webhook_batch_size.max(1));
            (url, hs.pending.drain(..n).collect::<Vec<_>>())
        };
        let count = batch.len();
        let build = |attempt: u32| -> Attempt {
            let events: Vec<Value> = batch
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    e["attemptNumber"] = attempt.into();
                    e
                })
                .collect();
            let body = serde_json::to_vec(&events).unwrap_or_default();
            let timestamp = now_ms().to_string();
            let signature = sign(&secret, &url, &body, &timestamp);
            let headers = vec![
                ("content-type", "application/json".to_string()),
                ("x-hubspot-signature-version", "v3".to_string()),
                ("x-hubspot-request-timestamp", timestamp),
                ("x-hubspot-signature-v3", signature),
            ];
            (body, headers)
        };
        let record = |status: Option<u16>, attempt: u32| {
            lock(&inner.webhooks).log.push(DeliveryRecord {
                status,
                events: count,
                attempt,
            });
        };
        inner.pump.send(retry, &url, &build, &record).await;
    }
}

impl HubSpotEmulator {
    /// `true`: every successfully delivered webhook batch is POSTed a second
    /// time, byte for byte (same event ids, timestamp and signature), as
    /// at-least-once delivery allows. Default `false`.
    pub fn duplicate_deliveries(&self, on: bool) {
        self.inner.pump.set_duplicate(on);
    }

    /// Every webhook request made so far, in order (retries and duplicates
    /// included).
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        lock(&self.inner.webhooks).log.clone()
    }

    /// Number of webhook events generated but not yet handed to delivery.
    pub fn pending_webhook_events(&self) -> usize {
        lock(&self.inner.webhooks).pending.len()
    }

    /// Delivers every pending webhook event now (retries included) and
    /// waits for it, and for any delivery already in flight. Does nothing
    /// while paused (see [`HubSpotEmulator::pause_webhooks`]).
    pub async fn flush_webhooks(&self) {
        deliver(&self.inner).await;
    }

    /// `true`: events keep being generated and queued, but nothing is sent
    /// (neither by the background task nor by
    /// [`HubSpotEmulator::flush_webhooks`]) until unpaused.
    pub fn pause_webhooks(&self, paused: bool) {
        self.inner.pump.set_paused(paused);
        if !paused && !lock(&self.inner.webhooks).pending.is_empty() {
            self.inner.pump.ensure_worker(
                self.inner.me.clone(),
                self.inner.config.webhook_interval,
                deliver_boxed,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_normalization_decodes_only_hubspot_escapes() {
        assert_eq!(
            normalize_uri("https://h/p?r=https%3a%2F%2Fx&q=a%20b%"),
            "https://h/p?r=https://x&q=a%20b%"
        );
    }
}
