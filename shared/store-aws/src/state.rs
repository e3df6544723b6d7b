//! Short-lived items in the table: pending OAuth authorizations and webhook dedupe keys.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use sha2::{Digest, Sha256};
use sync_core::domain::{GroupId, Provider, Tenant, Timestamp};
use sync_core::error::StoreError;

use linking::{AuthorizationStateStore, PendingAuthorization, SealingKey, SecretString};
use sync_core::ports::Dedupe;

use crate::attr::{
    EXPIRES_MS, Item, PK, TTL, duration_millis, esc, get_s, key, n, req_n, req_s, s, ttl_seconds,
};
use crate::error::{backend, has_code};

/// The attribute holding the sealed PKCE verifier: nonce (12 bytes) then ciphertext and tag.
const PKCE_SEALED: &str = "pkce_sealed";
/// The attribute earlier builds kept the verifier in, in clear; still read, never written.
const PKCE_CLEAR: &str = "pkce_verifier";

fn state_hash(state: &str) -> String {
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn state_key(hash: &str) -> Item {
    key(format!("OAUTH#STATE#{hash}"), "STATE")
}

/// Binds a sealed verifier to its state's item (the same associated data as the embedded store).
fn verifier_aad(hash: &str) -> Vec<u8> {
    let mut aad = b"pkce-verifier\0".to_vec();
    aad.extend_from_slice(hash.as_bytes());
    aad
}

/// [`AuthorizationStateStore`] in the DynamoDB table: one item per pending authorization,
/// `PK = OAUTH#STATE#<sha256(state)>` (the state itself is never stored or logged), with TTL
/// (which is what purges the ones never taken).
///
/// [`AuthorizationStateStore::take`] is a conditional `DeleteItem` returning `ALL_OLD`: of two
/// concurrent takes only one gets the item, so a state is used at most once. An expired state
/// (`expires_at <= now`; TTL deletion is lazy) is deleted and treated as absent. The PKCE
/// verifier is sealed with AES-256-GCM under the key given to [`DynamoAuthorizationStateStore::new`],
/// bound to the state's hash, as the embedded store does (`pkce_sealed`, binary). A state larger
/// than [`PendingAuthorization::MAX_STORED_BYTES`] is refused.
#[derive(Clone, Debug)]
pub struct DynamoAuthorizationStateStore {
    client: Client,
    table: String,
    verifier_key: SealingKey,
}

impl DynamoAuthorizationStateStore {
    /// A store in `table` (the sync store's table), sealing PKCE verifiers with `verifier_key`.
    /// Every function that starts or completes a link must be given the same key.
    pub fn new(client: Client, table: impl Into<String>, verifier_key: SealingKey) -> Self {
        Self {
            client,
            table: table.into(),
            verifier_key,
        }
    }

    fn open_verifier(&self, hash: &str, item: &Item) -> Result<Option<SecretString>, StoreError> {
        let corrupt = || {
            StoreError::Corrupt(
                "a pending authorization's PKCE verifier cannot be opened with this key (or the \
                 item is damaged): start linking again"
                    .to_owned(),
            )
        };
        match item.get(PKCE_SEALED) {
            Some(AttributeValue::B(blob)) => {
                let bytes = blob.as_ref();
                if bytes.len() < SealingKey::NONCE_BYTES {
                    return Err(corrupt());
                }
                let (nonce, ciphertext) = bytes.split_at(SealingKey::NONCE_BYTES);
                let plain = self
                    .verifier_key
                    .open(&verifier_aad(hash), nonce, ciphertext)
                    .ok_or_else(corrupt)?;
                let text = String::from_utf8(plain).map_err(|_| corrupt())?;
                Ok(Some(SecretString::new(text)))
            }
            Some(_) => Err(corrupt()),
            // Written in clear before verifiers were sealed (such items live ten minutes).
            None => Ok(get_s(item, PKCE_CLEAR).map(SecretString::new)),
        }
    }
}

#[async_trait]
impl AuthorizationStateStore for DynamoAuthorizationStateStore {
    async fn put(&self, pending: &PendingAuthorization, _now: Timestamp) -> Result<(), StoreError> {
        pending.check_size()?;
        let expires = pending.expires_at.epoch_millis();
        let hash = state_hash(&pending.state);
        let mut item = state_key(&hash);
        item.insert("provider".into(), s(pending.provider.as_str()));
        item.insert("tenant".into(), s(pending.tenant.as_str()));
        item.insert("group_id".into(), s(pending.group_id.as_str()));
        item.insert("redirect_uri".into(), s(pending.redirect_uri.as_str()));
        if let Some(verifier) = &pending.pkce_verifier {
            let sealed = self
                .verifier_key
                .seal(&verifier_aad(&hash), verifier.expose().as_bytes())
                .map_err(|e| StoreError::Backend(format!("put_authorization_state: {e}")))?;
            let mut bytes = sealed.nonce.to_vec();
            bytes.extend_from_slice(&sealed.ciphertext);
            item.insert(PKCE_SEALED.into(), AttributeValue::B(Blob::new(bytes)));
        }
        item.insert(EXPIRES_MS.into(), n(expires));
        item.insert(TTL.into(), n(ttl_seconds(expires)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend("put_authorization_state", &self.table, &e))?;
        Ok(())
    }

    async fn take(
        &self,
        state: &str,
        now: Timestamp,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        const OP: &str = "take_authorization_state";
        let hash = state_hash(state);
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(state_key(&hash)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let old = match result {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(err) if has_code(&err, "ConditionalCheckFailedException") => return Ok(None),
            Err(err) => return Err(backend(OP, &self.table, &err)),
        };
        if old.is_empty() {
            return Ok(None);
        }
        const WHAT: &str = "authorization state";
        let expires_ms = req_n(WHAT, &old, EXPIRES_MS)?;
        if expires_ms <= now.epoch_millis() {
            return Ok(None);
        }
        let expires_at = chrono::DateTime::from_timestamp_millis(expires_ms)
            .map(Timestamp::from_datetime)
            .ok_or_else(|| StoreError::Corrupt(format!("{WHAT}: invalid expiry {expires_ms}")))?;
        Ok(Some(PendingAuthorization {
            state: state.to_owned(),
            provider: Provider::new(req_s(WHAT, &old, "provider")?),
            tenant: Tenant::new(req_s(WHAT, &old, "tenant")?),
            group_id: GroupId::new(req_s(WHAT, &old, "group_id")?),
            pkce_verifier: self.open_verifier(&hash, &old)?,
            redirect_uri: req_s(WHAT, &old, "redirect_uri")?.to_owned(),
            expires_at,
        }))
    }
}

/// [`Dedupe`] in the DynamoDB table: `PK = DEDUPE#<key>`, a conditional put
/// (`attribute_not_exists(PK) OR expires_at_ms <= :now`) with TTL, so that of two concurrent
/// deliveries of one event exactly one is first.
#[derive(Clone, Debug)]
pub struct DynamoDedupe {
    client: Client,
    table: String,
}

impl DynamoDedupe {
    /// Dedupe keys in `table` (the sync store's table).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl Dedupe for DynamoDedupe {
    async fn first_time(
        &self,
        key_text: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let now = now.epoch_millis();
        let expires = now.saturating_add(duration_millis(ttl));
        let mut item = key(format!("DEDUPE#{}", esc(key_text)), "DEDUPE");
        item.insert(EXPIRES_MS.into(), n(expires));
        item.insert(TTL.into(), n(ttl_seconds(expires)));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp <= :now")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_MS)
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if has_code(&err, "ConditionalCheckFailedException") => Ok(false),
            Err(err) => Err(backend("dedupe", &self.table, &err)),
        }
    }

    async fn forget(&self, key_text: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("DEDUPE#{}", esc(key_text)), "DEDUPE")))
            .send()
            .await
            .map_err(|err| backend("dedupe_forget", &self.table, &err))?;
        Ok(())
    }

    /// One conditional put per distinct key (as [`Dedupe::first_time`], so a key already
    /// present is a duplicate), 32 in flight. BatchWriteItem has no
    /// conditions, and a transaction is refused whole by one duplicate. On an error no further
    /// put starts and the keys this call wrote are deleted again.
    async fn first_times(
        &self,
        keys: &[String],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<bool>, StoreError> {
        let mut seen = std::collections::HashSet::new();
        let unique: Vec<(usize, String)> = keys
            .iter()
            .enumerate()
            .filter(|(_, key)| seen.insert(key.as_str()))
            .map(|(i, key)| (i, key.clone()))
            .collect();
        let this = self.clone();
        let outcomes = in_parallel(unique, move |(i, key): (usize, String)| {
            let this = this.clone();
            async move {
                this.first_time(&key, now, ttl)
                    .await
                    .map(|first| (i, first))
            }
        })
        .await;
        let mut firsts = vec![false; keys.len()];
        let mut failure = None;
        for outcome in outcomes {
            match outcome {
                Ok((i, first)) => firsts[i] = first,
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        let Some(error) = failure else {
            return Ok(firsts);
        };
        let written: Vec<String> = keys
            .iter()
            .zip(&firsts)
            .filter(|(_, first)| **first)
            .map(|(key, _)| key.clone())
            .collect();
        if let Err(undo) = self.forget_all(&written).await {
            tracing::warn!(error = %undo, "cannot delete the dedupe keys of a failed claim");
        }
        Err(error)
    }

    /// One delete per key, 32 in flight.
    async fn forget_all(&self, keys: &[String]) -> Result<(), StoreError> {
        let this = self.clone();
        in_parallel(keys.to_vec(), move |key: String| {
            let this = this.clone();
            async move { this.forget(&key).await }
        })
        .await
        .into_iter()
        .collect()
    }
}

/// Dedupe writes in flight at once for one batch.
const DEDUPE_IN_FLIGHT: usize = 32;

/// Runs `op` on each of `items`, at most [`DEDUPE_IN_FLIGHT`] at once; after the first error
/// no further one starts. The outcomes of those started, in completion order.
async fn in_parallel<T, R, F, Fut>(items: Vec<T>, op: F) -> Vec<Result<R, StoreError>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<R, StoreError>> + Send + 'static,
{
    let mut items = items.into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    let mut outcomes = Vec::new();
    let mut failed = false;
    loop {
        while !failed && tasks.len() < DEDUPE_IN_FLIGHT {
            let Some(item) = items.next() else { break };
            tasks.spawn(op(item));
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let outcome =
            joined.unwrap_or_else(|e| Err(StoreError::Backend(format!("dedupe write task: {e}"))));
        failed |= outcome.is_err();
        outcomes.push(outcome);
    }
    outcomes
}
