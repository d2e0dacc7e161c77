"""conftest.py - pytest fixtures for the black-box HTTP tests in tests/api.

Environment (set by tests/run_api.sh):
  SOUK_BIN            the binary under test (default build/souk)
  SOUK_TEST_DB        sqlite | pgsql
  SOUK_TEST_PG_URL    a PostgreSQL cluster where each server gets a fresh database (pgsql)
  SOUK_TEST_REDIS_URL a Redis for tests that want one (optional)
  SOUK_TEST_VERBOSE   non-empty: servers write their access log (to their stderr file)
  SOUK_TEST_KEEP      non-empty: keep the servers' data directories

Fixtures:
  souk          session-scoped: one server for the whole run (.url .port .env .data_dir .db_url,
                get/post/patch/put/delete(path, json=..., token=...)). At the end it gets SIGTERM;
                a non-zero exit or a sanitizer report on its stderr fails the session.
  souk_factory  function-scoped: souk_factory(**env) starts one more server with extra
                environment (e.g. SOUK_MAX_BODY_BYTES=1024; SOUK_DATABASE_URL=souk.db_url for a
                second node on the same database; SOUK_SECRET_KEY=None to unset). Options
                `wait=False` (do not wait for /healthz) and `data_dir=...`. Servers still
                running at the end of the test are stopped and checked the same way.
  db_kind       "sqlite" or "pgsql".
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import souk_client  # noqa: E402
from souk_client import SoukFailure, SoukServer  # noqa: E402


def pytest_report_header(config):
    return [f"souk: SOUK_BIN={souk_client.souk_bin()} SOUK_TEST_DB={souk_client.test_db()}"]


def pytest_sessionstart(session):
    binary = souk_client.souk_bin()
    if not os.access(binary, os.X_OK):
        raise pytest.UsageError(f"SOUK_BIN {binary} is not an executable file (run make)")


def _attempt(fn):
    """Runs fn(); returns the SoukFailure message, or None when it succeeded."""
    try:
        fn()
    except SoukFailure as e:
        return str(e)
    return None


@pytest.fixture(scope="session")
def db_kind():
    return souk_client.test_db()


@pytest.fixture(scope="session")
def souk():
    server = SoukServer()
    problem = _attempt(server.start)
    if problem:
        server.stop(check=False)
        pytest.fail(problem, pytrace=False)
    yield server
    problem = _attempt(server.stop)
    if problem:
        pytest.fail(f"shared server: {problem}", pytrace=False)


@pytest.fixture
def souk_factory():
    started = []

    def start(wait=True, data_dir=None, **env):
        server = SoukServer(env=env, data_dir=data_dir)
        started.append(server)
        problem = _attempt(lambda: server.start(wait=wait))
        if problem:
            pytest.fail(problem, pytrace=False)
        return server

    yield start
    problems = [p for p in (_attempt(s.stop) for s in reversed(started)) if p]
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
