#!/usr/bin/env python3
"""Many organizations on one installation: does the token rate of one organization hold when
the installation grows from 10 to 10,000 organizations, and while other organizations change
their configuration? Driven by bench/tenants.sh, which builds the binaries first.

For one backend (a SQLite file, or a fresh PostgreSQL database), it:
  1. makes a platform admin and an API token for it with the CLI, starts `grantor serve`, and
     swaps the API token for a management access token (RFC 8693);
  2. populates through /api/v1, each organization getting one resource server with two
     scopes, three server apps (the first added to the organization with both scopes), one
     user and that user's membership: 8 writes; first to 10 organizations;
  3. measures client_credentials on the first organization's app with oha: tokens/s, server
     CPU per token, p99;
  4. populates on to --orgs organizations and measures again: quiet, then while another thread
     makes --changes-per-second changes in other organizations (app renames, scope changes,
     member role changes, API-token creations and revocations);
  5. restarts the server and times /readyz, and reads the RSS it had at the end of the run;
  6. PostgreSQL: the token endpoint on three nodes of the database, the changes sent to one;
  7. the same client_credentials load against grantor-bench-floor.
Every figure is printed with the command that measured it.
"""

import argparse
import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

CLK_TCK = os.sysconf("SC_CLK_TCK")
ADMIN = "root@ops.bench.example"
MANAGEMENT_SCOPES = "grantor:orgs grantor:apps grantor:resources grantor:members grantor:api-tokens"


