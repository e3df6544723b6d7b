#!/usr/bin/env bash
# Cold start and size of the three Lambda functions, measured on this machine.
#
#   infra/scripts/bench-lambda.sh                 build the functions (profile lambda-release, host
#                                                 architecture), run each `bootstrap` cold under
#                                                 a local Lambda Runtime API with moto and the
#                                                 emulators, print the table; then try arm64
#   infra/scripts/bench-lambda.sh --runs 9        cold starts per function (default 7; medians)
#   infra/scripts/bench-lambda.sh --skip-build    use the binaries already built
#   infra/scripts/bench-lambda.sh --no-arm64      skip the arm64 `sam build` attempt
#
# Table columns: init = process start -> first GET .../invocation/next; SDK construction =
# aws_config::load + the three clients, as the function logs it (runtime_aws `cold start
# wired`); init beyond SDK = init - SDK construction; first invocation = event handed out ->
# response received; zip bytes = the binary zipped as `bootstrap` (deflate). A second table
# gives the init phases each function logs (runtime_aws `cold start wired` and `ready for the
# first event`: tracing setup, SDK, env, secrets, apps, service, since main). Figures are
# printed, never judged. Needs: the Rust toolchain, python3 with venv (moto from PyPI into
# .venv), Debian's `zip`. Environment: CARGO_TARGET_DIR (default <repo>/target).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

RUNS=7
BUILD=1
ARM64=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --runs) RUNS="${2:?--runs needs a number}"; shift 2 ;;
        --skip-build) BUILD=0; shift ;;
        --no-arm64) ARM64=0; shift ;;
        -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN_DIR="$TARGET_DIR/lambda-release"
FUNCTIONS=(oauth-callback webhook sync)

command -v zip >/dev/null 2>&1 ||
    { echo "error: zip not found (Debian: apt-get install zip)" >&2; exit 1; }
"$ROOT/infra/scripts/moto.sh" --install-only

if [[ $BUILD -eq 1 ]]; then
    echo "== cargo build --profile lambda-release (${FUNCTIONS[*]}; host architecture)"
    start=$(date +%s)
    cargo build --locked --profile lambda-release -p oauth-callback -p webhook -p sync
    echo "   built in $(($(date +%s) - start)) s"
fi
for fn in "${FUNCTIONS[@]}"; do
    [[ -x "$BIN_DIR/$fn" ]] || { echo "error: $BIN_DIR/$fn missing: run without --skip-build" >&2; exit 1; }
done

echo "== lambda-bench ($RUNS cold starts per function)"
cargo build --locked -p lambda-bench --bin lambda-bench
"$TARGET_DIR/debug/lambda-bench" --bin-dir "$BIN_DIR" --runs "$RUNS"

[[ $ARM64 -eq 1 ]] || exit 0
echo
echo "== arm64 (sam build, as template.yaml deploys)"
# sam build runs `cargo lambda build --release --arm64` (template Metadata can only name the
# binary), so the `lambda-release` profile's settings are given to the release profile through
# Cargo's environment overrides, for this build only.
if ! rustc --print target-libdir --target aarch64-unknown-linux-gnu >/dev/null 2>&1 ||
    [[ ! -d "$(rustc --print target-libdir --target aarch64-unknown-linux-gnu 2>/dev/null)" ]]; then
    cat <<'EOF'
   arm64 cannot be built on this machine: the toolchain has no aarch64-unknown-linux-gnu
   standard library (`rustup target add` needs the Rust distribution server, which this
   machine cannot reach; Debian bookworm's libstd-rust-dev is rustc 1.63's, which neither
   this rustc can link nor builds this edition-2024 workspace; cargo-lambda and zig bring a
   cross linker, not the standard library). On a machine with the target installed:
     rustup target add aarch64-unknown-linux-gnu && infra/scripts/bench-lambda.sh --skip-build
EOF
    exit 0
fi
BIN="$("$ROOT/infra/scripts/venv.sh" aws-sam-cli cargo-lambda | tail -n1)"
export PATH="$BIN:$PATH" SAM_CLI_TELEMETRY=0
export CARGO_PROFILE_RELEASE_OPT_LEVEL=s CARGO_PROFILE_RELEASE_LTO=fat \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 CARGO_PROFILE_RELEASE_STRIP=symbols
sam build --template "$ROOT/template.yaml" --parallel
ZIPS="$(mktemp -d)"
trap 'rm -rf "$ZIPS"' EXIT
echo "| function (arm64) | bootstrap bytes | zip bytes |"
echo "|---|---|---|"
for dir in .aws-sam/build/*Function/; do
    name="$(basename "$dir")"
    (cd "$dir" && zip -q -X "$ZIPS/$name.zip" bootstrap)
    echo "| $name | $(stat -c %s "$dir/bootstrap") | $(stat -c %s "$ZIPS/$name.zip") |"
done
