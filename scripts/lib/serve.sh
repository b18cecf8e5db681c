# shellcheck shell=bash
# Shared by the scripts that run one `grantor serve` on a fresh SQLite database in a temporary
# directory (fuzz-api.sh, hostile-requests.sh). Source it, then:
#
#   serve_build               # sets BIN: $GRANTOR_BIN if given, else builds the debug binary
#   serve_init NAME           # WORK (temp dir, removed on exit unless KEEP_WORK is set), PORT,
#                             # BASE, and the GRANTOR_* environment the CLI and serve read
#   "$BIN" org create ...     # seed with the CLI
#   serve_start               # starts `grantor serve` (log in $WORK/server.log), sets
#                             # SERVER_PID, waits for /readyz
#   serve_check_log           # fails if the server logged a panic
#
# GRANTOR_BIN=/path/to/grantor skips the build and runs that binary instead.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

json_field() {
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

serve_build() {
    if [[ -n "${GRANTOR_BIN:-}" ]]; then
        BIN=$GRANTOR_BIN
    else
        (cd "$ROOT" && cargo build --quiet -p grantor --bin grantor)
        BIN=$CARGO_TARGET_DIR/debug/grantor
    fi
    [[ -x "$BIN" ]] || die "no grantor binary at $BIN"
}

SERVER_PID=""
serve_cleanup() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    fi
    if [[ -n "${KEEP_WORK:-}" ]]; then
        echo "kept $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}

serve_init() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/grantor-$1.XXXXXX")
    trap serve_cleanup EXIT
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    BASE=http://127.0.0.1:$PORT
    GRANTOR_KEY_ENCRYPTION_KEY=$(head -c32 /dev/urandom | base64)
    export GRANTOR_KEY_ENCRYPTION_KEY GRANTOR_DATABASE_URL=$WORK/grantor.db
    export GRANTOR_LISTEN=127.0.0.1:$PORT
}

serve_start() {
    "$BIN" serve >"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 600); do
        curl -sf "$BASE/readyz" >/dev/null && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "the server exited"; }
        sleep 0.1
    done
    die "the server did not become ready"
}

serve_check_log() {
    if grep -q "panicked" "$WORK/server.log"; then
        grep -B2 -A10 "panicked" "$WORK/server.log" >&2
        die "the server panicked"
    fi
}
