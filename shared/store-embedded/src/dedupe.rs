//! [`SqliteDedupe`]: webhook dedupe keys in the embedded database file.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{TransactionBehavior, params};
use sync_core::domain::Timestamp;
use sync_core::error::StoreError;
use sync_core::ports::Dedupe;

use crate::secrets::Db;

/// [`Dedupe`] in the embedded database file: a key is accepted once until it expires, across
/// restarts and across processes sharing the file (the check and the insert are one immediate
/// transaction). Expired keys are purged as new ones arrive.
///
/// ```
/// use std::time::Duration;
/// use sync_core::ports::Dedupe;
/// use store_embedded::SqliteDedupe;
/// use sync_core::domain::Timestamp;
///
/// let dir = tempfile::tempdir()?;
/// let dedupe = SqliteDedupe::open(dir.path().join("sync.db"))?;
/// let now = Timestamp::parse("2026-11-23T10:00:00Z").expect("a valid time");
/// let runtime = tokio::runtime::Runtime::new()?;
/// runtime.block_on(async {
///     let day = Duration::from_secs(86_400);
///     assert!(dedupe.first_time("hubspot:event:1", now, day).await?);
///     assert!(!dedupe.first_time("hubspot:event:1", now, day).await?);
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SqliteDedupe {
    db: Db,
}

impl fmt::Debug for SqliteDedupe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteDedupe").finish_non_exhaustive()
    }
}

impl SqliteDedupe {
    /// Opens (creating and migrating it if needed) the database file at `path`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the file cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Ok(Self {
            db: Db::open(path.as_ref())?,
        })
    }
}

