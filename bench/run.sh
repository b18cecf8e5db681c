#!/usr/bin/env bash
# End-to-end benchmark of Grantor's token and introspection endpoints (design.md section 6).
#
#   bash bench/run.sh
#   GRANTOR_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test bash bench/run.sh
#
# For each backend (SQLite always; PostgreSQL when GRANTOR_BENCH_POSTGRES_URL is set, in a fresh
# database grantor_bench_<random> that is dropped afterwards) it seeds an organization, an API
# and a server app with the CLI, starts `grantor serve`, and reports:
#   - time from process start until /readyz answers 200, and idle RSS once ready;
#   - for POST /oauth2/token (client_credentials) and POST /oauth2/introspect, driven by `oha`
#     over keep-alive connections: requests/s, share of 200 answers, p50/p99 latency, server CPU
#     time per request (utime+stime of the server process only) and peak RSS (VmHWM);
#   - the signing step alone (bench/sign, one thread), and the ratio of the server's CPU per
#     token to the cost of one ES256 signature (the algorithm access tokens are signed with);
#   - SQLite only: /healthz and the token endpoint with the router called in process, one
#     thread, no socket (bench/sign's grantor-bench-in-process), to split a token's cost
#     between Grantor's code and the kernel's;
#   - the floor of this stack: a bare axum server that reads a form body, signs one token and
#     answers JSON (bench/sign's grantor-bench-floor), its /healthz and token endpoint loaded
#     the same way, so the issuance ratio can be set against the least any server costs here;
#   - API-token exchanges (RFC 8693) beside client_credentials;
#   - device-code polling (RFC 8628): a native app polling one pending device code as fast as
#     it can, each poll answered `slow_down` or `authorization_pending` (400): what a flood of
#     impatient devices costs;
#   - client_credentials tokens while a second load generator floods the password grant with
#     sign-ins (each one an argon2 check), beside the same run without the flood;
#   - refresh-token grants per second (bench/refresh.py: one rotating family per connection);
#   - client_credentials with DPoP (RFC 9449), a fresh proof per request, beside the plain
#     figure: tokens/s, server CPU per token, p99. oha repeats one request and a proof is single
#     use, so bench/sign's grantor-bench-dpop drives it: one request checked for a DPoP-bound
#     token, a 1 s unmeasured probe to size the pool, every proof signed before the measured run
#     (so signing does not compete with the server), then the first of BENCH_CONNECTIONS
#     keep-alive connections for BENCH_DURATION (40 s at most: a proof's iat must be within
#     60 s). It reads the server's CPU time around the measured run only (PostgreSQL's CPU is
#     not split out for this run);
#   - PostgreSQL only: the token endpoint on three nodes of one database beside one node.
#
# Knobs (environment):
#   BENCH_DURATION=10s        length of each measured oha run
#   BENCH_CONNECTIONS="32 64" connection counts
#   BENCH_WARMUP=1s           unmeasured oha run before each endpoint's measured runs (0 = none)
#   BENCH_SIGN_SECONDS=3      seconds per algorithm for the signing benchmark
#   BENCH_SKIP_BUILD=1        use the existing target/release/grantor
#
# The load generator runs on the same machine, so on a small machine it competes with the
# server for CPU: requests/s is a floor, CPU per request is the cleaner figure.
# Results go to bench/out/<timestamp>/ (summary.txt, summary.json, raw oha JSON, server logs).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-"32 64"}
WARMUP=${BENCH_WARMUP:-1s}
SIGN_SECONDS=${BENCH_SIGN_SECONDS:-3}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release/grantor
SIGN_BIN=$CARGO_TARGET_DIR/release/grantor-bench-sign
IN_PROCESS_BIN=$CARGO_TARGET_DIR/release/grantor-bench-in-process
FLOOR_BIN=$CARGO_TARGET_DIR/release/grantor-bench-floor
DPOP_BIN=$CARGO_TARGET_DIR/release/grantor-bench-dpop

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$ROOT/bench/out/$STAMP
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/grantor-bench.XXXXXX")

SERVER_PID=""
SERVER_PORT=""
EXTRA_PIDS=()
OHA_PID=""
FLOOD_PID=""
PG_ADMIN_URL=""
PG_DB=""

