//! Secrets Manager credentials, OAuth state and webhook dedupe against moto.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use linking::{
    AccountKey, AuthorizationStateStore, CredentialStore, LinkStatus, PendingAuthorization,
    SaveOutcome, SealingKey, SecretString, TokenSet,
};
use store_aws::{
    DynamoAuthorizationStateStore, DynamoDedupe, SecretsCredentialStore, create_table,
};
use sync_core::domain::{GroupId, Provider, Tenant, Timestamp};
use sync_core::error::StoreError;
use sync_core::ports::Dedupe;

use crate::support;

fn ts(text: &str) -> Timestamp {
    Timestamp::parse(text).expect("valid timestamp")
}

fn tokens(access: &str, refresh: &str) -> TokenSet {
    TokenSet {
        access_token: SecretString::new(access),
        refresh_token: Some(SecretString::new(refresh)),
        expires_at: Some(ts("2030-01-01T00:00:00.123Z")),
        scopes: vec!["crm.objects.contacts.read".into()],
    }
}

async fn secrets() -> (aws_sdk_secretsmanager::Client, String) {
    let client = aws_sdk_secretsmanager::Client::new(&support::sdk_config().await);
    (client, support::unique("test"))
}

fn account() -> AccountKey {
    AccountKey::new("hubspot", "portal 42")
}

#[tokio::test]
async fn credentials_save_load_conditional_save_and_delete() {
    let (client, prefix) = secrets().await;
    let store = SecretsCredentialStore::new(client, &prefix);
    let key = account();
    assert_eq!(store.load(&key).await.unwrap(), None);
    assert_eq!(
        store.secret_name(&key),
        format!("{prefix}/tokens/hubspot/portal+2042")
    );

    let first = tokens("at-1", "rt-1");
    assert_eq!(
        store.save(&key, &first, None).await.unwrap(),
        SaveOutcome::Saved { version: 1 }
    );
    let loaded = store.load(&key).await.unwrap().unwrap();
    assert_eq!(loaded.tokens, first);
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.status, LinkStatus::Active);

    // A refresh from version 1 saves version 2; a second refresh from 1 is stale.
    let second = tokens("at-2", "rt-2");
    assert_eq!(
        store.save(&key, &second, Some(1)).await.unwrap(),
        SaveOutcome::Saved { version: 2 }
    );
    assert_eq!(
        store
            .save(&key, &tokens("old", "old"), Some(1))
            .await
            .unwrap(),
        SaveOutcome::Stale
    );
    let fresh = SecretsCredentialStore::new(
        aws_sdk_secretsmanager::Client::new(&support::sdk_config().await),
        &prefix,
    );
    let loaded = fresh.load(&key).await.unwrap().unwrap();
    assert_eq!((loaded.tokens, loaded.version), (second.clone(), 2));

    // Re-auth keeps tokens and version; a later save (re-link) makes it active again.
    store
        .mark_needs_reauth(&key, "invalid_grant")
        .await
        .unwrap();
    let loaded = fresh.load(&key).await.unwrap().unwrap();
    assert_eq!(loaded.version, 2);
    let loaded = SecretsCredentialStore::new(
        aws_sdk_secretsmanager::Client::new(&support::sdk_config().await),
        &prefix,
    )
    .load(&key)
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        loaded.status,
        LinkStatus::NeedsReauthorization {
            reason: "invalid_grant".into()
        }
    );
    assert_eq!(loaded.tokens, second);
    // A refresh that raced with the failure may still save its newer tokens.
    assert_eq!(
        store
            .save(&key, &tokens("at-3", "rt-3"), Some(2))
            .await
            .unwrap(),
        SaveOutcome::Saved { version: 3 }
    );
    assert_eq!(
        store.load(&key).await.unwrap().unwrap().status,
        LinkStatus::Active
    );

    // Delete, then link again from scratch.
    store.delete(&key).await.unwrap();
    store.delete(&key).await.unwrap();
    assert_eq!(store.load(&key).await.unwrap(), None);
    assert_eq!(
        store.save(&key, &first, Some(3)).await.unwrap(),
        SaveOutcome::Stale
    );
    store.mark_needs_reauth(&key, "gone").await.unwrap();
    assert_eq!(
        store.save(&key, &first, None).await.unwrap(),
        SaveOutcome::Saved { version: 1 }
    );
}

