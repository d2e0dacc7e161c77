"""test_cluster.py - three souk nodes behind nginx (deploy/nginx.conf) on one PostgreSQL and one
Redis (issue 17): logins, a paid order, a bid race, live events across nodes, logout and
deactivation on every node, then faults - kill -9 of a node under load, a PostgreSQL restart, and
Redis going away and coming back. Order matters: the faults come last."""

import os
import queue
import signal
import subprocess
import threading
import time

import requests
from concurrent.futures import ThreadPoolExecutor

from auctions_support import chef_with_recipe, customers, new_auction
from home_support import make_specialist, png_bytes
from identity_helpers import PASSWORD, login, make_chef, make_user
from jobs_support import Worker, admin_token, db_rows, enqueue, wait_state
from orders_helpers import customer, make_shop, order, pay, wait_status
from test_notifications import Stream, raise_event


def until(fn, timeout, what):
    deadline, last = time.time() + timeout, None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s: {what} (last {last!r})")


def test_login_works_on_every_node(cluster):
    edge, nodes = cluster["edge"], cluster["nodes"]
    u = make_user(edge, "CUSTOMER")
    for n in nodes + [edge]:
        r = n.get("/api/users/profile/", token=u["access"])
        assert r.status_code == 200 and r.json()["email"] == u["email"], r.text
    # nginx spreads the requests over the three nodes (least_conn; keepalive upstreams)
    seen = {r.headers.get("X-Request-Id") for r in (edge.get("/healthz") for _ in range(9))}
    assert len(seen) == 9


def test_paid_order_through_nginx(cluster):
    edge = cluster["edge"]
    shop = make_shop(edge, price="29.99", stock=3)
    buyer = customer(edge)
    r = order(edge, buyer, shop["variant"]["id"])
    assert r.status_code == 201, r.text
    o = r.json()
    assert pay(o["payment_url"]).status_code == 303
    done = wait_status(edge, buyer, o["id"], "processing")
    assert done["status"] == "processing"


def test_bid_race_through_nginx(cluster):
    edge = cluster["edge"]
    _, a = new_auction(edge, chef_with_recipe(edge))
    users = customers(edge, 12)
    codes, lock = [], threading.Lock()
    start = threading.Barrier(len(users))

    def one(u):
        start.wait()
        r = edge.post("/api/bids/", json={"auction_id": a["id"], "amount": "15.00"},
                      token=u["access"])
        with lock:
            codes.append(r.status_code)
    ts = [threading.Thread(target=one, args=(u,)) for u in users]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert codes.count(201) == 1 and codes.count(409) == len(users) - 1, codes


def test_event_reaches_a_client_on_another_node(cluster):
    edge, nodes = cluster["edge"], cluster["nodes"]
    admin = admin_token(edge)
    u = make_user(edge, "CUSTOMER")
    s = Stream(nodes[0], u["access"])  # held by node 0; test.notify runs on node 2 (the worker)
    try:
        assert s.status == 200
        time.sleep(0.5)
        raise_event(edge, admin, u["id"], {"via": "cluster"})
        ev = s.next(timeout=10)
        assert '"via": "cluster"' in ev["data"] or '"via":"cluster"' in ev["data"]
    finally:
        s.close()


def test_logout_and_deactivation_on_every_node(cluster):
    edge, nodes = cluster["edge"], cluster["nodes"]
    u = make_user(edge, "CUSTOMER")
    r = nodes[0].post("/api/users/logout/", json={"refresh": u["refresh"]}, token=u["access"])
    assert r.status_code in (200, 204), r.text
    for n in nodes:
        until(lambda: n.get("/api/users/profile/", token=u["access"]).status_code == 401, 5,
              f"logout seen by node {n.port}")
    v = make_user(edge, "CUSTOMER")
    admin = make_user(edge, "ADMIN")
    r = nodes[1].patch(f"/api/admin/users/{v['id']}/", json={"is_active": False},
                       token=admin["access"])
    assert r.status_code == 200, r.text
    for n in nodes:
        until(lambda: n.get("/api/users/profile/", token=v["access"]).status_code == 401, 5,
              f"deactivation seen by node {n.port}")


