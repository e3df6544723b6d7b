//! Webhook dedupe keys in batches ([`Dedupe::first_times`], [`Dedupe::forget_all`]) against moto.

use std::time::Duration;

use store_aws::{DynamoDedupe, create_table};
use sync_core::domain::Timestamp;
use sync_core::ports::Dedupe;

use crate::support;

async fn dedupe() -> DynamoDedupe {
    let client = support::dynamo().await;
    let table = support::unique("dedupe");
    create_table(&client, &table).await.unwrap();
    DynamoDedupe::new(client, table)
}

fn at(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("valid timestamp")
}

fn keys(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix}:{i}")).collect()
}

#[tokio::test]
async fn a_batch_claims_each_key_once_with_conditional_semantics() {
    let dedupe = dedupe().await;
    let now = at("2024-01-01T00:00:00Z");
    let ttl = Duration::from_secs(3600);
    // More keys than are in flight at once, one of them known, one repeated.
    assert!(dedupe.first_time("hubspot:1:7", now, ttl).await.unwrap());
    let mut batch = keys("hubspot:1", 70);
    batch.push("hubspot:1:3".into());
    let firsts = dedupe.first_times(&batch, now, ttl).await.unwrap();
    let expected: Vec<bool> = (0..71).map(|i| i != 7 && i != 70).collect();
    assert_eq!(firsts, expected);

    // The same batch again: all duplicates, also one key at a time.
    assert_eq!(
        dedupe.first_times(&batch, now, ttl).await.unwrap(),
        [false; 71]
    );
    assert!(!dedupe.first_time("hubspot:1:42", now, ttl).await.unwrap());

    // Released keys are first again; the others stay.
    dedupe.forget_all(&batch[..5]).await.unwrap();
    let again = dedupe.first_times(&batch[..10], now, ttl).await.unwrap();
    assert_eq!(
        again,
        [
            true, true, true, true, true, false, false, false, false, false
        ]
    );

    // Expired keys are first again.
    let expired = now.plus(ttl);
    assert_eq!(
        dedupe.first_times(&batch[..3], expired, ttl).await.unwrap(),
        [true; 3]
    );
    assert!(
        dedupe
            .first_times(&[], expired, ttl)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_batch_that_fails_leaves_none_of_its_keys() {
    let dedupe = dedupe().await;
    let now = at("2024-01-01T00:00:00Z");
    let ttl = Duration::from_secs(3600);
    // A key over DynamoDB's 2 KB partition-key limit is refused by the service.
    let mut batch = keys("hubspot:2", 5);
    batch.insert(2, "x".repeat(3000));
    assert!(dedupe.first_times(&batch, now, ttl).await.is_err());
    assert_eq!(
        dedupe
            .first_times(&keys("hubspot:2", 5), now, ttl)
            .await
            .unwrap(),
        [true; 5],
        "the keys written before the failure were deleted again"
    );
}
