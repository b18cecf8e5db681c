#!/usr/bin/env bash
# Many organizations on one installation (bench/tenants.py says what it measures and how).
#
#   bash bench/tenants.sh
#   GRANTOR_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bash bench/tenants.sh
#
# SQLite always (a file in a temporary directory); PostgreSQL too when
# GRANTOR_BENCH_POSTGRES_URL is set, in a fresh database grantor_tenants_<random>, dropped
# afterwards. Knobs (environment): TENANTS_ORGS=10000, TENANTS_DURATION=10s,
# TENANTS_CONNECTIONS=32, TENANTS_WORKERS=8 (API clients while populating),
# TENANTS_CHANGES=10 (changes per second during the measured run), BENCH_SKIP_BUILD=1.
# Needs python3, and oha (installed with cargo if missing); PostgreSQL needs psql.
# Results: bench/out/tenants-<timestamp>/ (summary.txt, JSON per backend, oha output, logs).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release/grantor
FLOOR_BIN=$CARGO_TARGET_DIR/release/grantor-bench-floor
OUT=$ROOT/bench/out/tenants-$(date -u +%Y%m%dT%H%M%SZ)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grantor-tenants.XXXXXX")
PG_DB=""
mkdir -p "$OUT"

cleanup() {
    if [[ -n "$PG_DB" ]]; then
        psql "$GRANTOR_BENCH_POSTGRES_URL" -qAt \
            -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    cargo build --release -p grantor
    cargo build --release --manifest-path "$ROOT/bench/sign/Cargo.toml"
fi
if ! command -v oha >/dev/null; then
    echo "Installing the load generator oha (cargo install oha --locked; takes a few minutes)" >&2
    cargo install oha --locked
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi

run() {
    python3 "$ROOT/bench/tenants.py" --backend "$1" --database-url "$2" --bin "$BIN" \
        --floor "$FLOOR_BIN" --orgs "${TENANTS_ORGS:-10000}" --duration "${TENANTS_DURATION:-10s}" \
        --connections "${TENANTS_CONNECTIONS:-32}" --workers "${TENANTS_WORKERS:-8}" \
        --changes-per-second "${TENANTS_CHANGES:-10}" --out "$OUT" | tee -a "$OUT/summary.txt"
}

{
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' (crates/ has uncommitted changes)')"
    echo "cpus: $(nproc); oha: $(oha --version)"
} | tee "$OUT/summary.txt"

run sqlite "sqlite://$WORK/grantor.db"

if [[ -n "${GRANTOR_BENCH_POSTGRES_URL:-}" ]]; then
    PG_DB=grantor_tenants_$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')
    psql "$GRANTOR_BENCH_POSTGRES_URL" -v ON_ERROR_STOP=1 -qAt -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
    PG_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' \
        "$GRANTOR_BENCH_POSTGRES_URL" "$PG_DB")
    run postgres "$PG_URL"
fi
echo "results: $OUT" >&2
