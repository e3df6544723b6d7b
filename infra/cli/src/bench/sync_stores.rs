//! The store a `connector bench sync` run writes its sync state to: the embedded store on a
//! temporary file, or DynamoDB on a moto server (`.venv/bin/moto_server`, started as the
//! `store-aws` tests start it, or the one `MOTO_ENDPOINT` names).

use std::sync::Arc;

use sync_core::ports::SyncStore;

use super::BenchError;

/// Which store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// SQLite on a temporary file.
    Embedded,
    /// DynamoDB, emulated by moto.
    Dynamodb,
}

impl StoreKind {
    /// The name the report prints.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Dynamodb => "dynamodb",
        }
    }
}

/// An open store and what it needs to stay alive (the temporary folder).
pub struct BenchStore {
    /// The store, as the engine sees it.
    pub store: Arc<dyn SyncStore>,
    operations: Box<dyn Fn() -> u64 + Send + Sync>,
    _dir: Option<tempfile::TempDir>,
}

impl BenchStore {
    /// Opens a fresh store of `kind`.
    pub async fn open(kind: StoreKind) -> Result<Self, BenchError> {
        match kind {
            StoreKind::Embedded => {
                let dir = tempfile::tempdir().map_err(|e| {
                    BenchError::Process(format!("cannot create a temporary folder: {e}"))
                })?;
                let store = store_embedded::EmbeddedStore::open(dir.path().join("bench.db"))?;
                let counter = store.clone();
                Ok(Self {
                    store: Arc::new(store),
                    operations: Box::new(move || counter.operations()),
                    _dir: Some(dir),
                })
            }
            StoreKind::Dynamodb => {
                if !store_aws::testing::moto_available() {
                    return Err(BenchError::Process(format!(
                        "--store dynamodb needs moto: run `infra/scripts/moto.sh --install-only` \
                         from the repository root (it installs {}), or set MOTO_ENDPOINT to a \
                         running moto server",
                        store_aws::testing::moto_server_path().display()
                    )));
                }
                // `moto()` blocks while the server starts: off the async threads.
                tokio::task::spawn_blocking(store_aws::testing::moto)
                    .await
                    .map_err(|e| BenchError::Process(format!("starting moto: {e}")))?;
                let store = store_aws::testing::fresh_store("bench").await?;
                let counter = store.clone();
                Ok(Self {
                    store: Arc::new(store),
                    operations: Box::new(move || counter.operations()),
                    _dir: None,
                })
            }
        }
    }

    /// Port operations so far.
    pub fn operations(&self) -> u64 {
        (self.operations)()
    }
}
