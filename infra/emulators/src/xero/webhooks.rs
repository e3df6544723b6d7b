//! Webhooks: every committed change to a contact or an invoice (created: `CREATE`; changed,
//! archived, deleted, voided or paid: `UPDATE`) becomes an event
//! `{resourceUrl, resourceId, tenantId, tenantType, eventCategory, eventType, eventDateUtc}`;
//! a background task POSTs them in batches `{events, firstEventSequence, lastEventSequence,
//! entropy}` to the [`WebhookTarget`], signed with `x-xero-signature` =
//! base64(HMAC-SHA256(webhook key, raw body)), retrying failures. Items and payments have no
//! webhooks (a payment's effect on its invoice does: an invoice `UPDATE`).
//!
//! The intent-to-receive check ([`XeroEmulator::intent_to_receive`]) sends one correctly and
//! one wrongly signed payload with no events; it passes when the receiver answers `200` with
//! an empty body to the first and `401` to the second, each within the timeout (5 s).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use super::clock::event_date;
use super::state::Change;
use super::{Inner, WebhookTarget, XeroEmulator};
use crate::common::lock;
use crate::delivery::{Attempt, DeliverFuture, Retry};

/// One webhook request made (see [`XeroEmulator::deliveries`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct XeroDeliveryRecord {
    /// Response status; `None` on a transport error or timeout.
    pub status: Option<u16>,
    /// Events in the body.
    pub events: usize,
    /// `firstEventSequence` of the body.
    pub first_sequence: u64,
    /// Attempt number (0 = first).
    pub attempt: u32,
}

/// One probe of the intent-to-receive check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentProbe {
    /// Whether this payload was signed with the right key.
    pub correctly_signed: bool,
    /// The receiver's status; `None` on a transport error or timeout.
    pub status: Option<u16>,
    /// Whether the answer's body was empty.
    pub empty_body: bool,
    /// Whether the receiver answered within the timeout.
    pub in_time: bool,
    /// Whether this probe got the answer Xero requires (200 and empty / 401).
    pub passed: bool,
}

/// The outcome of an intent-to-receive check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntentToReceive {
    /// Whether every probe passed (Xero would then activate the subscription).
    pub passed: bool,
    /// The probes, correctly signed first.
    pub probes: Vec<IntentProbe>,
    /// Why the check could not run, if it could not (no webhook target).
    pub error: Option<String>,
}

/// Pending events, sequence numbers and the log.
#[derive(Default)]
pub(super) struct HookState {
    pub(super) target: Option<WebhookTarget>,
    pub(super) pending: VecDeque<(u64, Value)>,
    pub(super) next_sequence: u64,
    pub(super) log: Vec<XeroDeliveryRecord>,
    pub(super) last_intent: Option<IntentToReceive>,
}

