"""test_jobs.py - the durable job queue seen from outside, on SQLite and PostgreSQL.

Uses the test job kinds (SOUK_TEST_JOBS=1, src/testjobs.c) through the ADMIN-only
POST /api/admin/jobs/enqueue/, and reads test_job_runs (one row per completed run) directly.
Covers: the admin endpoints and their authorization, unique keys, backoff timing, dead jobs and
retry, a `souk worker` killed with SIGKILL mid-job (its lease expires, the job completes exactly
once), and on PostgreSQL two worker processes sharing 1,000 jobs with no duplicate and none
missing.
"""

import concurrent.futures

import pytest

from jobs_support import (Worker, admin_token, db_rows, enqueue, job_server, new_user,
                          require_worker_command, wait_for, wait_state)


@pytest.fixture
def jobs(souk_factory):
    server = job_server(souk_factory)
    return server, admin_token(server)


def runs_of(server, job_id):
    return db_rows(server, f"SELECT run_no, node FROM test_job_runs WHERE job_id = '{job_id}'")


def test_admin_endpoints_need_admin(jobs):
    server, _ = jobs
    assert server.get("/api/admin/jobs/").status_code == 401
    _, token = new_user(server)
    for r in (server.get("/api/admin/jobs/", token=token),
              server.post("/api/admin/jobs/enqueue/", json={"kind": "test.record"}, token=token)):
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "forbidden"


def test_enqueue_refuses_non_test_kinds(jobs):
    server, token = jobs
    r = server.post("/api/admin/jobs/enqueue/", json={"kind": "mail.send"}, token=token)
    assert r.status_code == 400
    assert "kind" in r.json()["errors"]


def test_job_runs_once_and_counts(jobs):
    server, token = jobs
    j = enqueue(server, token, "test.record")
    done = wait_state(server, token, j["id"], "done")
    assert done["attempt"] == 1
    assert len(runs_of(server, j["id"])) == 1
    r = server.get("/api/admin/jobs/?state=done", token=token)
    assert r.status_code == 200
    body = r.json()
    assert {"next", "previous", "results", "counts"} <= set(body)
    assert j["id"] in [x["id"] for x in body["results"]]
    assert {"kind": "test.record", "state": "done", "count": 1} in body["counts"]


def test_unique_key_one_live_job(jobs):
    server, token = jobs
    a = enqueue(server, token, "test.sleep", {"ms": 1500}, unique_key="k-1")
    b = enqueue(server, token, "test.sleep", {"ms": 1500}, unique_key="k-1")
    assert a["id"] == b["id"]
    wait_state(server, token, a["id"], "done")
    c = enqueue(server, token, "test.record", unique_key="k-1")  # the key is free again
    assert c["id"] != a["id"]


def test_backoff_timing_then_success(jobs):
    server, token = jobs
    j = enqueue(server, token, "test.fail", {"times": 2})
    done = wait_state(server, token, j["id"], "done", timeout=30)
    assert done["attempt"] == 3
    assert "planned failure 2" in done["last_error"]
    # 200 ms then 400 ms (each +-25 %) between the runs: at least 450 ms in all
    row = db_rows(server, f"SELECT created_at, started_at FROM jobs WHERE id = '{j['id']}'")[0]
    assert int(row[1]) - int(row[0]) >= 450_000


def test_dead_job_listed_and_retried(jobs):
    server, token = jobs
    j = enqueue(server, token, "test.fail", {"times": 3}, max_attempts=2)
    dead = wait_state(server, token, j["id"], "dead", timeout=30)
    assert dead["attempt"] == 2
    assert "planned failure 2" in dead["last_error"]
    body = server.get("/api/admin/jobs/", token=token).json()  # dead by default
    assert j["id"] in [x["id"] for x in body["results"]]
    r = server.post(f"/api/admin/jobs/{j['id']}/retry/", token=token)
    assert r.status_code == 200, r.text
    # a fresh set of attempts: fails at 1 and 2 again, dead again
    wait_state(server, token, j["id"], "dead", timeout=30)
    assert server.post(f"/api/admin/jobs/{j['id']}/retry/", token=token).status_code == 200
    r = server.post("/api/admin/jobs/00000000-0000-7000-8000-000000000000/retry/", token=token)
    assert r.status_code == 404


