#!/usr/bin/env python3
"""A fixed-rate mixed workload against Grantor nodes, with figures every interval.

Driven by scripts/soak.sh, which seeds the database and starts the nodes. Operations, spread
over the nodes in turn: client credentials, the code flow with a sign-in, refresh,
introspection and revocation. Every SAMPLE seconds it prints the requests, errors, p50/p99
latency per operation, each node's RSS and (PostgreSQL) the database size and the row counts
of the tables that grow with use; at the end, how each figure moved over the second half.
Exits non-zero on any error.
"""

import html
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from base64 import b64encode

NODES = os.environ["SOAK_NODES"].split()          # base URLs
PIDS = os.environ["SOAK_PIDS"].split()            # their process ids
SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
RATE = float(os.environ.get("SOAK_RATE", "40"))   # operations per second, all kinds
SAMPLE = int(os.environ.get("SOAK_SAMPLE", "60"))
PSQL = os.environ.get("SOAK_PSQL_URL")            # for the database size
SERVER = (os.environ["SOAK_SERVER_ID"], os.environ["SOAK_SERVER_SECRET"])
WEB = (os.environ["SOAK_WEB_ID"], os.environ["SOAK_WEB_SECRET"])
# Several users sign in, as on a real server: one account signing in many times at once is
# what the sign-in throttle is there to slow down.
EMAILS, PASSWORD = os.environ["SOAK_EMAILS"].split(), os.environ["SOAK_PASSWORD"]
REDIRECT = "https://app.example.com/callback"

# (operation, weight)
MIX = [("client_credentials", 40), ("introspect", 25), ("refresh", 15), ("code_flow", 10), ("revoke", 10)]


def basic(creds):
    return "Basic " + b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()


class Node:
    def __init__(self, base):
        parsed = urllib.parse.urlsplit(base)
        self.host, self.port = parsed.hostname, parsed.port
        self.local = threading.local()

    def request(self, method, path, body=None, headers=None):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        headers = dict(headers or {})
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closes a keep-alive connection idle for longer than its header-read
            # timeout, unread; like any pooled HTTP client, start a new one and send again.
            conn.close()
            conn = self.local.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
        except Exception:
            self.local.conn = None
            raise
        answer = {}
        for k, v in resp.getheaders():  # several Set-Cookie lines stay apart
            answer[k.lower()] = answer[k.lower()] + "\n" + v if k.lower() in answer else v
        return resp.status, answer, resp.read().decode()


def field(page, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), page)
    return html.unescape(m.group(1)) if m else None


class Workload:
    def __init__(self):
        self.nodes = [Node(b) for b in NODES]
        self.lock = threading.Lock()
        self.latencies = {op: [] for op, _ in MIX}
        self.counts = {op: 0 for op, _ in MIX}
        self.errors = []
        self.refresh_tokens = []
        self.access_tokens = []
        self.turn = 0

    def node(self):
        with self.lock:
            self.turn += 1
            return self.nodes[self.turn % len(self.nodes)]

    def token(self, node, form, creds):
        status, _, body = node.request("POST", "/oauth2/token", form, {"Authorization": basic(creds)})
        if status != 200:
            raise RuntimeError(f"token {form.get('grant_type')}: {status} {body[:200]}")
        return json.loads(body)

    def client_credentials(self):
        answer = self.token(self.node(), {"grant_type": "client_credentials"}, SERVER)
        with self.lock:
            self.access_tokens.append(answer["access_token"])
            del self.access_tokens[:-200]

    def code_flow(self):
        node = self.node()
        cookies = {}

        def send(method, path, form=None):
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}
            status, hdrs, body = node.request(method, path, form, headers)
            for line in hdrs.get("set-cookie", "").splitlines():
                name, _, value = line.split(";")[0].partition("=")
                cookies[name.strip()] = value
            return status, hdrs.get("location"), body

        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": WEB[0], "redirect_uri": REDIRECT,
            "scope": "openid soak:read", "state": "s",
        })
        status, location, _ = send("GET", "/oauth2/authorize?" + query)
        status, _, page = send("GET", location)
        status, location, page = send("POST", "/login", {
            "csrf": field(page, "csrf"), "return_to": field(page, "return_to"),
            "email": random.choice(EMAILS), "password": PASSWORD,
        })
        if status != 303:
            raise RuntimeError(f"login: {status} {page[:200]}")
        status, location, page = send("GET", location)
        if status == 200:  # the approval page, the first time
            status, location, page = send("POST", "/consent", {
                "csrf": field(page, "csrf"), "request": field(page, "request"),
                "org": field(page, "org"), "decision": "allow", "scope": ["openid", "soak:read"],
            })
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(location or "").query).get("code")
        if not code:
            raise RuntimeError(f"no code: {status} {location} {page[:200]}")
        answer = self.token(node, {"grant_type": "authorization_code", "code": code[0],
                                   "redirect_uri": REDIRECT}, WEB)
        with self.lock:
            self.refresh_tokens.append(answer["refresh_token"])
            del self.refresh_tokens[:-100]

    def refresh(self):
        with self.lock:
            if not self.refresh_tokens:
                return
            token = self.refresh_tokens.pop(random.randrange(len(self.refresh_tokens)))
        answer = self.token(self.node(), {"grant_type": "refresh_token", "refresh_token": token}, WEB)
        with self.lock:
            self.refresh_tokens.append(answer["refresh_token"])

    def introspect(self):
        with self.lock:
            if not self.access_tokens:
                return
            token = random.choice(self.access_tokens)
        status, _, body = self.node().request("POST", "/oauth2/introspect", {"token": token},
                                              {"Authorization": basic(SERVER)})
        if status != 200:
            raise RuntimeError(f"introspect: {status} {body[:200]}")

    def revoke(self):
        with self.lock:
            if not self.access_tokens:
                return
            token = self.access_tokens.pop()
        status, _, body = self.node().request("POST", "/oauth2/revoke", {"token": token},
                                              {"Authorization": basic(SERVER)})
        if status != 200:
            raise RuntimeError(f"revoke: {status} {body[:200]}")

    def run_one(self, op):
        started = time.perf_counter()
        try:
            getattr(self, op)()
        except Exception as e:  # every failure is a finding
            with self.lock:
                self.errors.append(f"{op}: {e}")
            return
        took = time.perf_counter() - started
        with self.lock:
            self.latencies[op].append(took)
            self.counts[op] += 1


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return -1


