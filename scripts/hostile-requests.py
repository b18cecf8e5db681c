#!/usr/bin/env python3
"""Random hostile HTTP requests against a live Grantor server, for a bounded time.

    python3 scripts/hostile-requests.py --base http://127.0.0.1:PORT --seeds seeds.json \
        --server-pid PID [--seconds 60] [--seed N] [--workers 6]

Normally started by scripts/hostile-requests.sh, which seeds a server and writes seeds.json
(the org, the apps and their secrets, the user). Python 3 standard library only.

Every endpoint is sent requests built from a valid-looking one and then damaged at random:
wrong methods, missing, wrong or duplicated Content-Type, malformed percent-encoding, invalid
UTF-8, huge, repeated and thousands of parameters, huge and many headers, bad Authorization
headers, bodies shorter or longer than their Content-Length (and a few sent slowly), JSON to
form endpoints and forms to JSON ones, deep and huge JSON to /api/v1, odd paths, and the
seeded credentials mutated. Raw sockets, so nothing is cleaned up on the way.

The run fails (exit 1, printing the request) on:
  - any 5xx answer, except a 503 with Retry-After from the deliberately bounded password
    checker (POST /login "Many people are signing in", or temporarily_unavailable at the
    token endpoint, README "Failed sign-ins"); those are counted and reported;
  - no answer (reset, close or timeout) to a request that is well-formed HTTP within the
    documented limits: request head under 60 KiB and 90 headers, body up to 1 MiB (the
    server drains that much so an honest client sees the 413). Malformed HTTP and larger
    input may be dropped without an answer, which is counted, not failed;
  - the server process dying, or /healthz not answering 200 within the timeout.

429 answers (throttled sign-ins) are expected and counted. A run is reproducible per worker
from the printed seed (HOSTILE_SEED / --seed): worker i draws from Random(f"{seed}/{i}"); the
interleaving of workers, and so the server's state, is not.
"""

import argparse
import base64
import json
import os
import random
import re
import socket
import sys
import threading
import time
import traceback
import urllib.parse
from collections import Counter, defaultdict

MAX_STRICT_HEAD = 60 * 1024  # request line + headers that must still be answered
MAX_STRICT_HEADERS = 90  # hyper refuses past 100
MAX_STRICT_BODY = 1024 * 1024  # the server drains this much before refusing (input.rs)
MAX_BUILT = 3 * 1024 * 1024  # no request larger than this is built
MAX_TRICKLES = 8  # slow bodies per run
MAX_RESPONSE = 8 * 1024 * 1024

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"]
ODD_METHODS = ["get", "FOO", "CONNECT", "PROPFIND", "M" * 300, "GET\x00", "P@ST", ""]

PARAM_NAMES = [
    "grant_type", "client_id", "client_secret", "scope", "code", "redirect_uri", "state",
    "nonce", "response_type", "code_verifier", "code_challenge", "code_challenge_method",
    "refresh_token", "username", "password", "token", "token_type_hint", "resource",
    "organization", "prompt", "max_age", "subject_token", "subject_token_type", "audience",
    "id_token_hint", "post_logout_redirect_uri", "csrf", "request", "decision", "org",
    "return_to", "email", "org_id", "limit", "cursor", "actor", "action", "since", "until",
    "response_mode", "login_hint", "ui_locales", "claims", "request_uri", "",
]
GRANT_TYPES = [
    "client_credentials", "authorization_code", "refresh_token", "password", "implicit",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:device_code", "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "CLIENT_CREDENTIALS", "", "client_credentials\x00",
]
BAD_PERCENT = [b"%", b"%%", b"%G1", b"%1", b"%zz", b"%c3%28", b"%ff%fe", b"%00", b"%0d%0a",
               b"%ed%a0%80", b"%f4%90%80%80", b"%c0%af", b"%e2%82", b"+%2B+", b"%u0041"]
CONTENT_TYPES = [
    None, "application/x-www-form-urlencoded", "application/json", "text/plain",
    "multipart/form-data", "multipart/form-data; boundary=", "application/x-www-form-urlencoded; charset=latin1",
    "APPLICATION/X-WWW-FORM-URLENCODED", "application/x-www-form-urlencoded;;;;", "*/*", "",
    "application/json; charset=utf-16", "application/problem+json", "application/xml",
    "application/x-www-form-urlencoded" + "; a=b" * 500, "\u00e9/\u00e9",
]
ODD_PATHS = [
    "/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/oauth2/../oauth2/token",
    "//oauth2//token", "/oauth2/token/", "/oauth2/token/..", "/oauth2/%74oken", "/OAUTH2/TOKEN",
    "/api/v1/orgs/..%2f..%2f", "/api/v1/orgs/%00", "/api/v1/orgs/%ff%fe", "/api/v1/",
    "/api/v1/orgs/x/apps/y/secret/z", "/api/v1/orgs/" + "a" * 5000, "/.well-known/",
    "/.well-known/../.git/config", "/assets/../../Cargo.toml", "/assets/grantor.css/..",
    "/account/approvals/revoke/x", "/login;jsessionid=1", "/login%3Fa=b", "/logout#frag",
    "*", "/\\..\\..\\windows", "/%", "/%%32%65", "/" + "%2e" * 2000, "/metrics/../healthz",
    "/readyz?" + "a" * 100, "/api/v1/openapi.json/..", "/api/v1/me/api-tokens/%2e%2e",
]


class Failure(Exception):
    pass


class ServerFault(Exception):
    """A 5xx while getting tokens and forms."""


class Req:
    """One raw HTTP/1.1 request and what it may expect."""

    def __init__(self, label, method, target, headers, body):
        self.label = label
        self.method = method
        self.target = target  # bytes
        self.headers = headers  # list of (bytes, bytes)
        self.body = body  # bytes
        self.version = b"HTTP/1.1"
        self.mode = "normal"  # normal, short, long, trickle, chunked, bad-chunked
        self.malformed = []  # why this is not well-formed HTTP (may go unanswered)
        self.notes = []  # the mutations applied
        self.keep_alive = False

    def head(self):
        line = self.method.encode("latin-1", "replace") + b" " + self.target + b" " + self.version
        lines = [line] + [k + b": " + v for k, v in self.headers]
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def strict(self):
        head = self.head()
        return (not self.malformed and len(head) <= MAX_STRICT_HEAD
                and len(self.headers) <= MAX_STRICT_HEADERS and len(self.body) <= MAX_STRICT_BODY)

    def describe(self, limit=1500):
        raw = self.head() + self.body
        shown = raw[:limit]
        more = f" ... ({len(raw)} bytes in all)" if len(raw) > limit else ""
        return (f"{self.label} mode={self.mode} strict={self.strict()} "
                f"malformed={self.malformed} mutations={self.notes}\n"
                f"{shown!r}{more}")


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names, last value wins
        self.body = body


def recv_until(sock, buf, needle, deadline):
    while needle not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed before the end of the answer's head")
        buf += chunk
        if len(buf) > MAX_RESPONSE:
            raise Failure("answer head too large")
    return buf


def recv_exact(sock, buf, n, deadline):
    while len(buf) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed in the middle of the answer's body")
        buf += chunk
    return buf


