//! `connector bench quota`: the share of an app's call allowance a large initial sync uses
//! (being built).

/// `connector bench quota`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of people to sync.
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
}

/// Runs the quota measurement.
pub async fn command(_args: Args) -> Result<(), String> {
    Err("`connector bench quota` is not built yet".into())
}
