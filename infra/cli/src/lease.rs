//! The organization's sync lease as the CLI sees it: a rerun after a killed run, and
//! `connector unlock`.
//!
//! A run that is killed (`kill -9`, a crash, a closed laptop) cannot release its lease. The
//! engine keeps leases short and renews them as a run goes, but a rerun on the same machine need
//! not wait at all: [`run_with_lease_recovery`] reads the holder, and when it is a process of this
//! host that no longer exists ([`sync_core::lease`]), frees that lease and runs once more. Any
//! other holder is reported by name, with its expiry and the way out (`connector unlock`).

use std::future::Future;
use std::time::Duration;

use sync_core::domain::{OrgId, Timestamp};
use sync_core::error::{StoreError, SyncError};
use sync_core::lease::{HolderStatus, holder_status, local_host, probe_local_process};
use sync_core::ports::{Clock, LeaseHolder, SyncStore, SystemClock};

/// Why a run through [`run_with_lease_recovery`] did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LeaseRunError {
    /// The run itself failed (or was refused for another reason than the lease).
    #[error(transparent)]
    Sync(SyncError),
    /// Someone else holds the lease, and it is not a gone process of this host.
    #[error(
        "another sync of organization `{org}` is running: its lease is held by `{}` until {} ({}). \
         If no sync is running any more, free it with `connector unlock`",
        holder.owner,
        holder.expires_at,
        describe_remaining(holder.expires_at, *now)
    )]
    Held {
        /// The organization.
        org: OrgId,
        /// Who holds its lease.
        holder: LeaseHolder,
        /// When the holder was read.
        now: Timestamp,
    },
    /// The lease could not be read or freed.
    #[error("cannot check the sync lease of organization `{org}`: {source}")]
    Store {
        /// The organization.
        org: OrgId,
        /// What the store said.
        source: StoreError,
    },
}

/// "expires in 4 min 10 s", or "expired" for a lease nobody took over yet.
fn describe_remaining(expires_at: Timestamp, now: Timestamp) -> String {
    let millis = expires_at.epoch_millis().saturating_sub(now.epoch_millis());
    if millis <= 0 {
        return "expired".to_owned();
    }
    let secs = u64::try_from(millis).unwrap_or(0).div_ceil(1000);
    let d = Duration::from_secs(secs);
    match (d.as_secs() / 60, d.as_secs() % 60) {
        (0, s) => format!("expires in {s} s"),
        (m, 0) => format!("expires in {m} min"),
        (m, s) => format!("expires in {m} min {s} s"),
    }
}

/// Runs `attempt` (a sync of `org`). When the engine answers [`SyncError::Locked`], looks at
/// the lease: a holder that is a gone process of this host has its lease freed (logged at warn
/// with the old owner and expiry) and `attempt` runs once more; a lease that was released or
/// expired meanwhile also gets one more attempt; anything else is [`LeaseRunError::Held`].
///
/// Only the gone holder's own lease is freed (a conditional release on its owner), so a run
/// that took the lease in between is never disturbed.
///
/// # Errors
///
/// [`LeaseRunError`]: the run's own error, a live holder, or a store failure reading the lease.
pub async fn run_with_lease_recovery<T, F, Fut>(
    store: &dyn SyncStore,
    org: &OrgId,
    mut attempt: F,
) -> Result<T, LeaseRunError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SyncError>>,
{
    let host = local_host();
    let mut retried = false;
    loop {
        match attempt().await {
            Err(SyncError::Locked(_)) => {}
            other => return other.map_err(LeaseRunError::Sync),
        }
        let store_error = |source| LeaseRunError::Store {
            org: org.clone(),
            source,
        };
        let holder = store.lease_holder(org).await.map_err(store_error)?;
        let now = SystemClock.now();
        let Some(holder) = holder else {
            // Released between the refusal and the look: just try again (once).
            if retried {
                return Err(LeaseRunError::Sync(SyncError::Locked(org.to_string())));
            }
            retried = true;
            continue;
        };
        if retried {
            return Err(LeaseRunError::Held {
                org: org.clone(),
                holder,
                now,
            });
        }
        match holder_status(&holder.owner, &host, probe_local_process) {
            HolderStatus::GoneLocalProcess { pid } => {
                tracing::warn!(
                    org = %org,
                    owner = %holder.owner,
                    expires_at = %holder.expires_at,
                    pid,
                    "the sync lease is held by a process of this host that no longer exists \
                     (killed or crashed); freeing it and running again"
                );
                store
                    .release_lease(org, &holder.owner)
                    .await
                    .map_err(store_error)?;
            }
            _ if holder.expires_at <= now => {
                // Expired: the next attempt takes it over.
            }
            _ => {
                return Err(LeaseRunError::Held {
                    org: org.clone(),
                    holder,
                    now,
                });
            }
        }
        retried = true;
    }
}

