"""souk_client.py - start, talk to and stop a real souk binary for the black-box tests.

SoukServer runs `$SOUK_BIN serve` on a free loopback port with a fresh data directory and,
on PostgreSQL, a fresh database (CREATE DATABASE souk_<random> on the cluster named by
SOUK_TEST_PG_URL, dropped again by stop()). Its get/post/patch/put/delete helpers return
`requests` responses. stop() sends SIGTERM and raises SoukFailure when the process exited with
a non-zero status or printed a sanitizer report (ASan, LeakSanitizer, UBSan) on stderr.

run_souk() runs a one-shot command (`souk version`, `souk migrate`...) with the same checks.

Only Debian's python3 modules are used (requests); no pip.
Not thread-safe: one SoukServer is driven from one thread (requests themselves may be issued
from many threads through plain `requests` calls on .url).
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import requests

SECRET_KEY = "souk-test-secret-key-0123456789abcdef0123456789abcdef0123456789"
START_TIMEOUT = float(os.environ.get("SOUK_TEST_START_TIMEOUT", "30"))
STOP_TIMEOUT = float(os.environ.get("SOUK_TEST_STOP_TIMEOUT", "40"))
PSQL = shutil.which("psql") or "/usr/bin/psql"

# Lines that mean a sanitizer found something (the run is then a failure whatever the exit code).
SANITIZER_RE = re.compile(
    r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer"
    r"|runtime error:|SUMMARY: UndefinedBehaviorSanitizer|SUMMARY: AddressSanitizer"
)


class SoukFailure(Exception):
    """The server or a command misbehaved (bad exit, sanitizer report, never became healthy)."""


def souk_bin():
    path = os.environ.get("SOUK_BIN") or os.path.join(repo_root(), "build", "souk")
    return os.path.abspath(path)


def repo_root():
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_db():
    db = os.environ.get("SOUK_TEST_DB", "sqlite")
    if db not in ("sqlite", "pgsql"):
        raise SoukFailure(f"SOUK_TEST_DB must be sqlite or pgsql, not {db!r}")
    return db


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def file_tail(path, lines=60):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def sanitizer_report(text):
    """Returns the first sanitizer line found in text, or None."""
    m = SANITIZER_RE.search(text or "")
    if not m:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    end = text.find("\n", m.end())
    return text[start:end if end >= 0 else None]


# ---- PostgreSQL databases ---------------------------------------------------------------


def _pg_admin_url():
    url = os.environ.get("SOUK_TEST_PG_URL")
    if not url:
        raise SoukFailure("SOUK_TEST_DB=pgsql needs SOUK_TEST_PG_URL (tests/run_api.sh sets it)")
    return url


def _psql(sql):
    r = subprocess.run([PSQL, _pg_admin_url(), "-v", "ON_ERROR_STOP=1", "-qAtc", sql],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SoukFailure(f"psql failed: {sql}: {r.stderr.strip()}")
    return r.stdout


def pg_create_database():
    """Creates an empty database souk_<random>; returns its URL."""
    name = "souk_" + uuid.uuid4().hex[:16]
    _psql(f"CREATE DATABASE {name}")
    # Behind pgbouncer (tests/run_api.sh pgbouncer) servers connect through it.
    parts = urllib.parse.urlsplit(os.environ.get("SOUK_TEST_PGBOUNCER_URL") or _pg_admin_url())
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def pg_drop_database(url):
    name = urllib.parse.urlsplit(url).path.lstrip("/")
    if re.fullmatch(r"souk_[0-9a-f]{16}", name):
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def fresh_database_url(data_dir):
    """A SOUK_DATABASE_URL for a brand-new, empty database of the kind under test."""
    if test_db() == "pgsql":
        return pg_create_database()
    return "sqlite:///" + os.path.join(data_dir, "souk.db")  # absolute path: sqlite:////...


# ---- environment ------------------------------------------------------------------------


def base_env(data_dir, port=None, extra=None):
    """The environment for a souk process: the caller's minus any SOUK_* setting, then ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOUK_")}
    env.update({
        "SOUK_DATA_DIR": data_dir,
        "SOUK_LOG_LEVEL": "warn",
        "SOUK_ACCESS_LOG": "1" if os.environ.get("SOUK_TEST_VERBOSE") else "0",
        "SOUK_SECRET_KEY": SECRET_KEY,
        "SOUK_RATE_LIMIT_RPS": "0",
    })
    if os.environ.get("SOUK_TEST_PGBOUNCER_URL"):
        env["SOUK_DB_PREPARED"] = "0"  # transaction pooling: no prepared statements
    if port is not None:
        env["SOUK_LISTEN"] = f"127.0.0.1:{port}"
    for k, v in (extra or {}).items():
        if v is None:
            env.pop(k, None)  # souk_factory(SOUK_SECRET_KEY=None) removes a setting
        else:
            env[k] = str(v)
    return env


