"""test_replica.py - SOUK_DATABASE_REPLICA_URL (issue 17): reads that may lag (cookbook, listings,
projects) go to a streaming-replication hot standby, and a writer reads its own writes on any
node, by WAL position. Needs the standby tests/cluster/run.sh starts (svc_standby_start); runs
before test_failover.py, which ends the primary.

Replay on the standby is paused (pg_wal_replay_pause) so that "served by the replica" can be
told from "served by the primary": a write made during the pause is missing only from the
replica."""

import os
import re
import socket
import subprocess
import urllib.parse
import uuid

import pytest

from identity_helpers import make_chef, make_user
from pgutil import psql, until
from recipes_support import recipe
from souk_client import SoukServer, free_port


def reads(node):
    """souk_db_reads_total by its label set, from /metrics."""
    out = {}
    for line in node.get("/metrics").text.splitlines():
        m = re.match(r'souk_db_reads_total\{(.*)\} ([0-9.e+]+)$', line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def listing_ids(node, token=None):
    r = node.get("/api/listings/?page_size=100", token=token)
    assert r.status_code == 200, r.text
    return {x["id"] for x in r.json()["results"]}


def recipe_ids(node, token=None):
    r = node.get("/api/recipes/?page_size=100", token=token)
    assert r.status_code == 200, r.text
    return {x["id"] for x in r.json()["results"]}


def new_listing(node, chef, title):
    r = node.post("/api/listings/", json={"title": title, "price": "10.00", "status": "active"},
                  token=chef["access"])
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture(scope="module")
def replicated():
    primary = os.environ["SOUK_TEST_PG_URL"]
    standby = os.environ.get("SOUK_TEST_PG_STANDBY_URL")
    if not standby:
        pytest.fail("no standby (tests/cluster/run.sh starts one)")
    name = "souk_" + uuid.uuid4().hex[:16]
    psql(primary, f"CREATE DATABASE {name}")
    s = urllib.parse.urlsplit(standby)
    replica = urllib.parse.urlunsplit(s._replace(path="/" + name, query="connect_timeout=2"))
    p = urllib.parse.urlsplit(primary)
    db_url = urllib.parse.urlunsplit(p._replace(path="/" + name))
    # its own Redis: the cluster test before it ends the harness's
    rport = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
    until(lambda: socket.socket().connect_ex(("127.0.0.1", rport)) == 0, 10, "Redis listens")
    common = {"SOUK_DATABASE_URL": db_url, "SOUK_DATABASE_REPLICA_URL": replica,
              "SOUK_REDIS_URL": f"redis://127.0.0.1:{rport}/0", "SOUK_JOB_WORKERS": "0",
              "SOUK_RATE_LIMIT_RPS": "0"}
    nodes = []
    try:
        for _ in range(2):
            n = SoukServer(env=dict(common))
            n.start()
            nodes.append(n)
        until(lambda: psql(replica, "SELECT count(*) FROM schema_migrations") ==
              psql(db_url, "SELECT count(*) FROM schema_migrations"), 20,
              "the standby replays the migrations")
        yield {"nodes": nodes, "replica": replica, "db_url": db_url, "common": common}
    finally:
        psql(replica, "SELECT pg_wal_replay_resume()")
        for n in nodes:
            n.stop(check=False)
        redis.terminate()
        redis.wait(timeout=10)


def paused(replica):
    psql(replica, "SELECT pg_wal_replay_pause()")
    until(lambda: psql(replica, "SELECT pg_get_wal_replay_pause_state()") == "paused", 10,
          "replay pauses")


def test_reads_go_to_the_replica_and_a_writer_reads_its_writes_on_every_node(replicated):
    a, b = replicated["nodes"]
    replica = replicated["replica"]
    chef, other = make_chef(a), make_user(a, "CUSTOMER")
    before = new_listing(a, chef, "Before the pause")
    until(lambda: before in listing_ids(b), 10, "the standby replays the first listing")
    paused(replica)
    try:
        during = new_listing(a, chef, "During the pause")
        # the writer, on the node it wrote through and on the other one: from the primary
        assert {before, during} <= listing_ids(a, chef["access"])
        assert {before, during} <= listing_ids(b, chef["access"])
        assert b.get(f"/api/listings/{during}/", token=chef["access"]).status_code == 200
        # anyone else: from the replica, which has not replayed the write yet
        assert before in listing_ids(b) and during not in listing_ids(b)
        assert during not in listing_ids(a, other["access"])
        assert a.get(f"/api/listings/{during}/").status_code == 404
        m = reads(b)
        assert m.get('pool="replica"', 0) > 0, m
        assert m.get('pool="primary",reason="own_write"', 0) > 0, m
    finally:
        psql(replica, "SELECT pg_wal_replay_resume()")
    until(lambda: during in listing_ids(b), 10, "the replica catches up once replay resumes")
    assert during in listing_ids(a, other["access"])


def test_cookbook_for_subscribers_from_the_replica_anonymous_cache_from_the_primary(replicated):
    a, b = replicated["nodes"]
    replica = replicated["replica"]
    chef, reader = make_chef(b), make_user(b, "CUSTOMER")
    first = recipe(b, chef, title="Replicated soup")["id"]
    until(lambda: first in recipe_ids(a, reader["access"]), 10, "the standby replays the recipe")
    assert first in recipe_ids(a)  # anonymous page cached on node a
    paused(replica)
    try:
        second = recipe(b, chef, title="Paused stew")["id"]
        assert second in recipe_ids(a, chef["access"])        # the writer, other node
        assert second not in recipe_ids(a, reader["access"])  # a signed-in reader: replica
        # the anonymous page is cached, so it is filled from the primary: the write empties
        # node b's cache at once, node a's ages out (5 s); a refill from the paused replica
        # would bring the old page back, again and again
        until(lambda: second in recipe_ids(a) and second in recipe_ids(b), 8,
              "the anonymous page shows the new recipe")
    finally:
        psql(replica, "SELECT pg_wal_replay_resume()")
    until(lambda: second in recipe_ids(a, reader["access"]), 10, "the replica catches up")


def test_a_replica_that_is_down_sends_reads_to_the_primary(replicated):
    dead = urllib.parse.urlsplit(replicated["replica"])
    dead = urllib.parse.urlunsplit(dead._replace(netloc=f"postgres@127.0.0.1:{free_port()}"))
    node = SoukServer(env=dict(replicated["common"], SOUK_DATABASE_REPLICA_URL=dead))
    node.start()  # starts although the replica does not answer
    try:
        chef = make_chef(node)
        lid = new_listing(node, chef, "No replica")
        for _ in range(5):
            assert lid in listing_ids(node)
            assert lid in listing_ids(node, chef["access"])
        m = reads(node)
        assert m.get('pool="primary",reason="replica_down"', 0) >= 9, m
        assert node.get("/readyz").status_code == 200
    finally:
        node.stop(check=False)
