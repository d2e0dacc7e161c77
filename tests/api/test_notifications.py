"""test_notifications.py - stored notifications and the live event stream, on SQLite and
PostgreSQL, and across two nodes through Redis pub/sub.

Events are raised by the test job kind test.notify (notify(user, "test.event", data) in a
transaction of its own), enqueued through the test-mode admin endpoint.
"""

import json
import os
import queue
import socket
import threading
import time

import pytest
import requests

from jobs_support import admin_token, enqueue, job_server, new_user, wait_for, wait_state


class Stream:
    """A GET /api/events/ stream over a raw HTTP/1.0 socket (no chunked encoding, and close()
    returns at once), read in a thread; events land in a queue as dicts."""

    def __init__(self, server, token=None, last_event_id=None, query_token=False):
        path = "/api/events/" + (f"?token={token}" if query_token else "")
        lines = [f"GET {path} HTTP/1.0", f"Host: 127.0.0.1:{server.port}",
                 "Accept: text/event-stream"]
        if token and not query_token:
            lines.append(f"Authorization: Bearer {token}")
        if last_event_id:
            lines.append(f"Last-Event-ID: {last_event_id}")
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.file = self.sock.makefile("rb")
        self.status = int(self.file.readline().split()[1])
        self.headers = {}
        while True:
            line = self.file.readline().decode().rstrip("\r\n")
            if not line:
                break
            key, _, value = line.partition(":")
            self.headers[key.strip().lower()] = value.strip()
        self.sock.settimeout(None)
        self.events = queue.Queue()
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        ev = {}
        try:
            for raw in self.file:
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if ev:
                        self.events.put(ev)
                    ev = {}
                elif not line.startswith(":"):
                    key, _, value = line.partition(":")
                    ev[key] = value[1:] if value.startswith(" ") else value
        except (OSError, ValueError):
            pass

    def next(self, timeout=10):
        return self.events.get(timeout=timeout)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


@pytest.fixture
def node(souk_factory):
    server = job_server(souk_factory)
    return server, admin_token(server)


def raise_event(server, admin, user_id, data):
    j = enqueue(server, admin, "test.notify", {"user_id": user_id, "data": data})
    wait_state(server, admin, j["id"], "done")


def test_notifications_list_unread_and_read(node):
    server, admin = node
    uid, token = new_user(server)
    other_id, other = new_user(server)
    for i in range(3):
        raise_event(server, admin, uid, {"n": i})
    r = server.get("/api/notifications/", token=token)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["payload"]["n"] for x in results] == [2, 1, 0]  # newest first
    first = results[0]
    assert set(first) >= {"id", "type", "payload", "created_at", "read_at"}
    assert first["type"] == "test.event" and first["read_at"] is None
    r = server.post(f"/api/notifications/{first['id']}/read/", token=token)
    assert r.status_code == 200 and r.json()["read_at"]
    unread = server.get("/api/notifications/?unread=true", token=token).json()["results"]
    assert [x["payload"]["n"] for x in unread] == [1, 0]
    # someone else's: 404, and their list is empty
    assert server.post(f"/api/notifications/{first['id']}/read/", token=other).status_code == 404
    assert server.get("/api/notifications/", token=other).json()["results"] == []
    assert server.get("/api/notifications/").status_code == 401
    assert server.get("/api/notifications/?unread=maybe", token=token).status_code == 400


def test_notifications_paginate(node):
    server, admin = node
    uid, token = new_user(server)
    for i in range(5):
        raise_event(server, admin, uid, {"n": i})
    seen, url = [], "/api/notifications/?page_size=2"
    while url:
        body = server.get(url, token=token).json()
        seen += [x["payload"]["n"] for x in body["results"]]
        url = body["next"] and body["next"][len(server.url):]
    assert seen == [4, 3, 2, 1, 0]


def test_event_stream_live_and_replay(node):
    server, admin = node
    uid, token = new_user(server)
    s = Stream(server, token)
    try:
        assert s.status == 200
        assert s.headers["content-type"].startswith("text/event-stream")
        time.sleep(0.3)
        raise_event(server, admin, uid, {"n": 1})
        ev = s.next()
        assert ev["event"] == "test.event"
        data = json.loads(ev["data"])
        assert data["id"] == ev["id"] and data["payload"] == {"n": 1}
    finally:
        s.close()
    first_id = ev["id"]
    raise_event(server, admin, uid, {"n": 2})  # missed while disconnected
    raise_event(server, admin, uid, {"n": 3})
    s = Stream(server, token, last_event_id=first_id, query_token=True)
    try:
        got = [json.loads(s.next()["data"])["payload"]["n"] for _ in range(2)]
        assert got == [2, 3]
    finally:
        s.close()


def test_event_stream_needs_a_user(node):
    server, _ = node
    assert requests.get(server.url + "/api/events/", timeout=5).status_code == 401
    r = requests.get(server.url + "/api/events/?token=garbage", timeout=5)
    assert r.status_code == 401


def test_events_of_others_are_not_delivered(node):
    server, admin = node
    _, token = new_user(server)
    other_id, _ = new_user(server)
    s = Stream(server, token)
    try:
        time.sleep(0.3)
        raise_event(server, admin, other_id, {"secret": True})
        with pytest.raises(queue.Empty):
            s.next(timeout=1)
    finally:
        s.close()


def test_event_reaches_stream_on_another_node(souk_factory, db_kind):
    redis_url = os.environ.get("SOUK_TEST_REDIS_URL")
    if db_kind != "pgsql" or not redis_url:
        pytest.skip("two nodes need PostgreSQL and Redis (SOUK_TEST_REDIS_URL)")
    a = job_server(souk_factory, SOUK_REDIS_URL=redis_url, SOUK_JOB_WORKERS="1")
    b = job_server(souk_factory, SOUK_REDIS_URL=redis_url, SOUK_JOB_WORKERS="0",
                   SOUK_DATABASE_URL=a.db_url)
    admin = admin_token(a)
    uid, token = new_user(a)
    s = Stream(b, token)  # held by node B; the job runs on node A
    try:
        assert s.status == 200
        time.sleep(0.5)  # B's subscriber is connected by now
        raise_event(a, admin, uid, {"via": "redis"})
        ev = s.next(timeout=10)
        assert json.loads(ev["data"])["payload"] == {"via": "redis"}
        with pytest.raises(queue.Empty):  # exactly once
            s.next(timeout=1)
    finally:
        s.close()