log() { printf '\n=== %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

drop_pg_db() {
    [[ -n "$PG_DB" ]] || return 0
    psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qAt \
        -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null ||
        printf 'warning: could not drop database %s\n' "$PG_DB" >&2
    PG_DB=""
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    local pid
    for pid in "$OHA_PID" "$FLOOD_PID"; do
        [[ -n "$pid" ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for pid in "${EXTRA_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    stop_server
    drop_pg_db
    rm -rf "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v python3 >/dev/null || die "python3 is required"
command -v curl >/dev/null || die "curl is required"

# ---------------------------------------------------------------------------------------------
log "Build"
if [[ -z "${BENCH_SKIP_BUILD:-}" ]]; then
    cargo build --release -p grantor
fi
[[ -x "$BIN" ]] || die "$BIN not found"
cargo build --release --manifest-path "$ROOT/bench/sign/Cargo.toml"
if ! command -v oha >/dev/null; then
    log "Installing the load generator oha (cargo install oha --locked; takes a few minutes)"
    cargo install oha --locked
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
fi
oha --version >"$OUT/oha-version.txt"
{
    echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD -- crates 2>/dev/null || echo ' (crates/ has uncommitted changes)')"
    echo "date: $STAMP"
    echo "cpus: $(nproc) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'))"
    echo "oha: $(cat "$OUT/oha-version.txt")"
    echo "duration: $DURATION per run, connections: $CONNECTIONS, warm-up: $WARMUP"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/environment.txt"

# ---------------------------------------------------------------------------------------------
SIGN_PIN=()
if command -v taskset >/dev/null; then SIGN_PIN=(taskset -c 0); fi
log "Signing step alone (one thread${SIGN_PIN:+, pinned to CPU 0})"
"${SIGN_PIN[@]}" "$SIGN_BIN" "$SIGN_SECONDS" | tee "$WORK/sign.txt" >&2
tail -n 1 "$WORK/sign.txt" >"$OUT/sign.json"

# ---------------------------------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)

# utime+stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) } # fields from 3 on; the command name may contain spaces
    local -a f
    read -r -a f <<<"$stat"
    echo $((f[11] + f[12]))
}

# Busy time of the whole machine, in clock ticks (/proc/stat: user nice system irq softirq steal).
machine_ticks() {
    local label user nice system idle iowait irq softirq steal rest
    read -r label user nice system idle iowait irq softirq steal rest </proc/stat
    echo $((user + nice + system + irq + softirq + steal))
}

# CPU seconds of this shell's reaped children (the load generator, among others), from the
# `times` builtin. Call as `children_seconds VAR`: in a $(...) subshell `times` would report
# the subshell's children, not this shell's.
children_seconds() {
    times >"$WORK/times"
    printf -v "$1" '%s' "$(python3 -c '
import re, sys
line = open(sys.argv[1]).read().splitlines()[1]
print(sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", line)))' "$WORK/times")"
}

# utime+stime summed over all local PostgreSQL processes (server and backends), in clock ticks.
postgres_ticks() {
    python3 -c '
import glob
total = 0
for path in glob.glob("/proc/[0-9]*/stat"):
    try:
        stat = open(path).read()
    except OSError:
        continue
    if stat[stat.index("(") + 1:stat.rindex(")")] == "postgres":
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
print(total)'
}

# A /proc/PID/status field in kB (VmRSS, VmHWM).
status_kb() {
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

json_field() {
    python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# Fork-free sleep and HTTP polling, so that polling /readyz neither skews the start-up time
# nor steals the CPU the server needs to start.
mkfifo "$WORK/sleep.fifo"
exec {SLEEP_FD}<>"$WORK/sleep.fifo"
nap() { read -r -t "$1" -u "$SLEEP_FD" _ || true; }

# Sets HTTP_STATUS to the status of GET $2 on 127.0.0.1:$1 (empty if the port does not answer).
# A function setting a global rather than printing: $(...) would fork.
http_status() {
    local fd line
    HTTP_STATUS=""
    { exec {fd}<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 0
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&"$fd" 2>/dev/null || true
    if read -r -t 2 -u "$fd" line 2>/dev/null; then
        line=${line#HTTP/* }
        HTTP_STATUS=${line%% *}
    fi
    exec {fd}>&-
}

# Runs oha in the background (so a signal reaches the trap at once) and waits for it.
run_oha() {
    oha "$@" &
    OHA_PID=$!
    local status=0
    wait "$OHA_PID" || status=$?
    OHA_PID=""
    return "$status"
}

# Starts "$@" serve on 127.0.0.1:$1 (logging to $2), sets SERVER_PID and SERVER_PORT, and sets READY_MS to the
# time from just before the fork until /readyz first answers 200.
start_server() {
    local port=$1 logfile=$2 t0 ready_us
    shift 2
    t0=${EPOCHREALTIME//[.,]/} # microseconds
    "$@" serve --listen "127.0.0.1:$port" >>"$logfile" 2>&1 &
    SERVER_PID=$!
    SERVER_PORT=$port
    while :; do
        http_status "$port" /readyz
        [[ "$HTTP_STATUS" == 200 ]] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            cat "$logfile" >&2
            die "the server exited before it was ready"
        fi
        ((${EPOCHREALTIME//[.,]/} - t0 < 60000000)) || die "the server was not ready after 60 s"
        nap 0.001
    done
    ready_us=$((${EPOCHREALTIME//[.,]/} - t0))
    READY_MS=$((ready_us / 1000)).$(((ready_us % 1000) / 100))
}

# One measured oha run ("$@": its request options and URL) against SERVER_PID: writes
# $dir/oha-$endpoint-c$c.json and $dir/run-$endpoint-c$c.json and prints a line.
measure() {
    local backend=$1 dir=$2 endpoint=$3 c=$4
    shift 4
    local cpu0 cpu1 mach0 mach1 oha0 oha1 db0 db1
    log "[$backend] ${*: -1} ($endpoint), $c connections, $DURATION"
    children_seconds oha0
    mach0=$(machine_ticks)
    db0=$(postgres_ticks)
    cpu0=$(cpu_ticks "$SERVER_PID")
    run_oha -z "$DURATION" -c "$c" -w --no-tui --output-format json \
        -o "$dir/oha-$endpoint-c$c.json" "$@"
    cpu1=$(cpu_ticks "$SERVER_PID")
    db1=$(postgres_ticks)
    mach1=$(machine_ticks)
    children_seconds oha1
    python3 - "$dir/oha-$endpoint-c$c.json" "$dir/run-$endpoint-c$c.json" <<EOF
import json, sys
o = json.load(open(sys.argv[1]))
codes = {k: int(v) for k, v in (o.get("statusCodeDistribution") or {}).items()}
errors = {k: int(v) for k, v in (o.get("errorDistribution") or {}).items()}
answered = sum(codes.values())
attempted = answered + sum(errors.values())
ok = codes.get("200", 0)
p = o["latencyPercentiles"]
cpu_us = ($cpu1 - $cpu0) * 1e6 / $CLK_TCK
wall = o["summary"]["total"]
machine_s = ($mach1 - $mach0) / $CLK_TCK
oha_s = $oha1 - $oha0
# PostgreSQL's processes: the database's share of the work (0 for SQLite, which runs in-process).
db_s = ($db1 - $db0) / $CLK_TCK if "$backend" == "postgres" else 0.0
run = {
    "backend": "$backend", "endpoint": "$endpoint", "connections": $c,
    "requests": answered, "ok": ok, "status_codes": codes, "errors": errors,
    "success_ratio": ok / attempted if attempted else 0.0,
    "requests_per_sec": o["summary"]["requestsPerSec"],
    "ok_per_sec": ok / o["summary"]["total"] if o["summary"]["total"] else 0.0,
    "p50_ms": (p.get("p50") or 0) * 1000, "p99_ms": (p.get("p99") or 0) * 1000,
    "server_cpu_us_per_request": cpu_us / answered if answered else None,
    "server_cpu_cores": cpu_us / 1e6 / o["summary"]["total"] if o["summary"]["total"] else None,
    "peak_rss_kb": $(status_kb "$SERVER_PID" VmHWM),
    "load_generator_cores": oha_s / wall if wall else None,
    # Whatever else ran on the machine meanwhile; more than a few hundredths makes the run noisy.
    "db_cores": db_s / wall if wall else None,
    "db_cpu_us_per_request": db_s * 1e6 / answered if answered else None,
    "other_cores": max(0.0, (machine_s - cpu_us / 1e6 - oha_s - db_s) / wall) if wall else None,
}
json.dump(run, open(sys.argv[2], "w"), indent=2)
print(f"{run['requests_per_sec']:.0f} req/s, {run['success_ratio']*100:.2f}% 200, "
      f"p50 {run['p50_ms']:.2f} ms, p99 {run['p99_ms']:.2f} ms, "
      f"server CPU {run['server_cpu_us_per_request']:.1f} us/req "
      f"({run['server_cpu_cores']:.2f} cores; PostgreSQL {run['db_cpu_us_per_request']:.1f} us/req, "
      f"{run['db_cores']:.2f} cores; oha {run['load_generator_cores']:.2f}, "
      f"other processes {run['other_cores']:.2f}), peak RSS {run['peak_rss_kb']//1024} MiB"
      + (f", codes {codes}" if set(codes) - {"200"} else "")
      + (f", errors {errors}" if errors else ""), file=sys.stderr)
EOF
}

bench_backend() {
    local backend=$1 url=$2
    local dir=$OUT/$backend
    mkdir -p "$dir"

    log "[$backend] Seeding"
    GRANTOR_KEY_ENCRYPTION_KEY=$(head -c32 /dev/urandom | base64)
    export GRANTOR_KEY_ENCRYPTION_KEY
    local g=("$BIN" --database-url "$url")
    "${g[@]}" org create --name bench >"$dir/seed-org.json"
    "${g[@]}" resource create --org bench --identifier https://api.example.com --name API \
        --scope read=Read --scope write=Write >"$dir/seed-resource.json"
    local app client_id client_secret
    app=$("${g[@]}" app create --org bench --type server --name bench --scope read --scope write 2>>"$dir/seed.log")
    client_id=$(json_field client_id <<<"$app")
    client_secret=$(json_field client_secret <<<"$app")
    "${g[@]}" app add-to-org --app "$client_id" --org bench --scope read --scope write \
        >"$dir/seed-grant.json"
    # For the login flood: a member and a web app with the (legacy) password grant.
    local flood_password=flood-password-1234 flood_app flood_id flood_secret
    "${g[@]}" user create --email flood@bench.example --password-stdin \
        <<<"$flood_password" >"$dir/seed-user.json"
    "${g[@]}" member add --org bench --user flood@bench.example --role member >/dev/null
    flood_app=$("${g[@]}" app create --org bench --type web --name flood --scope read \
        --allow-grant password 2>>"$dir/seed.log")
    flood_id=$(json_field client_id <<<"$flood_app")
    flood_secret=$(json_field client_secret <<<"$flood_app")
    local api_token
    api_token=$("${g[@]}" api-token create --org bench --user flood@bench.example --name bench \
        --scope read 2>>"$dir/seed.log")
    api_token=$(json_field token <<<"$api_token")
    # For device-code polling: a native app with the device grant.
    local device_app device_id
    device_app=$("${g[@]}" app create --org bench --type native --name device --scope read \
        --redirect-uri http://127.0.0.1/callback --allow-grant device_code 2>>"$dir/seed.log")
    device_id=$(json_field client_id <<<"$device_app")

    log "[$backend] Starting the server (first start: generates the signing keys)"
    local port
    port=$(free_port)
    start_server "$port" "$dir/server.log" "${g[@]}"
    local ready_ms=$READY_MS
    nap 1 # let start-up work settle before reading the idle footprint
    local idle_rss_kb
    idle_rss_kb=$(status_kb "$SERVER_PID" VmRSS)
    echo "ready after ${ready_ms} ms; idle RSS $((idle_rss_kb / 1024)) MiB" >&2

    local base=http://127.0.0.1:$port
    local auth=(-a "$client_id:$client_secret")
    local form=(-m POST -T application/x-www-form-urlencoded)
    local token_response token
    token_response=$(curl -sS --fail-with-body -u "$client_id:$client_secret" \
        -d grant_type=client_credentials "$base/oauth2/token") ||
        die "token request failed: $token_response"
    token=$(json_field access_token <<<"$token_response")
    local introspection
    introspection=$(curl -sS --fail-with-body -u "$client_id:$client_secret" \
        --data-urlencode "token=$token" "$base/oauth2/introspect") ||
        die "introspection failed: $introspection"
    [[ $(json_field active <<<"$introspection") == True ]] || die "introspection: $introspection"
    local device_authorization device_code
    device_authorization=$(curl -sS --fail-with-body -d "client_id=$device_id" -d scope=read \
        "$base/oauth2/device_authorization") ||
        die "device authorization failed: $device_authorization"
    device_code=$(json_field device_code <<<"$device_authorization")

    local endpoint path body c
    local -a credentials
    local -a request
    for endpoint in healthz token exchange device introspect; do
        path=oauth2/$endpoint
        credentials=("${auth[@]}")
        request=("${form[@]}")
        case $endpoint in
            healthz) # the floor: a request that does nothing
                path=healthz
                credentials=()
                request=()
                ;;
            token) body=grant_type=client_credentials ;;
            exchange) # an API token swapped for an access token: no client authentication
                path=oauth2/token
                credentials=()
                body="grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token=$api_token&subject_token_type=urn%3Agrantor%3Aparams%3Aoauth%3Atoken-type%3Aapi-token"
                ;;
            device) # polling a pending device code: no client secret (a native app)
                path=oauth2/token
                credentials=()
                body="grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=$device_code&client_id=$device_id"
                ;;
            introspect) body="token=$token" ;; # base64url and dots need no form-encoding
        esac
        if [[ "$WARMUP" != 0 ]]; then
            run_oha -z "$WARMUP" -c 8 -w --no-tui --output-format quiet \
                "${request[@]}" "${credentials[@]}" ${request:+-d "$body"} "$base/$path"
        fi
        for c in $CONNECTIONS; do
            measure "$backend" "$dir" "$endpoint" "$c" \
                "${request[@]}" "${credentials[@]}" ${request:+-d "$body"} "$base/$path"
        done
    done

    # client_credentials again, this time while 16 connections sign in with the password
    # grant as fast as they can (argon2 per attempt; past the checker's queue, 503s).
    local flood_c=16 token_c
    token_c=$(awk '{print $1}' <<<"$CONNECTIONS")
    log "[$backend] POST /oauth2/token during a login flood ($flood_c connections), $token_c connections, $DURATION"
    oha -z "$(($(sed 's/s$//' <<<"$DURATION") + 2))s" -c "$flood_c" -w --no-tui --output-format json \
        -o "$dir/oha-flood.json" "${form[@]}" -a "$flood_id:$flood_secret" \
        -d "grant_type=password&username=flood%40bench.example&password=$flood_password" \
        "$base/oauth2/token" &
    FLOOD_PID=$!
    nap 1
    run_oha -z "$DURATION" -c "$token_c" -w --no-tui --output-format json \
        -o "$dir/oha-token-flood.json" "${form[@]}" "${auth[@]}" \
        -d grant_type=client_credentials "$base/oauth2/token"
    wait "$FLOOD_PID" || true
    FLOOD_PID=""
    python3 - "$dir" "$backend" "$token_c" <<'EOF'
import json, os, sys
d, backend, c = sys.argv[1], sys.argv[2], int(sys.argv[3])
def run(name):
    o = json.load(open(os.path.join(d, name)))
    codes = {k: int(v) for k, v in (o.get("statusCodeDistribution") or {}).items()}
    p = o["latencyPercentiles"]
    total = o["summary"]["total"] or 1
    return {"per_sec": codes.get("200", 0) / total, "codes": codes,
            "p50_ms": (p.get("p50") or 0) * 1000, "p99_ms": (p.get("p99") or 0) * 1000}
quiet = run(f"oha-token-c{c}.json")
loud = run("oha-token-flood.json")
flood = run("oha-flood.json")
result = {"backend": backend, "connections": c, "without_flood": quiet, "with_flood": loud,
          "flood": {"sign_ins_per_sec": flood["per_sec"], "codes": flood["codes"],
                    "p99_ms": flood["p99_ms"]}}
json.dump(result, open(os.path.join(d, "flood.json"), "w"), indent=2)
print(f"tokens/s {quiet['per_sec']:.0f} -> {loud['per_sec']:.0f} during the flood "
      f"(p99 {quiet['p99_ms']:.2f} -> {loud['p99_ms']:.2f} ms); sign-ins {flood['per_sec']:.0f}/s, "
      f"answers {flood['codes']}", file=sys.stderr)
EOF

    # Refresh-token grants, each a write (the old token spent, a new one stored): one family
    # per connection, refreshed in a loop by bench/refresh.py as a rotating client must.
    local refresh_c=$token_c refresh_tokens=() i seconds=${DURATION%s}
    log "[$backend] refresh_token grants, $refresh_c families, $DURATION"
    for ((i = 0; i < refresh_c; i++)); do
        refresh_tokens+=("$(curl -sS --fail-with-body -u "$flood_id:$flood_secret" \
            -d grant_type=password -d username=flood@bench.example -d "password=$flood_password" \
            "$base/oauth2/token" | json_field refresh_token)")
    done
    children_seconds oha0
    db0=$(postgres_ticks)
    cpu0=$(cpu_ticks "$SERVER_PID")
    python3 "$ROOT/bench/refresh.py" "$base" "$flood_id" "$flood_secret" "$seconds" \
        "${refresh_tokens[@]}" >"$WORK/refresh.json"
    cpu1=$(cpu_ticks "$SERVER_PID")
    db1=$(postgres_ticks)
    children_seconds oha1
    python3 - "$WORK/refresh.json" "$dir/refresh.json" <<EOF2
import json, sys
r = json.load(open(sys.argv[1]))
n = r["refreshes"] or 1
r.update({"backend": "$backend", "connections": $refresh_c,
          "server_cpu_us_per_refresh": ($cpu1 - $cpu0) * 1e6 / $CLK_TCK / n,
          "db_cpu_us_per_refresh": (($db1 - $db0) / $CLK_TCK * 1e6 / n) if "$backend" == "postgres" else 0.0,
          "load_generator_cores": ($oha1 - $oha0) / r["seconds"]})
json.dump(r, open(sys.argv[2], "w"), indent=2)
print(f"{r['per_sec']:.0f} refreshes/s, {r['errors']} errors, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
      f"server CPU {r['server_cpu_us_per_refresh']:.1f} us/refresh, PostgreSQL {r['db_cpu_us_per_refresh']:.1f} us/refresh, "
      f"load generator {r['load_generator_cores']:.2f} cores", file=sys.stderr)
EOF2

    # client_credentials again, with DPoP: every request carries a fresh proof, which the
    # server verifies and whose jti it records as spent. grantor-bench-dpop signs the proofs
    # before its measured run and reads SERVER_PID's utime+stime around that run only.
    local dpop_seconds=$((seconds > 40 ? 40 : seconds))
    log "[$backend] client_credentials with DPoP (fresh proof per request), $token_c connections, ${dpop_seconds}s"
    "$DPOP_BIN" "$base" "$client_id" "$client_secret" "$dpop_seconds" "$token_c" "$SERVER_PID" \
        >"$WORK/dpop.json" &
    OHA_PID=$!
    wait "$OHA_PID" || die "grantor-bench-dpop failed"
    OHA_PID=""
    python3 - "$WORK/dpop.json" "$dir/run-token-c$token_c.json" "$dir/dpop.json" <<EOF2
import json, sys
r = json.load(open(sys.argv[1]))
plain = json.load(open(sys.argv[2]))
r.update({"backend": "$backend",
          "plain": {"per_sec": plain["ok_per_sec"], "p50_ms": plain["p50_ms"], "p99_ms": plain["p99_ms"],
                    "server_cpu_us_per_token": plain["server_cpu_us_per_request"]}})
json.dump(r, open(sys.argv[3], "w"), indent=2)
p = r["plain"]
print(f"with DPoP: {r['per_sec']:.0f} tokens/s, server CPU {r['server_cpu_us_per_token']:.1f} us/token, "
      f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, errors {r['errors']}; "
      f"plain: {p['per_sec']:.0f} tokens/s, {p['server_cpu_us_per_token']:.1f} us/token, p99 {p['p99_ms']:.2f} ms "
      f"(proofs made beforehand: {r['proofs_made']}, signed during the run: {r['signed_during_run']})",
      file=sys.stderr)
EOF2

    if [[ $backend == postgres ]]; then
        # The token endpoint on three nodes of one database, the same connections split
        # between them, against the one-node run above.
        local main_pid=$SERVER_PID node_pids=() node_ports=("$port") node_port ohas=()
        for i in 1 2; do
            node_port=$(free_port)
            start_server "$node_port" "$dir/server-$i.log" "${g[@]}"
            node_pids+=("$SERVER_PID")
            node_ports+=("$node_port")
        done
        SERVER_PID=$main_pid
        EXTRA_PIDS=("${node_pids[@]}")
        log "[$backend] POST /oauth2/token on 3 nodes, $token_c connections in all, $DURATION"
        for i in 0 1 2; do
            oha -z "$DURATION" -c $(((token_c + 2) / 3)) -w --no-tui --output-format json \
                -o "$dir/oha-token-node$i.json" "${form[@]}" "${auth[@]}" \
                -d grant_type=client_credentials "http://127.0.0.1:${node_ports[$i]}/oauth2/token" &
            ohas+=($!)
        done
        wait "${ohas[@]}"
        for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        wait "${node_pids[@]}" 2>/dev/null || true
        EXTRA_PIDS=()
        python3 - "$dir" "$token_c" <<'EOF2'
import json, os, sys
d, c = sys.argv[1], int(sys.argv[2])
def ok_per_sec(name):
    o = json.load(open(os.path.join(d, name)))
    return int((o.get("statusCodeDistribution") or {}).get("200", 0)) / (o["summary"]["total"] or 1)
one = ok_per_sec(f"oha-token-c{c}.json")
three = sum(ok_per_sec(f"oha-token-node{i}.json") for i in range(3))
json.dump({"connections": c, "one_node_per_sec": one, "three_nodes_per_sec": three},
          open(os.path.join(d, "scaling.json"), "w"), indent=2)
print(f"tokens/s: one node {one:.0f}, three nodes {three:.0f} ({three / one:.2f}x)", file=sys.stderr)
EOF2
    fi

    local peak_kb
    peak_kb=$(status_kb "$SERVER_PID" VmHWM)
    stop_server

    log "[$backend] Restart (keys already stored)"
    start_server "$(free_port)" "$dir/server.log" "${g[@]}"
    local restart_ms=$READY_MS
    echo "ready after ${restart_ms} ms" >&2
    stop_server

    if [[ $backend == sqlite ]]; then
        # The same endpoints with the router called directly, one thread, no socket: what
        # Grantor's own code costs per request, apart from the kernel and the scheduler.
        log "[$backend] In process: /healthz and POST /oauth2/token without a socket"
        "${SIGN_PIN[@]}" "$IN_PROCESS_BIN" "$url" "$client_id" "$client_secret" "$SIGN_SECONDS" |
            tee "$WORK/in-process.txt" >&2
        tail -n 1 "$WORK/in-process.txt" >"$OUT/in-process.json"
    fi

    python3 -c 'import json, sys; json.dump({"backend": sys.argv[1], "ready_ms": float(sys.argv[2]), "restart_ready_ms": float(sys.argv[3]), "idle_rss_kb": int(sys.argv[4]), "peak_rss_kb": int(sys.argv[5])}, open(sys.argv[6], "w"), indent=2)' \
        "$backend" "$ready_ms" "$restart_ms" "$idle_rss_kb" "$peak_kb" "$dir/server.json"
    unset GRANTOR_KEY_ENCRYPTION_KEY
}

# The least a token can cost on this stack and this machine (bench/sign's grantor-bench-floor:
# a bare axum server, a form body read, one signature, JSON), loaded like the server.
bench_floor() {
    local dir=$OUT/floor c base
    mkdir -p "$dir"
    c=$(awk '{print $1}' <<<"$CONNECTIONS")
    start_server "$(free_port)" "$dir/server.log" "$FLOOR_BIN"
    base=http://127.0.0.1:${SERVER_PORT}
    measure floor "$dir" healthz "$c" "$base/healthz"
    measure floor "$dir" token "$c" -m POST -T application/x-www-form-urlencoded \
        -d grant_type=client_credentials "$base/oauth2/token"
    stop_server
}

# ---------------------------------------------------------------------------------------------
BACKENDS=(sqlite)
bench_backend sqlite "$WORK/grantor.db"
bench_floor

if [[ -n "${GRANTOR_BENCH_POSTGRES_URL:-}" ]]; then
    command -v psql >/dev/null || die "psql is required for the PostgreSQL run"
    PG_ADMIN_URL=$GRANTOR_BENCH_POSTGRES_URL
    PG_DB=grantor_bench_$(head -c6 /dev/urandom | od -An -tx1 | tr -d ' \n')
    psql "$PG_ADMIN_URL" -v ON_ERROR_STOP=1 -qAt -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
    PG_URL=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' \
        "$PG_ADMIN_URL" "$PG_DB")
    bench_backend postgres "$PG_URL"
    drop_pg_db
    BACKENDS+=(postgres)
else
    log "PostgreSQL skipped (set GRANTOR_BENCH_POSTGRES_URL to include it)"
fi

# ---------------------------------------------------------------------------------------------
log "Summary"
python3 - "$OUT" "${BACKENDS[@]}" <<'EOF' | tee "$OUT/summary.txt"
import glob, json, os, sys

out, backends = sys.argv[1], sys.argv[2:]
sign = {(r["op"], r["alg"]): r for r in json.load(open(os.path.join(out, "sign.json")))["results"]}
es_sign = sign[("sign", "ES256")]["us_each"]
es_verify = sign[("verify", "ES256")]["us_each"]

print(open(os.path.join(out, "environment.txt")).read().rstrip())
print("load average at end: " + " ".join(open("/proc/loadavg").read().split()[:3]))
print()
print("Signing step alone, one thread (validate = grantor-resource's whole check of a token, keys known):")
for (op, alg), r in sign.items():
    print(f"  {op:<8} {alg}: {r['per_second']:>9.0f} /s  {r['us_each']:>7.1f} us each")
print()

servers, runs = {}, []
for b in backends:
    servers[b] = json.load(open(os.path.join(out, b, "server.json")))
    for f in sorted(glob.glob(os.path.join(out, b, "run-*.json"))):
        runs.append(json.load(open(f)))
order = {"healthz": -1, "token": 0, "exchange": 1, "device": 2, "introspect": 3}
runs.sort(key=lambda r: (backends.index(r["backend"]), order.get(r["endpoint"], 3), r["connections"]))

print(f"{'backend':<9} {'ready ms (first start)':>22} {'ready ms (restart)':>18} {'idle RSS MiB':>13} {'peak RSS MiB':>13}")
for b, s in servers.items():
    print(f"{b:<9} {s['ready_ms']:>22.1f} {s['restart_ready_ms']:>18.1f} {s['idle_rss_kb']/1024:>13.1f} {s['peak_rss_kb']/1024:>13.1f}")
print("(first start includes generating the ES256 and RSA-2048 signing keys)")
print()

head = (f"{'backend':<9} {'endpoint':<11} {'conns':>5} {'req/s':>8} {'200 %':>7} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'CPU us/req':>10} {'cores':>5} {'DB us/req':>9} {'other':>5} {'peak MiB':>8} {'CPU/crypto':>10}")
print(head)
print("-" * len(head))
for r in runs:
    crypto = {"introspect": es_verify, "healthz": float("nan"), "device": float("nan")}.get(r["endpoint"], es_sign)
    cpu = r["server_cpu_us_per_request"]
    ratio = cpu / crypto if cpu else float("nan")
    print(f"{r['backend']:<9} {r['endpoint']:<11} {r['connections']:>5} {r['requests_per_sec']:>8.0f} "
          f"{r['success_ratio']*100:>7.2f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} {cpu:>10.1f} "
          f"{r['server_cpu_cores']:>5.2f} {r['db_cpu_us_per_request']:>9.1f} {r['other_cores']:>5.2f} {r['peak_rss_kb']/1024:>8.1f} {ratio:>10.2f}")
print()
print("CPU us/req, cores: the grantor process only. DB us/req: PostgreSQL's processes per request")
print("(SQLite runs inside grantor). other: cores used by anything but grantor, PostgreSQL and oha")
print("during the run; above ~0.05 the figures are disturbed by other work on the machine.")
print(f"CPU/crypto: server CPU per request divided by the cryptography it cannot avoid: one ES256")
print(f"signature ({es_sign:.1f} us) per token (exchange: API token swapped for an access token), one ES256")
print(f"verification ({es_verify:.1f} us) per introspection.")
for r in runs:
    if r["endpoint"] == "token" and r["server_cpu_us_per_request"]:
        print(f"  {r['backend']}, {r['connections']} connections: server CPU per token / signing cost alone"
              f" = {r['server_cpu_us_per_request']:.1f} / {es_sign:.1f} = {r['server_cpu_us_per_request']/es_sign:.2f}")
print()
print("Issuance against its floor (target <= 1.2): CPU per token / (CPU per /healthz + one ES256 signature);")
print("introspection against issuance (target <= 1.0): CPU per introspection / CPU per token.")
cpu_of = {(r["backend"], r["endpoint"], r["connections"]): r["server_cpu_us_per_request"] for r in runs}
for (b, e, c), token_cpu in sorted(cpu_of.items()):
    if e != "token" or not token_cpu:
        continue
    floor = cpu_of.get((b, "healthz", c), 0.0) + es_sign
    intro = cpu_of.get((b, "introspect", c), float("nan"))
    print(f"  {b}, {c} connections: {token_cpu:.1f} / ({floor - es_sign:.1f} + {es_sign:.1f}) = {token_cpu / floor:.2f};"
          f" {intro:.1f} / {token_cpu:.1f} = {intro / token_cpu:.2f}")
in_process = json.load(open(os.path.join(out, "in-process.json")))
h, t = in_process["healthz"]["us_each"], in_process["token"]["us_each"]
print(f"  in process (router called directly, one thread, no socket): {t:.1f} / ({h:.1f} + {es_sign:.1f})"
      f" = {t / (h + es_sign):.2f}; served, the rest of each request's CPU is the socket, the kernel's")
print("  wake-ups of the load generator and the scheduler")
floor = {r["endpoint"]: r for r in map(lambda f: json.load(open(f)), glob.glob(os.path.join(out, "floor", "run-*.json")))}
fh, ft = floor["healthz"]["server_cpu_us_per_request"], floor["token"]["server_cpu_us_per_request"]
c = floor["token"]["connections"]
print(f"  the floor of this stack (grantor-bench-floor: bare axum that reads a form body, signs once and")
print(f"  answers JSON, nothing else), {c} connections: {ft:.1f} / ({fh:.1f} + {es_sign:.1f}) = {ft / (fh + es_sign):.2f};")
print(f"  Grantor's CPU per token against the floor's:")
for b in backends:
    token_cpu = cpu_of.get((b, "token", c))
    if token_cpu:
        print(f"  {b}: {token_cpu:.1f} / {ft:.1f} = {token_cpu / ft:.2f}")
print()
print("client_credentials during a login flood (16 connections of password-grant sign-ins):")
for b in backends:
    f = json.load(open(os.path.join(out, b, "flood.json")))
    q, l = f["without_flood"], f["with_flood"]
    print(f"  {b}, {f['connections']} connections: {q['per_sec']:.0f} tokens/s (p99 {q['p99_ms']:.2f} ms)"
          f" without, {l['per_sec']:.0f} tokens/s (p99 {l['p99_ms']:.2f} ms) during;"
          f" sign-ins {f['flood']['sign_ins_per_sec']:.0f}/s, answers {f['flood']['codes']}")
print()
print("refresh_token grants (one rotating family per connection; each refresh is a write):")
for b in backends:
    r = json.load(open(os.path.join(out, b, "refresh.json")))
    print(f"  {b}, {r['connections']} connections: {r['per_sec']:.0f} refreshes/s, p50 {r['p50_ms']:.2f} ms,"
          f" p99 {r['p99_ms']:.2f} ms, server CPU {r['server_cpu_us_per_refresh']:.1f} us/refresh,"
          f" PostgreSQL {r['db_cpu_us_per_refresh']:.1f} us/refresh, errors {r['errors']}")
print()
print("client_credentials with DPoP (a fresh proof per request, signed before the run) beside the plain run:")
dpop = []
for b in backends:
    d = json.load(open(os.path.join(out, b, "dpop.json")))
    dpop.append(d)
    p = d["plain"]
    print(f"  {b}, {d['connections']} connections: DPoP {d['per_sec']:.0f} tokens/s, server CPU"
          f" {d['server_cpu_us_per_token']:.1f} us/token, p99 {d['p99_ms']:.2f} ms; plain {p['per_sec']:.0f} tokens/s,"
          f" {p['server_cpu_us_per_token']:.1f} us/token, p99 {p['p99_ms']:.2f} ms"
          f" (DPoP: {d['server_cpu_us_per_token'] / p['server_cpu_us_per_token']:.2f}x the CPU per token);"
          f" errors {d['errors']}")
scaling = os.path.join(out, "postgres", "scaling.json")
if os.path.exists(scaling):
    s = json.load(open(scaling))
    print()
    print(f"client_credentials on PostgreSQL, {s['connections']} connections: one node {s['one_node_per_sec']:.0f}"
          f" tokens/s, three nodes {s['three_nodes_per_sec']:.0f} tokens/s"
          f" ({s['three_nodes_per_sec'] / s['one_node_per_sec']:.2f}x; all on this machine's {os.cpu_count()} cores)")
noisy = [r for r in runs if (r.get("other_cores") or 0) > 0.1]
if noisy:
    print()
    print(f"WARNING: other processes used CPU during {len(noisy)} run(s) (up to "
          f"{max(r['other_cores'] for r in noisy):.2f} cores): rerun on a quiet machine.")
bad = [r for r in runs if r["success_ratio"] < 1.0]
if bad:
    print()
    for r in bad:
        print(f"WARNING: {r['backend']} {r['endpoint']} c={r['connections']}: only "
              f"{r['success_ratio']*100:.2f}% answered 200: {r['status_codes']} {r['errors']}")
for d in dpop:
    if d["errors"] or d["signed_during_run"]:
        print()
        print(f"WARNING: {d['backend']} DPoP: errors {d['errors']}; {d['signed_during_run']} proofs signed during"
              f" the run (the pool of {d['proofs_made']} ran out; those competed with the server)")

json.dump({"sign": list(sign.values()), "servers": servers, "runs": runs, "floor": list(floor.values()),
           "dpop": dpop},
          open(os.path.join(out, "summary.json"), "w"), indent=2)
EOF
echo "Results in $OUT" >&2
# A pending device code's polls are answered 400 (authorization_pending, slow_down): that run
# is bad only with any other answer.
bad=$(python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print(sum((set(r["status_codes"]) != {"400"} or bool(r["errors"])) if r["endpoint"] == "device" else r["success_ratio"] < 1.0 for r in s["runs"] + s["floor"]) + sum(bool(d["errors"]) for d in s["dpop"]))' "$OUT/summary.json")
[[ "$bad" == 0 ]] || die "$bad run(s) had unexpected answers (other than 200; other than 400 for device polling)"
