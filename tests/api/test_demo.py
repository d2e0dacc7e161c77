"""test_demo.py - `souk demo` fills every feature with data that the API then serves: recipes,
chefs and subscribers, specialists with projects, requests with reviews, a promotion, blog
posts, listings and threads. SQLite and PostgreSQL (a fresh database of its own)."""

import re
import shutil
import tempfile
import time

import souk_client
from souk_client import base_env, fresh_database_url, pg_drop_database, run_souk

DEMO_PASSWORD = "demo-password-42"


def account(out, kind):
    m = re.search(rf"{kind}\S*\s+(\S+@demo\.souk\.test)", out)
    assert m, f"no {kind} account in the demo's output:\n{out}"
    return m.group(1)


def test_demo_fills_every_feature(souk_factory):
    data_dir = tempfile.mkdtemp(prefix="souk-demo-")
    url, srv = fresh_database_url(data_dir), None
    try:
        r = run_souk(["demo", "--recipes", "40"], timeout=240,
                     env=base_env(data_dir, extra={"SOUK_DATABASE_URL": url}))
        assert r.returncode == 0, r.stderr[-3000:]
        assert "recipes: 40/40 (100%)" in r.stdout + r.stderr
        srv = souk_factory(data_dir=data_dir, SOUK_DATABASE_URL=url)
        assert srv.get("/api/recipes/?page_size=100").json()["results"]
        specs = srv.get("/api/specialists/?page_size=100").json()["results"]
        assert len(specs) == 4 and all(s["review_count"] >= 1 for s in specs), specs
        assert all(s["project_count"] == 3 for s in specs)
        assert sum(s["completed_requests"] for s in specs) == 8
        reviews = srv.get(f"/api/specialists/{specs[0]['id']}/reviews/").json()["results"]
        assert reviews and all(3 <= x["rating"] <= 5 for x in reviews)
        posts = srv.get("/api/blog/").json()["results"]
        assert [p["slug"] for p in posts] == ["five-ideas-for-a-small-kitchen"]
        assert srv.get("/api/listings/?page_size=100").json()["results"]
        # the printed accounts sign in and see their own data
        out = r.stdout

        def login(email):
            res = srv.post("/api/users/login/", json={"email": email, "password": DEMO_PASSWORD})
            assert res.status_code == 200, res.text
            return res.json()["access"]
        client = login(account(out, "client"))
        mine = srv.get("/api/requests/", token=client).json()["results"]
        assert {q["status"] for q in mine} == {"new", "completed"}, mine
        spec = login(account(out, "specialist"))
        # the demo paid its promotion at the sandbox; the webhook applies once the server runs
        deadline = time.monotonic() + 30
        while True:
            promos = srv.get("/api/promotions/", token=spec).json()["results"]
            if [p["status"] for p in promos] == ["active"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [(p["product"], p["status"]) for p in promos] == [("TOP", "active")], promos
        top = srv.get("/api/projects/").json()["results"][0]
        assert top["id"] == promos[0]["project_id"] and top["is_top"] is True, top
        paid = srv.get("/api/payments/history/", token=spec).json()["results"]
        assert any(x["status"] == "succeeded" for x in paid), paid
        buyer = login(account(out, "buyer"))
        assert srv.get("/api/threads/", token=buyer).json()["results"]
    finally:
        if srv:
            srv.stop()  # before its data directory and database go
        if souk_client.test_db() == "pgsql":
            pg_drop_database(url)
        shutil.rmtree(data_dir, ignore_errors=True)
