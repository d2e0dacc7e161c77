"""test_recipes.py - recipes, the access rule, the global cookbook and search (API.md § Recipes).

Runs on the shared server (SQLite or PostgreSQL per SOUK_TEST_DB). Premium access through a paid
subscription and a one-time purchase goes through the sandbox checkout page.
"""

import os
import time
import uuid

import pytest
import requests

from identity_helpers import assert_problem, make_chef, make_user
from recipes_support import (can_open, pay, plan, recipe, served, subscribe_paid, wait_for)


@pytest.fixture(scope="module", autouse=True)
def _served():
    served()


@pytest.fixture(scope="module")
def chef(souk):
    return make_chef(souk)


@pytest.fixture(scope="module")
def customer(souk):
    return make_user(souk)


# ---- CRUD and who may write ------------------------------------------------------------------


def test_create_read_update_delete(souk, chef):
    r = recipe(souk, chef, title="Shakshuka", price="4.50", dietary=["Vegetarian"],
               ingredients=["eggs", "tomatoes"], difficulty="medium", cook_minutes=25)
    assert r["chef_id"] == chef["chef"]["id"] and r["chef"]["id"] == chef["chef"]["id"]
    assert r["price"] == "4.50" and r["currency"] == "usd" and r["locked"] is False
    assert r["ingredients"] == ["eggs", "tomatoes"] and r["dietary"] == ["Vegetarian"]
    got = souk.get(f"/api/recipes/{r['id']}/").json()
    assert got["title"] == "Shakshuka" and got["instructions"] == "Boil."

    p = souk.patch(f"/api/recipes/{r['id']}/", json={"title": "Shakshuka 2", "price": None},
                   token=chef["access"])
    assert p.status_code == 200, p.text
    assert p.json()["title"] == "Shakshuka 2" and p.json()["price"] is None
    assert p.json()["cook_minutes"] == 25  # untouched by PATCH

    put = souk.put(f"/api/recipes/{r['id']}/", json={"title": "Replaced"}, token=chef["access"])
    assert put.status_code == 200 and put.json()["cook_minutes"] == 0  # PUT replaces

    d = souk.delete(f"/api/recipes/{r['id']}/", token=chef["access"])
    assert d.status_code == 204
    assert_problem(souk.get(f"/api/recipes/{r['id']}/"), 404, "not_found")


def test_who_may_write(souk, chef, customer):
    r = recipe(souk, chef)
    body = {"title": "X"}
    assert_problem(souk.post("/api/recipes/", json=body), 401, "unauthenticated")
    assert_problem(souk.post("/api/recipes/", json=body, token=customer["access"]), 403,
                   "forbidden")
    vnp = make_user(souk, role="VENDOR")
    assert_problem(souk.post("/api/recipes/", json=body, token=vnp["access"]), 403, "forbidden")
    other = make_chef(souk)
    assert_problem(souk.patch(f"/api/recipes/{r['id']}/", json=body, token=other["access"]), 403,
                   "forbidden")
    assert_problem(souk.delete(f"/api/recipes/{r['id']}/", token=customer["access"]), 403,
                   "forbidden")
    admin = make_user(souk, role="ADMIN")
    assert souk.patch(f"/api/recipes/{r['id']}/", json=body,
                      token=admin["access"]).status_code == 200


@pytest.mark.parametrize("field,value", [
    ("price", 4.5), ("difficulty", "insane"), ("cook_minutes", -1), ("ingredients", "rice"),
    ("required_rank", 0), ("dietary", ["a|b"]), ("title", ""), ("is_premium", "yes")])
def test_validation(souk, chef, field, value):
    body = {"title": "T", field: value}
    r = souk.post("/api/recipes/", json=body, token=chef["access"])
    body = assert_problem(r, 400, "validation_error")
    assert field in body["errors"], body


# ---- access ------------------------------------------------------------------------------------


def test_premium_is_locked_for_others(souk, chef, customer):
    plan(souk, chef, rank=1, price="5.00")
    r = recipe(souk, chef, title="Secret ragu", is_premium=True,
               ingredients=["veal", "nutmegsecret"], instructions="Stir for hours.")
    for token in (None, customer["access"], make_chef(souk)["access"]):
        body = assert_problem(souk.get(f"/api/recipes/{r['id']}/", token=token), 403,
                              "subscription_required")
        assert body["chef_id"] == chef["chef"]["id"]
        assert body["plans"] and body["plans"][0]["rank"] == 1
        assert body["recipe"]["locked"] is True and body["recipe"]["ingredients"] is None
        assert "nutmegsecret" not in str(body)
    for who in (chef, make_user(souk, role="ADMIN"), make_user(souk, role="MODERATOR")):
        got = souk.get(f"/api/recipes/{r['id']}/", token=who["access"])
        assert got.status_code == 200 and got.json()["ingredients"] == ["veal", "nutmegsecret"]


