#!/usr/bin/env bash
# Random hostile HTTP requests against a live server, for a bounded time.
#
#   bash scripts/hostile-requests.sh                      # 60 s
#   HOSTILE_SECONDS=120 HOSTILE_SEED=1234 bash scripts/hostile-requests.sh
#
# Starts `grantor serve` on a fresh SQLite database with an organization, a resource server, a
# user (owner), an admin server app added to the organization, a web app and a native app,
# then runs scripts/hostile-requests.py (standard-library python3) for HOSTILE_SECONDS:
# malformed, huge, repeated and mistyped requests to every endpoint from HOSTILE_WORKERS
# connections at once. Fails on any unintended 5xx, a well-formed request left unanswered, the
# server dying, a panic in its log, /healthz not answering afterwards, or the server's
# resident memory after the run and HOSTILE_IDLE seconds of rest above twice what it was
# before plus HOSTILE_RSS_SLACK_MIB (64). GRANTOR_BIN runs that binary instead of building
# one; HOSTILE_KEEP keeps the work directory (server log, database). A failing request is
# saved to $CARGO_TARGET_DIR/hostile-failure.http.

set -euo pipefail

# shellcheck source=scripts/lib/serve.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/serve.sh"
cd "$ROOT"

SECONDS_BUDGET=${HOSTILE_SECONDS:-60}
WORKERS=${HOSTILE_WORKERS:-6}
IDLE=${HOSTILE_IDLE:-5}
SLACK_MIB=${HOSTILE_RSS_SLACK_MIB:-64}
KEEP_WORK=${HOSTILE_KEEP:-}
seed_args=()
[[ -n "${HOSTILE_SEED:-}" ]] && seed_args=(--seed "$HOSTILE_SEED")

serve_build
serve_init hostile

PASSWORD=hostile-password-1234
"$BIN" org create --name hostile >/dev/null
"$BIN" resource create --org hostile --identifier https://api.hostile.example --name API \
    --scope read=Read >/dev/null
"$BIN" user create --email owner@hostile.example --password-stdin <<<"$PASSWORD" >/dev/null
"$BIN" member add --org hostile --user owner@hostile.example --role owner >/dev/null
ADMIN_SCOPES=(grantor:apps grantor:members grantor:resources grantor:audit grantor:api-tokens)
scope_args=()
for s in read "${ADMIN_SCOPES[@]}"; do scope_args+=(--scope "$s"); done
"$BIN" app create --org hostile --type server --name admin "${scope_args[@]}" \
    >"$WORK/server-app.json" 2>/dev/null
SERVER_ID=$(json_field client_id <"$WORK/server-app.json")
"$BIN" app add-to-org --app "$SERVER_ID" --org hostile "${scope_args[@]}" >/dev/null
"$BIN" app create --org hostile --type web --name web --redirect-uri https://web.example/cb \
    --post-logout-redirect-uri https://web.example/bye --scope openid --scope profile \
    --scope email --scope read --allow-grant password >"$WORK/web-app.json" 2>/dev/null
"$BIN" app create --org hostile --type native --name native \
    --redirect-uri http://127.0.0.1/cb --scope openid --scope read \
    >"$WORK/native-app.json" 2>/dev/null
ORG_ID=$(json_field org_id <"$WORK/server-app.json")

python3 - "$WORK" "$PASSWORD" "$ORG_ID" "${ADMIN_SCOPES[@]}" >"$WORK/seeds.json" <<'PY'
import json, sys
work, password, org_id, *admin_scopes = sys.argv[1:]
load = lambda name: json.load(open(f"{work}/{name}.json"))
server, web, native = load("server-app"), load("web-app"), load("native-app")
json.dump({
    "org": "hostile", "org_id": org_id,
    "email": "owner@hostile.example", "password": password,
    "server_id": server["client_id"], "server_secret": server["client_secret"],
    "admin_scopes": admin_scopes,
    "web_id": web["client_id"], "web_secret": web["client_secret"],
    "web_redirect": web["redirect_uris"][0], "web_logout": web["post_logout_redirect_uris"][0],
    "native_id": native["client_id"], "native_redirect": native["redirect_uris"][0],
}, sys.stdout)
PY

mkdir -p "$CARGO_TARGET_DIR"
serve_start
# Warm up what any server holds after its first sign-in and first token (the password
# checker's working area, the signing keys), so that "before" is a served server's memory.
WEB_ID=$(json_field client_id <"$WORK/web-app.json")
WEB_SECRET=$(json_field client_secret <"$WORK/web-app.json")
curl -sf -u "$WEB_ID:$WEB_SECRET" -d grant_type=password -d username=owner@hostile.example \
    --data-urlencode "password=$PASSWORD" -d scope=openid "$BASE/oauth2/token" >/dev/null ||
    die "the warm-up sign-in failed"
status_kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/status"; }
RSS_BEFORE=$(status_kib VmRSS)

status=0
python3 "$ROOT/scripts/hostile-requests.py" --base "$BASE" --seeds "$WORK/seeds.json" \
    --server-pid "$SERVER_PID" --seconds "$SECONDS_BUDGET" --workers "$WORKERS" \
    --save-failure "$CARGO_TARGET_DIR/hostile-failure.http" "${seed_args[@]}" || status=$?

kill -0 "$SERVER_PID" 2>/dev/null || { tail -50 "$WORK/server.log" >&2; die "the server exited"; }
sleep "$IDLE"
RSS_AFTER=$(status_kib VmRSS)
printf 'server RSS: %d MiB before, %d MiB peak, %d MiB after the run and %d s idle\n' \
    $((RSS_BEFORE / 1024)) $(($(status_kib VmHWM) / 1024)) $((RSS_AFTER / 1024)) "$IDLE"
curl -sf --max-time 10 "$BASE/healthz" >/dev/null || die "/healthz does not answer after the run"
serve_check_log
# The allocator keeps what the largest requests needed (about 80 MiB after 30, 60 or 120 s
# from 17 MiB on the 2-core machine): a leak shows as growth past that plateau.
if ((RSS_AFTER > 2 * RSS_BEFORE + SLACK_MIB * 1024)); then
    die "the server's memory grew from $((RSS_BEFORE / 1024)) MiB to $((RSS_AFTER / 1024)) MiB"
fi
exit "$status"
