#!/usr/bin/env bash
# Schema-driven fuzzing of the management API with schemathesis (PyPI), for a bounded time.
#
#   bash scripts/fuzz-api.sh                 # 90 s of fuzzing
#   FUZZ_SECONDS=600 bash scripts/fuzz-api.sh
#
# Starts `grantor serve` on a fresh SQLite database with an organization, a platform admin who
# owns it and an API token with every management scope, exchanges that token for an access
# token, and lets schemathesis generate requests from the served /api/v1/openapi.json. Fails
# on any 5xx, any answer that breaks the document (status, content type, body schema), and a
# server that logged a panic. Needs python3 with venv; schemathesis is installed into
# $CARGO_TARGET_DIR/schemathesis (a pinned version) on first use.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

SECONDS_BUDGET=${FUZZ_SECONDS:-90}
SCHEMATHESIS_VERSION=4.32.5
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/debug/grantor
VENV=$CARGO_TARGET_DIR/schemathesis

die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

if [[ ! -x "$VENV/bin/schemathesis" ]] ||
    [[ $("$VENV/bin/schemathesis" --version) != *"$SCHEMATHESIS_VERSION"* ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
cargo build --quiet -p grantor --bin grantor

WORK=$(mktemp -d "${TMPDIR:-/tmp}/grantor-fuzz.XXXXXX")
SERVER_PID=""
cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [[ -n "${FUZZ_KEEP:-}" ]] && echo "kept $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
GRANTOR_KEY_ENCRYPTION_KEY=$(head -c32 /dev/urandom | base64)
export GRANTOR_KEY_ENCRYPTION_KEY GRANTOR_DATABASE_URL=$WORK/grantor.db GRANTOR_LISTEN=127.0.0.1:$PORT
json_field() {
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

"$BIN" org create --name fuzz >/dev/null
"$BIN" resource create --org fuzz --identifier https://api.fuzz.example --name API \
    --scope read=Read >/dev/null
"$BIN" user create --email admin@fuzz.example --platform-admin --password-stdin \
    <<<"fuzz-password-1234" >/dev/null
"$BIN" member add --org fuzz --user admin@fuzz.example --role owner >/dev/null
API_TOKEN=$("$BIN" api-token create --org fuzz --user admin@fuzz.example --name fuzz \
    --scope grantor:orgs --scope grantor:apps --scope grantor:members \
    --scope grantor:resources --scope grantor:audit --scope grantor:api-tokens | json_field token)

"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 600); do
    curl -sf "$BASE/readyz" >/dev/null && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "the server exited"; }
    sleep 0.1
done
ACCESS_TOKEN=$(curl -sS --fail-with-body "$BASE/oauth2/token" \
    -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \
    -d subject_token_type=urn:grantor:params:oauth:token-type:api-token \
    --data-urlencode "subject_token=$API_TOKEN" | json_field access_token)

# Operations that could take the fuzzer's own access away (revoking its API token, removing or
# demoting its membership) run last, on their own, so they cannot end the main run early.
SELF_DESTRUCTIVE=(
    "DELETE /api/v1/me/api-tokens/{id}"
    "DELETE /api/v1/orgs/{org}/members/{user}"
    "PATCH /api/v1/orgs/{org}/members/{user}"
)
fuzz() {
    "$VENV/bin/schemathesis" run "$BASE/api/v1/openapi.json" \
        --url "$BASE" \
        --header "Authorization: Bearer $ACCESS_TOKEN" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
        --workers 2 \
        --request-timeout 10 \
        --suppress-health-check all \
        --no-color "$@"
}
status=0
excluded=()
included=()
for name in "${SELF_DESTRUCTIVE[@]}"; do
    excluded+=(--exclude-name "$name")
    included+=(--include-name "$name")
done
fuzz --max-time $((SECONDS_BUDGET * 9 / 10)) "${excluded[@]}" || status=$?
fuzz --max-time $((SECONDS_BUDGET / 10 + 1)) "${included[@]}" || status=$?

if grep -q "panicked" "$WORK/server.log"; then
    grep -B2 -A10 "panicked" "$WORK/server.log" >&2
    die "the server panicked"
fi
exit "$status"
