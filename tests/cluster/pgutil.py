"""pgutil.py - PostgreSQL helpers of the cluster tests that run with a standby (test_replica.py,
test_failover.py): psql, pg_ctl on a data directory, and waiting for a condition."""

import os
import subprocess
import time

from souk_client import PSQL


def pg_ctl(data, *args):
    cmd = [os.environ["SOUK_TEST_PG_BIN"] + "/pg_ctl", "-D", data, "-w", "-t", "60", *args]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, capture_output=True, timeout=90)


def psql(url, sql):
    r = subprocess.run([PSQL, url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def until(fn, timeout, what, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s: {what}")
