//! `lambda-bench`: cold start and size of the three Lambda functions on a local Lambda Runtime
//! API, against moto and the emulators. Prints one table (medians over the runs); figures
//! are printed, never judged.
//!
//! ```sh
//! lambda-bench --bin-dir "$CARGO_TARGET_DIR/lambda" --runs 7
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lambda_bench::functions::FunctionKind;
use lambda_bench::{BenchError, cloud::Cloud, measure, median, ms, zip};

/// Cold start and size of the Lambda functions, measured locally.
#[derive(Parser, Debug)]
#[command(name = "lambda-bench")]
struct Args {
    /// The directory holding the functions' binaries (oauth-callback, webhook, sync).
    #[arg(long)]
    bin_dir: PathBuf,
    /// Cold starts per function (a fresh process each); the table shows medians.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Unmeasured cold starts per function first (so that every measured run finds the
    /// binary in the page cache alike).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Which functions, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "oauth-callback,webhook,sync"
    )]
    functions: Vec<String>,
    /// Where the zips go (default: `<bin-dir>/zips`).
    #[arg(long)]
    zip_dir: Option<PathBuf>,
    /// The sample events (default: the repository's `events/`).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events"))]
    events_dir: PathBuf,
}

/// One function's row.
struct Row {
    function: FunctionKind,
    init: Duration,
    sdk: Option<Duration>,
    beyond_sdk: Option<Duration>,
    first_invocation: Duration,
    /// Median of each phase the function logged, in log order.
    phases: Vec<(String, Duration)>,
    binary_bytes: u64,
    zip_bytes: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambda-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), BenchError> {
    let functions = args
        .functions
        .iter()
        .map(|name| {
            FunctionKind::from_name(name.trim())
                .ok_or_else(|| BenchError::Setup(format!("unknown function `{name}`")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let zip_dir = args
        .zip_dir
        .clone()
        .unwrap_or_else(|| args.bin_dir.join("zips"));
    std::fs::create_dir_all(&zip_dir)
        .map_err(|e| BenchError::Zip(format!("{}: {e}", zip_dir.display())))?;
    eprintln!("lambda-bench: starting moto and the emulators");
    let cloud = Cloud::prepare().await?;
    let mut rows = Vec::new();
    for function in functions {
        let binary = args.bin_dir.join(function.binary_name());
        let binary_bytes = std::fs::metadata(&binary)
            .map_err(|e| BenchError::Setup(format!("{}: {e}", binary.display())))?
            .len();
        let (zip_path, zip_bytes) = zip::zip_bootstrap(&binary, &zip_dir, function.binary_name())?;
        eprintln!(
            "{}: {} bytes, zipped {} bytes ({})",
            function.binary_name(),
            binary_bytes,
            zip_bytes,
            zip_path.display()
        );
        for warm in 0..args.warmup {
            measure::cold_start(&binary, function, &cloud, &args.events_dir, warm).await?;
        }
        let (mut init, mut sdk, mut beyond, mut first) = (vec![], vec![], vec![], vec![]);
        let mut phases: Vec<(String, Vec<Duration>)> = Vec::new();
        for run in 0..args.runs {
            let numbered = args.warmup + run;
            let cold =
                measure::cold_start(&binary, function, &cloud, &args.events_dir, numbered).await?;
            eprintln!(
                "  run {}: init {} ms (SDK {} ms, wiring {} ms), first invocation {} ms: {}",
                run + 1,
                ms(cold.init),
                cold.sdk.map(ms).unwrap_or_else(|| "?".into()),
                cold.wiring.map(ms).unwrap_or_else(|| "?".into()),
                ms(cold.first_invocation),
                cold.answer.get("statusCode").unwrap_or(&cold.answer)
            );
            for (name, took) in cold.phases {
                match phases.iter_mut().find(|(phase, _)| *phase == name) {
                    Some((_, all)) => all.push(took),
                    None => phases.push((name, vec![took])),
                }
            }
            init.push(cold.init);
            first.push(cold.first_invocation);
            if let Some(s) = cold.sdk {
                sdk.push(s);
                beyond.push(cold.init.saturating_sub(s));
            }
        }
        rows.push(Row {
            function,
            init: median(&init).unwrap_or_default(),
            sdk: median(&sdk),
            beyond_sdk: median(&beyond),
            first_invocation: median(&first).unwrap_or_default(),
            phases: phases
                .into_iter()
                .map(|(name, all)| (name, median(&all).unwrap_or_default()))
                .collect(),
            binary_bytes,
            zip_bytes,
        });
    }
    print_table(&rows, args.runs);
    Ok(())
}

fn print_table(rows: &[Row], runs: usize) {
    println!();
    println!(
        "Medians of {runs} cold starts per function (host architecture, local runtime API, moto)"
    );
    println!(
        "| function | init ms | SDK construction ms | init beyond SDK ms | first invocation ms | binary bytes | zip bytes |"
    );
    println!("|---|---|---|---|---|---|---|");
    let opt = |d: Option<Duration>| d.map(ms).unwrap_or_else(|| "?".into());
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.function.binary_name(),
            ms(row.init),
            opt(row.sdk),
            opt(row.beyond_sdk),
            ms(row.first_invocation),
            row.binary_bytes,
            row.zip_bytes
        );
    }
    println!();
    println!(
        "Init phases as each function logs them (medians, ms; wiring = env + secrets + apps + \
         service; since_main = main's start to just before the runtime's loop)"
    );
    for row in rows {
        let phases: Vec<String> = row
            .phases
            .iter()
            .map(|(name, took)| format!("{name} {}", ms(*took)))
            .collect();
        println!(
            "| {} | {} |",
            row.function.binary_name(),
            phases.join(" | ")
        );
    }
}
