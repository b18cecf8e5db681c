#!/usr/bin/env python3
"""Refresh-token grants as fast as the server answers them, for bench/run.sh.

Each of CONNECTIONS workers (processes, so the load generator is not one GIL-bound core)
holds one refresh-token family over one keep-alive connection and refreshes it in a loop:
every answer's new refresh token is the next request's, as a real client must (rotation).
Prints one JSON line: refreshes, errors, refreshes/s, p50/p99 latency.

  refresh.py BASE CLIENT_ID CLIENT_SECRET SECONDS REFRESH_TOKEN...
"""

import http.client
import json
import multiprocessing
import sys
import time
import urllib.parse
from base64 import b64encode


def worker(base, auth, seconds, token, out):
    parsed = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}
    latencies, errors = [], 0
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        body = urllib.parse.urlencode({"grant_type": "refresh_token", "refresh_token": token})
        started = time.perf_counter()
        conn.request("POST", "/oauth2/token", body=body, headers=headers)
        resp = conn.getresponse()
        answer = resp.read()
        latencies.append(time.perf_counter() - started)
        if resp.status != 200:
            errors += 1  # the family is gone; nothing more this worker can do
            break
        token = json.loads(answer)["refresh_token"]
    out.put((latencies, errors))


def main():
    base, client_id, secret, seconds = sys.argv[1:5]
    tokens = sys.argv[5:]
    auth = "Basic " + b64encode(f"{client_id}:{secret}".encode()).decode()
    out = multiprocessing.Queue()
    started = time.monotonic()
    procs = [multiprocessing.Process(target=worker, args=(base, auth, float(seconds), t, out))
             for t in tokens]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.monotonic() - started
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1000 if latencies else 0.0

    ok = len(latencies) - errors
    print(json.dumps({"refreshes": ok, "errors": errors, "seconds": wall,
                      "per_sec": ok / wall, "p50_ms": pct(0.5), "p99_ms": pct(0.99)}))


if __name__ == "__main__":
    main()
