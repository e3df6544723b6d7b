//! The peer side of `connector bench peer`: the Airbyte CDK's generic runner
//! (`source-declarative-manifest`) reading Connec! through our manifest
//! (`infra/peer/airbyte/connec_manifest.yaml`), timed from spawn to exit.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};

use super::BenchError;

/// The airbyte-cdk release the manifest was written and measured with.
pub const AIRBYTE_CDK_VERSION: &str = "7.39.1";

/// The manifest, compiled in so that the binary runs from anywhere.
pub const MANIFEST: &str = include_str!("../../../peer/airbyte/connec_manifest.yaml");

/// The command that installs the runner where [`default_venv`] looks for it.
pub const INSTALL_COMMAND: &str = "VENV=.venv/airbyte infra/scripts/venv.sh airbyte-cdk==7.39.1";

/// `<repo>/.venv/airbyte`: the project-local virtual environment of airbyte-cdk.
pub fn default_venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/airbyte")
}

/// Where the source reads from.
pub struct Source<'a> {
    /// Connec!'s base URL.
    pub base_url: &'a str,
    /// The group.
    pub group_id: &'a str,
    /// Basic user.
    pub api_id: &'a str,
    /// Basic password.
    pub api_key: &'a str,
    /// `$top`.
    pub page_size: usize,
}

/// What one run of the runner did.
#[derive(Debug, Clone)]
pub struct Timed {
    /// Wall time from spawn to exit.
    pub seconds: f64,
    /// RECORD messages on standard output.
    pub records: u64,
    /// Seconds from spawn to the first and to the last RECORD message.
    pub record_span: Option<(f64, f64)>,
    /// CPU seconds (user + system) of the runner's process.
    pub cpu: f64,
}

impl Timed {
    /// Records/s between the first and the last RECORD message: the read without the start-up
    /// and the first page's request (the records of every page are processed after it comes).
    pub fn steady_rate(&self) -> Option<f64> {
        let (first, last) = self.record_span?;
        (self.records > 1 && last > first).then(|| (self.records - 1) as f64 / (last - first))
    }
}

/// The runner and the files it is given.
pub struct Runner {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

/// One line of the Airbyte protocol, as far as we look at it.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    #[serde(default)]
    trace: Option<Value>,
}

impl Runner {
    /// Finds `source-declarative-manifest` in `venv` and writes the manifest, config and
    /// catalog (the `people` stream, full refresh) into a temporary folder.
    pub fn new(venv: &Path, source: &Source<'_>) -> Result<Self, BenchError> {
        let bin = venv.join("bin/source-declarative-manifest");
        if !bin.is_file() {
            return Err(BenchError::Process(format!(
                "airbyte-cdk is not installed: {} is missing. Install it (about a minute) from the \
                 repository root with:\n  {INSTALL_COMMAND}\nor point --airbyte-venv (AIRBYTE_VENV) \
                 at a virtual environment that has airbyte-cdk=={AIRBYTE_CDK_VERSION}",
                bin.display()
            )));
        }
        let dir = tempfile::tempdir().map_err(|e| BenchError::Process(e.to_string()))?;
        let config = json!({
            "base_url": source.base_url,
            "group_id": source.group_id,
            "api_id": source.api_id,
            "api_key": source.api_key,
            "page_size": source.page_size,
        });
        let catalog = json!({ "streams": [{
            "stream": { "name": "people", "json_schema": {}, "supported_sync_modes": ["full_refresh"] },
            "sync_mode": "full_refresh",
            "destination_sync_mode": "overwrite",
        }]});
        let write = |name: &str, text: String| {
            std::fs::write(dir.path().join(name), text)
                .map_err(|e| BenchError::Process(format!("cannot write {name}: {e}")))
        };
        write("manifest.yaml", MANIFEST.to_owned())?;
        write("config.json", config.to_string())?;
        write("catalog.json", catalog.to_string())?;
        Ok(Self { bin, dir })
    }

    /// The installed airbyte-cdk version, read from the venv's package metadata.
    pub fn installed_version(&self) -> Option<String> {
        let python = self.bin.parent()?.join("python");
        let out = Command::new(python)
            .args([
                "-c",
                "from importlib.metadata import version; print(version('airbyte-cdk'))",
            ])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// `spec`: the interpreter and the CDK's imports, nothing else.
    pub fn spec(&self) -> Result<Timed, BenchError> {
        self.run(&["spec"], false)
    }

    /// `check`: start-up, the manifest parsed and validated, and one page of `people`.
    pub fn check(&self) -> Result<Timed, BenchError> {
        self.run(
            &[
                "check",
                "--config",
                "config.json",
                "--manifest-path",
                "manifest.yaml",
            ],
            true,
        )
    }

    /// `read` of the `people` stream.
    pub fn read(&self) -> Result<Timed, BenchError> {
        self.run(
            &[
                "read",
                "--config",
                "config.json",
                "--catalog",
                "catalog.json",
                "--manifest-path",
                "manifest.yaml",
            ],
            false,
        )
    }

    /// Runs one command, counting RECORD messages as they stream; an ERROR trace, a failed
    /// check or a non-zero exit is an error carrying the runner's own words.
    fn run(&self, args: &[&str], expect_success: bool) -> Result<Timed, BenchError> {
        let started = Instant::now();
        let (_, children_before) = super::peer_timing::cpu_seconds();
        let mut child = Command::new(&self.bin)
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                BenchError::Process(format!("cannot start {}: {e}", self.bin.display()))
            })?;
        let mut stderr = child.stderr.take().expect("piped");
        // Drained on its own thread so that a chatty stderr never blocks the child.
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let stdout = BufReader::with_capacity(1 << 16, child.stdout.take().expect("piped"));
        let (mut records, mut errors, mut succeeded) = (0u64, Vec::new(), false);
        let mut span: Option<(f64, f64)> = None;
        for line in stdout.lines() {
            let line = line.map_err(|e| BenchError::Process(e.to_string()))?;
            let Ok(message) = serde_json::from_str::<Message<'_>>(&line) else {
                continue;
            };
            match message.kind {
                "RECORD" => {
                    records += 1;
                    let now = started.elapsed().as_secs_f64();
                    span = Some((span.map_or(now, |(first, _)| first), now));
                }
                "TRACE" => {
                    if let Some(trace) = message.trace.filter(|t| t["type"] == "ERROR") {
                        errors.push(trace["error"]["message"].as_str().unwrap_or("").to_owned());
                    }
                }
                "CONNECTION_STATUS" => succeeded = line.contains("\"SUCCEEDED\""),
                _ => {}
            }
        }
        let status = child
            .wait()
            .map_err(|e| BenchError::Process(e.to_string()))?;
        let seconds = started.elapsed().as_secs_f64();
        // Only this child is waited for in the meantime (the emulator runs on).
        let cpu = super::peer_timing::cpu_seconds().1 - children_before;
        let stderr = stderr.join().unwrap_or_default();
        let failed = !status.success() || !errors.is_empty() || (expect_success && !succeeded);
        if failed {
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(BenchError::Process(format!(
                "`source-declarative-manifest {}` failed ({status}): {}\n{}",
                args[0],
                errors.join("; "),
                tail.join("\n")
            )));
        }
        Ok(Timed {
            seconds,
            records,
            record_span: span,
            cpu,
        })
    }
}
