"""test_auctions_payment.py - the winner pays through the sandbox checkout and opens the
recipe; a winner who does not pay in SOUK_AUCTION_PAYMENT_WINDOW_SECONDS forfeits and the next
bidder at or above the reserve gets a second chance at their own bid."""

import pytest

from auctions_support import (auction, auctions_served, bid, customers, new_auction, ts,
                              wait_for)
from payments_util import base_env, pay, payments_served


@pytest.fixture(autouse=True, scope="module")
def _served():
    auctions_served()
    payments_served()


def won(server, user):
    return server.get("/api/bids/won/", token=user["access"]).json()["results"]


def awarded(server, a):
    return wait_for(lambda: (lambda d: d if d["status"] == "awarded" else None)(
        auction(server, a["id"])), what="awarded")


def test_win_pay_open(souk_factory):
    s = souk_factory(**base_env())
    x, y, z = customers(s, 3)
    chef, a = new_auction(s, ends_at=ts(2.5))
    assert bid(s, x, a["id"], "10.00").status_code == 201
    assert bid(s, y, a["id"], "12.00").status_code == 201
    assert awarded(s, a)["winner_id"] == y["id"]
    url = wait_for(lambda: won(s, y)[0]["checkout_url"], what="checkout url")
    assert url.split("/")[-1].startswith("cs_")
    # the checkout endpoint hands the same session to the winner, nobody else
    r = s.post("/api/payments/checkout/", json={"purpose": "auction", "id": a["id"]},
               token=y["access"])
    assert r.status_code == 201 and r.json()["url"] == url, r.text
    r = s.post("/api/payments/checkout/", json={"purpose": "auction", "id": a["id"]},
               token=x["access"])
    assert r.status_code == 404
    recipe = f"/api/recipes/{chef['recipe']['id']}/"
    assert s.get(recipe, token=y["access"]).status_code == 403
    assert pay(url).status_code == 303
    wait_for(lambda: won(s, y)[0]["payment_status"] == "succeeded", what="paid")
    assert s.get(recipe, token=y["access"]).status_code == 200
    r = s.get(recipe, token=z["access"])
    assert r.status_code == 403 and r.json()["code"] == "exclusive_content"
    assert s.get(recipe, token=x["access"]).status_code == 403


def test_second_chance(souk_factory):
    s = souk_factory(**base_env(SOUK_AUCTION_PAYMENT_WINDOW_SECONDS="3"))
    w, x, y = customers(s, 3)
    chef, a = new_auction(s, ends_at=ts(2.5), reserve_price="10.00", starting_price="5.00")
    assert bid(s, w, a["id"], "5.00").status_code == 201   # below the reserve
    assert bid(s, x, a["id"], "11.00").status_code == 201
    assert bid(s, y, a["id"], "15.00").status_code == 201
    assert awarded(s, a)["winner_id"] == y["id"]
    # y does not pay: forfeits; x is offered it at x's own bid
    wait_for(lambda: auction(s, a["id"])["winner_id"] == x["id"], timeout=40, what="2nd chance")
    assert won(s, y)[0]["payment_status"] == "expired"
    offer = wait_for(lambda: (lambda r: r[0] if r and r[0]["checkout_url"] else None)(won(s, x)),
                     what="offer to x")
    assert offer["amount"] == "11.00" and offer["payment_status"] == "pending"
    assert pay(offer["checkout_url"]).status_code == 303
    wait_for(lambda: won(s, x)[0]["payment_status"] == "succeeded", what="x paid")
    assert s.get(f"/api/recipes/{chef['recipe']['id']}/", token=x["access"]).status_code == 200
    owner = auction(s, a["id"], chef["access"])
    assert [(aw["user_id"], aw["status"]) for aw in owner["awards"]] == [
        (y["id"], "forfeited"), (x["id"], "paid")]
    # w (below the reserve) is never offered it
    assert won(s, w) == []