/// Breaks the organization's sync lease whoever holds it (`connector unlock`), logs what it
/// removed at warn, and returns it (`None` if there was no lease).
///
/// # Errors
///
/// The store's error.
pub async fn unlock(store: &dyn SyncStore, org: &OrgId) -> Result<Option<LeaseHolder>, StoreError> {
    let removed = store.break_lease(org).await?;
    match &removed {
        Some(holder) => tracing::warn!(
            org = %org,
            owner = %holder.owner,
            expires_at = %holder.expires_at,
            "sync lease broken by `connector unlock`; a run still working under it stops at its \
             next renewal"
        ),
        None => tracing::info!(org = %org, "`connector unlock`: no sync lease to break"),
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use store_embedded::EmbeddedStore;
    use sync_core::domain::RunId;

    use super::*;

    const TTL: Duration = Duration::from_secs(600);

    fn org() -> OrgId {
        OrgId::new("cld-lease")
    }

    /// What the engine does first: take the lease as `owner`, or answer Locked.
    async fn attempt(
        store: &EmbeddedStore,
        owner: &str,
        calls: &AtomicU32,
    ) -> Result<RunId, SyncError> {
        calls.fetch_add(1, Ordering::SeqCst);
        if store
            .acquire_lease(&org(), owner, SystemClock.now(), TTL)
            .await?
        {
            store.release_lease(&org(), owner).await?;
            Ok(RunId::new("ran"))
        } else {
            Err(SyncError::Locked(org().to_string()))
        }
    }

    fn me() -> String {
        format!("{}/run-me", sync_core::engine::process_holder())
    }

    #[tokio::test]
    async fn a_gone_local_holder_is_freed_and_the_run_goes_ahead() {
        let store = EmbeddedStore::in_memory().unwrap();
        // No process can have this pid (Linux pids stay below 2^22).
        let gone = format!("pid:{}@{}/run-killed", u32::MAX, local_host());
        assert!(
            store
                .acquire_lease(&org(), &gone, SystemClock.now(), TTL)
                .await
                .unwrap()
        );
        let (calls, me) = (AtomicU32::new(0), me());
        let result = run_with_lease_recovery(&store, &org(), || attempt(&store, &me, &calls)).await;
        if cfg!(target_os = "linux") {
            assert_eq!(result.unwrap(), RunId::new("ran"));
            assert_eq!(calls.load(Ordering::SeqCst), 2);
            assert_eq!(store.lease_holder(&org()).await.unwrap(), None);
        } else {
            // Elsewhere a holder is never claimed gone.
            assert!(matches!(result, Err(LeaseRunError::Held { .. })));
        }
    }

    #[tokio::test]
    async fn a_live_or_foreign_holder_is_named_with_the_way_out_and_kept() {
        let live = format!("{}/run-other", sync_core::engine::process_holder());
        let foreign = format!("pid:{}@not-{}/run-elsewhere", u32::MAX, local_host());
        for owner in [live, foreign, "worker-7".to_owned()] {
            let store = EmbeddedStore::in_memory().unwrap();
            assert!(
                store
                    .acquire_lease(&org(), &owner, SystemClock.now(), TTL)
                    .await
                    .unwrap()
            );
            let (calls, me) = (AtomicU32::new(0), me());
            let error = run_with_lease_recovery(&store, &org(), || attempt(&store, &me, &calls))
                .await
                .unwrap_err();
            assert!(matches!(error, LeaseRunError::Held { .. }), "{error:?}");
            let message = error.to_string();
            assert!(message.contains(&owner), "{message}");
            assert!(message.contains("connector unlock"), "{message}");
            assert!(message.contains("expires in 10 min"), "{message}");
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{owner}");
            assert_eq!(
                store.lease_holder(&org()).await.unwrap().map(|h| h.owner),
                Some(owner)
            );
        }
    }

    #[tokio::test]
    async fn a_lease_that_expired_or_went_meanwhile_gets_one_more_attempt_only() {
        let store = EmbeddedStore::in_memory().unwrap();
        let past = Timestamp::parse("2024-01-01T00:00:00Z").unwrap();
        assert!(
            store
                .acquire_lease(&org(), "worker-7", past, TTL)
                .await
                .unwrap()
        );
        // The refusal came just before the lease expired (or was released).
        let calls = AtomicU32::new(0);
        let result = run_with_lease_recovery(&store, &org(), || async {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(SyncError::Locked(org().to_string()))
            } else {
                Ok(())
            }
        })
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        // Refused for ever: two attempts, then the holder is named.
        let calls = AtomicU32::new(0);
        let error = run_with_lease_recovery(&store, &org(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(SyncError::Locked(org().to_string()))
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(error.to_string().contains("`worker-7`"), "{error}");
        assert!(error.to_string().contains("(expired)"), "{error}");
        store.break_lease(&org()).await.unwrap();
        let calls = AtomicU32::new(0);
        let error = run_with_lease_recovery(&store, &org(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(SyncError::Locked(org().to_string()))
        })
        .await
        .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(
            matches!(error, LeaseRunError::Sync(SyncError::Locked(_))),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn other_errors_pass_through_untouched() {
        let store = EmbeddedStore::in_memory().unwrap();
        let calls = AtomicU32::new(0);
        let error = run_with_lease_recovery(&store, &org(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(SyncError::Disabled(org().to_string()))
        })
        .await
        .unwrap_err();
        assert!(
            matches!(error, LeaseRunError::Sync(SyncError::Disabled(_))),
            "{error:?}"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unlock_removes_any_lease_and_says_whose_it_was() {
        let store = EmbeddedStore::in_memory().unwrap();
        assert_eq!(unlock(&store, &org()).await.unwrap(), None);
        let owner = format!("{}/run-live", sync_core::engine::process_holder());
        assert!(
            store
                .acquire_lease(&org(), &owner, SystemClock.now(), TTL)
                .await
                .unwrap()
        );
        let removed = unlock(&store, &org()).await.unwrap().unwrap();
        assert_eq!(removed.owner, owner);
        assert_eq!(store.lease_holder(&org()).await.unwrap(), None);
    }

    #[test]
    fn the_remaining_time_is_readable() {
        let now = Timestamp::parse("2024-01-01T00:00:00Z").unwrap();
        let cases: &[(u64, &str)] = &[
            (0, "expired"),
            (1, "expires in 1 s"),
            (59_001, "expires in 1 min"),
            (60_000, "expires in 1 min"),
            (250_000, "expires in 4 min 10 s"),
        ];
        for (millis, expected) in cases {
            let at = now.plus(Duration::from_millis(*millis));
            assert_eq!(describe_remaining(at, now), *expected, "{millis} ms");
        }
        let before = Timestamp::parse("2023-12-31T23:59:00Z").unwrap();
        assert_eq!(describe_remaining(before, now), "expired");
    }
}
