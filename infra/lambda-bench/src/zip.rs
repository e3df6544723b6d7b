//! The deployment package of a function: its binary as `bootstrap` at the root of a zip, as
//! `sam build` and `cargo lambda build --output-format zip` package it (deflate). Uses
//! Debian's `zip` (Info-ZIP) at its default level.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::BenchError;

/// Zips `binary` as `bootstrap` into `<out_dir>/<name>.zip`; returns the zip's path and size.
///
/// # Errors
///
/// [`BenchError::Zip`] when the binary cannot be copied or `zip` fails.
pub fn zip_bootstrap(
    binary: &Path,
    out_dir: &Path,
    name: &str,
) -> Result<(PathBuf, u64), BenchError> {
    let staging = out_dir.join(format!("{name}.staging"));
    let fail = |what: &str, e: std::io::Error| BenchError::Zip(format!("{what}: {e}"));
    std::fs::create_dir_all(&staging).map_err(|e| fail("staging directory", e))?;
    let bootstrap = staging.join("bootstrap");
    std::fs::copy(binary, &bootstrap).map_err(|e| fail(&binary.display().to_string(), e))?;
    let zip = out_dir.join(format!("{name}.zip"));
    let _ = std::fs::remove_file(&zip);
    // -X: no extra attributes (uid/gid, timestamps), as a build tool's zip; -j: no directory.
    let status = Command::new("zip")
        .arg("-q")
        .arg("-X")
        .arg("-j")
        .arg(&zip)
        .arg(&bootstrap)
        .status()
        .map_err(|e| fail("running `zip` (Debian package zip)", e))?;
    let _ = std::fs::remove_dir_all(&staging);
    if !status.success() {
        return Err(BenchError::Zip(format!("zip exited with {status}")));
    }
    let size = std::fs::metadata(&zip)
        .map_err(|e| fail("the zip", e))?
        .len();
    Ok((zip, size))
}
