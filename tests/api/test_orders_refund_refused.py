"""test_orders_refund_refused.py - the payment provider refusing a refund (API.md § Orders: "the
provider refusing -> 502 with code upstream_error").

The sandbox refuses every refund of a payment made with Stripe's test card 4000000000005126
(in Stripe that card's refunds fail; the sandbox refuses at once, with a 402 card_error). The
order must stay paid (processing), and nothing may be recorded as refunded: no refund line in the
ledger, amount_refunded 0, no charge.refunded event.
"""

import time

import pytest
import requests

from identity_helpers import assert_problem, make_user
from orders_helpers import (ORDER_ENV, customer, get_order, make_shop, order, pay,
                            require_order_routes, wait_status)
from payments_util import KEY, SECRET, sandbox_base, sandbox_post

CARD_REFUND_FAILS = "4000000000005126"


@pytest.fixture(scope="module")
def srv():
    require_order_routes()
    from souk_client import SoukServer
    # a known API key, so the test can also look at the sandbox's answer on the wire
    server = SoukServer(env=dict(ORDER_ENV, STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_SECRET_KEY=KEY))
    server.start()
    yield server
    server.stop()


def paid_with(srv, card):
    shop = make_shop(srv, price="12.50", stock=2)
    buyer = customer(srv)
    o = order(srv, buyer, shop["variant"]["id"]).json()
    assert pay(o["payment_url"], card).status_code == 303
    wait_status(srv, buyer, o["id"], "processing")
    return shop, buyer, o


def the_payment(srv, buyer, order_id):
    hist = srv.get("/api/payments/history/", token=buyer["access"]).json()["results"]
    mine = [p for p in hist if p["object_id"] == order_id]
    assert len(mine) == 1, hist
    r = srv.get(f"/api/payments/{mine[0]['id']}/", token=buyer["access"])
    assert r.status_code == 200, r.text
    return r.json()


def test_checkout_page_lists_the_card(srv):
    shop = make_shop(srv, stock=1)
    o = order(srv, customer(srv), shop["variant"]["id"]).json()
    page = requests.get(o["payment_url"], timeout=30)
    assert page.status_code == 200 and "4000 0000 0000 5126" in page.text


def test_refused_refund_is_502_and_changes_nothing(srv):
    shop, buyer, o = paid_with(srv, CARD_REFUND_FAILS)
    admin = make_user(srv, "ADMIN")

    assert_problem(srv.post(f"/api/orders/{o['id']}/refund/", token=shop["vendor"]["access"]),
                   502, "upstream_error")
    # a second try (by an admin) is refused the same way: still nothing booked
    assert_problem(srv.post(f"/api/orders/{o['id']}/refund/", token=admin["access"]), 502,
                   "upstream_error")

    after = get_order(srv, buyer, o["id"])
    assert after["status"] == "processing", after
    assert not any(h["to"] == "refunded" for h in after["history"]), after["history"]
    p = the_payment(srv, buyer, o["id"])
    assert p["state"] == "succeeded" and p["amount_refunded"] == "0.00", p
    assert [x["kind"] for x in p["ledger"]] == ["charge"], p["ledger"]

    # no charge.refunded is on its way either
    time.sleep(0.5)
    r = srv.get("/api/admin/payments/events/", params={"status": "all", "page_size": 100},
                token=admin["access"])
    assert r.status_code == 200, r.text
    assert not [e for e in r.json()["results"]
                if e["payment_id"] == p["id"] and e["type"] == "charge.refunded"]
    assert the_payment(srv, buyer, o["id"])["amount_refunded"] == "0.00"


def test_sandbox_refusal_is_stripe_shaped(srv):
    _, buyer, o = paid_with(srv, CARD_REFUND_FAILS)
    p = the_payment(srv, buyer, o["id"])
    base = sandbox_base(o["payment_url"])
    intent = next(x["provider_id"] for x in p["ledger"] if x["kind"] == "charge")
    assert intent.startswith("pi_"), p["ledger"]
    r = sandbox_post(base, "/v1/refunds", {"payment_intent": intent}, idem="refused-1")
    assert r.status_code == 402, r.text
    err = r.json()["error"]
    assert err["type"] == "card_error" and err["code"] == "expired_card", err
    assert err["charge"].startswith("ch_") and err["message"]


def test_other_cards_still_refund(srv):
    shop, buyer, o = paid_with(srv, "4242424242424242")
    r = srv.post(f"/api/orders/{o['id']}/refund/", token=shop["vendor"]["access"])
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    assert the_payment(srv, buyer, o["id"])["amount_refunded"] == "12.50"
