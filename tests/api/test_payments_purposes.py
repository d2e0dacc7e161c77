"""test_payments_purposes.py - how two payment purposes meet many payers and stray money.

* "recipe": a priced recipe is bought by each of its buyers. The checkout's object stays the
  recipe, the payer is part of its identity (payments.h, "Idempotency"), so buyers starting at
  the same moment get sessions of their own, and the same buyer asking again while a checkout is
  open gets that same session back.
* "subscription": a payment that arrives for a subscription that can no longer take it (an
  incomplete one replaced by a new subscribe) is noted in its events and undone by the job
  subscriptions.stray_payment. The sandbox models subscription invoices without a payment intent
  or charge, so there is nothing to refund there: the job cancels the stray provider subscription
  instead (src/subscriptions/purpose.c), which is what is checked.

Each test runs its own server (souk_factory) with a known sandbox key, on SQLite or PostgreSQL
per SOUK_TEST_DB.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

from identity_helpers import make_chef, make_user
from payments_util import base_env, checkout, sandbox_base, sandbox_get, sandbox_post
from recipes_support import (can_open, pay, plan, recipe, served, subscribe, subscription,
                             wait_for, wait_status)

BUYERS = 10


@pytest.fixture(scope="module", autouse=True)
def _served():
    served()


@pytest.fixture
def srv(souk_factory):
    return souk_factory(**base_env(SOUK_JOB_WORKERS="4"))


def start_checkout(server, user, recipe_id):
    return server.post("/api/payments/checkout/", json={"purpose": "recipe", "id": recipe_id},
                       token=user["access"])


def history(server, user):
    r = server.get("/api/payments/history/", token=user["access"])
    assert r.status_code == 200, r.text
    return r.json()["results"]


# ---- recipe: one checkout per buyer -----------------------------------------------------------


def test_concurrent_buyers_of_one_recipe(srv):
    chef = make_chef(srv)
    r = recipe(srv, chef, is_premium=True, price="3.20")
    buyers = [make_user(srv) for _ in range(BUYERS)]
    with ThreadPoolExecutor(BUYERS) as pool:
        got = list(pool.map(lambda b: start_checkout(srv, b, r["id"]), buyers))
    assert [g.status_code for g in got] == [201] * BUYERS, [g.text for g in got]
    sessions = [g.json() for g in got]
    assert len({s["id"] for s in sessions}) == BUYERS
    assert len({s["payment_id"] for s in sessions}) == BUYERS
    assert all(s["amount"] == "3.20" for s in sessions)
    for b, s in zip(buyers, sessions):  # history reads "recipe r" for every buyer
        mine = [p for p in history(srv, b) if p["id"] == s["payment_id"]]
        assert len(mine) == 1 and mine[0]["purpose"] == "recipe"
        assert mine[0]["object_id"] == r["id"]
    for s in sessions:
        assert pay(s["url"]).status_code == 303
    for b in buyers:
        wait_for(lambda b=b: can_open(srv, b, r), what="the purchase opens the recipe")


def test_same_buyer_gets_the_open_session_back(srv):
    chef = make_chef(srv)
    r = recipe(srv, chef, is_premium=True, price="1.10")
    buyer = make_user(srv)
    with ThreadPoolExecutor(2) as pool:
        twice = list(pool.map(lambda _: start_checkout(srv, buyer, r["id"]), range(2)))
    assert [t.status_code for t in twice] == [201, 201], [t.text for t in twice]
    assert twice[0].json()["id"] == twice[1].json()["id"]
    later = start_checkout(srv, buyer, r["id"])
    assert later.status_code == 201 and later.json()["id"] == twice[0].json()["id"]
    assert pay(later.json()["url"]).status_code == 303
    wait_for(lambda: can_open(srv, buyer, r), what="the purchase opens the recipe")
    owned = start_checkout(srv, buyer, r["id"])
    assert owned.status_code == 409, owned.text


# ---- subscription: a stray payment is undone ----------------------------------------------------


def provider_sub(checkout_url):
    base = sandbox_base(checkout_url)
    session = sandbox_get(base, "/v1/checkout/sessions/" + checkout_url.rstrip("/").split("/")[-1])
    return base, session.get("subscription")


def keep_open(server, user, checkout_url):
    """Makes the provider refuse to close this checkout when its subscription is replaced, as
    if the buyer paid in the window before the close: the replace's job expires the session with
    the Idempotency-Key souk-expire-<cs>, so that key is spent first on another request (closing
    an unrelated session), and the sandbox then answers the job 400 idempotency_error."""
    base = sandbox_base(checkout_url)
    cs = checkout_url.rstrip("/").split("/")[-1]
    other = checkout(server, user["access"])
    r = sandbox_post(base, f"/v1/checkout/sessions/{other['id']}/expire", {},
                     idem=f"souk-expire-{cs}")
    assert r.status_code == 200, r.text


def stray_notes(server, user, sub_id):
    r = server.get("/api/notifications/", token=user["access"])
    assert r.status_code == 200, r.text
    return [n for n in r.json()["results"]
            if n["payload"].get("subscription", {}).get("id") == sub_id
            and n["payload"].get("cause") == "job:stray_payment"]


def test_payment_of_a_replaced_subscription_is_undone(srv):
    chef = make_chef(srv)
    tier = plan(srv, chef, price="6.00")
    fan = make_user(srv)
    a = subscribe(srv, fan, chef, tier)
    keep_open(srv, fan, a["checkout_url"])
    b = subscribe(srv, fan, chef, tier)  # replaces a
    assert subscription(srv, fan, a["id"])["status"] == "expired"
    assert a["checkout_url"] != b["checkout_url"]

    paid = pay(a["checkout_url"])  # a's checkout is paid anyway
    assert paid.status_code == 303, paid.text
    base, sub_a = provider_sub(a["checkout_url"])
    assert sub_a
    wait_for(lambda: sandbox_get(base, f"/v1/subscriptions/{sub_a}")["status"] == "canceled",
             timeout=30, what="the stray provider subscription is canceled")
    wait_for(lambda: stray_notes(srv, fan, a["id"]), timeout=30,
             what="the stray payment's outcome in the subscription's events")
    assert subscription(srv, fan, a["id"])["status"] == "expired"  # never resurrected
    assert subscription(srv, fan, b["id"])["status"] == "incomplete"  # b unaffected

    assert pay(b["checkout_url"]).status_code == 303
    active = wait_status(srv, fan, b["id"], "active")
    assert active["current_period_end"]
    assert subscription(srv, fan, a["id"])["status"] == "expired"
