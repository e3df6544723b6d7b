//! Server lifecycle: binding a loopback socket, serving an emulator's router in the
//! background, and stopping it ([`RunningServer`]).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

///
/// Dropping it stops the server too; [`RunningServer::shutdown`] additionally
/// waits for the server task to finish.
#[derive(Debug)]
pub struct RunningServer {
    /// Base URL without trailing slash, e.g. `http://127.0.0.1:40123`.
    pub base_url: String,
    /// The bound socket address.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Stops the server and waits (briefly) for it to wind down.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // In-flight slow requests (e.g. injected timeouts) must not hold
            // shutdown hostage.
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Binds `addr` and serves `router` in a background task.
pub(crate) async fn start_router(
    router: Router,
    addr: SocketAddr,
) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = rx.await;
        };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "emulator server stopped with an error");
        }
    });
    Ok(RunningServer {
        base_url: format!("http://{local}"),
        addr: local,
        stop: Some(tx),
        task: Some(task),
    })
}

/// Binds `addr` and serves `router` until `shutdown` resolves.
pub(crate) async fn serve_until(
    router: Router,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
