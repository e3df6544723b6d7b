//! The sync function: the hourly schedule fans out one `SyncRequested` event per organization;
//! each event (and each queued webhook work item) is carried out here, a sync stopping before
//! the Lambda deadline with a continuation event. `main` wires once; `handler` does the work.

use lambda_runtime::{Error, run, service_fn};

// The allocator: mimalloc (thread-local free lists for the runtime's small allocations). It adds
// about 45 KB to the zip; the cold start measured the same within noise (bench-lambda.sh).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    runtime_aws::init_tracing();
    let function = runtime_aws::Function::Sync;
    let service = runtime_aws::service_from_env(function).await?;
    runtime_aws::log_ready(function);
    run(service_fn(|event| sync::handler::handle(&service, event))).await
}
