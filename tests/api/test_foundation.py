"""test_foundation.py - the HTTP foundation seen from outside, on SQLite and PostgreSQL.

Covers the operations endpoints (/healthz, /readyz, /metrics, /api/schema/, /api/docs/), the
conventions every route shares (problem+json errors, 404/405, /api/v1/ mirror, optional
trailing slash, X-Request-Id, security headers, body limits, JSON parsing and content type),
graceful shutdown and the command line (`souk version|routes|migrate|--help`, config errors,
the generated secret key).
"""

import json
import os
import re
import signal
import socket
import stat
import threading
import time
import uuid

import pytest

import souk_client
from souk_client import run_souk, routes

PROBLEM_TYPE = "application/problem+json"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

# Anonymous JSON POST routes from the contract, best first: used to exercise body handling
# (size limit, malformed JSON, content type) through a real handler.
JSON_POST_CANDIDATES = ["/api/users/login/", "/api/users/register/", "/api/users/token/refresh/"]


def assert_problem(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers.get("Content-Type", "").startswith(PROBLEM_TYPE), r.headers
    body = r.json()
    for key in ("type", "title", "status", "code"):
        assert key in body, body
    assert body["status"] == status
    assert body["code"] == code
    return body


def json_post_route():
    """An anonymous JSON POST route the server serves, or skip (none registered yet)."""
    served = {tmpl for method, tmpl in routes() if method == "POST"}
    for path in JSON_POST_CANDIDATES:
        if path in served or path.rstrip("/") in served:
            return path
    pytest.fail(f"none of {JSON_POST_CANDIDATES} is served")


# ---- operations endpoints -----------------------------------------------------------------


def test_healthz(souk):
    r = souk.get("/healthz")
    assert r.status_code == 200


def test_readyz(souk):
    r = souk.get("/readyz")
    assert r.status_code == 200


def test_metrics_prometheus_text(souk):
    souk.get("/healthz")
    r = souk.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain"), r.headers
    text = r.text
    assert re.search(r"^# TYPE souk_http_requests_total counter$", text, re.M), text[:2000]
    samples = re.findall(r"^souk_http_requests_total(\{[^}]*\})? ([0-9.e+]+)$", text, re.M)
    assert samples, text[:2000]
    assert sum(float(v) for _, v in samples) >= 1
    for line in text.splitlines():  # every line is a comment or `name{labels} value`
        assert line == "" or line.startswith("#") or \
            re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+0-9.eEInfa]+$", line), line


def test_docs_is_html(souk):
    r = souk.get("/api/docs/")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html"), r.headers
    assert "<html" in r.text.lower()


# ---- conventions --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/no/such/thing", "/api/no-such-thing/", "/api/v1/nope/"])
def test_unknown_path_is_404_problem(souk, path):
    assert_problem(souk.get(path), 404, "not_found")


def test_wrong_method_is_405_with_allow(souk):
    r = souk.delete("/healthz")
    assert_problem(r, 405, "method_not_allowed")
    allow = [m.strip() for m in r.headers.get("Allow", "").split(",")]
    assert "GET" in allow, r.headers


def test_wrong_method_on_api_route(souk):
    r = souk.delete("/api/schema/")
    assert_problem(r, 405, "method_not_allowed")
    assert "GET" in r.headers.get("Allow", ""), r.headers


def test_api_v1_mirror(souk):
    a = souk.get("/api/schema/")
    b = souk.get("/api/v1/schema/")
    assert a.status_code == b.status_code == 200
    assert a.json() == b.json()


@pytest.mark.parametrize("path", ["/api/schema", "/api/schema/", "/api/v1/schema",
                                  "/healthz/", "/readyz/"])
def test_trailing_slash_optional(souk, path):
    assert souk.get(path).status_code == 200


def test_request_id_echoed(souk):
    rid = "test-" + uuid.uuid4().hex
    r = souk.get("/healthz", headers={"X-Request-Id": rid})
    assert r.headers.get("X-Request-Id") == rid


def test_request_id_generated(souk):
    a = souk.get("/healthz").headers.get("X-Request-Id", "")
    b = souk.get("/api/nope/").headers.get("X-Request-Id", "")
    assert UUID_RE.match(a), a
    assert UUID_RE.match(b), b
    assert a != b


def test_security_headers(souk):
    for path in ("/healthz", "/api/schema/", "/api/nope/"):
        r = souk.get(path)
        assert r.headers.get("X-Content-Type-Options") == "nosniff", (path, r.headers)


def test_api_responses_not_cached(souk):
    for path in ("/api/nope/", "/api/v1/nope/"):
        r = souk.get(path)
        assert "no-store" in r.headers.get("Cache-Control", ""), (path, r.headers)
    r = souk.delete("/api/schema/")
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers


def test_malformed_json_is_400(souk):
    path = json_post_route()
    r = souk.post(path, data=b'{"email": "a@b.c", ', headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "validation_error")


