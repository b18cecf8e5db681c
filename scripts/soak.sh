#!/usr/bin/env bash
# Soak: a fixed-rate mixed workload against two Grantor nodes on one PostgreSQL database.
#
#   GRANTOR_SOAK_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bash scripts/soak.sh
#   SOAK_SECONDS=600 SOAK_RATE=40 SOAK_SAMPLE=60 (defaults); GRANTOR_BIN=path skips the build
#   SOAK_ACCESS_TOKEN_TTL=60 SOAK_REFRESH_TOKEN_TTL=180 SOAK_SESSION_TTL=120 (lifetimes, seconds)
#
# Creates a database grantor_soak_<random> (dropped afterwards), seeds it with the CLI,
# starts two `grantor serve` nodes (release build) with one issuer, and runs scripts/soak.py:
# client credentials, the code flow with a sign-in, refresh, introspection and revocation,
# spread over both nodes. It prints, every SOAK_SAMPLE seconds, the operations, errors, p99
# latency per operation, each node's RSS, the database size and the rows of the tables that
# grow with use, and at the end how each figure moved over the second half of the run (after
# the lifetimes above have passed, the tables should hold steady); it fails on any error or a
# panic in a node's log.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ADMIN_URL=${GRANTOR_SOAK_POSTGRES_URL:?set GRANTOR_SOAK_POSTGRES_URL to a PostgreSQL URL}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [[ -n "${GRANTOR_BIN:-}" ]]; then
    BIN=$GRANTOR_BIN
else
    BIN=$CARGO_TARGET_DIR/release/grantor
    cargo build --quiet --release -p grantor --bin grantor
fi

DB=grantor_soak_$RANDOM$RANDOM
DB_URL=${ADMIN_URL%/*}/$DB
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grantor-soak.XXXXXX")
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$ADMIN_URL" -qAtX -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
psql "$ADMIN_URL" -qAtX -c "CREATE DATABASE $DB" >/dev/null

json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

GRANTOR_KEY_ENCRYPTION_KEY=$(head -c32 /dev/urandom | base64)
export GRANTOR_KEY_ENCRYPTION_KEY GRANTOR_DATABASE_URL=$DB_URL GRANTOR_ISSUER=http://grantor.soak
g=("$BIN")
"${g[@]}" org create --name soak >/dev/null
"${g[@]}" resource create --org soak --identifier https://api.soak.example --name API --scope soak:read >/dev/null
server=$("${g[@]}" app create --org soak --type server --name load --scope soak:read 2>/dev/null)
export SOAK_SERVER_ID SOAK_SERVER_SECRET SOAK_WEB_ID SOAK_WEB_SECRET
SOAK_SERVER_ID=$(json_field client_id <<<"$server")
SOAK_SERVER_SECRET=$(json_field client_secret <<<"$server")
"${g[@]}" app add-to-org --app "$SOAK_SERVER_ID" --org soak --scope soak:read >/dev/null
web=$("${g[@]}" app create --org soak --type web --name portal --redirect-uri https://app.example.com/callback \
    --scope openid --scope soak:read 2>/dev/null)
SOAK_WEB_ID=$(json_field client_id <<<"$web")
SOAK_WEB_SECRET=$(json_field client_secret <<<"$web")
export SOAK_EMAILS="" SOAK_PASSWORD=soak-password-1234
for i in $(seq 8); do
    "${g[@]}" user create --email "soak$i@soak.example" --password-stdin <<<"$SOAK_PASSWORD" >/dev/null
    "${g[@]}" member add --org soak --user "soak$i@soak.example" --role member >/dev/null
    SOAK_EMAILS+=" soak$i@soak.example"
done

# Short lifetimes, so the tables reach their steady size within minutes and the run shows
# whether they stay there: access tokens 60 s, refresh tokens 180 s, sign-ins 120 s.
export GRANTOR_ACCESS_TOKEN_TTL=${SOAK_ACCESS_TOKEN_TTL:-60}
export GRANTOR_REFRESH_TOKEN_TTL=${SOAK_REFRESH_TOKEN_TTL:-180}
export GRANTOR_SESSION_TTL=${SOAK_SESSION_TTL:-120}
NODES=()
for i in 0 1; do
    port=$(free_port)
    "${g[@]}" serve --listen "127.0.0.1:$port" >"$WORK/node-$i.log" 2>&1 &
    PIDS+=($!)
    NODES+=("http://127.0.0.1:$port")
    for _ in $(seq 300); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
        sleep 0.1
    done
done
export SOAK_NODES="${NODES[*]}" SOAK_PIDS="${PIDS[*]}" SOAK_PSQL_URL=$DB_URL

status=0
python3 scripts/soak.py || status=$?
echo "largest tables at the end (rows, with indexes):"
psql "$DB_URL" -qAtX -F ' ' -c "SELECT relname, n_live_tup, pg_size_pretty(pg_total_relation_size(relid)) \
    FROM pg_stat_user_tables ORDER BY pg_total_relation_size(relid) DESC LIMIT 8" | sed 's/^/  /'
if grep -q panicked "$WORK"/node-*.log; then
    grep -h -A5 panicked "$WORK"/node-*.log >&2
    status=1
fi
exit "$status"
