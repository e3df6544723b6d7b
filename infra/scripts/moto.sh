#!/usr/bin/env bash
# Local AWS emulator (moto, one request at a time) for the AWS adapter tests (`cargo test -p store-aws`) and local runs.
#
#   infra/scripts/moto.sh                 install moto into .venv if needed, start it on a free port
#   infra/scripts/moto.sh 5055            ... on port 5055
#   infra/scripts/moto.sh --install-only  only create .venv and install moto (what the tests need:
#                                         they start their own server from .venv/bin/moto_server)
#   infra/scripts/moto.sh --stop          stop the server started by this script
#
# The server listens on 127.0.0.1 only. Its PID goes to $MOTO_PID_FILE (default .venv/moto.pid)
# and its log to $MOTO_LOG (default .venv/moto.log). The last line printed is
#   export MOTO_ENDPOINT=http://127.0.0.1:<port>
# so `eval "$(infra/scripts/moto.sh | tail -n1)"` makes the tests use this server instead of
# starting one of their own.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv"
PID_FILE="${MOTO_PID_FILE:-$VENV/moto.pid}"
LOG_FILE="${MOTO_LOG:-$VENV/moto.log}"
PYTHON="${PYTHON:-python3}"

stop() {
    if [[ -f "$PID_FILE" ]]; then
        local pid
        pid="$(cat "$PID_FILE")"
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            echo "moto_server (pid $pid) stopped" >&2
        fi
        rm -f "$PID_FILE"
    else
        echo "no PID file at $PID_FILE: nothing to stop" >&2
    fi
}

install() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating virtual environment $VENV" >&2
        "$PYTHON" -m venv "$VENV" || { echo "error: '$PYTHON -m venv $VENV' failed" >&2; exit 1; }
    fi
    if [[ ! -x "$VENV/bin/moto_server" ]]; then
        echo "installing moto[server] into $VENV (quiet)" >&2
        if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check 'moto[server]'; then
            echo "error: pip install 'moto[server]' into $VENV failed (see the pip output above)" >&2
            exit 1
        fi
    fi
    [[ -x "$VENV/bin/moto_server" ]] || { echo "error: $VENV/bin/moto_server missing after install" >&2; exit 1; }
}

case "${1:-}" in
    --stop) stop; exit 0 ;;
    --install-only) install; exit 0 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
esac

install

PORT="${1:-${MOTO_PORT:-}}"
if [[ -z "$PORT" ]]; then
    PORT="$("$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
fi
if ! [[ "$PORT" =~ ^[0-9]+$ ]]; then
    echo "error: port must be a number, got '$PORT'" >&2
    exit 2
fi

# moto_server, serving one request at a time: threaded moto does not lock a TransactWriteItems
# between its condition checks and its writes, so two racing transactions could both pass, which
# DynamoDB never allows (the id-map uniqueness tests race 16 writers).
SERIAL='import sys
import moto.server as server
_run = server.run_simple

def _serial(*args, **kwargs):
    kwargs["threaded"] = False
    return _run(*args, **kwargs)

server.run_simple = _serial
server.main(sys.argv[1:])'
nohup "$VENV/bin/python" -c "$SERIAL" -H 127.0.0.1 -p "$PORT" >"$LOG_FILE" 2>&1 &
PID=$!
echo "$PID" >"$PID_FILE"

# Wait until it answers (at most ~30 s).
for _ in $(seq 1 150); do
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "error: moto_server exited at start; log: $LOG_FILE" >&2
        tail -n 20 "$LOG_FILE" >&2 || true
        rm -f "$PID_FILE"
        exit 1
    fi
    if "$VENV/bin/python" -c "import socket,sys; s=socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; then
        echo "moto_server listening on http://127.0.0.1:$PORT (pid $PID, pid file $PID_FILE, log $LOG_FILE)" >&2
        echo "export MOTO_ENDPOINT=http://127.0.0.1:$PORT"
        exit 0
    fi
    sleep 0.2
done
echo "error: moto_server did not answer on port $PORT within 30 s; log: $LOG_FILE" >&2
kill "$PID" 2>/dev/null || true
rm -f "$PID_FILE"
exit 1
