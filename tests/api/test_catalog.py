"""test_catalog.py - services and variants: who may create and change them, the public list with
its filters and pagination, availability, and the refusal to delete what was ordered."""

import pytest

from identity_helpers import assert_problem, make_chef, make_user
from orders_helpers import customer, make_shop, order, require_order_routes


@pytest.fixture(autouse=True)
def _routes():
    require_order_routes()


def test_vendor_without_profile_cannot_create(souk):
    vnp = make_user(souk, "VENDOR")
    assert_problem(souk.post("/api/services/", json={"name": "X"}, token=vnp["access"]), 403,
                   "forbidden")
    assert_problem(souk.post("/api/services/", json={"name": "X"},
                             token=customer(souk)["access"]), 403, "forbidden")
    assert_problem(souk.post("/api/services/", json={"name": "X"}), 401, "unauthenticated")


def test_service_and_variant_crud(souk):
    shop = make_shop(souk, price="29.99", stock=5)
    v, s, tok = shop["variant"], shop["service"], shop["vendor"]["access"]
    assert s["vendor_id"] == shop["vendor"]["chef"]["id"] and s["vendor_name"] == "Fix-It Shop"
    assert v == {**v, "service_id": s["id"], "name": "Standard", "price": "29.99",
                 "currency": "usd", "estimated_minutes": 45, "stock": 5}
    r = souk.get(f"/api/services/{s['id']}/")
    assert r.status_code == 200 and [x["id"] for x in r.json()["variants"]] == [v["id"]]
    r = souk.patch(f"/api/services/{s['id']}/", json={"category": "phones"}, token=tok)
    assert r.status_code == 200 and r.json()["category"] == "phones"
    r = souk.patch(f"/api/services/variants/{v['id']}/", json={"price": "31.50", "stock": 9},
                   token=tok)
    assert r.status_code == 200 and r.json()["price"] == "31.50" and r.json()["stock"] == 9
    assert_problem(souk.patch(f"/api/services/variants/{v['id']}/", json={"price": 31.5},
                              token=tok), 400, "validation_error")
    assert_problem(souk.patch(f"/api/services/variants/{v['id']}/", json={"stock": -1},
                              token=tok), 400, "validation_error")
    other = make_chef(souk)
    assert_problem(souk.patch(f"/api/services/{s['id']}/", json={"name": "Mine"},
                              token=other["access"]), 403, "forbidden")
    assert_problem(souk.delete(f"/api/services/variants/{v['id']}/", token=other["access"]),
                   403, "forbidden")
    r = souk.get(f"/api/services/variants/{v['id']}/availability/")
    assert r.json() == {"variant_id": v["id"], "stock": 9, "available": True}
    r = souk.get(f"/api/services/{s['id']}/variants/")
    assert r.status_code == 200 and len(r.json()["results"]) == 1
    assert souk.delete(f"/api/services/variants/{v['id']}/", token=tok).status_code == 204
    assert souk.delete(f"/api/services/{s['id']}/", token=tok).status_code == 204
    assert_problem(souk.get(f"/api/services/{s['id']}/"), 404, "not_found")


def test_ordered_things_cannot_be_deleted(souk):
    shop = make_shop(souk, stock=2)
    tok = shop["vendor"]["access"]
    assert order(souk, customer(souk), shop["variant"]["id"]).status_code == 201
    assert_problem(souk.delete(f"/api/services/{shop['service']['id']}/", token=tok), 409,
                   "invalid_state")
    assert_problem(souk.delete(f"/api/services/variants/{shop['variant']['id']}/", token=tok),
                   409, "invalid_state")


def test_list_filters_and_pages(souk):
    vendor = make_chef(souk, business_name="Filter Shop")
    tok = vendor["access"]
    for i in range(5):
        r = souk.post("/api/services/", json={"name": f"Boiler service {i}",
                                              "description": "Gas and oil",
                                              "category": "heating" if i % 2 else "plumbing"},
                      token=tok)
        assert r.status_code == 201
    vid = vendor["chef"]["id"]
    r = souk.get(f"/api/services/?vendor={vid}")
    assert [s["name"] for s in r.json()["results"]] == [f"Boiler service {i}"
                                                        for i in reversed(range(5))]
    r = souk.get(f"/api/services/?vendor={vid}&category=heating")
    assert len(r.json()["results"]) == 2
    r = souk.get(f"/api/services/?vendor={vid}&q=BOILER%20oil%203")
    assert [s["name"] for s in r.json()["results"]] == ["Boiler service 3"]
    r = souk.get(f"/api/services/?vendor={vid}&q=100%25")
    assert r.json()["results"] == []
    r = souk.get(f"/api/services/?vendor={vid}&page_size=2")
    page = r.json()
    assert len(page["results"]) == 2 and page["next"] and page["previous"] is None
    seen = [s["id"] for s in page["results"]]
    while page["next"]:
        page = souk.get(page["next"].split(souk.url, 1)[-1]).json()
        seen += [s["id"] for s in page["results"]]
    assert len(seen) == len(set(seen)) == 5
    r = souk.get("/api/services/my/", token=tok)
    assert len(r.json()["results"]) == 5
    assert souk.get("/api/services/?vendor=not-a-uuid").json()["results"] == []