/// `x-xero-signature` of `body` under `key`.
pub(super) fn sign(key: &str, body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// 20 random capital letters, as Xero's `entropy`.
fn entropy() -> String {
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(uuid::Uuid::new_v4().as_bytes())
        .take(20)
        .map(|b| char::from(b'A' + b % 26))
        .collect()
}

impl Inner {
    /// Turns committed changes into events (nothing without a target).
    pub(super) fn enqueue_webhooks(&self, changes: &[Change]) {
        let base = lock(&self.base_url)
            .clone()
            .unwrap_or_else(|| "https://api.xero.com".into());
        let mut added = false;
        {
            let mut hs = lock(&self.webhooks);
            if hs.target.is_none() {
                return;
            }
            for c in changes {
                let Some(category) = c.kind.category() else {
                    continue;
                };
                hs.next_sequence += 1;
                let seq = hs.next_sequence;
                hs.pending.push_back((
                    seq,
                    json!({
                        "resourceUrl": format!("{base}/api.xro/2.0/{}/{}", c.kind.collection(), c.id),
                        "resourceId": c.id,
                        "tenantId": c.tenant_id,
                        "tenantType": "ORGANISATION",
                        "eventCategory": category,
                        "eventType": if c.created { "CREATE" } else { "UPDATE" },
                        "eventDateUtc": event_date(c.at_ms),
                    }),
                ));
                added = true;
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
    loop {
        if inner.pump.paused() {
            return;
        }
        let (target, batch) = {
            let mut hs = lock(&inner.webhooks);
            let Some(target) = hs.target.clone() else {
                hs.pending.clear();
                return;
            };
            if hs.pending.is_empty() {
                return;
            }
            let n = hs.pending.len().min(inner.config.webhook_batch_size.max(1));
            (target, hs.pending.drain(..n).collect::<Vec<_>>())
        };
        let first = batch.first().map_or(0, |(s, _)| *s);
        let last = batch.last().map_or(0, |(s, _)| *s);
        let events: Vec<Value> = batch.into_iter().map(|(_, e)| e).collect();
        let count = events.len();
        let body = serde_json::to_vec(&json!({
            "events": events,
            "firstEventSequence": first,
            "lastEventSequence": last,
            "entropy": entropy(),
        }))
        .unwrap_or_default();
        let signature = sign(&target.key, &body);
        let build = |_: u32| -> Attempt {
            (
                body.clone(),
                vec![
                    ("content-type", "application/json".to_string()),
                    ("x-xero-signature", signature.clone()),
                ],
            )
        };
        let record = |status: Option<u16>, attempt: u32| {
            lock(&inner.webhooks).log.push(XeroDeliveryRecord {
                status,
                events: count,
                first_sequence: first,
                attempt,
            });
        };
        inner.pump.send(retry, &target.url, &build, &record).await;
    }
}

/// One intent-to-receive probe.
async fn probe(
    client: &reqwest::Client,
    target: &WebhookTarget,
    good: bool,
    timeout: Duration,
) -> IntentProbe {
    let body = serde_json::to_vec(&json!({
        "events": [],
        "firstEventSequence": 0,
        "lastEventSequence": 0,
        "entropy": entropy(),
    }))
    .unwrap_or_default();
    let key = if good {
        target.key.clone()
    } else {
        format!("not-{}", target.key)
    };
    let started = Instant::now();
    let sent = client
        .post(&target.url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header("x-xero-signature", sign(&key, &body))
        .body(body)
        .send()
        .await;
    let (status, empty_body) = match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            let bytes = r.bytes().await.ok();
            (Some(status), bytes.is_some_and(|b| b.is_empty()))
        }
        Err(_) => (None, false),
    };
    let in_time = status.is_some() && started.elapsed() <= timeout;
    let passed = in_time
        && if good {
            status == Some(200) && empty_body
        } else {
            status == Some(401)
        };
    IntentProbe {
        correctly_signed: good,
        status,
        empty_body,
        in_time,
        passed,
    }
}

impl XeroEmulator {
    /// Sets (or with `None` removes) where webhooks go and the key that signs them.
    pub fn set_webhook_target(&self, target: Option<WebhookTarget>) {
        lock(&self.inner.webhooks).target = target;
    }

    /// Runs Xero's intent-to-receive check against the webhook target now and returns (and
    /// keeps, for [`Self::last_intent_to_receive`]) its outcome.
    pub async fn intent_to_receive(&self) -> IntentToReceive {
        let target = lock(&self.inner.webhooks).target.clone();
        let result = match target {
            None => IntentToReceive {
                passed: false,
                probes: Vec::new(),
                error: Some("no webhook target is configured".into()),
            },
            Some(t) => {
                let client = reqwest::Client::builder()
                    .no_proxy()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap_or_default();
                let timeout = self.inner.config.webhook_timeout;
                let good = probe(&client, &t, true, timeout).await;
                let bad = probe(&client, &t, false, timeout).await;
                IntentToReceive {
                    passed: good.passed && bad.passed,
                    probes: vec![good, bad],
                    error: None,
                }
            }
        };
        lock(&self.inner.webhooks).last_intent = Some(result.clone());
        result
    }

    /// The outcome of the last intent-to-receive check, if any ran.
    pub fn last_intent_to_receive(&self) -> Option<IntentToReceive> {
        lock(&self.inner.webhooks).last_intent.clone()
    }

    /// Every webhook request made so far, in order (retries included).
    pub fn deliveries(&self) -> Vec<XeroDeliveryRecord> {
        lock(&self.inner.webhooks).log.clone()
    }

    /// Events generated but not yet handed to delivery.
    pub fn pending_webhook_events(&self) -> usize {
        lock(&self.inner.webhooks).pending.len()
    }

    /// Delivers every pending event now and waits for it (and for deliveries in flight).
    pub async fn flush_webhooks(&self) {
        deliver(&self.inner).await;
    }

    /// `true`: events are kept but not sent until unpaused.
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
    fn signature_is_base64_hmac_sha256_of_the_body() {
        // RFC 4231 test case 2.
        let sig = sign("Jefe", b"what do ya want for nothing?");
        assert_eq!(sig, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
        assert_eq!(entropy().len(), 20);
    }
}