def test_media_shared_by_every_node(cluster):
    """An upload on one node is served by every node, and the thumbnail the job worker (node 2)
    writes later is too: the nodes share one SOUK_MEDIA_DIR."""
    nodes = cluster["nodes"]
    spec = make_specialist(nodes[0])
    r = nodes[0].post("/api/projects/", token=spec["access"],
                      data={"title": "Shared", "category": "interior-design", "city": "Oslo"},
                      files=[("media", ("a.png", png_bytes(24, 12), "image/png"))])
    assert r.status_code == 201, r.text
    pid, url = r.json()["id"], r.json()["media"][0]["url"]
    path = url[url.index("/media/"):]
    bodies = []
    for n in nodes:
        g = n.get(path)
        assert g.status_code == 200 and g.headers["Content-Type"] == "image/png", g.status_code
        bodies.append(g.content)
    assert bodies[0] == bodies[1] == bodies[2] and bodies[0][:8] == b"\x89PNG\r\n\x1a\n"
    thumb = until(lambda: nodes[1].get(f"/api/projects/{pid}/").json()["media"][0]
                  ["thumbnail_url"], 30, "the thumbnail job")
    tpath = thumb[thumb.index("/media/"):]
    got = [n.get(tpath) for n in nodes]
    assert [g.status_code for g in got] == [200, 200, 200]
    assert got[0].content == got[1].content == got[2].content and got[0].content


def test_kill_a_node_under_load(cluster):
    edge, nodes = cluster["edge"], cluster["nodes"]
    admin = admin_token(edge)
    chef = make_chef(edge)
    job = enqueue(edge, admin, "test.sleep", {"ms": 2500})
    running = wait_state(edge, admin, job["id"], "running")  # claimed by node 2, the only worker
    stop_at = time.monotonic() + 8
    created, write_fail, read_codes, lock = [], [], [], threading.Lock()

    def writer():
        s = requests.Session()
        while time.monotonic() < stop_at:
            r = s.post(edge.url + "/api/recipes/", json={"title": "Load", "summary": "s",
                       "ingredients": ["x"], "instructions": "y", "is_premium": False},
                       headers={"Authorization": f"Bearer {chef['access']}"}, timeout=15)
            with lock:
                (created.append(r.json()["id"]) if r.status_code == 201
                 else write_fail.append(r.status_code))

    def reader():
        s = requests.Session()
        while time.monotonic() < stop_at:
            r = s.get(edge.url + "/api/users/profile/",
                      headers={"Authorization": f"Bearer {chef['access']}"}, timeout=15)
            with lock:
                read_codes.append(r.status_code)
    threads = [threading.Thread(target=f) for f in (writer, writer, reader, reader)]
    for t in threads:
        t.start()
    time.sleep(2)
    victim = nodes[2]
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(timeout=10)
    victim.proc = None
    for t in threads:
        t.join()
    assert len(created) > 20 and len(read_codes) > 20
    assert set(read_codes) == {200}, sorted(set(read_codes))  # GETs were retried on the others
    assert len(write_fail) <= 2, write_fail  # at most the POSTs in flight on the victim
    for rid in created:  # every 201 is stored
        assert edge.get(f"/api/recipes/{rid}/", token=chef["access"]).status_code == 200
    # the job the dead node held runs again, once, after its lease
    assert db_rows(edge, f"SELECT count(*) FROM test_job_runs WHERE job_id = '{job['id']}'") \
        == [["0"]]
    w = Worker(nodes[0], SOUK_JOB_WORKERS=1)
    try:
        done = wait_state(edge, admin, job["id"], "done", timeout=30)
    finally:
        w.stop()
    assert done["attempt"] == 2 and running["locked_by"] != done.get("locked_by", "")
    assert db_rows(edge, f"SELECT count(*) FROM test_job_runs WHERE job_id = '{job['id']}'") \
        == [["1"]]


