//! The call quota: once an answer says the account's quota is used up, the call fails at once
//! with `QuotaExhausted` and so does every later call on the same budget, without reaching the
//! API; another account's budget is untouched.

use std::sync::Arc;
use std::time::Duration;

use emulators::{CallFault, FaultKind, HubSpotConfig, HubSpotEmulator};
use http_client::{ApiClient, Budgets, HttpConfig, HttpError, Idempotency, RateLimitPolicy};
use reqwest::header::HeaderMap;

/// Says the quota is used up on a 429 that asks to wait more than ten minutes (a daily limit),
/// for as long as `Retry-After` says.
#[derive(Debug)]
struct DailyOn429;

impl RateLimitPolicy for DailyOn429 {
    fn pause_after(&self, _headers: &HeaderMap) -> Option<Duration> {
        None
    }

    fn exhausted(&self, status: u16, headers: &HeaderMap) -> Option<Duration> {
        let wait = http_client::parse_retry_after(headers)?;
        (status == 429 && wait > Duration::from_secs(600)).then_some(wait)
    }
}

fn client(budgets: &Budgets, account: &str) -> ApiClient {
    ApiClient::new("test-api", HttpConfig::fast(), |body| {
        String::from_utf8_lossy(body).into_owned()
    })
    .expect("client")
    .with_rate_limits(Arc::new(DailyOn429))
    .with_budget(budgets.of(account))
}

async fn get(client: &ApiClient, url: &str) -> Result<u16, HttpError> {
    client
        .send(
            "GET",
            "/crm/v3/objects/contacts",
            Idempotency::Idempotent,
            || client.http().get(url).bearer_auth("demo-token"),
        )
        .await
        .map(|r| r.status.as_u16())
}

#[tokio::test]
async fn a_used_up_quota_stops_every_call_of_the_account_without_calling() {
    let emu = HubSpotEmulator::new(HubSpotConfig::default());
    let server = emu.start().await.expect("emulator starts");
    let url = format!("{}/crm/v3/objects/contacts", server.base_url);
    let budgets = Budgets::new(5);
    let sync = client(&budgets, "tenant-a");
    let webhooks = client(&budgets, "tenant-a");
    let other = client(&budgets, "tenant-b");

    assert_eq!(
        get(&sync, &url).await.expect("a first call goes through"),
        200
    );
    emu.fail_calls(CallFault {
        method: None,
        path_contains: "/crm/v3/objects/contacts".into(),
        times: 1,
        kind: FaultKind::Status {
            status: 429,
            retry_after_secs: Some(3 * 3600),
        },
    });
    match get(&sync, &url).await {
        Err(HttpError::QuotaExhausted { retry_after, .. }) => {
            assert!(
                retry_after > Duration::from_secs(3 * 3600 - 60),
                "{retry_after:?}"
            )
        }
        other => panic!("expected QuotaExhausted, got {other:?}"),
    }
    let calls = emu.stats().reads;
    assert_eq!(calls, 2, "the 429 was not retried");

    // The same account's other clients (webhooks, write-backs) meet the closed door at once.
    for client in [&sync, &webhooks] {
        match get(client, &url).await {
            Err(e) => assert!(e.is_quota_exhausted(), "{e}"),
            Ok(status) => panic!("called the API ({status}) with the quota used up"),
        }
    }
    assert_eq!(emu.stats().reads, calls, "no call reached the API");

    // Another account's budget is its own.
    assert_eq!(get(&other, &url).await.expect("tenant-b calls"), 200);
    assert_eq!(emu.stats().reads, calls + 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_short_429_is_retried_and_never_closes_the_budget() {
    let emu = HubSpotEmulator::new(HubSpotConfig::default());
    let server = emu.start().await.expect("emulator starts");
    let url = format!("{}/crm/v3/objects/contacts", server.base_url);
    let budgets = Budgets::new(5);
    let sync = client(&budgets, "tenant-a");
    emu.fail_calls(CallFault {
        method: None,
        path_contains: "/crm/v3/objects/contacts".into(),
        times: 1,
        kind: FaultKind::Status {
            status: 429,
            retry_after_secs: Some(0),
        },
    });
    assert_eq!(get(&sync, &url).await.expect("retried"), 200);
    assert_eq!(emu.stats().reads, 2);
    assert_eq!(budgets.of("tenant-a").exhausted_for(), None);
    server.shutdown().await;
}
