"""test_auctions.py - auctions and bids (API.md § Auctions and bids): create, list, detail,
cancel, the bidding rules, soft close, the end (awarded / unsold), exclusivity, live events."""

import pytest

from auctions_support import (auction, auctions_served, bid, cents, chef_with_recipe, customers,
                              money, new_auction, parse_ts, ts, wait_for)
from identity_helpers import make_chef, make_user


@pytest.fixture(autouse=True, scope="module")
def _served():
    auctions_served()


def test_create_detail_and_reserve_visibility(souk):
    chef, a = new_auction(souk, reserve_price="50.00")
    assert a["status"] == "open" and a["current_price"] is None
    assert a["minimum_next_bid"] == "10.00" and a["bid_count"] == 0
    assert a["reserve_price"] == "50.00" and a["reserve_met"] is False
    assert a["chef_id"] == chef["chef"]["id"] and a["winner_id"] is None
    anon = auction(souk, a["id"])
    assert "reserve_price" not in anon and anon["reserve_met"] is False
    other = make_user(souk)
    assert "reserve_price" not in auction(souk, a["id"], other["access"])
    assert auction(souk, a["id"], chef["access"])["reserve_price"] == "50.00"


def test_create_rules(souk):
    chef = chef_with_recipe(souk)
    other = make_chef(souk)
    body = {"recipe_id": chef["recipe"]["id"], "starting_price": "5.00", "ends_at": ts(60)}
    r = souk.post("/api/auctions/", json=body, token=other["access"])
    assert r.status_code == 403, r.text
    r = souk.post("/api/auctions/", json=body)
    assert r.status_code == 401
    r = souk.post("/api/auctions/", json={**body, "starting_price": 5.5}, token=chef["access"])
    assert r.status_code == 400 and "starting_price" in r.json()["errors"]
    r = souk.post("/api/auctions/", json={**body, "ends_at": ts(-5)}, token=chef["access"])
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    r = souk.post("/api/auctions/", json=body, token=chef["access"])
    assert r.status_code == 201, r.text
    r = souk.post("/api/auctions/", json=body, token=chef["access"])
    assert r.status_code == 409, r.text


def test_list_and_filters(souk):
    chef, a = new_auction(souk)
    _, s = new_auction(souk, starts_at=ts(3600), ends_at=ts(7200))
    assert s["status"] == "scheduled"
    r = souk.get(f"/api/auctions/?recipe_id={chef['recipe']['id']}")
    assert r.status_code == 200
    assert [x["id"] for x in r.json()["results"]] == [a["id"]]
    r = souk.get("/api/auctions/?status=scheduled&page_size=100")
    assert s["id"] in [x["id"] for x in r.json()["results"]]
    assert souk.get("/api/auctions/?status=bogus").status_code == 400


def test_bidding_rules(souk):
    chef, a = new_auction(souk)
    x, y = customers(souk, 2)
    r = bid(souk, x, a["id"], "9.99")
    assert r.status_code == 409 and r.json()["code"] == "bid_too_low", r.text
    r = bid(souk, x, a["id"], "10.00")
    assert r.status_code == 201, r.text
    b = r.json()
    assert b["amount"] == "10.00" and b["is_mine"] is True and b["bidder"].startswith("Bidder")
    r = bid(souk, y, a["id"], "10.99")
    assert r.status_code == 409 and r.json()["code"] == "bid_too_low"
    assert r.json()["minimum_next_bid"] == "11.00"
    assert bid(souk, y, a["id"], "11.00").status_code == 201
    # the leader may raise their own bid; the owner may not bid
    assert bid(souk, y, a["id"], "12.00").status_code == 201
    r = bid(souk, chef, a["id"], "50.00")
    assert r.status_code == 403, r.text
    # a float is a 400
    assert bid(souk, x, a["id"], 20.5).status_code == 400
    d = auction(souk, a["id"])
    assert d["current_price"] == "12.00" and d["bid_count"] == 3
    assert d["minimum_next_bid"] == "13.00"
    # {recipe_id, amount} targets the open auction
    r = souk.post("/api/bids/", json={"recipe_id": chef["recipe"]["id"], "amount": "13.00"},
                  token=x["access"])
    assert r.status_code == 201 and r.json()["auction_id"] == a["id"], r.text
    # cannot cancel with bids
    r = souk.post(f"/api/auctions/{a['id']}/cancel/", token=chef["access"])
    assert r.status_code == 409 and r.json()["code"] == "invalid_state"
    # lists
    r = souk.get(f"/api/bids/recipes/{chef['recipe']['id']}/", token=x["access"])
    rows = r.json()["results"]
    assert [row["amount"] for row in rows] == ["13.00", "12.00", "11.00", "10.00"]
    assert [row["is_mine"] for row in rows] == [True, False, False, True]
    assert "bidder_id" not in rows[0]
    mine = souk.get("/api/bids/user/", token=x["access"]).json()["results"]
    assert [(m["amount"], m["status"]) for m in mine] == [("13.00", "leading"),
                                                          ("10.00", "outbid")]