def test_non_json_content_type_is_415(souk):
    path = json_post_route()
    r = souk.post(path, data=b"email=a%40b.c", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert_problem(r, 415, "unsupported_media_type")


def test_body_too_large_is_413(souk_factory):
    server = souk_factory(SOUK_MAX_BODY_BYTES=1024)
    path = json_post_route()
    big = json.dumps({"email": "x" * 4000, "password": "y"}).encode()
    r = server.post(path, data=big, headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload_too_large")

    def chunks():  # no Content-Length: requests sends Transfer-Encoding: chunked
        for i in range(0, len(big), 512):
            yield big[i:i + 512]
    r = server.post(path, data=chunks(), headers={"Content-Type": "application/json"})
    assert_problem(r, 413, "payload_too_large")
    # a body under the limit is still read normally
    r = server.post(path, data=b"{", headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "validation_error")
    assert server.get("/healthz").status_code == 200


# ---- OpenAPI ------------------------------------------------------------------------------


def normalise(path):
    path = re.sub(r"\{[^}]*\}", "{}", path)
    if path.startswith("/api/v1/"):
        path = "/api/" + path[len("/api/v1/"):]
    return path.rstrip("/") or "/"


def test_schema_is_openapi_31(souk):
    r = souk.get("/api/schema/")
    assert r.status_code == 200
    assert "json" in r.headers["Content-Type"]
    doc = r.json()
    assert str(doc.get("openapi", "")).startswith("3.1"), doc.get("openapi")
    assert isinstance(doc.get("paths"), dict)


def test_schema_matches_served_routes(souk):
    doc = souk.get("/api/schema/").json()
    methods = {"get", "post", "put", "patch", "delete"}
    documented = {(m.upper(), normalise(p)) for p, item in doc["paths"].items()
                  for m in item if m in methods}
    # Routes that exist only in test mode (SOUK_TEST_JOBS=1) are documented with
    # "x-souk-test-only" and left out of the schema of a server that does not serve them:
    # the shared server (no test mode) documents exactly what it serves.
    assert not [p for p, item in doc["paths"].items()
                for m, op in item.items() if m in methods and op.get("x-souk-test-only")]
    # The admin console (/admin/) serves HTML pages outside the OpenAPI document.
    served = {(m, normalise(t)) for m, t in routes()
              if m != "HEAD" and not t.startswith("/admin/")}
    assert served, "souk routes printed no routes"
    assert any(t.startswith("/admin/") for _, t in routes()), "souk routes lists no /admin/ page"
    assert served - documented == set(), "served but not in /api/schema/"
    assert documented - served == set(), "in /api/schema/ but not served"


def test_schema_lists_test_only_routes_in_test_mode(souk_factory):
    srv = souk_factory(SOUK_TEST_JOBS="1")
    doc = srv.get("/api/schema/").json()
    op = doc["paths"]["/api/admin/jobs/enqueue/"]["post"]
    assert op["x-souk-test-only"] is True
    assert doc["openapi"].startswith("3.1") and len(doc["paths"]) > 100


# ---- graceful shutdown --------------------------------------------------------------------


def raw_get(port, path="/readyz", timeout=15):
    """One GET on a fresh connection. Returns 'ok', 'refused', 'empty' (closed before any
    byte of a response) or 'partial:<detail>' (a response cut short)."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:  # the listening socket closed during the handshake
        return "empty"
    except OSError as e:
        return f"partial:connect failed: {e!r}"
    data = b""
    try:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                  .encode())
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, BrokenPipeError) as e:
        if not data:
            return "empty"
        return f"partial:{e!r} after {len(data)} bytes"
    except socket.timeout:
        return f"partial:timeout after {len(data)} bytes"
    except OSError as e:
        return f"partial:{e!r} after {len(data)} bytes"
    finally:
        s.close()
    if not data:
        return "empty"
    head, sep, body = data.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
    if not sep or not head.startswith(b"HTTP/1.1 ") or (m and len(body) != int(m.group(1))):
        return f"partial:{len(data)} bytes: {data[:80]!r}"
    return "ok"


def test_graceful_shutdown_completes_in_flight(souk_factory):
    server = souk_factory(SOUK_SHUTDOWN_TIMEOUT=10)
    results_before, results_after = [], []  # by whether SIGTERM had been sent at the end
    term_sent = threading.Event()
    stop = threading.Event()

    def client():
        while not stop.is_set():
            res = raw_get(server.port)
            (results_after if term_sent.is_set() else results_before).append(res)
            if res == "refused" and term_sent.is_set():
                return

    threads = [threading.Thread(target=client, daemon=True) for _ in range(32)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(results_before) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    term_sent.set()
    server.signal(signal.SIGTERM)
    code = server.wait_exit(timeout=30)
    stop.set()
    for t in threads:
        t.join(timeout=20)
    server.stop()  # checks the exit code and sanitizer output

    assert code == 0
    assert len(results_before) >= 300 and set(results_before) == {"ok"}, \
        sorted(set(results_before))
    # After SIGTERM: complete responses, refused connections, or connections closed before any
    # byte of a response (still queued in the listen backlog when the socket closed).
    cut = [r for r in results_after if r.startswith("partial")]
    assert not cut, cut[:5]


def test_graceful_shutdown_finishes_slow_upload(souk_factory):
    """A request whose body is still arriving when SIGTERM comes gets its full response."""
    server = souk_factory(SOUK_SHUTDOWN_TIMEOUT=10)
    path = json_post_route()
    body = b'{"email": "slow@example.com", "password": "x"}'
    socks = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=15)
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                  .encode() + body[:10])
        socks.append(s)
    time.sleep(0.3)
    server.signal(signal.SIGTERM)
    time.sleep(0.5)
    for s in socks:
        s.sendall(body[10:])
    for s in socks:
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        assert re.match(rb"HTTP/1\.1 [1-5]\d\d ", data), data[:200]
        head, _, rest = data.partition(b"\r\n\r\n")
        m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        assert m and len(rest) == int(m.group(1)), data[:400]
    assert server.wait_exit(timeout=30) == 0
    server.stop()


# ---- command line -------------------------------------------------------------------------


def test_version():
    r = run_souk(["version"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"\d+\.\d+\.\d+", r.stdout), r.stdout


def test_help_lists_commands():
    r = run_souk(["--help"])
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    for cmd in ("serve", "migrate", "createuser", "version", "routes"):
        assert cmd in out, out


def test_unknown_command_fails():
    r = run_souk(["no-such-command"])
    assert r.returncode != 0
    assert r.stderr.strip(), "no message on stderr"


def test_routes_lists_operations():
    served = set(routes())
    for route in (("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")):
        assert route in served or (route[0], route[1] + "/") in served, served


def migration_count(db_kind):
    folder = os.path.join(souk_client.repo_root(), "src", "db", "migrations", db_kind)
    return len([f for f in os.listdir(folder) if f.endswith(".sql")])


def applied_count(output):
    """How many migrations a `souk migrate` run says it applied (None when it does not say).
    Understands "N new migration(s)", "applied N", "N applied", one "applied migration NNNN_x"
    line per migration, and "up to date" alone for none."""
    for pattern in (r"\b(\d+) new migrations?", r"\bapplied:? (\d+)\b",
                    r"\b(\d+) (?:migrations? )?applied"):
        m = re.search(pattern, output, re.I)
        if m:
            return int(m.group(1))
    lines = re.findall(r"applied migration \d+", output, re.I)
    if lines:
        return len(lines)
    return 0 if re.search(r"up to date|nothing to (do|apply)", output, re.I) else None


def test_migrate_fresh_and_idempotent(tmp_path, db_kind):
    data_dir = str(tmp_path)
    db_url = souk_client.fresh_database_url(data_dir)
    env = souk_client.base_env(data_dir, extra={"SOUK_DATABASE_URL": db_url,
                                                "SOUK_LOG_LEVEL": "info"})
    try:
        first = run_souk(["migrate"], env=env)
        assert first.returncode == 0, first.stderr
        second = run_souk(["migrate"], env=env)
        assert second.returncode == 0, second.stderr
    finally:
        if db_url.startswith("postgres"):
            souk_client.pg_drop_database(db_url)
    out1, out2 = first.stdout + first.stderr, second.stdout + second.stderr
    assert applied_count(out1) == migration_count(db_kind), out1
    assert applied_count(out2) == 0, out2


@pytest.mark.parametrize("value", ["bogus", "127.0.0.1:99999"])
def test_bad_listen_is_a_clear_error(tmp_path, value):
    env = souk_client.base_env(str(tmp_path), extra={"SOUK_LISTEN": value})
    r = run_souk(["serve"], env=env, timeout=30)
    assert r.returncode != 0
    assert "SOUK_LISTEN" in r.stderr, r.stderr


def test_secret_key_generated_and_kept(tmp_path, souk_factory):
    data_dir = str(tmp_path / "data")
    os.makedirs(data_dir)
    key_file = os.path.join(data_dir, "secret_key")
    db_url = souk_client.fresh_database_url(data_dir)
    try:
        first = souk_factory(SOUK_SECRET_KEY=None, data_dir=data_dir, SOUK_DATABASE_URL=db_url)
        assert first.get("/healthz").status_code == 200
        first.stop()
        assert os.path.isfile(key_file)
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        with open(key_file, "rb") as f:
            key = f.read()
        assert len(key.strip()) >= 32

        second = souk_factory(SOUK_SECRET_KEY=None, data_dir=data_dir, SOUK_DATABASE_URL=db_url)
        assert second.get("/healthz").status_code == 200
        second.stop()
        with open(key_file, "rb") as f:
            assert f.read() == key
    finally:
        if db_url.startswith("postgres"):
            souk_client.pg_drop_database(db_url)


def test_two_nodes_share_one_database(souk, souk_factory):
    other = souk_factory(SOUK_DATABASE_URL=souk.db_url)
    assert other.get("/readyz").status_code == 200
    assert souk.get("/readyz").status_code == 200
