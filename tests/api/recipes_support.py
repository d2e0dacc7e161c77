"""recipes_support.py - chefs, plans, recipes and paid subscriptions for the black-box tests of
recipes and subscriptions (tests/api/test_recipes*.py, test_subscriptions*.py).

Everything talks HTTP to a running server; payments go through the sandbox's hosted checkout
page (POST card_number to the checkout URL), exactly as a buyer would.
"""

import time
import uuid

import pytest
import requests

import souk_client
from identity_helpers import make_chef, make_user

CARD_OK = "4242424242424242"
CARD_DECLINE = "4000000000000002"
CARD_RENEWAL_FAILS = "4000000000000341"


def served():
    """Fails the test when the binary does not serve recipes and subscriptions."""
    have = {(m, t.rstrip("/")) for m, t in souk_client.routes()}
    if ("GET", "/api/recipes") not in have or ("POST", "/api/subscriptions/subscribe") not in have:
        pytest.fail("recipes/subscriptions routes are not served (src/app.c)")


def wait_for(fn, timeout=20.0, what="condition", step=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def plan(server, chef, rank=1, price="9.99", name=None, interval="month"):
    r = server.post(f"/api/chefs/{chef['chef']['id']}/plans/", token=chef["access"],
                    json={"name": name or f"Tier {rank}", "price": price, "currency": "usd",
                          "interval": interval, "rank": rank, "description": "tier"})
    assert r.status_code == 201, r.text
    return r.json()


def recipe(server, chef, **fields):
    body = {"title": "Plain rice " + uuid.uuid4().hex[:6], "summary": "A simple dish",
            "ingredients": ["rice", "water"], "instructions": "Boil.", "cuisine": "asian",
            "dietary": ["vegan"], "difficulty": "easy", "cook_minutes": 20,
            "is_premium": False}
    body.update(fields)
    r = server.post("/api/recipes/", json=body, token=chef["access"])
    assert r.status_code == 201, r.text
    return r.json()


def pay(url, card=CARD_OK):
    return requests.post(url, data={"card_number": card}, allow_redirects=False, timeout=30)


def subscription(server, user, sub_id):
    r = server.get(f"/api/subscriptions/{sub_id}/", token=user["access"])
    assert r.status_code == 200, r.text
    return r.json()


def wait_status(server, user, sub_id, status, timeout=30.0):
    return wait_for(lambda: (lambda s: s if s["status"] == status else None)(
        subscription(server, user, sub_id)), timeout=timeout, what=f"status {status}")


def subscribe(server, user, chef, plan_row):
    r = server.post("/api/subscriptions/subscribe/", token=user["access"],
                    json={"chef_id": chef["chef"]["id"], "plan_id": plan_row["id"]})
    assert r.status_code == 201, r.text
    return r.json()


def subscribe_paid(server, user, chef, plan_row, card=CARD_OK):
    sub = subscribe(server, user, chef, plan_row)
    assert sub["status"] == "incomplete" and sub["checkout_url"], sub
    r = pay(sub["checkout_url"], card)
    assert r.status_code == 303, r.text
    return wait_status(server, user, sub["id"], "active")


def can_open(server, user, recipe_row):
    r = server.get(f"/api/recipes/{recipe_row['id']}/", token=user["access"] if user else None)
    assert r.status_code in (200, 403), r.text
    return r.status_code == 200


__all__ = ["make_chef", "make_user"]
