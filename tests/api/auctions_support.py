"""auctions_support.py - helpers for tests/api/test_auctions*.py: a chef with a recipe, an
auction on it, bidders, and time in RFC 3339."""

import datetime
import time

import pytest

from identity_helpers import make_chef, make_user
from souk_client import routes


def auctions_served():
    served = {(m, t.rstrip("/")) for m, t in routes()}
    if ("POST", "/api/auctions") not in served:
        pytest.fail("the binary does not serve /api/auctions/ (auctions missing from src/app.c)")


def ts(offset_s=0.0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def money(cents):
    return f"{cents // 100}.{cents % 100:02d}"


def cents(s):
    whole, _, frac = s.partition(".")
    return int(whole) * 100 + int(frac or 0)


def chef_with_recipe(server, premium=False):
    chef = make_chef(server)
    r = server.post("/api/recipes/", json={"title": "Secret sauce", "summary": "s",
                                           "ingredients": ["salt"], "instructions": "stir",
                                           "is_premium": premium}, token=chef["access"])
    assert r.status_code == 201, r.text
    chef["recipe"] = r.json()
    return chef


def new_auction(server, chef=None, **fields):
    chef = chef or chef_with_recipe(server)
    body = {"recipe_id": chef["recipe"]["id"], "starting_price": "10.00",
            "min_increment": "1.00", "ends_at": ts(60), "soft_close_seconds": 0}
    body.update(fields)
    r = server.post("/api/auctions/", json=body, token=chef["access"])
    assert r.status_code == 201, r.text
    return chef, r.json()


def bid(server, user, auction_id, amount):
    return server.post("/api/bids/", json={"auction_id": auction_id, "amount": amount},
                       token=user["access"])


def auction(server, auction_id, token=None):
    r = server.get(f"/api/auctions/{auction_id}/", token=token)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(fn, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def customers(server, n):
    return [make_user(server, "CUSTOMER") for _ in range(n)]