def log(msg):
    print(f"\n=== {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    stat = open(f"/proc/{pid}/stat").read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def status_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


class Server:
    """`grantor serve` (or the floor) on a free loopback port."""

    def __init__(self, argv, logfile, env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        t0 = time.monotonic()
        self.log = open(logfile, "ab")
        self.proc = subprocess.Popen(argv + ["serve", "--listen", f"127.0.0.1:{self.port}"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"the server exited before it was ready; see {logfile}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - t0 > 120:
                sys.exit("the server was not ready after 120 s")
            time.sleep(0.002)
        self.ready_ms = (time.monotonic() - t0) * 1000

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Api:
    """The management API with the platform admin's exchanged token; one keep-alive
    connection per thread."""

    def __init__(self, server, api_token):
        self.server = server
        self.api_token = api_token
        self.local = threading.local()
        self.lock = threading.Lock()
        self.access_token = None
        self.writes = 0
        self.refresh_token()

    def conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
            self.local.conn = c
        return c

    def raw(self, method, path, body=None, headers=None):
        for attempt in range(3):
            c = self.conn()
            try:
                c.request(method, path, body=body, headers=headers or {})
                r = c.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                c.close()
                self.local.conn = None
                if attempt == 2:
                    raise
        raise RuntimeError("unreachable")

    def refresh_token(self):
        form = urllib_encode({
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": self.api_token,
            "subject_token_type": "urn:grantor:params:oauth:token-type:api-token",
            "scope": MANAGEMENT_SCOPES,
        })
        status, body = self.raw("POST", "/oauth2/token", form,
                                {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            sys.exit(f"token exchange failed: {status} {body[:300]!r}")
        with self.lock:
            self.access_token = json.loads(body)["access_token"]

    def call(self, method, path, doc=None, expect=(200, 201, 204)):
        for _ in range(2):
            headers = {"Authorization": f"Bearer {self.access_token}"}
            body = None
            if doc is not None:
                body = json.dumps(doc)
                headers["Content-Type"] = "application/json"
            status, answer = self.raw(method, path, body, headers)
            if status == 401:
                self.refresh_token()
                continue
            if status not in expect:
                raise RuntimeError(f"{method} {path}: {status} {answer[:300]!r}")
            if method != "GET":
                with self.lock:
                    self.writes += 1
            return json.loads(answer) if answer else None
        raise RuntimeError(f"{method} {path}: still 401 after a fresh token")


def urllib_encode(fields):
    import urllib.parse
    return urllib.parse.urlencode(fields)


def org_name(i):
    return f"t{i:05d}"


def populate_org(api, i):
    """One organization as the issue describes it: 8 writes. Returns what later steps use."""
    org = org_name(i)
    api.call("POST", "/api/v1/orgs", {"name": org})
    rs = api.call("POST", f"/api/v1/orgs/{org}/resource-servers", {
        "identifier": f"https://api{i}.bench.example",
        "name": "API",
        "scopes": [{"name": "read", "description": "Read"},
                   {"name": "write", "description": "Write"}],
    })
    apps = [api.call("POST", f"/api/v1/orgs/{org}/apps",
                     {"type": "server", "name": f"app{n}", "scopes": ["read", "write"]})
            for n in range(3)]
    api.call("POST", f"/api/v1/orgs/{org}/added-apps",
             {"client_id": apps[0]["client_id"], "scopes": ["read", "write"]})
    email = f"user{i}@{org}.bench.example"
    api.call("POST", "/api/v1/users", {"email": email})
    api.call("POST", f"/api/v1/orgs/{org}/members", {"user": email, "role": "member"})
    return {"org": org, "rs": rs["id"], "apps": [a["client_id"] for a in apps],
            "secret": apps[0]["client_secret"], "user": email}


def populate(api, start, end, workers, made):
    """Organizations start..end-1, `workers` at a time; returns API writes per second."""
    writes0, t0 = api.writes, time.monotonic()
    done = 0
    with ThreadPoolExecutor(workers) as pool:
        for i, org in zip(range(start, end), pool.map(lambda i: populate_org(api, i), range(start, end))):
            made[i] = org
            done += 1
            if done % 1000 == 0:
                rate = (api.writes - writes0) / (time.monotonic() - t0)
                print(f"  {start + done} organizations, {rate:.0f} writes/s",
                      file=sys.stderr, flush=True)
    return (api.writes - writes0) / (time.monotonic() - t0)


class Changes(threading.Thread):
    """Configuration changes in organizations other than the measured one, at a steady rate."""

    def __init__(self, api, made, per_second):
        super().__init__(daemon=True)
        self.api, self.made, self.per_second = api, made, per_second
        self.stop_at = None
        self.done = 0
        self.halt = threading.Event()

    def change(self, n):
        orgs = [i for i in self.made if i != 0]
        o = self.made[orgs[(n * 7919) % len(orgs)]]
        kind = n % 4
        if kind == 0:
            self.api.call("PATCH", f"/api/v1/orgs/{o['org']}/apps/{o['apps'][1]}", {"name": f"renamed{n}"})
        elif kind == 1:
            scopes = [{"name": "read", "description": f"Read ({n})"},
                      {"name": "write", "description": "Write"}]
            self.api.call("PATCH", f"/api/v1/orgs/{o['org']}/resource-servers/{o['rs']}", {"scopes": scopes})
        elif kind == 2:
            role = "developer" if n % 8 == 2 else "member"
            self.api.call("PATCH", f"/api/v1/orgs/{o['org']}/members/{o['user']}", {"role": role})
        else:
            token = self.api.call("POST", "/api/v1/me/api-tokens",
                                  {"name": f"churn{n}", "scopes": ["grantor:apps"], "expires_in": 3600})
            self.api.call("DELETE", f"/api/v1/me/api-tokens/{token['id']}")

    def run(self):
        t0 = time.monotonic()
        n = 0
        while not self.halt.is_set():
            due = t0 + n / self.per_second
            delay = due - time.monotonic()
            if delay > 0:
                self.halt.wait(delay)
                continue
            self.change(n)
            n += 1
        self.done = n


def oha(url, client_id, secret, duration, connections, out):
    auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    argv = ["oha", "-z", duration, "-c", str(connections), "-w", "--no-tui", "--output-format", "json",
            "-o", out, "-m", "POST", "-T", "application/x-www-form-urlencoded",
            "-H", f"Authorization: Basic {auth}", "-d", "grant_type=client_credentials&scope=read",
            f"{url}/oauth2/token"]
    return argv


def measure(label, servers, client_id, secret, args, outdir, during=None):
    """oha on each server's token endpoint at once; figures summed over servers."""
    cpu0 = [cpu_ticks(s.proc.pid) for s in servers]
    per_node = max(1, args.connections // len(servers))
    procs, outs = [], []
    for n, s in enumerate(servers):
        slug = "".join(ch if ch.isalnum() else "-" for ch in label)
        out = os.path.join(outdir, f"oha-{slug}-{n}.json")
        argv = oha(s.url, client_id, secret, args.duration, per_node, out)
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL))
        outs.append(out)
    if during:
        during.start()
    for p in procs:
        p.wait()
    if during:
        during.halt.set()
        during.join()
    cpu1 = [cpu_ticks(s.proc.pid) for s in servers]
    ok = answered = 0
    p99 = 0.0
    wall = 0.0
    for out in outs:
        o = json.load(open(out))
        codes = {k: int(v) for k, v in (o.get("statusCodeDistribution") or {}).items()}
        ok += codes.get("200", 0)
        answered += sum(codes.values())
        p99 = max(p99, (o["latencyPercentiles"].get("p99") or 0) * 1000)
        wall = max(wall, o["summary"]["total"])
    cpu_us = sum(b - a for a, b in zip(cpu0, cpu1)) * 1e6 / CLK_TCK
    result = {
        "label": label,
        "nodes": len(servers),
        "tokens_per_sec": ok / wall if wall else 0.0,
        "ok_share": ok / answered if answered else 0.0,
        "cpu_us_per_token": cpu_us / ok if ok else None,
        "p99_ms": p99,
        "changes": during.done if during else 0,
    }
    cmd = " ".join(oha(servers[0].url, "APP_ID", "SECRET", args.duration, per_node, "OUT.json")[:-1])
    print(f"[{label}] {result['tokens_per_sec']:.0f} tokens/s, {result['ok_share']*100:.1f}% 200, "
          f"{result['cpu_us_per_token'] or 0:.1f} us CPU/token, p99 {p99:.2f} ms"
          + (f", {result['changes']} changes made meanwhile" if during else "")
          + f"\n    measured by: {cmd} {servers[0].url}/oauth2/token"
          + (f" on each of {len(servers)} nodes" if len(servers) > 1 else "")
          + "; CPU from /proc/PID/stat of the server", file=sys.stderr, flush=True)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--floor", required=True)
    ap.add_argument("--orgs", type=int, default=10_000)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--changes-per-second", type=float, default=10)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    env = dict(os.environ)
    env["GRANTOR_KEY_ENCRYPTION_KEY"] = base64.b64encode(os.urandom(32)).decode()
    env.setdefault("RUST_LOG", "warn")
    g = [args.bin, "--database-url", args.database_url]

    def cli(*argv, stdin=None):
        done = subprocess.run(g + list(argv), env=env, input=stdin, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{' '.join(argv)}: {done.stderr}")
        return done.stdout

    log(f"[{args.backend}] Platform admin and API token (CLI)")
    cli("org", "create", "--name", "ops")
    cli("user", "create", "--email", ADMIN, "--password-stdin", "--platform-admin",
        stdin="bench-password-1234\n")
    cli("member", "add", "--org", "ops", "--user", ADMIN, "--role", "owner")
    token = json.loads(cli("api-token", "create", "--org", "ops", "--user", ADMIN, "--name", "bench",
                           *sum((["--scope", s] for s in MANAGEMENT_SCOPES.split()), [])))["token"]

    log(f"[{args.backend}] Start")
    logfile = os.path.join(args.out, f"server-{args.backend}.log")
    server = Server(g, logfile, env)
    api = Api(server, token)
    made = {}
    results = {"backend": args.backend}

    log(f"[{args.backend}] Populate to 10 organizations")
    populate(api, 0, 10, args.workers, made)
    app, secret = made[0]["apps"][0], made[0]["secret"]
    warm = measure("warm-up", [server], app, secret, argparse.Namespace(**{**vars(args), "duration": "2s"}), args.out)
    results["at_10"] = measure("10 orgs, quiet", [server], app, secret, args, args.out)

    log(f"[{args.backend}] Populate to {args.orgs} organizations (and as many users, one membership each)")
    t0 = time.monotonic()
    results["writes_per_sec"] = populate(api, 10, args.orgs, args.workers, made)
    print(f"API writes: {results['writes_per_sec']:.0f}/s over {time.monotonic() - t0:.0f} s, "
          f"{args.workers} clients (8 writes per organization: POST orgs, resource-servers, "
          f"3 x apps, added-apps, users, members)", file=sys.stderr)
    del warm

    results["at_n"] = measure(f"{args.orgs} orgs, quiet", [server], app, secret, args, args.out)
    results["at_n_changes"] = measure(
        f"{args.orgs} orgs, {args.changes_per_second:g} changes/s elsewhere", [server], app, secret, args,
        args.out, during=Changes(api, made, args.changes_per_second))

    if args.backend == "postgres":
        log(f"[{args.backend}] Three nodes, changes sent to the first")
        others = [Server(g, logfile, env) for _ in range(2)]
        try:
            results["three_nodes_changes"] = measure(
                f"3 nodes, {args.orgs} orgs, {args.changes_per_second:g} changes/s on node 1",
                [server] + others, app, secret, args, args.out,
                during=Changes(api, made, args.changes_per_second))
        finally:
            for s in others:
                s.stop()

    results["rss_kb"] = status_kb(server.proc.pid, "VmRSS")
    results["peak_rss_kb"] = status_kb(server.proc.pid, "VmHWM")
    server.stop()
    restarted = Server(g, logfile, env)
    results["restart_ready_ms"] = restarted.ready_ms
    restarted.stop()
    print(f"restart to ready with {args.orgs} organizations: {results['restart_ready_ms']:.0f} ms "
          f"(process start until GET /readyz answers 200); RSS at the end of the run "
          f"{results['rss_kb'] // 1024} MiB, peak {results['peak_rss_kb'] // 1024} MiB (/proc/PID/status)",
          file=sys.stderr)

    log("The floor (grantor-bench-floor) under the same load")
    floor = Server([args.floor], os.path.join(args.out, "floor.log"), env)
    results["floor"] = measure("floor", [floor], app, secret, args, args.out)
    floor.stop()

    q10, qn, ch = results["at_10"], results["at_n"], results["at_n_changes"]
    summary = [
        f"## {args.backend}",
        f"- at 10 organizations: {q10['tokens_per_sec']:.0f} tokens/s, {q10['cpu_us_per_token']:.1f} us CPU each, p99 {q10['p99_ms']:.2f} ms",
        f"- at {args.orgs}: {qn['tokens_per_sec']:.0f} tokens/s, {qn['cpu_us_per_token']:.1f} us, p99 {qn['p99_ms']:.2f} ms"
        f" -> {qn['tokens_per_sec'] / q10['tokens_per_sec']:.2f}x the rate at 10 (target >= 0.9)",
        f"- at {args.orgs} with {args.changes_per_second:g} changes/s elsewhere ({ch['changes']} made): "
        f"{ch['tokens_per_sec']:.0f} tokens/s, {ch['cpu_us_per_token']:.1f} us, p99 {ch['p99_ms']:.2f} ms"
        f" -> {ch['tokens_per_sec'] / qn['tokens_per_sec']:.2f}x the quiet rate (target >= 0.9),"
        f" p99 {ch['p99_ms'] / qn['p99_ms']:.2f}x (target <= 2)",
        f"- API writes while populating: {results['writes_per_sec']:.0f}/s (target >= 300 on SQLite)",
        f"- restart to ready: {results['restart_ready_ms']:.0f} ms (target < 1000); RSS after the run"
        f" {results['rss_kb'] // 1024} MiB (target < 150)",
        f"- floor: {results['floor']['cpu_us_per_token']:.1f} us CPU per token; Grantor at {args.orgs}:"
        f" {qn['cpu_us_per_token'] / results['floor']['cpu_us_per_token']:.2f}x the floor (target <= 1.15)",
    ]
    if "three_nodes_changes" in results:
        t = results["three_nodes_changes"]
        summary.append(f"- 3 nodes, changes on node 1 ({t['changes']} made): {t['tokens_per_sec']:.0f} tokens/s in all,"
                       f" {t['cpu_us_per_token']:.1f} us CPU each, p99 {t['p99_ms']:.2f} ms")
    print("\n".join(summary))
    json.dump(results, open(os.path.join(args.out, f"tenants-{args.backend}.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
