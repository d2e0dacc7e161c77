"""test_promotions.py - promotion products, buying, paying, coverage, expiry and the reminder
(API.md § Home services and § Payments and events of the home-services routes).
The timed tests run their own server with SOUK_PROMOTION_DAY_SECONDS=2. SQLite and PostgreSQL."""

import datetime

import pytest

from home_support import (customer, mails_to, make_project, make_specialist, notifications, pay,
                          served, wait_for)
from identity_helpers import assert_problem, make_chef, make_user


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def test_products_defaults(souk_factory):
    server = souk_factory()
    r = server.get("/api/promotions/products/")
    assert r.status_code == 200
    got = {p["product"]: p for p in r.json()["results"]}
    assert got == {
        "TOP": {"product": "TOP", "target": "project", "price": "9.99", "currency": "usd",
                "duration_days": 7, "is_active": True},
        "DETAILED": {"product": "DETAILED", "target": "project", "price": "4.99",
                     "currency": "usd", "duration_days": 7, "is_active": True},
        "PRO": {"product": "PRO", "target": "specialist", "price": "19.99", "currency": "usd",
                "duration_days": 30, "is_active": True},
    }


def test_admin_patch_and_inactive_product(souk_factory):
    server = souk_factory()
    admin = make_user(server, "ADMIN")
    spec = make_specialist(server)
    assert_problem(server.patch("/api/admin/promotions/products/PRO/", json={"price": 1.5},
                                token=admin["access"]), 400, "validation_error")
    assert_problem(server.patch("/api/admin/promotions/products/GOLD/", json={"price": "1.00"},
                                token=admin["access"]), 404, "not_found")
    old = server.post("/api/promotions/", json={"product": "PRO"}, token=spec["access"]).json()
    r = server.patch("/api/admin/promotions/products/PRO/",
                     json={"price": "25.00", "is_active": False}, token=admin["access"])
    assert r.status_code == 200 and r.json()["price"] == "25.00" and not r.json()["is_active"]
    assert_problem(server.post("/api/promotions/", json={"product": "PRO"}, token=spec["access"]),
                   409, "invalid_state")
    # an existing promotion keeps its price
    assert server.get(f"/api/promotions/{old['id']}/", token=spec["access"]).json()["price"] == \
        "19.99"
    server.patch("/api/admin/promotions/products/PRO/", json={"is_active": True},
                 token=admin["access"])
    r = server.post("/api/promotions/", json={"product": "PRO"}, token=spec["access"])
    assert r.status_code == 201 and r.json()["price"] == "25.00"
    # each change is audited with the admin as actor and the product before and after
    audit = server.get("/api/admin/audit/", params={"action": "promotion.product_update"},
                       token=admin["access"]).json()["results"]
    assert len(audit) == 2, audit
    first = audit[-1]
    assert first["actor_id"] == admin["id"] and first["target_id"] == "PRO"
    assert first["target_type"] == "promotion_product"
    assert first["before"]["price"] == "19.99" and first["after"]["price"] == "25.00"
    assert first["before"]["is_active"] and not first["after"]["is_active"]


def test_create_rules(souk):
    spec = make_specialist(souk)
    other = make_specialist(souk)
    mine, theirs = make_project(souk, spec), make_project(souk, other)
    r = souk.post("/api/promotions/", json={"product": "TOP"}, token=spec["access"])
    assert_problem(r, 400, "validation_error")
    assert "project_id" in r.json()["errors"]
    assert_problem(souk.post("/api/promotions/", json={"product": "TOP", "project_id": theirs},
                             token=spec["access"]), 403, "forbidden")
    assert_problem(souk.post("/api/promotions/", json={"product": "GOLD"}, token=spec["access"]),
                   400, "validation_error")
    chef = make_chef(souk)  # a vendor profile without categories: not a specialist
    assert_problem(souk.post("/api/promotions/", json={"product": "PRO"}, token=chef["access"]),
                   403, "forbidden")
    assert_problem(souk.post("/api/promotions/", json={"product": "PRO"},
                             token=customer(souk)["access"]), 403, "forbidden")
    assert souk.get("/api/promotions/", token=spec["access"]).json()["results"] == []
    r = souk.post("/api/promotions/", json={"product": "DETAILED", "project_id": mine},
                  token=spec["access"])
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["status"] == "pending" and p["project_id"] == mine and p["price"] == "4.99"
    assert p["specialist_id"] == spec["vendor_id"] and p["starts_at"] is None
    assert p["ends_at"] is None and p["checkout_url"].startswith("http")
    pro = souk.post("/api/promotions/", json={"product": "PRO", "project_id": mine},
                    token=spec["access"]).json()
    assert pro["project_id"] is None


