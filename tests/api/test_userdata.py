"""test_userdata.py - the data export and the erasure of an account (GDPR articles 15, 17 and
20; API.md § Listings, messaging and moderation), on SQLite and PostgreSQL.

The erasure test greps a dump of the whole database for the erased user's email and names.
"""

import subprocess
import uuid

from identity_helpers import PASSWORD, assert_problem, login, make_chef, make_user, register
from orders_helpers import make_shop, order, pay, stock_of, wait_status
from recipes_support import plan, recipe, subscribe_paid

EXPORT_KEYS = {"exported_at", "user", "vendor_profile", "plans", "recipes", "subscriptions",
               "purchases", "payments", "orders", "bids", "projects", "favorites", "requests",
               "reviews", "promotions", "listings", "threads", "reports", "notifications"}


def dump(souk, db_kind):
    """The whole database as text, less the tables of the built-in payments sandbox: they stand
    for the payment provider's own records (Stripe's, in production), not souk's."""
    if db_kind == "sqlite":
        import sqlite3
        conn = sqlite3.connect(souk.db_url[len("sqlite:///"):])
        try:
            return "\n".join(line for line in conn.iterdump()
                             if not line.startswith('INSERT INTO "sandbox_'))
        finally:
            conn.close()
    r = subprocess.run(["pg_dump", "--data-only", "--exclude-table=sandbox_*", souk.db_url],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def unique_user(souk, role="CUSTOMER"):
    """A user with a unique name, so that a grep of the database finds only them."""
    first, last = "Zq" + uuid.uuid4().hex[:8], "Xv" + uuid.uuid4().hex[:8]
    email = f"erase-{uuid.uuid4().hex[:10]}@example.com"
    r = register(souk, role=role, email=email, first_name=first, last_name=last)
    assert r.status_code == 201, r.text
    body = login(souk, email).json()
    return {"id": body["user"]["id"], "email": email, "access": body["access"],
            "refresh": body["refresh"], "first": first, "last": last}


def test_export_is_an_attachment_with_every_record(souk):
    shop = make_shop(souk, stock=5)
    u = unique_user(souk)
    o = order(souk, u, shop["variant"]["id"]).json()
    rep = souk.post("/api/reports/", json={"target_type": "user", "target_id": shop["vendor"]["id"],
                                           "reason": "test"}, token=u["access"]).json()
    r = souk.get("/api/users/profile/export/", token=u["access"])
    assert r.status_code == 200, r.text
    assert r.headers["Content-Disposition"].startswith("attachment")
    doc = r.json()
    assert EXPORT_KEYS <= set(doc)
    assert doc["user"]["email"] == u["email"] and doc["vendor_profile"] is None
    assert [x["id"] for x in doc["orders"]] == [o["id"]]
    assert [x["id"] for x in doc["reports"]] == [rep["id"]]
    assert any(p["object_id"] == o["id"] for p in doc["payments"]), doc["payments"]
    assert_problem(souk.get("/api/users/profile/export/"), 401, "unauthenticated")
    # the vendor's own export holds its profile, and the order from the vendor's side
    v = souk.get("/api/users/profile/export/", token=shop["vendor"]["access"]).json()
    assert v["vendor_profile"]["id"] == shop["vendor"]["chef"]["id"]
    assert [x["id"] for x in v["orders"]] == [o["id"]]


def test_wrong_password_or_unfinished_business_erases_nothing(souk):
    shop = make_shop(souk, stock=5)
    u = unique_user(souk)
    body = assert_problem(souk.delete("/api/users/profile/", json={"password": "wrong-pass-1"},
                                      token=u["access"]), 400, "validation_error")
    assert "password" in body["errors"]
    o = order(souk, u, shop["variant"]["id"]).json()
    assert pay(o["payment_url"]).status_code == 303
    wait_status(souk, u, o["id"], "processing")
    assert_problem(souk.delete("/api/users/profile/", json={"password": PASSWORD},
                               token=u["access"]), 409, "invalid_state")
    # the vendor is blocked too, by the same paid order
    assert_problem(souk.delete("/api/users/profile/", json={"password": PASSWORD},
                               token=shop["vendor"]["access"]), 409, "invalid_state")
    assert souk.get("/api/users/profile/", token=u["access"]).status_code == 200
    assert login(souk, u["email"]).status_code == 200
    r = souk.post(f"/api/orders/{o['id']}/complete/", token=shop["vendor"]["access"])
    assert r.status_code == 200, r.text
    assert souk.delete("/api/users/profile/", json={"password": PASSWORD},
                       token=u["access"]).status_code == 204


def test_customer_erasure(souk, db_kind):
    admin = make_user(souk, "ADMIN")
    shop = make_shop(souk, stock=5)
    u = unique_user(souk)
    paid = order(souk, u, shop["variant"]["id"]).json()
    assert pay(paid["payment_url"]).status_code == 303
    wait_status(souk, u, paid["id"], "processing")
    assert souk.post(f"/api/orders/{paid['id']}/complete/",
                     token=shop["vendor"]["access"]).status_code == 200
    pending = order(souk, u, shop["variant"]["id"], quantity=2).json()
    assert stock_of(souk, shop["variant"]["id"]) == 2
    r = souk.delete("/api/users/profile/", json={"password": PASSWORD}, token=u["access"])
    assert r.status_code == 204, r.text
    # tokens end, login fails, the email is free again
    assert_problem(souk.get("/api/users/profile/", token=u["access"]), 401, "token_invalid")
    assert_problem(souk.post("/api/users/token/refresh/", json={"refresh": u["refresh"]}), 401,
                   "token_invalid")
    assert login(souk, u["email"]).status_code == 401
    # the pending order is cancelled and its stock back; the paid one stays
    ven = shop["vendor"]["access"]
    assert souk.get(f"/api/orders/{pending['id']}/", token=ven).json()["status"] == "cancelled"
    assert stock_of(souk, shop["variant"]["id"]) == 4
    kept = souk.get(f"/api/orders/{paid['id']}/", token=admin["access"]).json()
    assert kept["status"] == "completed" and kept["customer_email"] != u["email"]
    # an audit entry, and nothing personal left in the database
    entries = souk.get("/api/admin/audit/", params={"action": "user.erase", "target_id": u["id"]},
                       token=admin["access"]).json()["results"]
    assert len(entries) == 1
    text = dump(souk, db_kind)
    for secret in (u["email"], u["first"], u["last"]):
        found = [line[:300] for line in text.splitlines() if secret in line]
        assert not found, f"{secret} still in the database: {found}"
    assert f"erased-{u['id']}@invalid" in text
    again = register(souk, email=u["email"])
    assert again.status_code == 201, again.text


def test_chef_erasure_ends_subscriptions_and_removes_content(souk, db_kind):
    chef = make_chef(souk, business_name="Zq Kitchen " + uuid.uuid4().hex[:6])
    p = plan(souk, chef)
    rec = recipe(souk, chef, is_premium=True)
    fan = make_user(souk)
    sub = subscribe_paid(souk, fan, chef, p)
    r = souk.delete("/api/users/profile/", json={"password": PASSWORD}, token=chef["access"])
    assert r.status_code == 204, r.text
    assert souk.get(f"/api/recipes/{rec['id']}/").status_code == 404
    s = souk.get(f"/api/subscriptions/{sub['id']}/", token=fan["access"]).json()
    assert s["status"] == "canceled"
    ids = []
    url = "/api/chefs/?page_size=100"
    while url:
        page = souk.get(url.replace(souk.url, "")).json()
        ids += [c["id"] for c in page["results"]]
        url = page["next"]
    assert chef["chef"]["id"] not in ids, "an erased vendor leaves every list"
    prof = souk.get(f"/api/chefs/{chef['chef']['id']}/").json()
    assert prof["business_name"] == "Deleted vendor"
    assert chef["email"] not in dump(souk, db_kind)
