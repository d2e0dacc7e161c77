"""test_failover.py - a multi-host SOUK_DATABASE_URL with target_session_attrs=read-write follows a
promoted standby without a restart (issue 17). Needs the standby tests/cluster/run.sh starts
(svc_standby_start: pg_basebackup -R); run by run.sh after test_cluster.py, on its own, because it
ends the primary for good."""

import os
import urllib.parse
import uuid

import pytest

from identity_helpers import make_user
from pgutil import pg_ctl, psql, until
from souk_client import SoukServer


def test_follows_the_promoted_standby(tmp_path):
    primary = os.environ["SOUK_TEST_PG_URL"]
    standby = os.environ.get("SOUK_TEST_PG_STANDBY_URL")
    if not standby:
        pytest.fail("no standby (tests/cluster/run.sh starts one)")
    name = "souk_" + uuid.uuid4().hex[:16]
    psql(primary, f"CREATE DATABASE {name}")
    p, s = urllib.parse.urlsplit(primary), urllib.parse.urlsplit(standby)
    url = f"postgres://postgres@{p.netloc.split('@')[1]},{s.netloc.split('@')[1]}/{name}" \
          "?target_session_attrs=read-write&connect_timeout=2"
    node = SoukServer(env={"SOUK_DATABASE_URL": url, "SOUK_JOB_WORKERS": "0"})
    node.start()
    try:
        u = make_user(node, "CUSTOMER")
        assert node.patch("/api/users/profile/", json={"first_name": "Before"},
                          token=u["access"]).status_code == 200
        standby_url = urllib.parse.urlunsplit(s._replace(path="/" + name))
        until(lambda: psql(standby_url, "SELECT pg_last_wal_replay_lsn() IS NOT NULL") == "t"
              and psql(standby_url, f"SELECT count(*) FROM users WHERE id = '{u['id']}'") == "1",
              10, "the standby replays the user")
        pg_ctl(os.environ["SOUK_TEST_PG_DATA"], "-m", "fast", "stop")
        r = node.get("/api/users/profile/", token=u["access"], timeout=15)
        assert r.status_code == 503, r.text  # no primary yet: 503, not 500, not a hang
        pg_ctl(os.environ["SOUK_TEST_PG_STANDBY_DATA"], "promote")
        until(lambda: node.get("/api/users/profile/", token=u["access"]).status_code == 200, 20,
              "souk reaches the promoted standby")
        r = node.patch("/api/users/profile/", json={"first_name": "After"}, token=u["access"])
        assert r.status_code == 200, r.text  # writes work: the session is read-write
        assert node.get("/api/users/profile/", token=u["access"]).json()["first_name"] == "After"
        assert node.get("/readyz").status_code == 200
        assert psql(standby_url, "SELECT pg_is_in_recovery()") == "f"
    finally:
        node.stop()
