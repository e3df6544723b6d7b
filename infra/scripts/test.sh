#!/usr/bin/env bash
# The whole test suite, from a fresh machine: formatting, lints, unit, property, doc and
# end-to-end tests (the emulators run in-process on loopback, moto from a project-local
# .venv; nothing leaves the machine but package downloads), then the SAM template checks.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is not installed; install the Rust toolchain (rustup) first" >&2
    exit 1
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== local AWS emulator (moto) into .venv"
infra/scripts/moto.sh --install-only
infra/scripts/venv.sh xero-python >/dev/null # Xero's Python SDK, for tests/xero_python_sdk.rs
# The Airbyte peer of infra/cli/tests/bench_peer.rs, in its own venv (it would downgrade moto's xmltodict).
VENV=.venv/airbyte infra/scripts/venv.sh airbyte-cdk==7.39.1 >/dev/null
infra/scripts/browser.sh --install-only
echo "== provider check: no shared crate outside shared/connectors names an app"
infra/scripts/provider-check.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== SAM template: cfn-lint and sam validate --lint"
infra/scripts/aws-checks.sh
