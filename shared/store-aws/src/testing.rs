//! Test support (feature `testing`): a moto server for the whole test process and SDK
//! configuration pointing at it. Used by this crate's tests and the end-to-end tests.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Runs `moto_server` with one request at a time. Threaded moto does not lock a
/// `TransactWriteItems` (or a conditional put) between its condition checks and its writes, so
/// two concurrent transactions could both pass; DynamoDB never lets them. Serving requests one
/// by one restores DynamoDB's per-request atomicity while the tests' clients still race.
/// (`infra/scripts/moto.sh` starts moto the same way.)
pub const SERIAL_MOTO: &str = "import sys\nimport moto.server as server\n_run = server.run_simple\n\ndef _serial(*args, **kwargs):\n    kwargs['threaded'] = False\n    return _run(*args, **kwargs)\n\nserver.run_simple = _serial\nserver.main(sys.argv[1:])\n";

/// A moto server for this test process.
pub struct MotoServer {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

/// The process-wide moto server: `MOTO_ENDPOINT` when set, otherwise
/// `.venv/bin/moto_server` (serialized, see [`SERIAL_MOTO`]) started on a free loopback port. A watchdog shell stops it when this
/// process ends.
pub fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<MotoServer> = OnceLock::new();
    MOTO.get_or_init(|| {
        if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT")
            && !endpoint.trim().is_empty()
        {
            return MotoServer {
                endpoint: endpoint.trim().trim_end_matches('/').to_owned(),
            };
        }
        let bin = moto_server_path();
        assert!(
            bin.exists(),
            "moto_server not found at {}: run `infra/scripts/moto.sh --install-only` from the \
             repository root (it creates .venv and installs moto[server]), or set MOTO_ENDPOINT \
             to a running moto server",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        let parent = std::process::id();
        let python = bin.with_file_name("python");
        let script = format!(
            "\"$0\" -c \"$1\" -H 127.0.0.1 -p {port} >/dev/null 2>&1 & child=$!; \
             while kill -0 {parent} 2>/dev/null && kill -0 $child 2>/dev/null; do sleep 0.5; done; \
             kill $child 2>/dev/null"
        );
        let mut watchdog = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg(&python)
            .arg(SERIAL_MOTO)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        // Reap the watchdog when it ends (it outlives the tests only by its polling interval).
        std::thread::spawn(move || watchdog.wait());
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto_server did not answer on port {port} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        MotoServer {
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    })
}

/// Where [`moto`] looks for `moto_server`: `.venv/bin/moto_server` at the repository root (what
/// `infra/scripts/moto.sh --install-only` creates). Lets a caller report a missing install
/// before [`moto`] would panic on it.
#[must_use]
pub fn moto_server_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server")
}

/// Whether [`moto`] has a server to use: `MOTO_ENDPOINT` is set, or [`moto_server_path`] exists.
#[must_use]
pub fn moto_available() -> bool {
    std::env::var("MOTO_ENDPOINT").is_ok_and(|e| !e.trim().is_empty())
        || moto_server_path().exists()
}

/// SDK configuration for moto: test credentials, `us-east-1`, the moto endpoint.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .test_credentials()
        .endpoint_url(&moto().endpoint)
        .load()
        .await
}

/// A unique resource name.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A [`DynamoStore`](crate::DynamoStore) on a new table (named `prefix-<uuid>`) of the moto
/// server of [`moto`].
///
/// # Errors
///
/// [`StoreError::Backend`](sync_core::error::StoreError::Backend) when the table cannot be
/// created.
pub async fn fresh_store(prefix: &str) -> Result<crate::DynamoStore, sync_core::error::StoreError> {
    let sdk = sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique(prefix);
    crate::create_table(&client, &table).await?;
    Ok(crate::DynamoStore::new(client, table))
}
