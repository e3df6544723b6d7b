#!/usr/bin/env bash
# Checks of the AWS deployment description (template.yaml), with no AWS account and no Docker.
#
#   infra/scripts/aws-checks.sh           template_checks.py (log filters, IAM per function),
#                                         cfn-lint + sam validate --lint   (about a minute the
#                                         first time: installs cfn-lint and aws-sam-cli into .venv)
#   infra/scripts/aws-checks.sh --build   ... then `sam build`: compiles the three functions
#                                         (functions/*) for arm64 with cargo-lambda + zig. Several
#                                         minutes (the AWS SDK and aws-lc-sys cross-compile);
#                                         the artifacts land in .aws-sam/build/.
#
# Tools come from PyPI into the project's .venv (infra/scripts/venv.sh): cfn-lint, aws-sam-cli
# and, with --build, cargo-lambda (which brings zig). The aarch64 Rust target is added with rustup.
# `sam validate` needs a region and some credentials even though it calls no AWS API here:
# dummy ones are set below (never real ones). Telemetry is off. Exits non-zero on any failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

BUILD=0
for arg in "$@"; do
    case "$arg" in
        --build) BUILD=1 ;;
        -h | --help)
            sed -n '2,15p' "$0"
            exit 0
            ;;
        *)
            echo "error: unknown argument '$arg' (expected --build or --help)" >&2
            exit 2
            ;;
    esac
done

TEMPLATE="$ROOT/template.yaml"
[[ -f "$TEMPLATE" ]] || { echo "error: $TEMPLATE not found" >&2; exit 1; }

packages=(cfn-lint aws-sam-cli)
if [[ $BUILD -eq 1 ]]; then
    packages+=(cargo-lambda)
fi
BIN="$("$ROOT/infra/scripts/venv.sh" "${packages[@]}" | tail -n1)"
export PATH="$BIN:$PATH"

# No AWS call is made; these only satisfy the SDK's configuration checks.
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_SESSION_TOKEN AWS_PROFILE
export SAM_CLI_TELEMETRY=0 SAM_CLI_CONTACT_TRACKING=0

echo "== template checks: RUST_LOG of every LogLevel, IAM actions of each function"
"$BIN/python" "$ROOT/infra/scripts/template_checks.py" "$TEMPLATE"

echo "== cfn-lint $(cfn-lint --version 2>&1 | awk '{print $2}') template.yaml"
cfn-lint "$TEMPLATE"
echo "   ok"

echo "== sam validate --lint ($(sam --version 2>&1))"
sam validate --lint --template "$TEMPLATE" --region us-east-1
echo "   ok"

if [[ $BUILD -eq 1 ]]; then
    for fn in oauth-callback webhook sync; do
        [[ -f "$ROOT/functions/$fn/Cargo.toml" ]] ||
            { echo "error: functions/$fn/Cargo.toml not found: the function crates must exist before sam build" >&2; exit 1; }
    done
    command -v rustup >/dev/null 2>&1 ||
        { echo "error: rustup not found: install the Rust toolchain with rustup first" >&2; exit 1; }
    echo "== rustup target add aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu
    echo "== sam build (3 functions, arm64, release; several minutes)"
    # sam build runs `cargo lambda build --release` (template Metadata can only name the binary):
    # the size-optimised `lambda-release` profile's settings reach it through Cargo's overrides.
    export CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_LTO=fat \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_STRIP=symbols
    start=$(date +%s)
    sam build --template "$TEMPLATE" --parallel
    echo "   ok in $(($(date +%s) - start)) s; artifacts:"
    for dir in .aws-sam/build/*/; do
        [[ -f "$dir/bootstrap" ]] && ls -l "$dir/bootstrap"
    done
fi
echo "aws-checks: all passed"