def test_private_cancel_and_checkout(souk):
    spec, other = make_specialist(souk), make_specialist(souk)
    p = souk.post("/api/promotions/", json={"product": "PRO"}, token=spec["access"]).json()
    assert_problem(souk.get(f"/api/promotions/{p['id']}/", token=other["access"]), 404,
                   "not_found")
    assert_problem(souk.post(f"/api/promotions/{p['id']}/cancel/", token=other["access"]), 404,
                   "not_found")
    body = {"purpose": "promotion", "id": p["id"]}
    assert_problem(souk.post("/api/payments/checkout/", json=body, token=other["access"]), 404,
                   "not_found")
    r = souk.post("/api/payments/checkout/", json=body, token=spec["access"])
    assert r.status_code == 201, r.text
    assert r.json()["url"] == p["checkout_url"] and r.json()["amount"] == "19.99"
    r = souk.post(f"/api/promotions/{p['id']}/cancel/", token=spec["access"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_problem(souk.post(f"/api/promotions/{p['id']}/cancel/", token=spec["access"]), 409,
                   "invalid_state")
    assert_problem(souk.post("/api/payments/checkout/", json=body, token=spec["access"]), 409,
                   "invalid_state")
    r = souk.get("/api/promotions/?status=cancelled", token=spec["access"])
    assert [x["id"] for x in r.json()["results"]] == [p["id"]]
    assert_problem(souk.get("/api/promotions/?status=gone", token=spec["access"]), 400,
                   "validation_error")


def _active(server, spec, pid):
    def check():
        p = server.get(f"/api/promotions/{pid}/", token=spec["access"]).json()
        return p if p["status"] == "active" else None
    return wait_for(check, timeout=30, what="promotion active")


def test_paid_top_extends_expires_and_reminds_once(souk_factory):
    server = souk_factory(SOUK_PROMOTION_DAY_SECONDS="2")
    admin = make_user(server, "ADMIN")
    r = server.patch("/api/admin/promotions/products/TOP/", json={"duration_days": 3},
                     token=admin["access"])
    assert r.status_code == 200
    spec = make_specialist(server)
    older = make_project(server, spec, "Older")
    project = make_project(server, spec, "Promoted")
    first = server.post("/api/promotions/", json={"product": "TOP", "project_id": project},
                        token=spec["access"]).json()
    assert pay(first["checkout_url"]).status_code == 303
    a = _active(server, spec, first["id"])
    assert ts(a["ends_at"]) - ts(a["starts_at"]) == pytest.approx(6.0, abs=0.01)
    if served("GET", "/api/projects/{id}/"):
        assert server.get(f"/api/projects/{project}/").json()["is_top"] is True
        assert server.get(f"/api/projects/{older}/").json()["is_top"] is False
        ids = [x["id"] for x in server.get("/api/projects/").json()["results"]]
        assert ids[0] == project
    # buying again extends from the end of the current coverage
    second = server.post("/api/promotions/", json={"product": "TOP", "project_id": project},
                         token=spec["access"]).json()
    assert pay(second["checkout_url"]).status_code == 303
    b = _active(server, spec, second["id"])
    assert ts(b["starts_at"]) == pytest.approx(ts(a["ends_at"]), abs=0.001)
    assert len(notifications(server, spec, "promotion.activated")) == 2
    # the first one expires on time; the coverage goes on
    wait_for(lambda: server.get(f"/api/promotions/{first['id']}/", token=spec["access"]).json()
             ["status"] == "expired", timeout=15, what="first expired")
    assert server.get(f"/api/promotions/{second['id']}/", token=spec["access"]).json()[
        "status"] == "active"
    # one promotion day before the end of the coverage: one reminder, for the second only
    wait_for(lambda: len(mails_to(server, spec["email"])) >= 1 or None, timeout=15,
             what="reminder mail")
    wait_for(lambda: server.get(f"/api/promotions/{second['id']}/", token=spec["access"]).json()
             ["status"] == "expired", timeout=15, what="second expired")
    wait_for(lambda: len(notifications(server, spec, "promotion.expired")) == 2, timeout=10,
             what="expired events")
    reminders = [m for m in mails_to(server, spec["email"]) if "promotion ends soon" in m]
    assert len(reminders) == 1
    expiring = notifications(server, spec, "promotion.expiring")
    assert len(expiring) == 1 and expiring[0]["payload"]["promotion_id"] == second["id"]
    if served("GET", "/api/projects/{id}/"):
        assert server.get(f"/api/projects/{project}/").json()["is_top"] is False
    r = server.get("/api/payments/history/", token=spec["access"])
    purposes = [x.get("purpose") for x in r.json()["results"]]
    assert purposes.count("promotion") >= 2, r.json()


def test_pro_status_filter(souk_factory):
    server = souk_factory(SOUK_PROMOTION_DAY_SECONDS="1")
    spec = make_specialist(server)
    p = server.post("/api/promotions/", json={"product": "PRO"}, token=spec["access"]).json()
    assert pay(p["checkout_url"]).status_code == 303
    _active(server, spec, p["id"])
    r = server.get("/api/promotions/?status=active", token=spec["access"])
    assert [x["id"] for x in r.json()["results"]] == [p["id"]]
    if served("GET", "/api/specialists/{id}/"):
        assert server.get(f"/api/specialists/{spec['vendor_id']}/").json()["is_pro"] is True
