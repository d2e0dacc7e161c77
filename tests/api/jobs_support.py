"""jobs_support.py - helpers shared by test_jobs.py, test_notifications.py and test_mail.py.

They start servers in job test mode (SOUK_TEST_JOBS=1: the test.* job kinds and the ADMIN-only
POST /api/admin/jobs/enqueue/), make users and tokens, enqueue test jobs, run `souk worker`
processes and read the database directly (test_job_runs, which no endpoint exposes).
"""

import os
import sqlite3
import subprocess
import time
import uuid

import pytest

import souk_client
from souk_client import run_souk

PASSWORD = "correct-horse-battery-staple"

# Fast timings for tests: a 2 s lease, 200 ms backoff base.
JOB_ENV = {
    "SOUK_TEST_JOBS": "1",
    "SOUK_JOB_LEASE_SECONDS": "2",
    "SOUK_JOB_BACKOFF_BASE_MS": "200",
    "SOUK_JOB_WORKERS": "2",
}


def job_server(souk_factory, **env):
    merged = dict(JOB_ENV)
    merged.update(env)
    server = souk_factory(**merged)
    served = {(m, t) for m, t in souk_client.routes()}
    if ("GET", "/api/admin/jobs/") not in served:
        pytest.fail("the job endpoints are not registered (src/app.c)")
    return server


def wait_for(fn, timeout=20.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


# ---- users and tokens ---------------------------------------------------------------------


def admin_token(server):
    email = f"admin-{uuid.uuid4().hex[:10]}@example.com"
    r = run_souk(["createuser", "--email", email, "--password", PASSWORD, "--role", "ADMIN"],
                 env=server.env)
    assert r.returncode == 0, r.stderr
    return login(server, email)


def login(server, email):
    r = server.post("/api/users/login/", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return r.json()["access"]


def new_user(server):
    """Registers a CUSTOMER; returns (user_id, access token)."""
    email = f"user-{uuid.uuid4().hex[:10]}@example.com"
    r = server.post("/api/users/register/", json={"email": email, "password": PASSWORD,
                                                 "first_name": "T", "last_name": "U"})
    assert r.status_code == 201, r.text
    return r.json()["id"], login(server, email)


# ---- jobs ---------------------------------------------------------------------------------


def enqueue(server, token, kind, payload=None, **extra):
    body = {"kind": kind, "payload": payload or {}}
    body.update(extra)
    r = server.post("/api/admin/jobs/enqueue/", json=body, token=token)
    assert r.status_code == 201, r.text
    return r.json()


def job(server, token, job_id):
    r = server.get(f"/api/admin/jobs/{job_id}/", token=token)
    assert r.status_code == 200, r.text
    return r.json()


def wait_state(server, token, job_id, state, timeout=20.0):
    return wait_for(lambda: (lambda j: j if j["state"] == state else None)(
        job(server, token, job_id)), timeout, what=f"job {job_id} {state}")


# ---- direct database reads ----------------------------------------------------------------


def db_rows(server, sql):
    """Rows of a read-only query on the server's database, as lists of strings."""
    url = server.db_url
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        con = sqlite3.connect(path, timeout=10)
        try:
            return [[None if v is None else str(v) for v in row] for row in con.execute(sql)]
        finally:
            con.close()
    r = subprocess.run([souk_client.PSQL, url, "-v", "ON_ERROR_STOP=1", "-qAt", "-F", "\t",
                        "-c", sql], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line.split("\t") for line in r.stdout.splitlines() if line]


# ---- `souk worker` processes --------------------------------------------------------------


class Worker:
    """A `souk worker` process on a server's database and environment."""

    def __init__(self, server, **env):
        self.env = dict(server.env)
        self.env.update({k: str(v) for k, v in env.items()})
        self.log_path = os.path.join(server.data_dir, f"worker-{uuid.uuid4().hex[:6]}.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([souk_client.souk_bin(), "worker"], env=self.env,
                                         stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self, timeout=30):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("souk worker did not stop on SIGTERM")
        bad = souk_client.sanitizer_report(souk_client.file_tail(self.log_path, 100000))
        assert not bad, bad
        return code


def require_worker_command():
    r = run_souk(["worker", "--help"])
    if r.returncode != 0 or "worker" not in r.stdout:
        pytest.fail("`souk worker --help` failed or does not name the command")