def run_souk(args, env=None, timeout=60, data_dir=None, check_sanitizers=True):
    """Runs `souk ARGS` to completion; returns CompletedProcess (text). Raises SoukFailure on a
    sanitizer report. env is a full environment (see base_env); by default a fresh temp data
    dir is used (removed afterwards)."""
    tmp = None
    if env is None:
        tmp = tempfile.mkdtemp(prefix="souk-cli-")
        env = base_env(data_dir or tmp)
    try:
        r = subprocess.run([souk_bin()] + list(args), env=env, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    bad = sanitizer_report(r.stderr) if check_sanitizers else None
    if bad:
        raise SoukFailure(f"souk {' '.join(args)}: sanitizer report: {bad}\n{r.stderr[-4000:]}")
    return r


# ---- the server -------------------------------------------------------------------------


class SoukServer:
    """One `souk serve` process. Use start() / stop(), or the conftest fixtures."""

    def __init__(self, env=None, data_dir=None):
        self.extra = dict(env or {})
        self.own_data_dir = data_dir is None and "SOUK_DATA_DIR" not in self.extra
        self.data_dir = data_dir or self.extra.pop("SOUK_DATA_DIR", None) \
            or tempfile.mkdtemp(prefix="souk-test-")
        self.own_db = "SOUK_DATABASE_URL" not in self.extra
        self.db_url = self.extra.pop("SOUK_DATABASE_URL", None)
        self.port = None
        self.url = None
        self.env = None
        self.proc = None
        self.returncode = None
        self.session = requests.Session()

    # -- lifecycle --

    def start(self, wait=True):
        """Starts `souk serve`; with wait, returns once /healthz answers 200. The port is
        picked free just before; if another process takes it first the start is retried."""
        if self.db_url is None:
            self.db_url = fresh_database_url(self.data_dir)
        self.stdout_path = os.path.join(self.data_dir, "souk.stdout.log")
        self.stderr_path = os.path.join(self.data_dir, "souk.stderr.log")
        for attempt in range(3):
            self._spawn()
            if not wait:
                return self
            try:
                self.wait_healthy()
                return self
            except SoukFailure:
                if attempt == 2 or self.proc.poll() is None or not self._port_taken():
                    raise
        return self

    def _spawn(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = base_env(self.data_dir, self.port, self.extra)
        self.env["SOUK_DATABASE_URL"] = self.db_url
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([souk_bin(), "serve"], env=self.env, stdout=out,
                                         stderr=err, stdin=subprocess.DEVNULL)

    def _port_taken(self):
        tail = file_tail(self.stderr_path, 5).lower()
        return "address already in use" in tail or "cannot listen" in tail

    def wait_healthy(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SoukFailure(f"souk serve exited with {self.proc.returncode} before it was "
                                  f"healthy:\n{self.stderr_tail()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise SoukFailure(f"souk serve not healthy after {timeout}s:\n{self.stderr_tail()}")

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Waits for the process to end; returns its exit code (kills it after timeout)."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise SoukFailure(f"souk serve did not exit within {timeout}s of SIGTERM; killed\n"
                              f"{self.stderr_tail()}")
        return self.returncode

    def stop(self, check=True):
        """SIGTERM, wait, clean up. With check, raises SoukFailure on a non-zero exit or a
        sanitizer report. Safe to call twice."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.signal(signal.SIGTERM)
            code = self.wait_exit()
            if check:
                self.check_exit(code)
        finally:
            self.proc = None
            self.session.close()
            self.cleanup()

    def check_exit(self, code):
        stderr = file_tail(self.stderr_path, 100000)
        bad = sanitizer_report(stderr)
        if bad:
            raise SoukFailure(f"souk serve: sanitizer report: {bad}\n{self.stderr_tail()}")
        if code != 0:
            raise SoukFailure(f"souk serve exited with {code}\n{self.stderr_tail()}")

    def cleanup(self):
        if self.own_db and self.db_url and self.db_url.startswith("postgres"):
            pg_drop_database(self.db_url)
        if self.own_data_dir and not os.environ.get("SOUK_TEST_KEEP"):
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def stderr_tail(self, lines=60):
        return "---- souk stderr (tail) ----\n" + file_tail(self.stderr_path, lines)

    # -- HTTP helpers --

    def request(self, method, path, json=None, token=None, headers=None, **kw):
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        return self.session.request(method, self.url + path, json=json, headers=h, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json=json, **kw)

    def delete(self, path, json=None, **kw):
        return self.request("DELETE", path, json=json, **kw)


def routes():
    """[(METHOD, TEMPLATE)] from `souk routes`."""
    r = run_souk(["routes"])
    if r.returncode != 0:
        raise SoukFailure(f"souk routes exited with {r.returncode}: {r.stderr}")
    out = []
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isupper() and parts[1].startswith("/"):
            out.append((parts[0], parts[1]))
    return out


def batch_totals(server, kind):
    """(transactions, requests) of the hot-row sequencer (src/db/batch.c) for one kind of key
    ("bid", "order"), from /metrics."""
    got = {}
    for line in server.get("/metrics").text.splitlines():
        for name in ("souk_batch_transactions_total", "souk_batch_requests_total"):
            if line.startswith(name + '{kind="%s"}' % kind):
                got[name] = float(line.split()[-1])
    return got.get("souk_batch_transactions_total", 0), got.get("souk_batch_requests_total", 0)


def assert_batched(before, after, n, db_kind, what):
    """The sequencer took all n requests (batch_totals before/after); on PostgreSQL some shared
    a transaction, on SQLite each ran alone."""
    (t0, r0), (t1, r1) = before, after
    assert r1 - r0 == n, f"every {what} went through the sequencer"
    if db_kind == "pgsql":
        assert t1 - t0 < r1 - r0, f"some {what}s shared a transaction"
    else:
        assert t1 - t0 == r1 - r0, f"SQLite runs each {what} alone"