#[tokio::test]
async fn secrets_never_appear_in_debug_output_or_names() {
    let (client, prefix) = secrets().await;
    let store = SecretsCredentialStore::new(client, &prefix);
    let key = account();
    store
        .save(&key, &tokens("super-secret-at", "super-secret-rt"), None)
        .await
        .unwrap();
    let shown = format!("{store:?} {:?}", store.load(&key).await.unwrap());
    assert!(!shown.contains("super-secret"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_race_between_two_stores_never_loses_the_newer_tokens() {
    let (client, prefix) = secrets().await;
    let a = SecretsCredentialStore::new(client.clone(), &prefix);
    let b = SecretsCredentialStore::new(client, &prefix);
    let key = account();
    a.save(&key, &tokens("at-1", "rt-1"), None).await.unwrap();
    // Both load version 1 (b caches it).
    assert_eq!(b.load(&key).await.unwrap().unwrap().version, 1);

    // a rotates first; b's rotation from the same version is stale and must not overwrite.
    assert_eq!(
        a.save(&key, &tokens("at-a", "rt-a"), Some(1))
            .await
            .unwrap(),
        SaveOutcome::Saved { version: 2 }
    );
    assert_eq!(
        b.save(&key, &tokens("at-b", "rt-b"), Some(1))
            .await
            .unwrap(),
        SaveOutcome::Stale
    );
    // b's cache was dropped on Stale: it now reads a's tokens.
    let seen = b.load(&key).await.unwrap().unwrap();
    assert_eq!((seen.version, seen.tokens), (2, tokens("at-a", "rt-a")));

    // Truly concurrent rotations from version 2: exactly one wins, and its tokens stay.
    for round in 0..3 {
        let expected = 2 + round;
        let (tx, ty) = (
            tokens(&format!("x-{round}"), "rx"),
            tokens(&format!("y-{round}"), "ry"),
        );
        let (x, y) = tokio::join!(
            a.save(&key, &tx, Some(expected)),
            b.save(&key, &ty, Some(expected)),
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        let winner = match (x, y) {
            (SaveOutcome::Saved { version }, SaveOutcome::Stale) => {
                assert_eq!(version, expected + 1);
                format!("x-{round}")
            }
            (SaveOutcome::Stale, SaveOutcome::Saved { version }) => {
                assert_eq!(version, expected + 1);
                format!("y-{round}")
            }
            other => panic!("exactly one rotation must win, got {other:?}"),
        };
        let fresh = SecretsCredentialStore::new(
            aws_sdk_secretsmanager::Client::new(&support::sdk_config().await),
            &prefix,
        );
        let stored = fresh.load(&key).await.unwrap().unwrap();
        assert_eq!(stored.version, expected + 1);
        assert_eq!(stored.tokens.access_token.expose(), winner);
    }
}

async fn table() -> (aws_sdk_dynamodb::Client, String) {
    let client = support::dynamo().await;
    let table = support::unique("state");
    create_table(&client, &table).await.unwrap();
    (client, table)
}

fn pending(state: &str, expires_at: Timestamp) -> PendingAuthorization {
    PendingAuthorization {
        state: state.to_owned(),
        provider: Provider::new("hubspot"),
        tenant: Tenant::new("maestrano"),
        group_id: GroupId::new("cld-1"),
        pkce_verifier: Some(SecretString::new("verifier-xyz")),
        redirect_uri: "https://example.test/callback".to_owned(),
        expires_at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oauth_state_is_single_use_and_expires() {
    let (client, table) = table().await;
    let store = Arc::new(DynamoAuthorizationStateStore::new(
        client.clone(),
        &table,
        SealingKey::new([1; 32]),
    ));
    let now = ts("2024-01-01T00:00:00Z");
    let expires = now.plus(Duration::from_secs(600));
    store.put(&pending("state-1", expires), now).await.unwrap();

    // The item carries the TTL attribute, and is keyed by the state's hash.
    let scanned = client.scan().table_name(&table).send().await.unwrap();
    let items = scanned.items();
    assert_eq!(items.len(), 1);
    let pk = match items[0].get("PK") {
        Some(AttributeValue::S(pk)) => pk.clone(),
        other => panic!("PK {other:?}"),
    };
    assert!(
        pk.starts_with("OAUTH#STATE#") && !pk.contains("state-1"),
        "{pk}"
    );
    assert_eq!(
        items[0].get("expires_at"),
        Some(&AttributeValue::N(
            (expires.epoch_millis() / 1000).to_string()
        ))
    );

    // Two concurrent takes: one gets it.
    let (x, y) = tokio::join!(store.take("state-1", now), store.take("state-1", now));
    let taken: Vec<_> = [x.unwrap(), y.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken, vec![pending("state-1", expires)]);
    assert_eq!(store.take("state-1", now).await.unwrap(), None);
    assert_eq!(store.take("never-stored", now).await.unwrap(), None);

    // Expired: absent, and removed.
    store.put(&pending("state-2", expires), now).await.unwrap();
    assert_eq!(store.take("state-2", expires).await.unwrap(), None);
    assert_eq!(store.take("state-2", now).await.unwrap(), None);
}

/// Every byte of every attribute of the table's items, as text where it is text.
async fn table_text(client: &aws_sdk_dynamodb::Client, table: &str) -> (usize, String) {
    let scanned = client.scan().table_name(table).send().await.unwrap();
    let mut text = String::new();
    for item in scanned.items() {
        for (name, value) in item {
            text.push_str(name);
            match value {
                AttributeValue::S(v) | AttributeValue::N(v) => text.push_str(v),
                AttributeValue::B(blob) => text.push_str(&String::from_utf8_lossy(blob.as_ref())),
                other => text.push_str(&format!("{other:?}")),
            }
        }
    }
    (scanned.items().len(), text)
}

#[tokio::test]
async fn oauth_state_verifier_is_sealed_and_bound_to_the_key() {
    let (client, table) = table().await;
    let store =
        DynamoAuthorizationStateStore::new(client.clone(), &table, SealingKey::new([1; 32]));
    let now = ts("2024-01-01T00:00:00Z");
    let expires = now.plus(Duration::from_secs(600));
    store.put(&pending("state-s", expires), now).await.unwrap();
    let (items, text) = table_text(&client, &table).await;
    assert_eq!(items, 1);
    assert!(!text.contains("verifier-xyz"), "{text}");
    assert!(!text.contains("pkce_verifier"), "{text}");
    assert!(text.contains("pkce_sealed"), "{text}");

    // Another key cannot open it (and the state is spent).
    let other =
        DynamoAuthorizationStateStore::new(client.clone(), &table, SealingKey::new([2; 32]));
    let error = other.take("state-s", now).await.unwrap_err();
    assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}");

    // The right key gets the verifier back.
    store.put(&pending("state-t", expires), now).await.unwrap();
    let taken = store.take("state-t", now).await.unwrap().unwrap();
    assert_eq!(taken.pkce_verifier.unwrap().expose(), "verifier-xyz");

    // An item written in clear by an earlier build (they live ten minutes) is still read.
    let digest = <sha2::Sha256 as sha2::Digest>::digest(b"state-legacy");
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let s = |v: &str| AttributeValue::S(v.to_owned());
    client
        .put_item()
        .table_name(&table)
        .item("PK", s(&format!("OAUTH#STATE#{hex}")))
        .item("SK", s("STATE"))
        .item("provider", s("hubspot"))
        .item("tenant", s("maestrano"))
        .item("group_id", s("cld-1"))
        .item("redirect_uri", s("https://example.test/callback"))
        .item("pkce_verifier", s("verifier-xyz"))
        .item(
            "expires_at_ms",
            AttributeValue::N(expires.epoch_millis().to_string()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        store.take("state-legacy", now).await.unwrap(),
        Some(pending("state-legacy", expires))
    );
}

#[tokio::test]
async fn an_oversized_oauth_state_is_refused() {
    let (client, table) = table().await;
    let store =
        DynamoAuthorizationStateStore::new(client.clone(), &table, SealingKey::new([1; 32]));
    let now = ts("2024-01-01T00:00:00Z");
    let mut big = pending("state-big", now.plus(Duration::from_secs(600)));
    big.group_id = GroupId::new("a".repeat(60_000));
    let error = store.put(&big, now).await.unwrap_err();
    assert!(matches!(error, StoreError::TooLarge(_)), "{error:?}");
    assert_eq!(table_text(&client, &table).await.0, 0);
}

#[tokio::test]
async fn dedupe_accepts_a_key_once_until_it_expires() {
    let (client, table) = table().await;
    let dedupe = DynamoDedupe::new(client.clone(), &table);
    let now = ts("2024-01-01T00:00:00Z");
    let ttl = Duration::from_secs(3600);
    assert!(dedupe.first_time("evt-1", now, ttl).await.unwrap());
    assert!(!dedupe.first_time("evt-1", now, ttl).await.unwrap());
    assert!(dedupe.first_time("evt-2", now, ttl).await.unwrap());
    let later = now.plus(Duration::from_secs(1800));
    assert!(!dedupe.first_time("evt-1", later, ttl).await.unwrap());
    let expired = now.plus(ttl);
    assert!(dedupe.first_time("evt-1", expired, ttl).await.unwrap());
    // A key released after a failed publish is accepted again.
    dedupe.forget("evt-1").await.unwrap();
    assert!(dedupe.first_time("evt-1", expired, ttl).await.unwrap());
    dedupe.forget("never-seen").await.unwrap();

    let item = client
        .get_item()
        .table_name(&table)
        .key("PK", AttributeValue::S("DEDUPE#evt-2".into()))
        .key("SK", AttributeValue::S("DEDUPE".into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("dedupe item");
    assert_eq!(
        item.get("expires_at"),
        Some(&AttributeValue::N(
            ((now.epoch_millis() + 3_600_000) / 1000).to_string()
        ))
    );
}