def test_lists_show_locked_teaser(souk, chef, customer):
    r = recipe(souk, chef, title="Teaser pie", summary="crust", is_premium=True,
               ingredients=["flour", "lockedword"])
    for path in ("/api/recipes/", "/api/recipes/global/", "/api/recipes/search/"):
        res = souk.get(path + f"?chef={chef['chef']['id']}&page_size=100",
                       token=customer["access"]).json()["results"]
        row = next(x for x in res if x["id"] == r["id"])
        assert row["locked"] is True and row["ingredients"] is None
        assert row["instructions"] is None and row["title"] == "Teaser pie"
        assert row["chef"]["business_name"] == chef["chef"]["business_name"]
        assert "lockedword" not in str(res)
    mine = souk.get(f"/api/recipes/?chef={chef['chef']['id']}&page_size=100",
                    token=chef["access"]).json()["results"]
    assert next(x for x in mine if x["id"] == r["id"])["ingredients"] == ["flour", "lockedword"]


def test_search_never_matches_locked_fields(souk, chef, customer):
    word = "zq" + uuid.uuid4().hex[:8]
    r = recipe(souk, chef, title="Hidden stew", is_premium=True, ingredients=[word + "root"])
    free = recipe(souk, chef, title="Open stew", ingredients=[word + "leaf"])
    for token in (None, customer["access"]):
        ids = [x["id"] for x in souk.get(f"/api/recipes/search/?q={word}",
                                         token=token).json()["results"]]
        assert ids == [free["id"]]
    # the public teaser stays searchable
    ids = [x["id"] for x in souk.get("/api/recipes/search/?q=hidden stew").json()["results"]]
    assert r["id"] in ids
    # the chef (and a subscriber) may search inside it
    ids = [x["id"] for x in souk.get(f"/api/recipes/search/?q={word}",
                                     token=chef["access"]).json()["results"]]
    assert set(ids) == {r["id"], free["id"]}


def test_subscriber_opens_premium_by_rank(souk):
    chef = make_chef(souk)
    basic = plan(souk, chef, rank=1, price="3.00")
    plan(souk, chef, rank=2, price="8.00")
    r1 = recipe(souk, chef, is_premium=True, required_rank=1)
    r2 = recipe(souk, chef, is_premium=True, required_rank=2)
    fan = make_user(souk)
    assert not can_open(souk, fan, r1)
    subscribe_paid(souk, fan, chef, basic)
    assert can_open(souk, fan, r1) and not can_open(souk, fan, r2)
    res = souk.get(f"/api/recipes/?chef={chef['chef']['id']}", token=fan["access"]).json()
    locked = {x["id"]: x["locked"] for x in res["results"]}
    assert locked[r1["id"]] is False and locked[r2["id"]] is True


def test_one_time_purchase(souk):
    chef = make_chef(souk)
    plan(souk, chef)
    r = recipe(souk, chef, is_premium=True, price="2.50")
    nosale = recipe(souk, chef, is_premium=True)
    buyer = make_user(souk)
    assert not can_open(souk, buyer, r)
    co = souk.post("/api/payments/checkout/", json={"purpose": "recipe", "id": r["id"]},
                   token=buyer["access"])
    assert co.status_code == 201, co.text
    assert co.json()["amount"] == "2.50"
    other = make_user(souk)  # a second buyer gets a checkout of their own
    co2 = souk.post("/api/payments/checkout/", json={"purpose": "recipe", "id": r["id"]},
                    token=other["access"])
    assert co2.status_code == 201 and co2.json()["id"] != co.json()["id"]
    assert pay(co.json()["url"]).status_code == 303
    wait_for(lambda: can_open(souk, buyer, r), what="purchase opens the recipe")
    assert not can_open(souk, other, r)
    again = souk.post("/api/payments/checkout/", json={"purpose": "recipe", "id": r["id"]},
                      token=buyer["access"])
    assert_problem(again, 409, "conflict")
    assert_problem(souk.post("/api/payments/checkout/",
                             json={"purpose": "recipe", "id": nosale["id"]},
                             token=buyer["access"]), 409, "invalid_state")


# ---- the global cookbook and search -------------------------------------------------------------


