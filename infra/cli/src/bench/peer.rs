//! `connector bench peer`: one Connec! collection read by an Airbyte declarative source and by
//! our read path, side by side (being built).

/// `connector bench peer`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of people in the collection.
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
}

/// Runs the side-by-side read.
pub async fn command(_args: Args) -> Result<(), String> {
    Err("`connector bench peer` is not built yet".into())
}
