#!/usr/bin/env bash
# The project's Python virtual environment, for the Python tools we use (cfn-lint, aws-sam-cli,
# cargo-lambda, moto). Idempotent: cheap to call from every script.
#
#   infra/scripts/venv.sh                          create <repo>/.venv if it is missing
#   infra/scripts/venv.sh cfn-lint aws-sam-cli     ... and install these packages if missing
#   infra/scripts/venv.sh 'moto[server]' 'cfn-lint>=1.50'
#
# Arguments are pip requirement specifiers. A package is installed only when it is not already
# installed (a specifier with a version constraint is checked against the installed version;
# extras such as `[server]` are installed on the first install only). The last line printed on
# stdout is the venv's bin directory, so scripts may do
#   BIN="$(infra/scripts/venv.sh cfn-lint | tail -n1)"
# Everything else goes to stderr. Environment: PYTHON (default python3), VENV (default <repo>/.venv).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

die() {
    echo "error: $*" >&2
    exit 1
}

case "${1:-}" in
    -h | --help)
        sed -n '2,14p' "$0"
        exit 0
        ;;
esac

if [[ ! -x "$VENV/bin/python" ]]; then
    command -v "$PYTHON" >/dev/null 2>&1 ||
        die "'$PYTHON' not found: install Python 3 (with the venv module), or set PYTHON=/path/to/python3"
    echo "creating virtual environment $VENV" >&2
    "$PYTHON" -m venv "$VENV" ||
        die "'$PYTHON -m venv $VENV' failed (on Debian/Ubuntu: apt-get install python3-venv)"
    echo "upgrading pip in $VENV (quiet)" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2 ||
        die "upgrading pip in $VENV failed (see the pip output above)"
fi

# Which of the requested specifiers are not satisfied yet (packaging is vendored by pip).
missing=()
if [[ $# -gt 0 ]]; then
    mapfile -t missing < <("$VENV/bin/python" - "$@" <<'PY'
import sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:  # pip always vendors it
    from pip._vendor.packaging.requirements import Requirement

for spec in sys.argv[1:]:
    try:
        req = Requirement(spec)
    except Exception:
        print(spec)  # let pip report the bad specifier
        continue
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        print(spec)
        continue
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        print(spec)
PY
    )
fi

if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing into $VENV: ${missing[*]} (quiet; this can take a minute)" >&2
    if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${missing[@]}" >&2; then
        die "pip install ${missing[*]} into $VENV failed (see the pip output above; is PyPI reachable?)"
    fi
fi

echo "$VENV/bin"