def test_permanent_failure_is_dead_at_once(jobs):
    server, token = jobs
    j = enqueue(server, token, "test.fail", {"permanent": True})
    dead = wait_state(server, token, j["id"], "dead")
    assert dead["attempt"] == 1


def test_retry_of_done_job_is_invalid_state(jobs):
    server, token = jobs
    j = enqueue(server, token, "test.record")
    wait_state(server, token, j["id"], "done")
    r = server.post(f"/api/admin/jobs/{j['id']}/retry/", token=token)
    assert r.status_code == 409
    assert r.json()["code"] == "invalid_state"


def test_list_paginates_dead_jobs(jobs):
    server, token = jobs
    ids = [enqueue(server, token, "test.fail", {"permanent": True})["id"] for _ in range(5)]
    for i in ids:
        wait_state(server, token, i, "dead")
    seen, url = [], "/api/admin/jobs/?page_size=2&kind=test.fail"
    while url:
        body = server.get(url, token=token).json()
        seen += [x["id"] for x in body["results"]]
        url = body["next"] and body["next"][len(server.url):]
    assert sorted(seen) == sorted(ids)
    assert seen == sorted(seen, reverse=True)  # newest first


def test_worker_killed_mid_job_completes_once(souk_factory):
    require_worker_command()
    server = job_server(souk_factory, SOUK_JOB_WORKERS="0")
    token = admin_token(server)
    first = Worker(server, SOUK_JOB_WORKERS=1)
    try:
        j = enqueue(server, token, "test.sleep", {"ms": 2500})
        running = wait_state(server, token, j["id"], "running")
        first.kill9()
    finally:
        if first.proc.poll() is None:
            first.kill9()
    assert runs_of(server, j["id"]) == []
    second = Worker(server, SOUK_JOB_WORKERS=1)
    try:
        done = wait_state(server, token, j["id"], "done", timeout=30)
    finally:
        assert second.stop() == 0
    assert done["attempt"] == 2
    runs = runs_of(server, j["id"])
    assert len(runs) == 1 and runs[0][0] == "2"
    assert runs[0][1] != running["locked_by"]


def test_two_workers_never_share_a_job(souk_factory, db_kind):
    if db_kind != "pgsql":
        pytest.skip("two worker processes on one database: PostgreSQL (SKIP LOCKED)")
    require_worker_command()
    server = job_server(souk_factory, SOUK_JOB_WORKERS="0")
    token = admin_token(server)
    n = 1000
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: enqueue(server, token, "test.record", {"ms": 1})["id"],
                            range(n)))
    workers = [Worker(server, SOUK_JOB_WORKERS=4) for _ in range(2)]
    try:
        wait_for(lambda: int(db_rows(server, "SELECT count(*) FROM jobs WHERE kind = "
                                             "'test.record' AND state = 'done'")[0][0]) == n,
                 timeout=120, interval=0.5, what="1000 jobs done")
    finally:
        for w in workers:
            assert w.stop() == 0
    rows = db_rows(server, "SELECT job_id, count(*) FROM test_job_runs GROUP BY job_id")
    assert len(rows) == n, "some jobs never ran"
    assert all(r[1] == "1" for r in rows), "a job ran twice"
    assert {r[0] for r in rows} == set(ids)
    nodes = db_rows(server, "SELECT count(DISTINCT node) FROM test_job_runs")
    assert nodes[0][0] == "2", "both workers should have taken part"


def test_metrics_show_jobs(jobs):
    server, token = jobs
    j = enqueue(server, token, "test.record")
    wait_state(server, token, j["id"], "done")
    text = wait_for(lambda: (lambda t: t if "souk_jobs_runs_total" in t else None)(
        server.get("/metrics").text), what="job metrics")
    assert 'souk_jobs_runs_total{kind="test.record",outcome="done"}' in text
    assert "souk_jobs_start_delay_seconds" in text