TABLES = ["grants", "refresh_tokens", "authorization_codes", "sessions", "revocations"]


def psql(sql):
    return subprocess.run(["psql", PSQL, "-qAtX", "-F", " ", "-c", sql], capture_output=True, text=True)


# Deleted rows make room for new ones only once PostgreSQL vacuums the table; where its
# autovacuum daemon is off (as on some test machines), each sample vacuums in its place.
VACUUM_HERE = bool(PSQL) and psql("SHOW autovacuum").stdout.strip() == "off"


def database():
    """The database size in KiB and the rows of the tables that grow with use, by name."""
    if not PSQL:
        return {}
    if VACUUM_HERE:
        psql("VACUUM")
    query = "SELECT pg_database_size(current_database()) / 1024, " + ", ".join(
        f"(SELECT count(*) FROM {t})" for t in TABLES)
    out = psql(query)
    try:
        values = [int(v) for v in out.stdout.split()]
    except ValueError:
        return {"error": out.stderr.strip()}
    return dict(zip(["db KiB"] + TABLES, values))


def percentile(values, p):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] * 1000


def main():
    work = Workload()
    ops = [op for op, weight in MIX for _ in range(weight)]
    random.seed(int(os.environ.get("SOAK_SEED", "1")))
    if VACUUM_HERE:
        print("PostgreSQL's autovacuum is off: each sample runs VACUUM in its place", flush=True)
    work.code_flow()  # a first sign-in approves the app
    stop = time.monotonic() + SECONDS
    threads = 8
    interval = threads / RATE

    def worker():
        next_at = time.monotonic()
        while time.monotonic() < stop:
            work.run_one(random.choice(ops))
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    started = time.monotonic()
    samples = []  # (seconds, {figure: value})
    while any(t.is_alive() for t in pool):
        time.sleep(min(SAMPLE, max(0.1, stop - time.monotonic() + 0.5)))
        with work.lock:
            lat = {op: v[:] for op, v in work.latencies.items()}
            for v in work.latencies.values():
                v.clear()
            total, errors = sum(work.counts.values()), len(work.errors)
        figures = {f"node {i} RSS MiB": rss_mib(p) for i, p in enumerate(PIDS)}
        figures.update({f"{op} p99 ms": round(percentile(v, 0.99), 1) for op, v in lat.items() if v})
        figures.update(database())
        at = time.monotonic() - started
        samples.append((at, figures))
        print(f"[{at:5.0f} s] {total} ops, {errors} errors | "
              + ", ".join(f"{k} {v}" for k, v in figures.items()), flush=True)
    # Lifetimes have passed by the middle of a run of several minutes: from there on every
    # figure should hold steady.
    middle = next((f for at, f in samples if at >= SECONDS / 2), None)
    if middle and samples:
        end = samples[-1][1]
        print("second half:", ", ".join(f"{k} {middle[k]} -> {end[k]}" for k in end if k in middle))
    if work.errors:
        print("errors:", *work.errors[:20], sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