def test_scheduled_and_cancel(souk):
    chef, a = new_auction(souk, starts_at=ts(3600), ends_at=ts(7200))
    (x,) = customers(souk, 1)
    r = bid(souk, x, a["id"], "10.00")
    assert r.status_code == 409 and r.json()["code"] == "auction_closed"
    assert souk.post(f"/api/auctions/{a['id']}/cancel/", token=x["access"]).status_code == 403
    r = souk.post(f"/api/auctions/{a['id']}/cancel/", token=chef["access"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    r = bid(souk, x, a["id"], "10.00")
    assert r.status_code == 409 and r.json()["code"] == "auction_closed"


def test_soft_close_extends_and_rejected_bid_does_not(souk):
    x, y = customers(souk, 2)
    _, a = new_auction(souk, ends_at=ts(3), soft_close_seconds=10)
    end0 = parse_ts(a["ends_at"])
    r = bid(souk, y, a["id"], "5.00")  # rejected: too low
    assert r.status_code == 409
    assert parse_ts(auction(souk, a["id"])["ends_at"]) == pytest.approx(end0, abs=1e-5)
    r = bid(souk, x, a["id"], "10.00")
    assert r.status_code == 201 and r.json()["extended"] is True
    end1 = parse_ts(auction(souk, a["id"])["ends_at"])
    assert end1 > end0 + 5


def test_end_awarded_unsold_and_exclusive(souk):
    x, y, z = customers(souk, 3)
    chef, a = new_auction(souk, ends_at=ts(3), reserve_price="20.00")
    chef2, u = new_auction(souk, ends_at=ts(2))
    assert bid(souk, x, a["id"], "15.00").status_code == 201
    assert bid(souk, y, a["id"], "25.00").status_code == 201
    assert auction(souk, a["id"])["reserve_met"] is True
    # exclusive while it runs
    r = souk.get(f"/api/recipes/{chef['recipe']['id']}/", token=z["access"])
    assert r.status_code == 403 and r.json()["code"] == "exclusive_content", r.text
    assert souk.get(f"/api/recipes/{chef['recipe']['id']}/",
                    token=chef["access"]).status_code == 200
    d = wait_for(lambda: (lambda d: d if d["status"] == "awarded" else None)(
        auction(souk, a["id"])), what="awarded")
    assert d["winner_id"] == y["id"]
    assert wait_for(lambda: auction(souk, u["id"])["status"] == "unsold", what="unsold")
    r = bid(souk, z, a["id"], "99.00")
    assert r.status_code == 409 and r.json()["code"] == "auction_closed"
    won = souk.get("/api/bids/won/", token=y["access"]).json()["results"]
    assert len(won) == 1 and won[0]["auction_id"] == a["id"] and won[0]["amount"] == "25.00"
    assert won[0]["payment_status"] == "pending" and won[0]["pay_by"]
    wait_for(lambda: souk.get("/api/bids/won/", token=y["access"]).json()["results"][0][
        "checkout_url"], what="checkout url")
    mine = souk.get("/api/bids/user/", token=y["access"]).json()["results"]
    assert mine[0]["status"] == "won"
    assert souk.get("/api/bids/user/", token=x["access"]).json()["results"][0]["status"] == "lost"
    # sold (awarded, not paid): still exclusive; the unpaid winner cannot open it yet
    r = souk.get(f"/api/recipes/{chef['recipe']['id']}/", token=y["access"])
    assert r.status_code == 403 and r.json()["code"] == "exclusive_content"
    # the owner sees the awards
    own = auction(souk, a["id"], chef["access"])
    assert own["awards"][0]["user_id"] == y["id"]


def test_reserve_not_met_is_unsold(souk):
    (x,) = customers(souk, 1)
    _, a = new_auction(souk, ends_at=ts(1.5), reserve_price="100.00")
    assert bid(souk, x, a["id"], "15.00").status_code == 201
    d = wait_for(lambda: (lambda d: d if d["status"] == "unsold" else None)(
        auction(souk, a["id"])), what="unsold")
    assert d["winner_id"] is None and d["reserve_met"] is False


def test_notifications(souk):
    x, y = customers(souk, 2)
    chef, a = new_auction(souk, ends_at=ts(2))
    assert bid(souk, x, a["id"], "10.00").status_code == 201
    assert bid(souk, y, a["id"], "11.00").status_code == 201

    def types(user):
        r = souk.get("/api/notifications/?page_size=100", token=user["access"])
        return [n["type"] for n in r.json()["results"]]
    wait_for(lambda: "bid.outbid" in types(x), what="bid.outbid to x")
    wait_for(lambda: types(chef).count("bid.placed") >= 2, what="bid.placed to owner")
    wait_for(lambda: "auction.won" in types(y), what="auction.won")
    wait_for(lambda: "auction.ended" in types(x), what="auction.ended")
    assert "bid.outbid" not in types(y)
