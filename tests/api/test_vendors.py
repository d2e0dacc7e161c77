"""test_vendors.py - vendor profiles, chefs, plans and the admin verify route (API.md § Vendors
and chefs, § Administration), on SQLite and PostgreSQL.
"""

import uuid

import jwt

from identity_helpers import PASSWORD, assert_problem, login, make_chef, make_user, unique_email

PROFILE_FIELDS = {"id", "user_id", "business_name", "address", "bio", "specialties", "city",
                  "is_verified", "created_at"}
PROFILE = {"business_name": "Fix-It", "address": "1 Main St", "bio": "repairs",
           "specialties": ["phones", "laptops"], "city": "Tunis"}


def test_vendor_creates_one_profile(souk):
    v = make_user(souk, "VENDOR")
    assert_problem(souk.get("/api/vendors/profile/", token=v["access"]), 404, "not_found")
    r = souk.post("/api/vendors/profile/", json=PROFILE, token=v["access"])
    assert r.status_code == 201, r.text
    p = r.json()
    assert PROFILE_FIELDS <= set(p)
    assert p["user_id"] == v["id"] and p["specialties"] == ["phones", "laptops"]
    assert p["is_verified"] is False
    assert_problem(souk.post("/api/vendors/profile/", json=PROFILE, token=v["access"]), 409,
                   "conflict")
    assert souk.get("/api/vendors/profile/", token=v["access"]).json()["id"] == p["id"]
    r = souk.patch("/api/vendors/profile/", json={"city": "Sfax", "is_verified": True},
                   token=v["access"])
    assert r.status_code == 200 and r.json()["city"] == "Sfax"
    assert r.json()["is_verified"] is False  # only an ADMIN verifies


def test_profile_requires_vendor_role(souk):
    c = make_user(souk)
    assert_problem(souk.post("/api/vendors/profile/", json=PROFILE, token=c["access"]), 403,
                   "forbidden")
    assert_problem(souk.post("/api/vendors/profile/", json=PROFILE), 401, "unauthenticated")


def test_profile_validation(souk):
    v = make_user(souk, "VENDOR")
    body = assert_problem(souk.post("/api/vendors/profile/", json={"specialties": "x"},
                                    token=v["access"]), 400, "validation_error")
    assert {"business_name", "specialties"} <= set(body["errors"])