#[async_trait]
impl Dedupe for SqliteDedupe {
    async fn first_time(
        &self,
        key: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = key.to_owned();
        let (now, expires) = (now.epoch_millis(), now.plus(ttl).epoch_millis());
        self.db
            .call("dedupe_first_time", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.prepare_cached("DELETE FROM webhook_dedupe WHERE expires_at <= ?1")?
                    .execute(params![now])?;
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO webhook_dedupe (key, expires_at) VALUES (?1, ?2) \
                         ON CONFLICT (key) DO NOTHING",
                    )?
                    .execute(params![key, expires])?;
                tx.commit()?;
                Ok(inserted == 1)
            })
            .await
    }

    async fn forget(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.db
            .call("dedupe_forget", move |conn| {
                conn.prepare_cached("DELETE FROM webhook_dedupe WHERE key = ?1")?
                    .execute(params![key])?;
                Ok(())
            })
            .await
    }

    /// Every key in one immediate transaction: all recorded, or (on error) none.
    async fn first_times(
        &self,
        keys: &[String],
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Vec<bool>, StoreError> {
        let keys = keys.to_vec();
        let (now, expires) = (now.epoch_millis(), now.plus(ttl).epoch_millis());
        self.db
            .call("dedupe_first_times", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.prepare_cached("DELETE FROM webhook_dedupe WHERE expires_at <= ?1")?
                    .execute(params![now])?;
                let mut firsts = Vec::with_capacity(keys.len());
                {
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO webhook_dedupe (key, expires_at) VALUES (?1, ?2) \
                         ON CONFLICT (key) DO NOTHING",
                    )?;
                    for key in &keys {
                        firsts.push(insert.execute(params![key, expires])? == 1);
                    }
                }
                tx.commit()?;
                Ok(firsts)
            })
            .await
    }

    /// Every key in one transaction.
    async fn forget_all(&self, keys: &[String]) -> Result<(), StoreError> {
        let keys = keys.to_vec();
        self.db
            .call("dedupe_forget_all", move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                {
                    let mut delete =
                        tx.prepare_cached("DELETE FROM webhook_dedupe WHERE key = ?1")?;
                    for key in &keys {
                        delete.execute(params![key])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).expect("valid timestamp")
    }

    #[tokio::test]
    async fn a_key_is_accepted_once_until_it_expires_even_after_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.db");
        let ttl = Duration::from_secs(60);
        let now = at("2026-11-23T10:00:00Z");
        let dedupe = SqliteDedupe::open(&path).unwrap();
        assert!(dedupe.first_time("a", now, ttl).await.unwrap());
        assert!(!dedupe.first_time("a", now, ttl).await.unwrap());
        assert!(dedupe.first_time("b", now, ttl).await.unwrap());
        drop(dedupe);

        // A restarted process still knows the key...
        let reopened = SqliteDedupe::open(&path).unwrap();
        let later = now.plus(Duration::from_secs(59));
        assert!(!reopened.first_time("a", later, ttl).await.unwrap());
        // ...until it expires.
        let expired = now.plus(Duration::from_secs(60));
        assert!(reopened.first_time("a", expired, ttl).await.unwrap());
        assert!(!reopened.first_time("a", expired, ttl).await.unwrap());
    }

    #[tokio::test]
    async fn a_forgotten_key_is_accepted_again() {
        let dir = tempfile::tempdir().unwrap();
        let dedupe = SqliteDedupe::open(dir.path().join("sync.db")).unwrap();
        let now = at("2026-11-23T10:00:00Z");
        let ttl = Duration::from_secs(60);
        assert!(dedupe.first_time("a", now, ttl).await.unwrap());
        dedupe.forget("a").await.unwrap();
        assert!(dedupe.first_time("a", now, ttl).await.unwrap());
        assert!(!dedupe.first_time("a", now, ttl).await.unwrap());
        dedupe.forget("never-seen").await.unwrap();
    }

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[tokio::test]
    async fn a_batch_claims_each_key_once_in_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.db");
        let dedupe = SqliteDedupe::open(&path).unwrap();
        let now = at("2026-11-23T10:00:00Z");
        let ttl = Duration::from_secs(60);
        assert!(dedupe.first_time("old", now, ttl).await.unwrap());
        let keys = strings(&["a", "old", "a", "b"]);
        assert_eq!(
            dedupe.first_times(&keys, now, ttl).await.unwrap(),
            [true, false, false, true]
        );
        // Recorded in the file: another handle sees them.
        let other = SqliteDedupe::open(&path).unwrap();
        assert_eq!(
            other.first_times(&keys, now, ttl).await.unwrap(),
            [false; 4]
        );
        other
            .forget_all(&strings(&["a", "old", "never"]))
            .await
            .unwrap();
        assert_eq!(
            dedupe.first_times(&keys, now, ttl).await.unwrap(),
            [true, true, false, false]
        );
        // Expired keys are first again, and purged as the batch comes in.
        let later = now.plus(ttl);
        assert_eq!(
            dedupe.first_times(&keys, later, ttl).await.unwrap(),
            [true, true, false, true]
        );
        assert!(
            dedupe
                .first_times(&[], later, ttl)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_batch_that_fails_records_none_of_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.db");
        let dedupe = SqliteDedupe::open(&path).unwrap();
        let now = at("2026-11-23T10:00:00Z");
        let ttl = Duration::from_secs(60);
        // A trigger refuses the third insert: the transaction fails part-way.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON webhook_dedupe \
             WHEN NEW.key = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
        assert!(
            dedupe
                .first_times(&strings(&["a", "b", "poison", "c"]), now, ttl)
                .await
                .is_err()
        );
        conn.execute_batch("DROP TRIGGER refuse_poison").unwrap();
        assert_eq!(
            dedupe
                .first_times(&strings(&["a", "b", "c"]), now, ttl)
                .await
                .unwrap(),
            [true; 3],
            "nothing of the failed batch was recorded"
        );
    }

    #[tokio::test]
    async fn two_handles_on_one_file_accept_a_key_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.db");
        let (one, two) = (
            SqliteDedupe::open(&path).unwrap(),
            SqliteDedupe::open(&path).unwrap(),
        );
        let now = at("2026-11-23T10:00:00Z");
        let ttl = Duration::from_secs(60);
        let mut tasks = Vec::new();
        for i in 0..16 {
            let handle = if i % 2 == 0 { one.clone() } else { two.clone() };
            tasks.push(tokio::spawn(async move {
                handle.first_time("event-7", now, ttl).await.unwrap()
            }));
        }
        let mut accepted = 0;
        for task in tasks {
            accepted += usize::from(task.await.unwrap());
        }
        assert_eq!(accepted, 1);
    }
}