@pytest.fixture(scope="module")
def book(souk):
    """A chef with a small, known cookbook (unique cuisine so other tests do not interfere)."""
    chef = make_chef(souk)
    cuisine = "c" + uuid.uuid4().hex[:8]
    rows = [
        recipe(souk, chef, title="Alpha chickpea curry", cuisine=cuisine, cook_minutes=40,
               dietary=["vegan", "gluten-free"], difficulty="medium",
               ingredients=["chickpeas", "coconut milk"]),
        recipe(souk, chef, title="Beta lentil soup", cuisine=cuisine, cook_minutes=30,
               dietary=["vegan"], difficulty="easy", ingredients=["lentils", "carrots"]),
        recipe(souk, chef, title="Gamma chicken tikka", cuisine=cuisine, cook_minutes=60,
               dietary=["gluten-free"], difficulty="hard", ingredients=["chicken", "yoghurt"]),
        recipe(souk, chef, title="Delta chickpea salad", cuisine=cuisine, cook_minutes=10,
               dietary=["Vegan"], difficulty="easy", ingredients=["chickpeas", "parsley"]),
    ]
    return {"chef": chef, "cuisine": cuisine, "rows": rows}


def titles(souk, query, token=None):
    r = souk.get("/api/recipes/search/?" + query, token=token)
    assert r.status_code == 200, r.text
    return [x["title"].split()[0] for x in r.json()["results"]]


def test_search_filters(souk, book):
    c = "cuisine=" + book["cuisine"]
    assert titles(souk, c) == ["Delta", "Gamma", "Beta", "Alpha"]  # newest first
    assert titles(souk, c + "&q=chick") == ["Delta", "Gamma", "Alpha"]  # prefix
    assert titles(souk, c + "&q=CHICKPEA sal") == ["Delta"]  # every word, any case
    assert titles(souk, c + "&q=coconut") == ["Alpha"]  # ingredients
    assert titles(souk, c + "&dietary=vegan") == ["Delta", "Beta", "Alpha"]
    assert titles(souk, c + "&dietary=vegan&dietary=gluten-free") == ["Alpha"]
    assert titles(souk, c + "&difficulty=easy") == ["Delta", "Beta"]
    assert titles(souk, c + "&max_cook_minutes=30") == ["Delta", "Beta"]
    assert titles(souk, c + "&ordering=cook_minutes") == ["Delta", "Beta", "Alpha", "Gamma"]
    assert titles(souk, c + "&ordering=title") == ["Alpha", "Beta", "Delta", "Gamma"]
    assert titles(souk, c + "&ordering=-title") == ["Gamma", "Delta", "Beta", "Alpha"]
    assert titles(souk, f"chef={book['chef']['chef']['id']}&is_premium=false") == \
        ["Delta", "Gamma", "Beta", "Alpha"]
    assert titles(souk, c + "&is_premium=true") == []


@pytest.mark.parametrize("query,field", [
    ("difficulty=insane", "difficulty"), ("max_cook_minutes=abc", "max_cook_minutes"),
    ("ordering=price", "ordering"), ("q=%20%2B%2B", "q"), ("chef=nope", "chef"),
    ("cursor=notacursor", "cursor"), ("is_premium=maybe", "is_premium")])
def test_search_bad_queries(souk, query, field):
    body = assert_problem(souk.get("/api/recipes/search/?" + query), 400, "validation_error")
    assert field in body.get("errors", {}), body


@pytest.mark.parametrize("ordering", ["-created_at", "title", "cook_minutes", "-title"])
def test_keyset_pages_forward_and_back(souk, book, ordering):
    base = f"/api/recipes/global/?cuisine={book['cuisine']}&ordering={ordering}&page_size=3"
    first = souk.get(base).json()
    assert len(first["results"]) == 3 and first["next"] and first["previous"] is None
    second = requests.get(first["next"], timeout=30).json()
    assert len(second["results"]) == 1 and second["next"] is None and second["previous"]
    back = requests.get(second["previous"], timeout=30).json()
    assert [x["id"] for x in back["results"]] == [x["id"] for x in first["results"]]
    everything = souk.get(base.replace("page_size=3", "page_size=10")).json()["results"]
    assert [x["id"] for x in first["results"] + second["results"]] == \
        [x["id"] for x in everything]


@pytest.mark.parametrize("ordering", ["-created_at", "created_at", "cook_minutes", "-title"])
def test_search_pages_forward_and_back(souk, book, ordering):
    """A search's keyset (SQLite: on FTS5's rowid for the created_at orderings)."""
    base = (f"/api/recipes/search/?q=chick&cuisine={book['cuisine']}&ordering={ordering}"
            "&page_size=2")
    first = souk.get(base).json()
    assert len(first["results"]) == 2 and first["next"] and first["previous"] is None
    second = requests.get(first["next"], timeout=30).json()
    assert len(second["results"]) == 1 and second["next"] is None and second["previous"]
    back = requests.get(second["previous"], timeout=30).json()
    assert [x["id"] for x in back["results"]] == [x["id"] for x in first["results"]]
    everything = souk.get(base.replace("page_size=2", "page_size=10")).json()["results"]
    assert [x["id"] for x in first["results"] + second["results"]] == \
        [x["id"] for x in everything]