def test_chef_register_in_one_step(souk):
    email = unique_email("chef")
    r = souk.post("/api/chefs/register/", json={"email": email, "password": PASSWORD,
                                                 "first_name": "A", "last_name": "B",
                                                 "business_name": "Chez A", "bio": "food"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) >= {"chef", "user", "access", "refresh"}
    assert body["user"]["role"] == "VENDOR" and body["chef"]["user_id"] == body["user"]["id"]
    assert jwt.decode(body["access"], souk.env["SOUK_SECRET_KEY"],
                      algorithms=["HS256"])["role"] == "VENDOR"
    assert souk.get("/api/vendors/profile/", token=body["access"]).json()["id"] == \
        body["chef"]["id"]


def test_chef_register_is_atomic(souk):
    email = unique_email("chef")
    ok = souk.post("/api/chefs/register/", json={"email": email, "password": PASSWORD,
                                                  "business_name": "X"})
    assert ok.status_code == 201
    # same email again: nothing of the second attempt may remain
    before = len(souk.get("/api/chefs/?page_size=100").json()["results"])
    assert_problem(souk.post("/api/chefs/register/", json={"email": email, "password": PASSWORD,
                                                            "business_name": "Y"}), 409,
                   "conflict")
    after = souk.get("/api/chefs/?page_size=100").json()["results"]
    assert len(after) == before and "Y" not in [c["business_name"] for c in after]
    body = assert_problem(souk.post("/api/chefs/register/", json={"email": unique_email()}),
                          400, "validation_error")
    assert {"password", "business_name"} <= set(body["errors"])


def test_chefs_list_and_detail(souk):
    chef = make_chef(souk)
    souk.post(f"/api/chefs/{chef['chef']['id']}/plans/", token=chef["access"],
              json={"name": "Basic", "price": "4.99", "interval": "month", "rank": 1})
    r = souk.get("/api/chefs/?page_size=100")
    assert r.status_code == 200
    mine = [c for c in r.json()["results"] if c["id"] == chef["chef"]["id"]]
    assert len(mine) == 1
    c = mine[0]
    assert c["subscriber_count"] == 0 and c["recipe_count"] == 0
    assert [p["name"] for p in c["plans"]] == ["Basic"]
    assert "is_subscribed" not in c
    signed = souk.get("/api/chefs/?page_size=100", token=make_user(souk)["access"]).json()
    assert all(x["is_subscribed"] is False for x in signed["results"])
    d = souk.get(f"/api/chefs/{chef['chef']['id']}/").json()
    assert d["premium_recipe_count"] == 0 and PROFILE_FIELDS <= set(d)
    assert_problem(souk.get(f"/api/chefs/{uuid.uuid4()}/"), 404, "not_found")


def test_chefs_list_pages(souk):
    for _ in range(3):
        make_chef(souk)
    first = souk.get("/api/chefs/?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = souk.get(first["next"].replace(souk.url, "")).json()
    ids1 = {c["id"] for c in first["results"]}
    assert not ids1 & {c["id"] for c in second["results"]}
    assert_problem(souk.get("/api/chefs/?cursor=eyJrIjoxfQ"), 400, "validation_error")


def count_chefs(souk):
    n, url = 0, "/api/chefs/?page_size=100"
    while url:
        r = souk.get(url)
        assert r.status_code == 200, r.text
        n += len(r.json()["results"])
        url = r.json()["next"] and r.json()["next"].replace(souk.url, "")
    return n


def test_chefs_full_page_of_the_largest_size(souk):
    """A full page of 100 fetches 101 rows (the extra one only says whether more exist); their
    statistics are counted in batches, so the largest page works however many chefs exist."""
    for _ in range(max(0, 101 - count_chefs(souk))):
        make_chef(souk)
    viewer = make_user(souk)["access"]
    for token in (None, viewer):
        r = souk.get("/api/chefs/?page_size=100", token=token)
        assert r.status_code == 200, r.text
        assert len(r.json()["results"]) == 100 and r.json()["next"]
        assert all("subscriber_count" in c for c in r.json()["results"])


def test_chef_put_owner_admin_only(souk):
    chef = make_chef(souk)
    cid = chef["chef"]["id"]
    body = {"business_name": "Renamed", "bio": "new"}
    r = souk.put(f"/api/chefs/{cid}/", json=body, token=chef["access"])
    assert r.status_code == 200 and r.json()["business_name"] == "Renamed"
    other = make_chef(souk)
    assert_problem(souk.put(f"/api/chefs/{cid}/", json=body, token=other["access"]), 403,
                   "forbidden")
    assert_problem(souk.put(f"/api/chefs/{cid}/", json=body), 401, "unauthenticated")
    admin = make_user(souk, "ADMIN")
    r = souk.put(f"/api/chefs/{cid}/", json={"business_name": "By admin"},
                 token=admin["access"])
    assert r.status_code == 200 and r.json()["business_name"] == "By admin"


def test_chef_recipes_and_subscribers(souk):
    chef = make_chef(souk)
    cid = chef["chef"]["id"]
    r = souk.get(f"/api/chefs/{cid}/recipes/")
    assert r.status_code == 200 and r.json()["results"] == []
    assert souk.get(f"/api/chefs/{cid}/subscribers/").json() == {"subscriber_count": 0}
    own = souk.get(f"/api/chefs/{cid}/subscribers/", token=chef["access"]).json()
    assert own["subscriber_count"] == 0 and own["results"] == []
    admin = make_user(souk, "ADMIN")
    assert "results" in souk.get(f"/api/chefs/{cid}/subscribers/", token=admin["access"]).json()


def test_plans(souk):
    chef = make_chef(souk)
    cid = chef["chef"]["id"]
    url = f"/api/chefs/{cid}/plans/"
    r = souk.post(url, token=chef["access"], json={"name": "Gold", "price": "29.99",
                                                   "interval": "year", "rank": 2,
                                                   "description": "all"})
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["price"] == "29.99" and p["currency"] == "usd" and p["interval"] == "year"
    assert p["rank"] == 2 and p["is_active"] is True
    souk.post(url, token=chef["access"], json={"name": "Basic", "price": 5, "interval": "month",
                                               "rank": 1})
    souk.post(url, token=chef["access"], json={"name": "Old", "price": "1.00",
                                               "interval": "month", "is_active": False})
    public = souk.get(url).json()["results"]
    assert [x["name"] for x in public] == ["Basic", "Gold"]
    assert public[0]["price"] == "5.00"
    assert "Old" in [x["name"] for x in souk.get(url, token=chef["access"]).json()["results"]]


def test_plan_validation_and_ownership(souk):
    chef = make_chef(souk)
    url = f"/api/chefs/{chef['chef']['id']}/plans/"
    for bad in ({"name": "F", "price": 9.99, "interval": "month"},
                {"name": "F", "price": "9.999", "interval": "month"},
                {"name": "F", "price": "9.99", "interval": "week"},
                {"name": "F", "price": "9.99", "interval": "month", "rank": 0},
                {"name": "F", "price": "9.99", "interval": "month", "currency": "USD"}):
        assert_problem(souk.post(url, token=chef["access"], json=bad), 400, "validation_error")
    good = {"name": "F", "price": "9.99", "interval": "month"}
    assert_problem(souk.post(url, token=make_chef(souk)["access"], json=good), 403, "forbidden")
    assert_problem(souk.post(url, json=good), 401, "unauthenticated")


def test_admin_verifies_vendor(souk):
    chef = make_chef(souk)
    cid = chef["chef"]["id"]
    url = f"/api/admin/vendors/{cid}/verify/"
    assert_problem(souk.post(url, json={"is_verified": True}, token=chef["access"]), 403,
                   "forbidden")
    admin = make_user(souk, "ADMIN")
    r = souk.post(url, json={"is_verified": True}, token=admin["access"])
    assert r.status_code == 200 and r.json()["is_verified"] is True
    assert souk.get(f"/api/chefs/{cid}/").json()["is_verified"] is True
    assert_problem(souk.post(f"/api/admin/vendors/{uuid.uuid4()}/verify/",
                             json={"is_verified": True}, token=admin["access"]), 404,
                   "not_found")
    assert_problem(souk.post(url, json={"is_verified": "yes"}, token=admin["access"]), 400,
                   "validation_error")
