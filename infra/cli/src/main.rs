//! `connector`: run the two-way sync locally on the embedded backend.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use cli::config::Config;
use cli::wiring::{self, HubEndpoint, Tuning};
use cli::{bench, demo, lease, report};
use http_client::HttpConfig;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use store_embedded::EmbeddedStore;
use sync_core::domain::{OrgId, RunStatus};
use sync_core::engine::{PageProgress, RunOptions};
use sync_core::ports::SyncStore;

mod chaos;
mod configured;
mod emulate;

/// Every record is a tree of small allocations (serde_json maps and strings, built and dropped
/// per page): glibc's malloc took about a third of the process's CPU in `bench sync`, most of
/// it consolidating fastbins (`malloc_consolidate`, `unlink_chunk`). Without fastbins that
/// work is gone, and glibc keeps its flat resident size (mimalloc, tried, held 40 MiB more at
/// 100k records).
fn tune_malloc() {
    // SAFETY: `mallopt` only sets an allocator parameter; called first thing in `main`,
    // before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MXFAST, 0);
    }
}

#[derive(Parser)]
#[command(
    name = "connector",
    version,
    about = "Two-way sync between Connec! and its apps, on one machine"
)]
struct Cli {
    /// Log as JSON lines (for machines) instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the emulators of Connec! and an app in-process, seed them, sync twice and show the
    /// result.
    Demo {
        /// The app: hubspot (contacts and companies) or xero (contacts, items, invoices and
        /// payments).
        #[arg(default_value = "hubspot")]
        app: String,
        /// Keep the embedded database here (default: a temporary file).
        #[arg(long)]
        database: Option<PathBuf>,
    },
    /// Run the Connec!, HubSpot and Xero emulators on loopback until interrupted.
    Emulate {
        /// Connec! emulator port.
        #[arg(long, default_value_t = 8081)]
        connec_port: u16,
        /// HubSpot emulator port.
        #[arg(long, default_value_t = 8082)]
        hubspot_port: u16,
        /// Xero emulator port (the Accounting API under /api.xro/2.0).
        #[arg(long, default_value_t = 8083)]
        xero_port: u16,
        /// Send Connec! notifications here (e.g. http://127.0.0.1:8080/webhooks/connec/default),
        /// with HTTP Basic demo-id:demo-key.
        #[arg(long)]
        notify: Option<String>,
    },
    /// Sync the configured organization once.
    ///
    /// One sync per organization runs at a time (a lease in the database). A lease left by a
    /// killed or crashed run of this machine is freed at once (logged); any other holder is
    /// named with its expiry, and `connector unlock` frees it.
    Sync {
        /// Configuration file.
        #[arg(long, short, default_value = "connector.yaml")]
        config: PathBuf,
        /// Ignore watermarks and re-read everything (unchanged records stay no-ops).
        #[arg(long)]
        full: bool,
    },
    /// Show the organization, its watermarks, parked records and recent runs.
    Status {
        /// Configuration file.
        #[arg(long, short, default_value = "connector.yaml")]
        config: PathBuf,
    },
    /// List id-maps.
    Idmaps {
        /// Configuration file.
        #[arg(long, short, default_value = "connector.yaml")]
        config: PathBuf,
        /// Only this entity (`people`, `organizations`).
        #[arg(long)]
        entity: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Serve the OAuth and webhook endpoints with an in-process scheduler (needs `serve` and
    /// `hubspot.oauth` in the configuration, and CONNECTOR_SECRET_KEY in the environment).
    Serve {
        /// Configuration file.
        #[arg(long, short, default_value = "connector.yaml")]
        config: PathBuf,
    },
    /// Print a launch URL for a Connec! group's page (signed with the launch secret, valid for
    /// a few minutes): for operators and local use; in production the hub opens the page.
    AdminUrl {
        /// The Connec! group id (cld-...).
        #[arg(long)]
        group: String,
        /// Who the page says is signed in.
        #[arg(long, default_value = "operator")]
        user: String,
        /// Minutes the link stays valid (at most 15).
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        /// Configuration file.
        #[arg(long, short, default_value = "connector.yaml")]
        config: PathBuf,
    },
    /// Print the URL a person opens to link a Connec! group to an account of an app (a launch
    /// URL for the group's page, where the person links the app).
    Link {
        /// The app: one of the configuration's `apps`.
        app: String,
        /// The Connec! group id to link (cld-...).
        #[arg(long)]
        group: String,
        /// Configuration file.
        #[arg(long, short, default_value = "connector.yaml")]
        config: PathBuf,
    },
    /// Unlink the configured organization: remove its tokens and stop its syncs (id-maps are kept,
    /// so linking again resumes without duplicates, unless `--purge`).
    Unlink {
        /// Also forget the id-maps, watermarks and pending records: the next link starts over
        /// with a first sync that matches and merges records again.
        #[arg(long)]
        purge: bool,
        /// Configuration file.
        #[arg(long, short, default_value = "connector.yaml")]
        config: PathBuf,
    },
    /// Free the configured organization's sync lease, whoever holds it, and say whose it was.
    ///
    /// `connector sync` frees a lease left by a killed or crashed run of this machine by itself;
    /// this is for the other cases: a holder on another machine, or one this machine cannot
    /// check. The removed holder is printed and logged. A run still working under the lease
    /// stops at its next renewal.
    Unlock {
        /// Configuration file.
        #[arg(long, short, default_value = "connector.yaml")]
        config: PathBuf,
    },
    /// Validate a mapping file (YAML or JSON).
    CheckMapping {
        /// The file.
        file: PathBuf,
    },
    /// Run the chaos suite: seeded random edits on both sides, faults, aborted syncs and shuffled
    /// deliveries, then check that both sides converge (exit 1 if any figure is not zero).
    Chaos {
        /// Rounds per policy.
        #[arg(long, default_value_t = 50)]
        rounds: u32,
        /// Seed of every random choice (printed; the same seed gives the same choices).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Conflict policy: most_recent, hub_wins, app_wins, or all (each in turn).
        #[arg(long, default_value = "all")]
        policy: String,
        /// Run real `connector sync` processes and `kill -9` some of them at random moments.
        #[arg(long)]
        kill: bool,
        /// The app on the other side: hubspot or xero (`--kill` runs on hubspot only).
        #[arg(long, default_value = "hubspot")]
        app: String,
    },
    /// Benchmarks: syncs end to end, a peer side by side, quota use.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn init_logs(json: bool, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    tune_malloc();
    let cli = Cli::parse();
    let mut builder = if one_thread(&cli.command) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async_main(cli))
}

/// Whether a command runs on one thread (Tokio's current-thread runtime, SQLite still on the
/// blocking pool). A sync is one chain of awaits: on the multi-threaded runtime every answer
/// and every store call woke the engine's thread from another one, which cost 5% of a sync's
/// CPU; the emulators, answering one call at a time in the benchmarks, spent 16% less CPU on
/// one thread. `serve`, the in-process chaos suite and the quota benchmark (emulators and
/// syncs in one process, paced in real time) keep every core.
fn one_thread(command: &Command) -> bool {
    matches!(
        command,
        Command::Sync { .. }
            | Command::Emulate { .. }
            | Command::Bench(bench::BenchCommand::Sync(_) | bench::BenchCommand::Peer(_))
    )
}

async fn async_main(cli: Cli) -> ExitCode {
    // The chaos suite provokes errors and warnings by the thousand: none, unless RUST_LOG says.
    let default = match cli.command {
        Command::Chaos { .. } => "off",
        _ => "warn",
    };
    init_logs(cli.log_json, default);
    match run(cli.command).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Demo { app, database } => {
            if !demo::APPS.contains(&app.as_str()) {
                return Err(format!(
                    "unknown app `{app}`: the demo runs on {}",
                    demo::APPS.join(", ")
                ));
            }
            let (_dir, path) = database_path(database)?;
            let store = open_store(&path)?;
            let say = &mut |line: &str| println!("{line}");
            let succeeded = if app == "xero" {
                demo::xero::run(store, say)
                    .await
                    .map_err(|e| e.to_string())?
                    .succeeded()
            } else {
                let outcome = demo::run(store, say).await.map_err(|e| e.to_string())?;
                outcome.disagreements.is_empty() && outcome.second.errors.is_empty()
            };
            println!("(id-maps and runs are in {})", path.display());
            Ok(if succeeded {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Emulate {
            connec_port,
            hubspot_port,
            xero_port,
            notify,
        } => emulate::command(connec_port, hubspot_port, xero_port, notify).await,
        Command::Sync { config, full } => configured::sync(&config, full).await,
        Command::Status { config } => configured::status(&config).await,
        Command::Idmaps {
            config,
            entity,
            limit,
        } => {
            let config = Config::load(&config).map_err(|e| e.to_string())?;
            let store = open_store(&config.database)?;
            let entity = entity.map(sync_core::domain::EntityName::new);
            for org in
                wiring::group_organizations(store.as_ref(), &config.organization.group_id).await?
            {
                let maps = store
                    .list_idmaps(&org.id, entity.as_ref(), 0, limit)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{} ({}):", org.id, org.provider);
                print!("{}", report::idmap_table(&maps));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { config } => configured::serve(&config).await,
        Command::Link { app, group, config } => {
            let group = wiring::group_id(&group, "--group")?;
            let config = Config::load(&config).map_err(|e| e.to_string())?;
            let settings = configured::serve_settings(&config)?;
            let provider = settings.apps.require(&app).map_err(|e| e.to_string())?;
            if provider.oauth().is_none() {
                return Err(format!(
                    "`{app}` has no `oauth` section in the configuration: it cannot be linked by OAuth"
                ));
            }
            let url = configured::admin_url(&config, group.as_str(), "operator", 10)?;
            println!(
                "Open this URL in a browser (within 10 minutes; `connector serve` must be running), then press \"Link {}\" to link Connec! group {group}:",
                provider.display_name()
            );
            println!("  {url}");
            Ok(ExitCode::SUCCESS)
        }
        Command::AdminUrl {
            group,
            user,
            minutes,
            config,
        } => {
            let config = Config::load(&config).map_err(|e| e.to_string())?;
            println!(
                "{}",
                configured::admin_url(&config, &group, &user, minutes)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Unlink { config, purge } => {
            let config = Config::load(&config).map_err(|e| e.to_string())?;
            let key = store_embedded::secrets::SecretKey::from_env().map_err(|e| e.to_string())?;
            let store = open_store(&config.database)?;
            let credentials =
                store_embedded::secrets::EncryptedCredentialStore::open(&config.database, key)
                    .map_err(|e| e.to_string())?;
            let mode = if purge {
                linking::UnlinkMode::PurgeSyncState
            } else {
                linking::UnlinkMode::KeepSyncState
            };
            let orgs =
                wiring::group_organizations(store.as_ref(), &config.organization.group_id).await?;
            if orgs.is_empty() {
                println!(
                    "Connec! group {} has no organization: nothing to unlink.",
                    config.organization.group_id
                );
            }
            let apps = wiring::registry(&config, &Tuning::default(), "http://127.0.0.1")?;
            for organization in &orgs {
                let org = &organization.id;
                // The tokens are read before they are deleted, for the app's after-unlink step.
                let key = linking::AccountKey::new(
                    organization.provider.clone(),
                    organization.realm.to_string(),
                );
                let stored = linking::CredentialStore::load(&credentials, &key)
                    .await
                    .map_err(|e| e.to_string())?;
                let purged = linking::unlink(store.as_ref(), &credentials, org, mode)
                    .await
                    .map_err(|e| e.to_string())?;
                if let (Some(app), Some(stored)) = (apps.of(&organization.provider), stored) {
                    let unlink = connector_sdk::UnlinkContext {
                        realm: &organization.realm,
                        access_token: Some(stored.tokens.access_token.expose()),
                        refresh_token: stored.tokens.refresh_token.as_ref().map(|t| t.expose()),
                    };
                    if let Err(e) = app.after_unlink(&unlink).await {
                        println!(
                            "Warning: {} did not confirm the clean-up ({e}); revoke the app's access in its settings.",
                            app.display_name()
                        );
                    }
                }
                if purge {
                    println!(
                        "Unlinked {org}: tokens removed, sync disabled, {purged} id-map(s) purged."
                    );
                } else {
                    println!("Unlinked {org}: tokens removed, sync disabled, id-maps kept.");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Unlock { config } => configured::unlock(&config).await,
        Command::CheckMapping { file } => {
            mapping::EntityMapping::from_file(&file, &mapping::FunctionRegistry::default())
                .map_err(|e| e.to_string())?;
            println!("{}: valid", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Chaos {
            rounds,
            seed,
            policy,
            kill,
            app,
        } => chaos::command(rounds, seed, &policy, kill, &app).await,
        Command::Bench(which) => {
            bench::command(which).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn database_path(given: Option<PathBuf>) -> Result<(Option<tempfile::TempDir>, PathBuf), String> {
    match given {
        Some(path) => Ok((None, path)),
        None => {
            let dir = tempfile::tempdir()
                .map_err(|e| format!("cannot create a temporary folder: {e}"))?;
            let path = dir.path().join("connector.db");
            Ok((Some(dir), path))
        }
    }
}

fn open_store(path: &Path) -> Result<Arc<dyn SyncStore>, String> {
    EmbeddedStore::open(path)
        .map(|s| Arc::new(s) as Arc<dyn SyncStore>)
        .map_err(|e| format!("cannot open the database {}: {e}", path.display()))
}

#[cfg(test)]
mod runtime_choice {
    use super::*;

    fn command(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("connector").chain(args.iter().copied()))
            .expect("parses")
            .command
    }

    #[test]
    fn syncs_emulators_and_the_sync_benchmarks_run_on_one_thread_serve_does_not() {
        for (args, one) in [
            (&["sync"][..], true),
            (&["emulate"][..], true),
            (&["bench", "sync", "--records", "10"][..], true),
            (&["bench", "peer"][..], true),
            (
                &[
                    "bench",
                    "quota",
                    "--app",
                    "hubspot",
                    "--records",
                    "10",
                    "--limit",
                    "5",
                ][..],
                false,
            ),
            (&["serve"][..], false),
            (&["chaos", "--rounds", "1"][..], false),
            (&["demo"][..], false),
        ] {
            assert_eq!(one_thread(&command(args)), one, "{args:?}");
        }
    }
}
