"""test_payments_refund_race.py - one refund, however many callers ask for it at once.

An order's vendor and an ADMIN refund the same paid order at the same moment. Every call derives
the same idempotency key, so the provider (the sandbox) makes one refund and replays it to the
others; payments_refund must then book it once: one refund line in the ledger, amount_refunded
equal to the order total, and the charge.refunded event the provider sends afterwards changes
nothing (it is recorded as applied with reason "already_counted").

The provider's own charge.refunded may also land before the refund call has booked anything (the
sandbox delivers within milliseconds): then the event books the money and the refund call books
nothing. Either way there is one refund line. A charge.refunded that comes later (re-sent under a
fresh event id, as a provider may) is a no-op.
"""

import concurrent.futures
import threading

import pytest

from identity_helpers import make_user
from payments_util import KEY, SECRET, outcome, post_event, sandbox_base, sandbox_get
from orders_helpers import (ORDER_ENV, customer, get_order, make_shop, order, pay,
                            require_order_routes, wait_for, wait_status)

CALLERS = 8  # half vendor, half admin: enough that several reach the provider together


@pytest.fixture(scope="module")
def srv():
    require_order_routes()
    from souk_client import SoukServer
    # known secrets, so the test can read the sandbox's events and sign a re-delivery
    server = SoukServer(env=dict(ORDER_ENV, STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_SECRET_KEY=KEY))
    server.start()
    yield server
    server.stop()


def paid_order(srv):
    shop = make_shop(srv, price="40.00", stock=3)
    buyer = customer(srv)
    o = order(srv, buyer, shop["variant"]["id"]).json()
    assert pay(o["payment_url"]).status_code == 303
    wait_status(srv, buyer, o["id"], "processing")
    return shop, buyer, o


def the_payment(srv, buyer, order_id):
    hist = srv.get("/api/payments/history/", token=buyer["access"]).json()["results"]
    mine = [p for p in hist if p["object_id"] == order_id and p["state"] != "expired"]
    assert len(mine) == 1, hist
    r = srv.get(f"/api/payments/{mine[0]['id']}/", token=buyer["access"])
    assert r.status_code == 200, r.text
    return r.json()


def refund_all_at_once(srv, tokens, order_id):
    gate = threading.Barrier(len(tokens))

    def one(token):
        gate.wait()
        return srv.post(f"/api/orders/{order_id}/refund/", token=token)

    with concurrent.futures.ThreadPoolExecutor(len(tokens)) as pool:
        return list(pool.map(one, tokens))


def refund_events(srv, admin, payment_id):
    r = srv.get("/api/admin/payments/events/", params={"status": "all", "page_size": 100},
                token=admin["access"])
    assert r.status_code == 200, r.text
    return [e for e in r.json()["results"]
            if e["payment_id"] == payment_id and e["type"] == "charge.refunded"]


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_refunds_book_once(srv, round_):
    shop, buyer, o = paid_order(srv)
    admin = make_user(srv, "ADMIN")
    tokens = [shop["vendor"]["access"], admin["access"]] * (CALLERS // 2)

    answers = refund_all_at_once(srv, tokens, o["id"])
    codes = sorted(r.status_code for r in answers)
    # a caller that came after the refund was complete finds the order refunded already (409)
    odd = [(r.status_code, r.text) for r in answers if r.status_code not in (200, 409)]
    assert not odd and 200 in codes, odd or codes
    for r in answers:
        if r.status_code == 200:
            assert r.json()["status"] == "refunded", r.text

    p = the_payment(srv, buyer, o["id"])
    refunds = [x for x in p["ledger"] if x["kind"] == "refund"]
    assert [x["amount"] for x in refunds] == ["40.00"], [(x["provider_id"], x["amount"]) for x in refunds] + [p["amount_refunded"]]
    assert p["amount_refunded"] == "40.00" and p["state"] == "refunded", p

    # the provider's charge.refunded: applied once, before or after the call booked the refund
    evs = wait_for(lambda: refund_events(srv, admin, p["id"]), what="charge.refunded delivered")
    assert len(evs) == 1 and evs[0]["status"] == "applied", evs
    assert evs[0]["reason"] in (None, "already_counted"), evs

    # the same fact again under a fresh event id: recorded, nothing booked
    ev = sandbox_get(sandbox_base(o["payment_url"]), f"/v1/events/{evs[0]['id']}")
    ev["id"] = ev["id"] + "_again"
    r = post_event(srv, ev)
    assert outcome(r) == "applied", r.text
    again = [e for e in refund_events(srv, admin, p["id"]) if e["id"] == ev["id"]]
    assert [e["reason"] for e in again] == ["already_counted"], again

    p = the_payment(srv, buyer, o["id"])
    assert [x["amount"] for x in p["ledger"] if x["kind"] == "refund"] == ["40.00"]
    assert p["amount_refunded"] == "40.00"
    hist = get_order(srv, buyer, o["id"])["history"]
    assert sum(1 for h in hist if h["to"] == "refunded" and h["from"] != "refunded") == 1, hist