def test_search_short_words(souk, book):
    """A word matches as a prefix from two letters on; one letter matches only itself."""
    c = "cuisine=" + book["cuisine"]
    assert titles(souk, c + "&q=c") == []
    assert titles(souk, c + "&q=ch") == ["Delta", "Gamma", "Alpha"]
    assert titles(souk, c + "&q=chi tik") == ["Gamma"]
    chef, cuisine = make_chef(souk), "c" + uuid.uuid4().hex[:8]
    recipe(souk, chef, title="Plan B stew", cuisine=cuisine)
    assert titles(souk, f"cuisine={cuisine}&q=b") == ["Plan"]
    assert titles(souk, f"cuisine={cuisine}&q=s") == []


def test_anonymous_list_cache_sees_writes(souk, book):
    q = f"/api/recipes/global/?cuisine={book['cuisine']}"
    before = len(souk.get(q).json()["results"])
    added = recipe(souk, book["chef"], title="Epsilon", cuisine=book["cuisine"])
    assert len(souk.get(q).json()["results"]) == before + 1
    souk.delete(f"/api/recipes/{added['id']}/", token=book["chef"]["access"])
    assert len(souk.get(q).json()["results"]) == before


def test_search_plans_agree(souk):
    """Small pages and large pages of a common word (SQLite: FTS5 drives the order) give the
    same rows in the same order, and locked fields match in neither."""
    chef = make_chef(souk)
    word = "zw" + uuid.uuid4().hex[:8]
    made = [recipe(souk, chef, title=f"{word} dish {i}", cook_minutes=i,
                   ingredients=["salt"] if i % 3 else [word + "x"], is_premium=i % 3 == 0)
            for i in range(30)]
    big = souk.get(f"/api/recipes/search/?q={word}&page_size=100").json()["results"]
    assert len(big) == 30  # titles match for everyone, premium ones locked
    small, url = [], f"/api/recipes/search/?q={word}&page_size=4"
    while url:
        page = (souk.get(url) if url.startswith("/") else requests.get(url, timeout=30)).json()
        small += page["results"]
        url = page["next"]
    assert [x["id"] for x in small] == [x["id"] for x in big]
    hidden = souk.get(f"/api/recipes/search/?q={word}x&page_size=3").json()["results"]
    assert hidden == []  # only premium ones hold the word in their (locked) ingredients
    mine = souk.get(f"/api/recipes/search/?q={word}x&page_size=3", token=chef["access"]).json()
    assert len(mine["results"]) == 3 and mine["next"]
    assert len(made) == 30


# ---- two nodes: the anonymous list cache ---------------------------------------------------------


def test_a_recipe_written_on_one_node_is_listed_at_once_on_another(souk_factory):
    """The anonymous cookbook page and the detail's row are cached per node; a write on node a
    drops node b's copies through the bus (Redis pub/sub, published before a's answer is sent).
    Delivery to b's listener is asynchronous, so b is given 0.5 s: ten times less than the
    caches' lifetime (5 s), which is what b would serve without the bus."""
    redis = os.environ.get("SOUK_TEST_REDIS_URL")
    if not redis:
        pytest.skip("SOUK_TEST_REDIS_URL not set")
    a = souk_factory(SOUK_REDIS_URL=redis)
    b = souk_factory(SOUK_REDIS_URL=redis, SOUK_DATABASE_URL=a.db_url, SOUK_DATA_DIR=a.data_dir)
    chef = make_chef(a)
    wait_for(lambda: b.get("/metrics").status_code == 200, timeout=5, what="node b")
    time.sleep(0.5)  # both listeners subscribed

    def page():
        return [x["id"] for x in b.get("/api/recipes/?ordering=-created_at").json()["results"]]

    def soon(fn, what):
        wait_for(fn, timeout=0.5, step=0.02, what=what)

    for i in range(5):
        assert page() == page()  # cached on b now
        new = recipe(a, chef, title=f"Bus soup {i}")["id"]
        soon(lambda: page()[:1] == [new], f"round {i}: node b lists the new recipe")
        # the detail's row is cached too (rowcache.c): an edit on a shows on b
        assert b.get(f"/api/recipes/{new}/").json()["title"] == f"Bus soup {i}"
        r = a.patch(f"/api/recipes/{new}/", json={"title": f"Bus stew {i}"}, token=chef["access"])
        assert r.status_code == 200, r.text
        soon(lambda: b.get(f"/api/recipes/{new}/").json()["title"] == f"Bus stew {i}",
             f"round {i}: node b shows the edit")
        r = a.delete(f"/api/recipes/{new}/", token=chef["access"])
        assert r.status_code == 204, r.text
        soon(lambda: b.get(f"/api/recipes/{new}/").status_code == 404,
             f"round {i}: node b forgets the deleted recipe")
        soon(lambda: new not in page(), f"round {i}: node b's page drops it")
