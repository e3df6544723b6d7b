//! `connector serve`: the OAuth and webhook endpoints over HTTP on the embedded backend, an
//! in-process queue for webhook work and an in-process scheduler, so the whole product runs
//! locally with no AWS. The use cases live in `service` and the HTTP routes in `http-api`
//! (the same router the HTTP Lambda functions run); this module only wires the embedded ports,
//! the worker and the scheduler.
//!
//! Routes ([`http_api::router`]): `GET /oauth/{provider}/start?group_id=..`,
//! `GET /oauth/{provider}/callback`, `POST /webhooks/connec/{tenant}`,
//! `POST /webhooks/{provider}`, `GET /health`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use linking::CredentialStore;
use service::{ConnectorService, LocalQueue, Ports, ServiceSettings};
use store_embedded::secrets::{EncryptedCredentialStore, SecretKey, SqliteAuthorizationStateStore};
use store_embedded::{EmbeddedStore, SqliteDedupe};
use sync_core::ports::{SyncStore, WorkItem};

/// Settings of the local server. `Debug` shows no credential: the Connec! URL, tenant and
/// public URL, the apps' ids and the interval only.
#[derive(Clone)]
pub struct ServeSettings {
    /// The service's settings.
    pub service: ServiceSettings,
    /// The apps served.
    pub apps: connector_sdk::Registry,
    /// Time between scheduled syncs.
    pub sync_interval: Duration,
}

impl std::fmt::Debug for ServeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeSettings")
            .field("connec_url", &self.service.hub.url)
            .field("tenant", &self.service.tenant)
            .field("public_url", &self.service.public_url)
            .field("apps", &self.apps)
            .field("sync_interval", &self.sync_interval)
            .finish_non_exhaustive()
    }
}

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Store or secrets.
    #[error(transparent)]
    Store(#[from] sync_core::error::StoreError),
    /// Wiring.
    #[error(transparent)]
    Wiring(#[from] service::WiringError),
}

/// The service on the embedded backend, with its queue and schedule.
pub struct LocalRuntime {
    service: Arc<ConnectorService>,
    sync_interval: Duration,
}

impl LocalRuntime {
    /// Opens the database file (id-maps, encrypted credentials, OAuth states) and wires
    /// everything. The worker and the scheduler start with [`LocalRuntime::start`].
    pub fn open(
        database: &std::path::Path,
        key: SecretKey,
        settings: ServeSettings,
    ) -> Result<(Arc<Self>, tokio::sync::mpsc::UnboundedReceiver<WorkItem>), ServeError> {
        let (queue, work) = LocalQueue::new();
        let ports = Ports {
            store: Arc::new(EmbeddedStore::open(database)?),
            credentials: Arc::new(EncryptedCredentialStore::open(database, key.clone())?),
            states: Arc::new(SqliteAuthorizationStateStore::open(database, key)?),
            // In the file: a redelivered webhook is still recognised after a restart.
            dedupe: Arc::new(SqliteDedupe::open(database)?),
            bus: Arc::new(queue),
        };
        let service = Arc::new(ConnectorService::new(
            ports,
            settings.service,
            settings.apps,
        )?);
        Ok((
            Arc::new(Self {
                service,
                sync_interval: settings.sync_interval,
            }),
            work,
        ))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SyncStore> {
        &self.service.ports().store
    }

    /// The credential store.
    pub fn credentials(&self) -> &Arc<dyn CredentialStore> {
        &self.service.ports().credentials
    }

    /// Carries out one work item now (the worker does this for queued items).
    pub async fn process(&self, item: WorkItem) -> service::WorkOutcome {
        self.service.process(item, None).await
    }

    /// Starts the worker (queued work, in order) and the scheduler.
    pub fn start(
        self: &Arc<Self>,
        work: tokio::sync::mpsc::UnboundedReceiver<WorkItem>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let worker = {
            let runtime = self.clone();
            LocalQueue::spawn_worker(work, move |item| {
                let runtime = runtime.clone();
                async move {
                    runtime.service.process(item, None).await;
                }
            })
        };
        let scheduler = {
            let runtime = self.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(runtime.sync_interval);
                // The first tick is immediate; linking requests its own first sync.
                ticks.tick().await;
                loop {
                    ticks.tick().await;
                    if let Err(e) = runtime.service.fan_out().await {
                        tracing::error!(error = %e, "scheduled fan-out failed");
                    }
                }
            })
        };
        vec![worker, scheduler]
    }

    /// The HTTP routes: the product's one router (`http_api::router`), the same routes the
    /// HTTP Lambda functions serve, plus `GET /health`.
    pub fn router(&self) -> Router {
        http_api::router(self.service.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_credential() {
        let settings = ServeSettings {
            service: ServiceSettings {
                hub: service::HubEndpoint {
                    url: "http://connec".into(),
                    api_id: "demo-id".into(),
                    api_key: "CONNEC-KEY-123".into(),
                },
                tuning: service::Tuning::default(),
                public_url: "http://127.0.0.1:8080".into(),
                tenant: "default".into(),
                launch_secret: Some(
                    service::LaunchSecret::new("LAUNCH-SECRET-0123456789-0123456789").unwrap(),
                ),
            },
            apps: connector_sdk::Registry::new(),
            sync_interval: Duration::from_secs(60),
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("CONNEC-KEY-123"), "{shown}");
        assert!(!shown.contains("LAUNCH-SECRET"), "{shown}");
        assert!(
            shown.contains("http://connec") && shown.contains("default"),
            "{shown}"
        );
    }
}