def read_response(sock, buf, deadline, head_request):
    """Reads one response; returns (Resp, leftover bytes)."""
    while True:
        buf = recv_until(sock, buf, b"\r\n\r\n", deadline)
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise Failure(f"not an HTTP answer: {lines[0][:200]!r}")
        status = int(parts[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        if 100 <= status < 200 and status != 101:
            continue
        break
    if head_request or status in (204, 304):
        return Resp(status, headers, b""), buf
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            buf = recv_until(sock, buf, b"\r\n", deadline)
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                buf = recv_until(sock, buf, b"\r\n", deadline)
                buf = buf.split(b"\r\n", 1)[1] if not buf.startswith(b"\r\n") else buf[2:]
                return Resp(status, headers, body), buf
            buf = recv_exact(sock, buf, size + 2, deadline)
            body += buf[:size]
            buf = buf[size + 2:]
            if len(body) > MAX_RESPONSE:
                raise Failure("answer body too large")
    if "content-length" in headers:
        n = int(headers["content-length"])
        buf = recv_exact(sock, buf, n, deadline)
        return Resp(status, headers, buf[:n]), buf[n:]
    while True:  # until the server closes
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            return Resp(status, headers, buf), b""
        buf += chunk
        if len(buf) > MAX_RESPONSE:
            raise Failure("answer body too large")


def send_request(sock, req, deadline):
    head = req.head()
    if req.mode == "trickle":
        sock.sendall(head)
        pieces = [req.body[i:i + max(1, len(req.body) // 6)]
                  for i in range(0, len(req.body), max(1, len(req.body) // 6))]
        for piece in pieces:
            time.sleep(0.4)
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            sock.sendall(piece)
        return
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    sock.sendall(head + req.body)
    if req.mode == "short":
        sock.shutdown(socket.SHUT_WR)


class Client:
    def __init__(self, host, port, timeout):
        self.host = host
        self.port = port
        self.timeout = timeout

    def exchange(self, reqs):
        """Sends the requests one after another on one connection; returns a list of Resp
        or exceptions, one per request sent (the first error ends the connection)."""
        results = []
        deadline = time.monotonic() + self.timeout * len(reqs)
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as e:
            return [e]
        try:
            buf = b""
            for req in reqs:
                try:
                    send_request(sock, req, deadline)
                except OSError as e:
                    # The server may answer before it has read everything (a 413, a 431):
                    # the answer can still be waiting in the socket.
                    req.notes.append(f"send failed: {e.__class__.__name__}")
                try:
                    resp, buf = read_response(sock, buf, deadline, req.method == "HEAD")
                except (OSError, EOFError, Failure, ValueError) as e:
                    results.append(e)
                    return results
                results.append(resp)
                if resp.headers.get("connection", "").lower() == "close":
                    return results
        finally:
            sock.close()
        return results


def form_encode(pairs):
    out = []
    for k, v in pairs:
        kb = k if isinstance(k, bytes) else k.encode("utf-8", "surrogatepass")
        vb = v if isinstance(v, bytes) else v.encode("utf-8", "surrogatepass")
        out.append(urllib.parse.quote_from_bytes(kb, safe="") + "=" +
                   urllib.parse.quote_from_bytes(vb, safe=""))
    return "&".join(out).encode("ascii")


def basic(user, password):
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


class Seeds:
    """What the server was seeded with, and tokens and pages fetched at the start."""

    def __init__(self, data):
        self.__dict__.update(data)
        self.tokens = {}  # name -> token
        self.cookies = {}  # name -> value, of a signed-in browser
        self.csrf = {}  # page -> csrf value
        self.consent_request = ""
        self.disposable = []  # tokens that may be revoked


def setup(client, seeds, host):
    """Gets real tokens, codes and a signed-in browser's forms, for valid-looking requests."""

    def call(method, target, headers=(), body=b""):
        hdrs = [(b"Host", host.encode()), (b"Connection", b"close")] + list(headers)
        if body:
            hdrs.append((b"Content-Length", str(len(body)).encode()))
        [resp] = client.exchange([Req("setup", method, target.encode(), hdrs, body)])
        if not isinstance(resp, Resp):
            raise Failure(f"setup: {method} {target}: {resp!r}")
        return resp

    form = (b"Content-Type", b"application/x-www-form-urlencoded")

    def token(auth, pairs):
        resp = call("POST", "/oauth2/token", [form, (b"Authorization", auth)], form_encode(pairs))
        if resp.status >= 500 and not (resp.status == 503 and b"too many sign-ins" in resp.body):
            raise ServerFault(f"setup: token {pairs[0]}: {resp.status} {resp.body[:300]!r}")
        if resp.status != 200:
            raise Failure(f"setup: token {pairs[0]}: {resp.status} {resp.body[:300]!r}")
        return json.loads(resp.body)

    srv = basic(seeds.server_id, seeds.server_secret)
    web = basic(seeds.web_id, seeds.web_secret)
    seeds.tokens["resource"] = token(srv, [("grant_type", "client_credentials"), ("scope", "read")])["access_token"]
    seeds.tokens["admin"] = token(srv, [("grant_type", "client_credentials"),
                                        ("scope", " ".join(seeds.admin_scopes))])["access_token"]
    seeds.disposable = [token(srv, [("grant_type", "client_credentials"), ("scope", "read")])["access_token"]
                        for _ in range(5)]
    # Signing in again during the run may be throttled (the run sends wrong passwords for this
    # user) or find the password checker full: then the old user token and session stay.
    user = token(web, [("grant_type", "password"), ("username", seeds.email),
                       ("password", seeds.password), ("scope", "openid profile email read")])
    seeds.tokens["user"] = user["access_token"]
    seeds.tokens["id"] = user.get("id_token", "")
    # The refresh token the run sends is another sign-in's: a replayed refresh token revokes
    # its whole family, which should not take the user token above with it.
    other = token(web, [("grant_type", "password"), ("username", seeds.email),
                        ("password", seeds.password), ("scope", "openid read")])
    seeds.tokens["refresh"] = other.get("refresh_token", "")

    # A browser: the sign-in page's cookie and CSRF token, a session, the approval page.
    # (Resp keeps one value per header name, so Set-Cookie lines are read raw here.)
    cookies = {}

    def call_cookies(method, target, body=b"", ctype=True):
        hdrs = [(b"Host", host.encode()), (b"Connection", b"close")]
        if cookies:
            hdrs.append((b"Cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
        if body or ctype:
            hdrs += [form, (b"Content-Length", str(len(body)).encode())]
        sock = socket.create_connection((client.host, client.port), timeout=client.timeout)
        try:
            sock.sendall(Req("setup", method, target.encode(), hdrs, body).head() + body)
            raw = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                raw += chunk
        finally:
            sock.close()
        head, _, body_out = raw.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "set-cookie":
                k, _, v = value.strip().split(";")[0].partition("=")
                cookies[k.strip()] = v.strip()
        status = int(head.split(b" ")[1])
        if status >= 500 and not (status == 503 and b"Many people are signing in" in body_out):
            raise ServerFault(f"setup: {method} {target}: {status} {body_out[:300]!r}")
        return status, body_out.decode("utf-8", "replace"), head.decode("latin-1")

    def csrf_of(html):
        m = re.search(r'name="csrf" value="([^"]*)"', html)
        return m.group(1) if m else ""

    status, html, _ = call_cookies("GET", "/login", ctype=False)
    seeds.csrf["login"] = csrf_of(html)
    status, html, head = call_cookies("POST", "/login", form_encode(
        [("csrf", seeds.csrf["login"]), ("return_to", "/account"), ("email", seeds.email),
         ("password", seeds.password)]))
    if status not in (302, 303):
        raise Failure(f"setup: sign-in answered {status}: {html[:300]}")
    auth_query = form_encode([("response_type", "code"), ("client_id", seeds.web_id),
                              ("redirect_uri", seeds.web_redirect), ("scope", "openid read"),
                              ("state", "s1"), ("nonce", "n1")]).decode()
    status, html, _ = call_cookies("GET", "/oauth2/authorize?" + auth_query, ctype=False)
    seeds.csrf["consent"] = csrf_of(html)
    m = re.search(r'name="request" value="([^"]*)"', html)
    seeds.consent_request = m.group(1).replace("&amp;", "&") if m else auth_query
    status, html, _ = call_cookies("GET", "/account", ctype=False)
    seeds.csrf["account"] = csrf_of(html)
    status, html, _ = call_cookies("GET", "/logout", ctype=False)
    seeds.csrf["logout"] = csrf_of(html) or seeds.csrf["account"]
    seeds.cookies = dict(cookies)
    missing = [k for k, v in seeds.csrf.items() if not v]
    if missing:
        print(f"note: no CSRF token found on {missing}", file=sys.stderr)


class Gen:
    """Builds one random hostile request from a valid-looking one."""

    def __init__(self, rng, seeds, host, trickles):
        self.r = rng
        self.s = seeds
        self.host = host
        self.trickles = trickles  # shared counter (list of one int) and lock
        self.clean = False

    # ---------------------------------------------------------------- values

    def junk_bytes(self, n):
        r = self.r
        kind = r.randrange(5)
        if kind == 0:
            return bytes(r.randrange(256) for _ in range(n))
        if kind == 1:
            return b"\xff\xfe\xc3\x28\xed\xa0\x80\xf8\x88\x80\x80\x80"[: max(1, n)] * max(1, n // 12)
        if kind == 2:
            return "\u00e9\u4e2d\U0001f600\u202e\ufeff".encode() * max(1, n // 16)
        if kind == 3:
            return b"\x00\r\n\t\x7f" * max(1, n // 5)
        return r.choice([b"' OR 1=1 --", b"<script>alert(1)</script>", b"${jndi:ldap://x}",
                         b"../../etc/passwd", b"%s%n%x", b"null", b"[]", b"{}", b"-1", b"1e999"])

    def mutate_secret(self, value):
        r = self.r
        if not value:
            return "x"
        k = r.randrange(9)
        if k == 0:
            i = r.randrange(len(value))
            return value[:i] + chr((ord(value[i]) + 1) % 128 or 65) + value[i + 1:]
        if k == 1:
            return value[: r.randrange(len(value))]
        if k == 2:
            return value + r.choice(["x", "=", " ", "\x00", "%", "é"])
        if k == 3:
            return value.swapcase()
        if k == 4:
            return value * r.randrange(2, max(3, 20000 // len(value)))
        if k == 5:
            return value[::-1]
        if k == 6:
            return " " + value + " "
        if k == 7:
            return value.replace("_", "-")
        return value  # sometimes the real one

    def value(self, real):
        """The real value, a mutated one, or junk."""
        r = self.r
        p = r.random()
        if p < 0.5 or self.clean:
            return real
        if p < 0.8:
            return self.mutate_secret(real)
        if p < 0.9:
            return self.junk_bytes(r.randrange(1, 64))
        return "A" * r.choice([300, 5000, 70000])

    def token(self):
        r = self.r
        s = self.s
        real = r.choice([s.tokens.get("resource", ""), s.tokens.get("admin", ""),
                         s.tokens.get("user", ""), s.tokens.get("refresh", ""),
                         s.tokens.get("id", "")])
        k = r.randrange(6)
        if k == 0 and real.count(".") == 2:
            # A JWT with a damaged part: header, payload or signature.
            parts = real.split(".")
            i = r.randrange(3)
            choice = r.randrange(4)
            if choice == 0:
                parts[i] = base64.urlsafe_b64encode(
                    json.dumps({"alg": r.choice(["none", "HS256", "ES256", "RS256", "", None]),
                                "kid": r.choice(["x", "", "../../x", 1, None]),
                                "typ": r.choice(["at+jwt", "JWT", None])}).encode()).rstrip(b"=").decode()
            elif choice == 1:
                parts[i] = ""
            elif choice == 2:
                parts[i] = "!!!" + parts[i]
            else:
                parts[i] = parts[i] * 50
            return ".".join(parts)
        return self.value(real)

    # ---------------------------------------------------------------- bases

    def base(self):
        """(label, method, path, params, placement, json body, headers)."""
        r = self.r
        s = self.s
        web_redirect = s.web_redirect
        choice = r.randrange(100)
        auth = []
        if choice < 6:
            path = r.choice(["/.well-known/openid-configuration",
                             "/.well-known/oauth-authorization-server", "/oauth2/jwks",
                             "/healthz", "/readyz", "/metrics", "/assets/grantor.css",
                             "/api/v1/openapi.json"])
            return path, "GET", path, [], "query", None, auth
        if choice < 18:
            method = r.choice(["GET", "POST"])
            params = [("response_type", r.choice(["code", "token", "id_token", "code token", "none", ""])),
                      ("client_id", self.value(r.choice([s.web_id, s.server_id, s.native_id]))),
                      ("redirect_uri", self.value(r.choice([web_redirect, s.native_redirect,
                                                            "http://127.0.0.1:1/cb", "javascript:alert(1)",
                                                            web_redirect + "/../x", web_redirect + "#f"]))),
                      ("scope", self.value(r.choice(["openid", "openid read", "read", "grantor:apps", "x y z"]))),
                      ("state", self.value("s")), ("nonce", self.value("n")),
                      ("code_challenge", self.value("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")),
                      ("code_challenge_method", r.choice(["S256", "plain", "s256", ""])),
                      ("prompt", r.choice(["none", "login", "consent", "select_account", ""])),
                      ("max_age", r.choice(["0", "-1", "99999999999999999999", "x", "60"])),
                      ("resource", self.value("https://api.hostile.example"))]
            params = r.sample(params, r.randrange(1, len(params) + 1))
            placement = "query" if method == "GET" else r.choice(["form", "form", "query"])
            if r.random() < 0.5:
                auth = [(b"Cookie", self.cookie_header())]
            return "/oauth2/authorize", method, "/oauth2/authorize", params, placement, None, auth
        if choice < 40:
            return self.token_base()
        if choice < 50:
            path = r.choice(["/oauth2/introspect", "/oauth2/revoke"])
            tok = self.token()
            if path == "/oauth2/revoke" and tok in s.tokens.values():
                # Revoking the run's own tokens would end the valid paths: a token of its
                # own for that, while they last (refreshed every few seconds).
                tok = s.disposable.pop() if s.disposable else self.mutate_secret(tok) + "x"
            params = [("token", tok),
                      ("token_type_hint", r.choice(["access_token", "refresh_token", "x", ""]))]
            if r.random() < 0.3:
                params += [("client_id", self.value(s.server_id)),
                           ("client_secret", self.value(s.server_secret))]
            else:
                auth = [(b"Authorization", self.authorization())]
            return path, "POST", path, params, "form", None, auth
        if choice < 56:
            method = r.choice(["GET", "POST"])
            auth = [(b"Authorization", self.authorization(bearer=True))]
            params = [] if r.random() < 0.7 else [("access_token", self.token())]
            return "/oauth2/userinfo", method, "/oauth2/userinfo", params, \
                "query" if method == "GET" else "form", None, auth
        if choice < 66:
            return self.page_base()
        if choice < 92:
            return self.api_base()
        # Odd paths with any method.
        path = r.choice(ODD_PATHS)
        return "odd path", r.choice(METHODS), path, [], "query", None, auth

    def token_base(self):
        r = self.r
        s = self.s
        if self.clean:
            k = r.randrange(3)
            if k == 0:
                params = [("grant_type", "client_credentials"),
                          ("scope", r.choice(["read", " ".join(s.admin_scopes)]))]
                auth = basic(s.server_id, s.server_secret)
            elif k == 1:
                params = [("grant_type", "password"), ("username", s.email),
                          ("password", s.password), ("scope", "openid read")]
                auth = basic(s.web_id, s.web_secret)
            else:
                params = [("grant_type", "refresh_token"), ("refresh_token", s.tokens.get("refresh", ""))]
                auth = basic(s.web_id, s.web_secret)
            return "/oauth2/token", "POST", "/oauth2/token", params, "form", None, [(b"Authorization", auth)]
        grant = r.choice(GRANT_TYPES[:6] * 4 + GRANT_TYPES)
        params = [("grant_type", grant)]
        if grant == "client_credentials" or r.random() < 0.2:
            params += [("scope", self.value(r.choice(["read", " ".join(s.admin_scopes), "openid", "grantor:orgs", ""]))),
                       ("resource", self.value("https://api.hostile.example")),
                       ("organization", self.value(r.choice([s.org, s.org_id, "nope"])))]
        if grant == "authorization_code" or r.random() < 0.2:
            params += [("code", self.value("gr_code_" + "A" * 43)),
                       ("redirect_uri", self.value(s.web_redirect)),
                       ("code_verifier", self.value("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"))]
        if grant == "refresh_token" or r.random() < 0.2:
            params += [("refresh_token", self.token()), ("scope", self.value("openid"))]
        if grant == "password" or r.random() < 0.1:
            params += [("username", self.value(s.email)), ("password", self.value(s.password)),
                       ("scope", self.value("openid read"))]
        if grant.startswith("urn:ietf:params:oauth:grant-type:token-exchange"):
            params += [("subject_token", self.value("gr_api_" + "x" * 43)),
                       ("subject_token_type", self.value("urn:grantor:params:oauth:token-type:api-token"))]
        auth = []
        if r.random() < 0.15:
            # DPoP (RFC 9449): a junk, oversized or repeated proof header.
            token = self.token()
            if isinstance(token, str):
                token = token.encode("utf-8", "surrogatepass")
            proof = r.choice([b"x", b"e30.e30.", b"a" * 9000, token])
            auth += [(b"DPoP", proof)] * r.choice([1, 1, 2])
        how = r.randrange(5)
        if how == 4:
            # private_key_jwt (RFC 7523): a junk assertion.
            params += [("client_assertion_type", self.value("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")),
                       ("client_assertion", r.choice([self.value("e30.e30.e30"), "x", "a" * 9000, self.token()])),
                       ("client_id", self.value(s.server_id))]
        elif how == 0:
            params += [("client_id", self.value(r.choice([s.server_id, s.web_id, s.native_id]))),
                       ("client_secret", self.value(r.choice([s.server_secret, s.web_secret])))]
        elif how == 1:
            params += [("client_id", self.value(s.native_id))]
        else:
            auth += [(b"Authorization", self.authorization())]
        r.shuffle(params)
        return "/oauth2/token", "POST", "/oauth2/token", params, "form", None, auth

    def cookie_header(self):
        r = self.r
        cookies = dict(self.s.cookies)
        if cookies and r.random() < 0.5:
            k = r.choice(list(cookies))
            cookies[k] = self.mutate_secret(cookies[k])
        out = "; ".join(f"{k}={v}" for k, v in cookies.items()).encode("utf-8", "surrogatepass")
        k = r.randrange(8)
        if k == 0:
            out += b"; " + b"; ".join(b"c%d=%d" % (i, i) for i in range(r.randrange(10, 2000)))
        elif k == 1:
            out = out + b"; " + out  # every cookie twice
        elif k == 2:
            out += b"; x=" + b"v" * r.choice([1000, 9000, 70000])
        elif k == 3:
            out = b";;; =; ==; \"; " + out + b"; \xff\xfe=\xc3\x28"
        return out

    def page_base(self):
        r = self.r
        s = self.s
        auth = [(b"Cookie", self.cookie_header())] if r.random() < 0.7 else []
        k = r.randrange(16)
        if k == 0:
            params = [("return_to", self.value(r.choice(["/account", "https://evil.example/",
                                                           "//evil.example", "/oauth2/authorize?" + s.consent_request])))]
            return "/login", "GET", "/login", params, "query", None, auth
        if k == 1:
            params = [("csrf", self.value(s.csrf.get("login", ""))),
                      ("return_to", self.value("/account")),
                      ("email", self.value(r.choice([s.email, "nobody@hostile.example", "a" * 300]))),
                      ("password", self.value(r.choice(["wrong-password", s.password, "p" * 2000])))]
            return "/login", "POST", "/login", params, "form", None, auth
        if k == 2:
            params = [("csrf", self.value(s.csrf.get("consent", ""))),
                      ("request", self.value(s.consent_request)),
                      ("decision", r.choice(["allow", "deny", "", "maybe"])),
                      ("org", self.value(s.org_id)), ("scope", self.value("read")),
                      ("scope", self.value("openid"))]
            return "/consent", "POST", "/consent", params, "form", None, auth
        if k == 3:
            params = [("id_token_hint", self.token()), ("client_id", self.value(s.web_id)),
                      ("post_logout_redirect_uri", self.value(s.web_logout)), ("state", self.value("st"))]
            params = r.sample(params, r.randrange(0, len(params) + 1))
            method = r.choice(["GET", "GET", "POST"])
            if method == "POST":
                params.append(("csrf", self.value(s.csrf.get("logout", ""))))
            return "/logout", method, "/logout", params, "query" if method == "GET" else "form", None, auth
        if k == 4:
            return "/account", "GET", "/account", [], "query", None, auth
        if k == 5:
            params = [("csrf", self.value(s.csrf.get("account", ""))),
                      ("client_id", self.value(r.choice([s.native_id] * 9 + [s.web_id]))),
                      ("org_id", self.value(s.org_id))]
            return "/account/approvals/revoke", "POST", "/account/approvals/revoke", params, "form", None, auth
        if k == 6:
            # The device grant's two sides: a device asking for codes, a person typing one.
            params = [("client_id", self.value(r.choice([s.native_id, s.web_id, s.server_id]))),
                      ("scope", self.value(r.choice(["openid read", "read", "grantor:apps", ""])))]
            return "/oauth2/device_authorization", "POST", "/oauth2/device_authorization", params, "form", None, auth
        if k == 7:
            method = r.choice(["GET", "POST"])
            params = [("user_code", self.value(r.choice(["BCDF-GHJK", "bcdfghjk", "0O1I-0O1I", "x" * 300])))]
            if method == "POST":
                params.append(("csrf", self.value("")))
            return "/device", method, "/device", params, "query" if method == "GET" else "form", None, auth
        if k == 8:
            method = r.choice(["GET", "POST"])
            params = [("email", self.value(r.choice([s.email, "nobody@hostile.example", "a" * 300]))),
                      ("csrf", self.value(""))] if method == "POST" else []
            return "/password-reset", method, "/password-reset", params, "query" if method == "GET" else "form", None, auth
        if k == 9:
            token = r.choice(["gr_pwr_" + "a" * 43, "x", "%00" * 10, "%2e%2e", "a" * 3000])
            method = r.choice(["GET", "POST"])
            params = [("password", self.value("new-password-1")), ("confirm", self.value("new-password-1")),
                      ("csrf", self.value(""))] if method == "POST" else []
            return "/password-reset/{token}", method, "/password-reset/" + token, params, \
                "query" if method == "GET" else "form", None, auth
        if k == 10:
            params = [("code", self.value(r.choice(["123456", "abcd-efgh-ijkl-mnop", "1" * 100]))),
                      ("csrf", self.value("")), ("return_to", self.value("/account"))]
            return "/login/code", "POST", "/login/code", params, "form", None, auth
        if k == 11:
            return "/account/security", "GET", "/account/security", [], "query", None, auth
        if k == 12:
            # Dynamic registration (RFC 7591): anonymous or with a token, hostile metadata.
            if r.random() < 0.5:
                auth = auth + [(b"Authorization", self.authorization(bearer=True, admin=True))]
            metadata = {
                "redirect_uris": r.choice([[s.web_redirect], ["javascript:alert(1)"], ["x"] * 50, "x", [None]]),
                "token_endpoint_auth_method": r.choice(["none", "client_secret_basic", "private_key_jwt",
                                                        "client_secret_jwt", 7]),
                "grant_types": r.choice([["authorization_code"], ["client_credentials"], ["password"], "x"]),
                "client_name": r.choice(["robot", "", "n" * 5000, "\u0000"]),
                "scope": r.choice(["read", "grantor:orgs", "x " * 3000]),
                "jwks": r.choice([{"keys": [{"kty": "EC"}]}, {"keys": [{}] * 500}, "x", None]),
                "jwks_uri": r.choice(["https://127.0.0.1/jwks", "http://169.254.169.254/", "x", None]),
            }
            body = r.choice([json.dumps({k: v for k, v in metadata.items() if r.random() < 0.6}).encode(),
                             self.json_body()])
            return "/oauth2/register", "POST", "/oauth2/register", [], "json", body, auth
        if k == 13:
            client_id = r.choice([s.native_id, "app_" + "0" * 32, "x" * 300, "%00", "%2e%2e%2f"])
            method = r.choice(["GET", "PUT", "DELETE"])
            auth = auth + [(b"Authorization", b"Bearer gr_reg_" + b"a" * 43)]
            return "/oauth2/register/{client_id}", method, "/oauth2/register/" + client_id, [], \
                "json", self.json_body() if method == "PUT" else None, auth
        if k == 14:
            # Passkey sign-in: forged WebAuthn answers.
            params = [("csrf", self.value("")),
                      ("challenge", self.value(r.choice(["", "x" * 5000, "gr_" + "a" * 80]))),
                      ("credential", self.value(r.choice(["{}", '{"id":"AA","response":{}}', "[" * 5000])))]
            return "/login/passkey", "POST", "/login/passkey", params, "form", None, auth
        if k == 15:
            token = r.choice(["gr_vem_" + "a" * 43, "x", "%00" * 10, "a" * 3000])
            method = r.choice(["GET", "POST"])
            params = [("csrf", self.value(""))] if method == "POST" else []
            return "/verify-email/{token}", method, "/verify-email/" + token, params, \
                "query" if method == "GET" else "form", None, auth
        return "/login", "POST", "/login", [("email", self.value(s.email)), ("password", self.value("x"))], "form", None, auth

    def api_base(self):
        r = self.r
        s = self.s
        auth = [(b"Authorization", self.authorization(bearer=True, admin=True))]
        org = r.choice([s.org, s.org_id, "nope", "org_" + "0" * 32, "%2e%2e", "a" * 300, "%ff"])
        app = r.choice([s.web_id, s.server_id, s.native_id, "app_" + "f" * 32, "x", "%00"])
        user = r.choice([s.email, "nobody@hostile.example", "usr_" + "0" * 32, "%40"])
        paths = [
            ("/api/v1/orgs", ["GET", "POST"]),
            ("/api/v1/orgs/{org}", ["GET"]),
            ("/api/v1/orgs/{org}/members", ["GET", "POST"]),
            ("/api/v1/orgs/{org}/members/{user}", ["PATCH", "DELETE"]),
            ("/api/v1/orgs/{org}/resource-servers", ["GET", "POST"]),
            ("/api/v1/orgs/{org}/resource-servers/{rs}", ["GET", "PATCH", "DELETE"]),
            ("/api/v1/orgs/{org}/apps", ["GET", "POST"]),
            ("/api/v1/orgs/{org}/apps/{app}", ["GET", "PATCH", "DELETE"]),
            ("/api/v1/orgs/{org}/apps/{app}/secret", ["POST"]),
            ("/api/v1/orgs/{org}/added-apps", ["GET", "POST"]),
            ("/api/v1/orgs/{org}/added-apps/{app}", ["PATCH", "DELETE"]),
            ("/api/v1/orgs/{org}/audit-events", ["GET"]),
            ("/api/v1/me/api-tokens", ["GET", "POST"]),
            ("/api/v1/me/api-tokens/{id}", ["DELETE"]),
        ]
        label, methods = r.choice(paths)
        path = label.format(org=org, user=user, app=app, rs="rs_" + "0" * 32, id="tok_" + "0" * 32)
        method = r.choice(methods)
        # The run keeps its own access: no changes to the seeded apps, members or org.
        if method in ("PATCH", "DELETE", "POST") and (
                s.email in path or s.server_id in path or s.web_id in path or s.native_id in path):
            path = path.replace(s.email, "nobody@hostile.example")
            for real in (s.server_id, s.web_id, s.native_id):
                path = path.replace(real, "app_" + "e" * 32)
        params = []
        if method == "GET":
            params = [(n, self.value(v)) for n, v in r.sample(
                [("limit", "50"), ("cursor", "abc"), ("actor", s.email), ("action", "app.create"),
                 ("since", "0"), ("until", "99999999999")], r.randrange(0, 4))]
            return label, method, path, params, "query", None, auth
        if method == "DELETE":
            return label, method, path, [], "query", None, auth
        if r.random() < 0.05:
            auth.append((b"Idempotency-Key", self.as_bytes(self.value("key-1"))))
        return label, method, path, [], "json", self.json_body(), auth

    def json_body(self):
        r = self.r
        s = self.s
        k = r.randrange(12)
        if k == 0:
            depth = r.choice([100, 129, 1000, 100000])
            return ("[" * depth + "]" * depth).encode()
        if k == 1:
            depth = r.choice([100, 1000, 50000])
            return ('{"a":' * depth + "1" + "}" * depth).encode()
        if k == 2:
            return json.dumps({"name": "x", "scopes": ["read"] * r.choice([1000, 100000])}).encode()
        if k == 3:
            return json.dumps({"name": "n" * r.choice([300, 70000, 900000])}).encode()
        if k == 4:
            return b'{"name": "a", "name": "b", "type": "web", "type": 7}'
        if k == 5:
            return r.choice([b"", b"null", b"[]", b"1e99999", b"-0", b"18446744073709551616",
                             b'"\xff\xfe"', b"\xef\xbb\xbf{}", b"{} trailing", b"{", b"NaN",
                             b'{"a":"\\ud800"}', b'{"a":"\\u0000"}'])
        fields = {
            "type": r.choice(["web", "server", "native", "spa", "", None, 1, ["web"]]),
            "name": r.choice(["portal", "", None, "é" * 10, 0, {"a": 1}]),
            "redirect_uris": r.choice([[s.web_redirect], ["javascript:alert(1)"], [], "x", [None], ["http://[::1"]]),
            "post_logout_redirect_uris": r.choice([[], [s.web_logout], [1]]),
            "scopes": r.choice([["openid"], ["grantor:orgs"], [{"name": "x", "description": "y"}], "read", [""], None]),
            "legacy_grants": r.choice([["password"], ["implicit"], ["bogus"], []]),
            "access_token_ttl": r.choice([0, -1, 60, 2 ** 63, 1.5, "60", None]),
            "identifier": r.choice(["https://new.example", "", "not a uri", None]),
            "user": r.choice([s.email, "nobody@hostile.example", "", None]),
            "role": r.choice(["owner", "member", "developer", "god", None]),
            "client_id": r.choice([s.server_id, s.web_id, "app_" + "0" * 32, ""]),
            "grace_seconds": r.choice([0, -5, 10 ** 20, "x"]),
            "expires_in": r.choice([0, 60, -1, 10 ** 12]),
            "org": r.choice([s.org, "nope", None]),
        }
        body = {k: v for k, v in fields.items() if r.random() < 0.4}
        return json.dumps(body).encode()

    def authorization(self, bearer=False, admin=False):
        r = self.r
        s = self.s
        if self.clean and bearer:
            return b"Bearer " + s.tokens.get("admin" if admin else "user", "").encode()
        if self.clean:
            app, secret = r.choice([(s.server_id, s.server_secret), (s.web_id, s.web_secret)])
            return basic(app, secret)
        k = r.randrange(14)
        if bearer and k < 7:
            tok = s.tokens.get("admin" if admin and r.random() < 0.7 else "user", "")
            return b"Bearer " + self.as_bytes(self.value(tok) if r.random() < 0.5 else tok)
        if k in (0, 1, 2):
            app, secret = r.choice([(s.server_id, s.server_secret), (s.web_id, s.web_secret)])
            return b"Basic " + base64.b64encode(
                (urllib.parse.quote(self.as_str(self.value(app)), safe="") + ":" +
                 urllib.parse.quote(self.as_str(self.value(secret)), safe="")).encode())
        return r.choice([
            b"Basic !!!not base64!!!",
            b"Basic " + base64.b64encode(b"no-colon-here"),
            b"Basic " + base64.b64encode(b":"),
            b"Basic " + base64.b64encode(b"\xff\xfe:\xc3\x28"),
            b"Basic " + base64.b64encode(b"a" * 50000 + b":" + b"b" * 50000),
            b"Basic " + base64.b64encode((s.server_id + ":" + s.server_secret).encode())[:-3],
            b"Basic",
            b"Basic    ",
            b"basic " + base64.b64encode((s.server_id + ":" + s.server_secret).encode()),
            b"Bearer " + b"A" * r.choice([10, 5000, 60000]),
            b"Bearer",
            b"Bearer a.b.c",
            b"Bearer ....",
            b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
            b"Negotiate abc",
            b"Digest username=\"x\"",
            b"Bearer \xff\xfe",
            b"Basic " + base64.b64encode(b"%zz:%%") + b" Bearer x",
        ])

    @staticmethod
    def as_bytes(v):
        return v if isinstance(v, bytes) else v.encode("utf-8", "surrogatepass")

    @staticmethod
    def as_str(v):
        return v.decode("latin-1") if isinstance(v, bytes) else v

    # ---------------------------------------------------------------- damage

    def build(self):
        r = self.r
        # Some requests are left as they are, so that the paths behind a success are
        # reached too; the rest are damaged below.
        self.clean = r.random() < 0.25
        label, method, path, params, placement, json_body, extra = self.base()
        notes = []
        if self.clean:
            req = Req(label, method, b"", [(b"Host", self.host.encode())] + extra, b"")
            encoded = form_encode(params)
            if placement == "json":
                req.body = json_body if json_body is not None else b"{}"
                req.headers.append((b"Content-Type", b"application/json"))
            elif placement == "form":
                req.body = encoded
                req.headers.append((b"Content-Type", b"application/x-www-form-urlencoded"))
            req.target = path.encode() + (b"?" + encoded if placement == "query" and encoded else b"")
            if req.body or method in ("POST", "PUT", "PATCH"):
                req.headers.append((b"Content-Length", str(len(req.body)).encode()))
            req.headers.append((b"Connection", b"close"))
            req.notes = ["clean"]
            return req

        # Parameters: repeated, thousands, huge, dropped, junk names.
        params = list(params)
        for _ in range(r.choice([0, 0, 1, 1, 2, 3])):
            k = r.randrange(8)
            if k == 0 and params:
                params.append(r.choice(params))
                notes.append("repeated parameter")
            elif k == 1 and params:
                p = r.choice(params)
                params += [p] * (r.choice([3, 100, 5000]) if len(p[1]) < 1000 else 3)
                notes.append("parameter repeated many times")
            elif k == 2:
                n = r.choice([101, 1000, 5000, 20000])
                params += [(f"p{i}", "1") for i in range(n)]
                notes.append(f"{n} parameters")
            elif k == 3 and params:
                i = r.randrange(len(params))
                size = r.choice([1000, 17 * 1024, 65 * 1024, 300 * 1024, 2 * 1024 * 1024])
                params[i] = (params[i][0], "v" * size)
                notes.append(f"huge value ({size})")
            elif k == 4 and params:
                params.pop(r.randrange(len(params)))
                notes.append("dropped parameter")
            elif k == 5:
                params.append((r.choice(PARAM_NAMES), self.junk_bytes(r.randrange(1, 40))))
                notes.append("junk parameter")
            elif k == 6 and params:
                i = r.randrange(len(params))
                params[i] = (params[i][0], self.junk_bytes(r.randrange(1, 40)))
                notes.append("invalid UTF-8 / odd value")
            elif k == 7:
                params.append((self.junk_bytes(r.randrange(1, 20)), "x"))
                notes.append("odd parameter name")
        encoded = form_encode(params)
        if len(encoded) > MAX_BUILT:
            encoded = encoded[:MAX_BUILT]
            notes.append("cut")
        if r.random() < 0.15:
            # Malformed percent-encoding and raw separators, spliced in.
            pieces = [encoded] + [r.choice(BAD_PERCENT) + b"=" + r.choice(BAD_PERCENT) for _ in range(r.randrange(1, 4))]
            pieces += [r.choice([b"&&&", b"=", b"a", b"=x", b"&=&", b"%=%"])]
            r.shuffle(pieces)
            encoded = b"&".join(pieces)
            notes.append("malformed percent-encoding")

        # Where the parameters go, and the body's type.
        body = b""
        ctype = None
        query = b""
        if placement == "json":
            body = json_body if json_body is not None else b"{}"
            ctype = "application/json"
            if r.random() < 0.1:
                body = encoded
                ctype = "application/x-www-form-urlencoded"
                notes.append("form to a JSON endpoint")
        elif placement == "form":
            body = encoded
            ctype = "application/x-www-form-urlencoded"
            x = r.random()
            if x < 0.07:
                body = json.dumps({self.as_str(k): self.as_str(v) for k, v in params[:200]}).encode()
                ctype = r.choice(["application/json", "application/x-www-form-urlencoded"])
                notes.append("JSON to a form endpoint")
            elif x < 0.12:
                query = encoded
                body = b""
                notes.append("form parameters in the query")
            elif x < 0.15:
                query = encoded
                notes.append("parameters in both query and body")
        else:
            query = encoded
            if r.random() < 0.05:
                body = encoded
                ctype = "application/x-www-form-urlencoded"
                notes.append("query parameters in a body")
        if r.random() < 0.12:
            ctype = r.choice(CONTENT_TYPES)
            notes.append(f"content type {str(ctype)[:40]!r}")

        # Method and path.
        if r.random() < 0.12:
            method = r.choice(METHODS)
            notes.append("other method")
        malformed = []
        if r.random() < 0.02:
            method = r.choice(ODD_METHODS)
            notes.append("odd method")
            if not re.fullmatch(r"[A-Za-z!#$%&'*+.^_`|~0-9-]+", method):
                malformed.append("method")
        target = path.encode()
        if r.random() < 0.05:
            target += r.choice([b"/", b"//", b"/..", b"/%2e%2e", b";x=1", b"%00", b"%ff", b"/./"])
            notes.append("path suffix")
        if query or r.random() < 0.02:
            target += b"?" + query
        if r.random() < 0.02:
            target += r.choice([b"#frag", b" x", b"\xff\xfe", b"\x00", b"\"<>{}|\\^`"])
            notes.append("odd bytes in the target")
        if r.random() < 0.01:
            target = b"http://" + self.host.encode() + target
            notes.append("absolute-form target")
        if re.search(rb"[^\x21-\x7e]", target) or re.search(rb"[\"<>{}|\\^`]", target):
            malformed.append("target bytes")

        # Headers.
        headers = [(b"Host", self.host.encode())]
        if ctype is not None:
            headers.append((b"Content-Type", ctype.encode("utf-8")))
        headers += extra
        if r.random() < 0.05 and ctype is not None:
            headers.append((b"Content-Type", r.choice([b"application/json", b"text/plain",
                                                       b"application/x-www-form-urlencoded"])))
            notes.append("two Content-Types")
        if r.random() < 0.1 and not extra:
            headers.append((b"Authorization", self.authorization(bearer=r.random() < 0.5)))
            notes.append("authorization")
        if r.random() < 0.04:
            headers.append((b"Authorization", self.authorization()))
            notes.append("second authorization")
        if r.random() < 0.05:
            size = r.choice([4000, 16000, 50000, 200000])
            headers.append((r.choice([b"X-Big", b"Cookie", b"User-Agent", b"Accept", b"Authorization",
                                      b"X-Forwarded-For", b"Referer"]), b"x" * size))
            notes.append(f"huge header ({size})")
        if r.random() < 0.04:
            n = r.choice([50, 95, 200, 2000])
            headers += [(b"X-Many-%d" % i, b"v") for i in range(n)]
            notes.append(f"{n} headers")
        if r.random() < 0.08:
            name, value = r.choice([
                (b"X-Forwarded-For", b"1.2.3.4, ::1, garbage, " + b"9" * 50),
                (b"X-Forwarded-For", b"\xff\xfe"),
                (b"Accept", b"*/*;q=0.1, text/html;q=x"),
                (b"Accept-Encoding", b"gzip, br, zstd, identity;q=0"),
                (b"Origin", b"null"),
                (b"Expect", b"100-continue"),
                (b"Connection", b"keep-alive, Upgrade"),
                (b"Upgrade", b"h2c"),
                (b"Range", b"bytes=0-1,5-3"),
                (b"If-None-Match", b"*"),
                (b"Content-Encoding", b"gzip"),
                (b"X-Bad", b"a\x00b"),
                (b"X-Bad", b"a\x7fb"),
                (b"X-Obs", b"\xe9\xff"),
                (b"Bad Name", b"x"),
                (b"", b"empty name"),
                (b"X-Fold", b"a\r\n folded"),
            ])
            headers.append((name, value))
            notes.append(f"header {name[:20]!r}")
            if re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", value) or not re.fullmatch(rb"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
                malformed.append("header bytes")
        if r.random() < 0.02:
            headers = [h for h in headers if h[0] != b"Host"]
            notes.append("no Host")
            malformed.append("no Host")  # HTTP/1.1 requires one; a 400 is the answer
        elif r.random() < 0.02:
            headers.append((b"Host", b"evil.example"))
            notes.append("two Hosts")
            malformed.append("two Hosts")

        req = Req(label, method, target, headers, body)
        req.notes = notes
        req.malformed = malformed

        # Framing: Content-Length, chunked, short, long, slow.
        x = r.random()
        if x < 0.03:
            req.mode = "short"
            declared = len(body) + r.choice([1, 10, 1000])
            headers.append((b"Content-Length", str(declared).encode()))
            malformed.append("body shorter than Content-Length")
        elif x < 0.05:
            req.mode = "long"
            headers.append((b"Content-Length", str(max(0, len(body) - r.choice([1, 5, 100]))).encode()))
            malformed.append("body longer than Content-Length")
        elif x < 0.09 and body:
            req.mode = "chunked"
            headers.append((b"Transfer-Encoding", b"chunked"))
            req.body = chunk(body, r)
        elif x < 0.10:
            req.mode = "bad-chunked"
            headers.append((b"Transfer-Encoding", r.choice([b"chunked", b"chunked, gzip", b"identity"])))
            headers.append((b"Content-Length", str(len(body)).encode()))
            req.body = r.choice([b"zz\r\n" + body, body, b"ffffffffffffffffff\r\n"])
            malformed.append("bad chunked framing")
        elif x < 0.11:
            headers.append((b"Content-Length", r.choice([b"-1", b"abc", b"1, 2", b"99999999999999999999999", b" 5 "])))
            malformed.append("bad Content-Length")
        elif x < 0.12:
            headers.append((b"Content-Length", str(len(body)).encode()))
            headers.append((b"Content-Length", str(len(body) + 1).encode()))
            malformed.append("two Content-Lengths")
        else:
            if body or method in ("POST", "PUT", "PATCH") or r.random() < 0.1:
                headers.append((b"Content-Length", str(len(body)).encode()))
            if body and 0 < len(body) < 4096 and r.random() < 0.02:
                with self.trickles[1]:
                    if self.trickles[0] < MAX_TRICKLES:
                        self.trickles[0] += 1
                        req.mode = "trickle"
        if r.random() < 0.03:
            req.version = r.choice([b"HTTP/1.0", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9.9", b"HTTP/1.1x"])
            if req.version != b"HTTP/1.0":
                malformed.append("version")
        # Most connections close after one request; some carry another (keep-alive).
        if req.strict() and req.version == b"HTTP/1.1" and req.mode in ("normal", "chunked") and r.random() < 0.15:
            req.keep_alive = True
        else:
            headers.append((b"Connection", b"close"))
        return req


def chunk(body, r):
    out = b""
    i = 0
    while i < len(body):
        n = r.randrange(1, 4096)
        part = body[i:i + n]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
        i += n
    return out + b"0\r\n\r\n"


def allowed_5xx(req, resp):
    """A 503 the server means: the bounded password checker is full (README "Failed
    sign-ins")."""
    if resp.status != 503 or "retry-after" not in resp.headers:
        return False
    if req.label == "/login" and b"Many people are signing in" in resp.body:
        return True
    if req.label == "/oauth2/token" and b"temporarily_unavailable" in resp.body \
            and b"too many sign-ins" in resp.body:
        return True
    return False


def server_alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except OSError:
        return False
    return True


class Run:
    def __init__(self, args, seeds):
        self.args = args
        self.seeds = seeds
        u = urllib.parse.urlsplit(args.base)
        self.host_header = u.netloc
        self.client = Client(u.hostname, u.port, args.timeout)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = defaultdict(Counter)  # label -> outcome -> n
        self.failure = None
        self.sent = 0
        self.allowed = Counter()
        self.keepalive_closed = Counter()  # label of the first request -> n
        self.refreshes = Counter()
        self.keepalive_examples = []
        self.lenient_timeouts = []  # (label, mode, malformed, notes) of a few
        self.trickles = [0, threading.Lock()]

    def fail(self, message, req=None):
        with self.lock:
            if self.failure is None:
                self.failure = (message, req)
        self.stop.set()

    def record(self, label, outcome):
        with self.lock:
            self.counts[label][outcome] += 1
            self.sent += 1

    def check(self, worker, n, req, result):
        where = f"worker {worker}, request {n}"
        if isinstance(result, Resp):
            outcome = f"{result.status // 100}xx"
            self.record(req.label, outcome)
            if result.status >= 500:
                if allowed_5xx(req, result):
                    with self.lock:
                        self.allowed[f"{result.status} {req.label}"] += 1
                    return
                self.fail(f"{where}: answered {result.status}\n"
                          f"headers: {result.headers}\nbody: {result.body[:600]!r}", req)
            elif result.status == 429:
                with self.lock:
                    self.allowed[f"429 {req.label}"] += 1
            return
        kind = "timeout" if isinstance(result, (socket.timeout, TimeoutError)) else "no answer"
        self.record(req.label, kind)
        if kind == "timeout" and not req.strict():
            with self.lock:
                if len(self.lenient_timeouts) < 10:
                    self.lenient_timeouts.append((req.label, req.mode, req.malformed, req.notes))
        if req.strict():
            if not server_alive(self.args.server_pid):
                self.fail(f"{where}: the server process died", req)
            else:
                self.fail(f"{where}: {kind} to a well-formed request: {result!r}", req)

    def worker(self, i):
        rng = random.Random(f"{self.args.seed}/{i}")
        gen = Gen(rng, self.seeds, self.host_header, self.trickles)
        n = 0
        while not self.stop.is_set() and time.monotonic() < self.deadline:
            n += 1
            try:
                req = gen.build()
            except Exception as e:  # a bug in this script, not the server
                traceback.print_exc()
                self.fail(f"worker {i}: building request {n} failed: {e!r}")
                raise
            reqs = [req]
            if req.keep_alive:
                follow = Req("/healthz", "GET", b"/healthz", [(b"Host", self.host_header.encode()),
                                                              (b"Connection", b"close")], b"")
                reqs.append(follow)
            results = self.client.exchange(reqs)
            self.check(i, n, req, results[0])
            if len(results) == 2:
                if isinstance(results[1], Resp):
                    self.check(i, n, reqs[1], results[1])
                else:
                    # A server may close an idle keep-alive connection at any time (RFC 9112
                    # 9.3.1; hyper does after an answer that left the body unread): the
                    # client sends again on a new connection, as clients do.
                    with self.lock:
                        self.keepalive_closed[req.label] += 1
                        if len(self.keepalive_examples) < 5:
                            first = results[0]
                            self.keepalive_examples.append(
                                (first.status if isinstance(first, Resp) else repr(first),
                                 req.method, req.label, req.mode, req.notes))
                    self.check(i, n, reqs[1], self.client.exchange([reqs[1]])[0])

    def refresher(self):
        """Gets fresh tokens, a fresh session and fresh forms every few seconds: the run's
        own requests revoke, rotate and sign out what it holds."""
        while not self.stop.wait(self.args.refresh):
            try:
                setup(self.client, self.seeds, self.host_header)
                outcome = "ok"
            except ServerFault as e:
                self.fail(str(e))
                return
            except Exception as e:  # throttled, busy, refused: keep what we have
                outcome = re.sub(r"\s+", " ", str(e))[:70]
            with self.lock:
                self.refreshes[outcome] += 1

    def monitor(self):
        while not self.stop.wait(1.0):
            if not server_alive(self.args.server_pid):
                self.fail("the server process died")
                return
            req = Req("health probe", "GET", b"/healthz",
                      [(b"Host", self.host_header.encode()), (b"Connection", b"close")], b"")
            [res] = self.client.exchange([req])
            if not isinstance(res, Resp) or res.status != 200:
                detail = res.status if isinstance(res, Resp) else repr(res)
                self.fail(f"/healthz did not answer 200 during the run: {detail}", req)
                return

    def run(self):
        start = time.monotonic()
        self.deadline = start + self.args.seconds
        threads = [threading.Thread(target=self.worker, args=(i,), daemon=True)
                   for i in range(self.args.workers)]
        mon = threading.Thread(target=self.monitor, daemon=True)
        ref = threading.Thread(target=self.refresher, daemon=True)
        for t in threads:
            t.start()
        mon.start()
        ref.start()
        for t in threads:
            t.join(self.args.seconds + 4 * self.args.timeout + 10)
            if t.is_alive():
                self.fail("a worker did not finish in time (a request hung past its timeout)")
        self.stop.set()
        mon.join(self.args.timeout + 5)
        return time.monotonic() - start

    def summary(self, elapsed):
        outcomes = ["2xx", "3xx", "4xx", "5xx", "no answer", "timeout"]
        width = max(len(k) for k in self.counts) if self.counts else 10
        print(f"\n{'endpoint':<{width}}  " + "  ".join(f"{o:>9}" for o in outcomes) + f"  {'total':>7}")
        for label in sorted(self.counts):
            c = self.counts[label]
            print(f"{label:<{width}}  " + "  ".join(f"{c[o]:>9}" for o in outcomes)
                  + f"  {sum(c.values()):>7}")
        total = Counter()
        for c in self.counts.values():
            total.update(c)
        print(f"{'all':<{width}}  " + "  ".join(f"{total[o]:>9}" for o in outcomes)
              + f"  {sum(total.values()):>7}")
        print(f"\n{self.sent} requests in {elapsed:.1f} s ({self.sent / max(elapsed, 0.001):.0f}/s), "
              f"{self.args.workers} workers, seed {self.args.seed}, slow bodies {self.trickles[0]}")
        if self.keepalive_closed:
            print("keep-alive connections closed after the first answer: " + ", ".join(
                f"{k} x{v}" for k, v in sorted(self.keepalive_closed.items())))
        for e in self.keepalive_examples:
            print(f"  e.g. after {e}")
        if self.refreshes:
            print("token and session refreshes: " + ", ".join(
                f"{k} x{v}" for k, v in sorted(self.refreshes.items())))
        for t in self.lenient_timeouts:
            print(f"timed out (malformed, allowed): {t}")
        if self.allowed:
            print("expected refusals: " + ", ".join(f"{k} x{v}" for k, v in sorted(self.allowed.items())))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT")
    ap.add_argument("--seeds", required=True, help="JSON file describing the seeded objects")
    ap.add_argument("--server-pid", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=6)
    ap.add_argument("--timeout", type=float, default=20, help="seconds per request")
    ap.add_argument("--refresh", type=float, default=10, help="seconds between token refreshes")
    ap.add_argument("--save-failure", help="write the failing request's raw bytes here")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = int.from_bytes(os.urandom(4), "big")
    print(f"hostile requests: seed {args.seed} (HOSTILE_SEED={args.seed} repeats it), "
          f"{args.seconds:g} s, {args.workers} workers, {args.timeout:g} s per request")
    sys.stdout.flush()
    with open(args.seeds) as f:
        seeds = Seeds(json.load(f))
    run = Run(args, seeds)
    setup(run.client, seeds, run.host_header)
    elapsed = run.run()
    run.summary(elapsed)
    if run.failure:
        message, req = run.failure
        print(f"\nFAILED: {message}", file=sys.stderr)
        if req is not None:
            print(f"request: {req.describe()}", file=sys.stderr)
            if args.save_failure:
                with open(args.save_failure, "wb") as f:
                    f.write(req.head() + req.body)
                print(f"raw request saved to {args.save_failure} "
                      f"(replay: nc 127.0.0.1 PORT < {args.save_failure})", file=sys.stderr)
        print(f"seed {args.seed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