def pg_ctl(action):
    cmd = [os.environ["SOUK_TEST_PG_BIN"] + "/pg_ctl", "-D", os.environ["SOUK_TEST_PG_DATA"],
           "-w", "-t", "30", "-l", os.environ["SOUK_TEST_PG_DATA"] + "/../restart.log"]
    cmd += ["-m", "fast", "stop"] if action == "stop" else ["start"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def test_postgres_restart_is_503_then_recovers(cluster):
    edge, nodes = cluster["edge"], cluster["nodes"][:2]
    u = make_user(edge, "CUSTOMER")
    pg_ctl("stop")
    try:
        for n in nodes:
            t0 = time.monotonic()
            r = n.get("/api/users/profile/", token=u["access"], timeout=10)
            assert time.monotonic() - t0 < 5
            assert r.status_code == 503, r.text
            assert r.headers["Content-Type"].startswith("application/problem+json")
            assert n.get("/readyz", timeout=10).status_code == 503
        r = edge.get("/api/users/profile/", token=u["access"], timeout=15)
        assert r.status_code == 503 and r.json()["status"] == 503
    finally:
        pg_ctl("start")
    for n in nodes + [edge]:
        until(lambda: n.get("/api/users/profile/", token=u["access"]).status_code == 200, 20,
              "recovery after the restart")
        assert n.get("/readyz").status_code == 200
    # Every pooled connection, not only the one that answered first, is good again: the
    # idle ones the restart closed are replaced when taken, so concurrent reads and logins
    # (writes) never see the old sockets.
    for n in nodes:
        with ThreadPoolExecutor(12) as ex:
            reads = list(ex.map(lambda _: n.get("/api/users/profile/", token=u["access"]),
                                range(48)))
            logins = list(ex.map(lambda _: login(n, u["email"], PASSWORD), range(12)))
        assert [r.status_code for r in reads + logins] == [200] * 60, \
            [r.text for r in reads + logins if r.status_code != 200][:3]


def test_redis_away_and_back(cluster):
    edge, nodes = cluster["edge"], cluster["nodes"][:2]
    port = int(cluster["redis"].rsplit(":", 1)[1].split("/")[0])
    os.kill(int(os.environ["SOUK_TEST_REDIS_PID"]), signal.SIGKILL)
    u = make_user(edge, "CUSTOMER")  # logins, writes and reads go on without Redis
    for _ in range(10):
        assert edge.get("/api/users/profile/", token=u["access"]).status_code == 200
    admin = admin_token(edge)
    s = Stream(nodes[0], u["access"])
    w = Worker(nodes[1], SOUK_JOB_WORKERS=1)  # the event is raised on another node
    back = None
    try:
        # Without Redis an event still reaches a stream on another node (the nodes poll the
        # table), once: the overlapping polls do not hand it over again.
        raise_event(edge, admin, u["id"], {"redis": "away"})
        ev = until(lambda: _next(s), 15, "event while Redis is away")
        assert "away" in ev["data"]
        time.sleep(4)  # longer than a poll's overlap
        assert _next(s) is None, "an event delivered twice"
        back = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL)
        time.sleep(3)  # the subscribers reconnect
        raise_event(edge, admin, u["id"], {"redis": "back"})
        ev = until(lambda: _next(s), 15, "event after Redis came back")
        assert "back" in ev["data"]
        time.sleep(1.5)
        assert _next(s) is None, "an event delivered twice"
    finally:
        w.stop()
        s.close()
        if back:
            back.terminate()
            back.wait(timeout=10)


def _next(stream):
    try:
        return stream.next(timeout=1)
    except queue.Empty:
        return None
