"""test_orders_async_failed.py - the provider reporting an order's payment failed (API.md § Services,
variants and orders: "`failed` is for a payment the provider reports as failed after the checkout
completed (stock released)"; "A declined card leaves the checkout open ... the order stays
`pending`"), and stock coming back exactly once whichever release happens first.

The sandbox never sends checkout.session.async_payment_failed (its cards pay or decline at once),
so these tests sign that event themselves: the servers run with a known STRIPE_WEBHOOK_SECRET (in
sandbox mode the secret is otherwise derived), the checkout session's real id, amount, currency and
metadata are read from the sandbox's API (known STRIPE_SECRET_KEY) and merged into
events.sample.json's checkout.session.completed. What the tests prove:

- async_payment_failed: pending -> failed (actor provider), stock back, history, order.updated to
  customer and vendor; the same event again (same id) and another one (new id) change nothing.
- A late payment for the same session after the failure (the sandbox's checkout is still open, so
  a real payment and the sandbox's own signed events): the stock is not taken again, the order
  stays failed, the money is refunded by the order.refund_late job, once, even when
  checkout.session.completed is delivered once more.
- Neither the customer (cancel), nor the provider's checkout.session.expired, nor souk's own
  order.expire job gives the stock back a second time after the failure.
- payment_intent.payment_failed alone (a declined card) leaves the order pending, the stock
  reserved and the checkout open; only a note is written.
"""

import json
import time
import uuid

import pytest

from identity_helpers import assert_problem, make_user
from orders_helpers import (ORDER_ENV, customer, get_order, make_shop, order, pay,
                            require_order_routes, stock_of, wait_for)
from payments_util import KEY, SECRET, event, post_event, sandbox_base, sandbox_get
from souk_client import SoukServer

PAYMENTS_ENV = dict(ORDER_ENV, STRIPE_WEBHOOK_SECRET=SECRET, STRIPE_SECRET_KEY=KEY)


@pytest.fixture(scope="module")
def srv():
    require_order_routes()
    server = SoukServer(env=dict(PAYMENTS_ENV))
    server.start()
    yield server
    server.stop()


# ---- helpers -------------------------------------------------------------------------------


def placed(server, stock, quantity=1, price="29.99"):
    """A shop, a customer and a pending order of `quantity`: (shop, buyer, order)."""
    shop = make_shop(server, price=price, stock=stock)
    buyer = customer(server)
    r = order(server, buyer, shop["variant"]["id"], quantity)
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["status"] == "pending" and o["payment_url"], o
    assert stock_of(server, shop["variant"]["id"]) == stock - quantity
    return shop, buyer, o


def session_id(o):
    sid = o["payment_url"].rsplit("/", 1)[-1]
    assert sid.startswith("cs_"), o["payment_url"]
    return sid


def provider_session(o):
    """The order's checkout session as the provider (the sandbox) has it."""
    s = sandbox_get(sandbox_base(o["payment_url"]), f"/v1/checkout/sessions/{session_id(o)}")
    assert s["id"] == session_id(o), s
    return s


def minor(amount):
    """"29.99" -> 2999 (the currencies here have two decimals)."""
    units, _, cents = amount.partition(".")
    return int(units) * 100 + int((cents + "00")[:2])


def session_event(type_, session, payment_status="unpaid"):
    """A checkout.session.* event about the real session: the sample's envelope and extra
    fields, the session's own id, amounts, currency, metadata and (null) payment intent."""
    ev = event("checkout.session.completed", dict(session))
    ev["type"] = type_
    ev["data"]["object"].update({"status": "complete", "payment_status": payment_status})
    return ev


def raw(ev):
    return json.dumps(ev, separators=(",", ":")).encode()


def deliver(server, ev):
    """Posts a signed event; returns the webhook's outcome."""
    r = post_event(server, ev if isinstance(ev, bytes) else raw(ev))
    assert r.status_code == 200, r.text
    return r.json()["outcome"]


def the_payment(server, buyer, order_id):
    hist = server.get("/api/payments/history/", token=buyer["access"]).json()["results"]
    mine = [p for p in hist if p["object_id"] == order_id]
    assert len(mine) == 1, hist
    r = server.get(f"/api/payments/{mine[0]['id']}/", token=buyer["access"])
    assert r.status_code == 200, r.text
    return r.json()


def history(server, who, order_id):
    return get_order(server, who, order_id)["history"]


def transitions(server, who, order_id, to):
    return [h for h in history(server, who, order_id) if h["from"] != h["to"] and h["to"] == to]


def notes(server, who, order_id, prefix):
    return [h for h in history(server, who, order_id) if (h["note"] or "").startswith(prefix)]


def order_updates(server, who, order_id, status):
    r = server.get("/api/notifications/", params={"page_size": 100}, token=who["access"])
    assert r.status_code == 200, r.text
    return [n for n in r.json()["results"] if n["type"] == "order.updated"
            and n["payload"].get("order_id") == order_id and n["payload"].get("status") == status]


def notified(server, who, type_):
    r = server.get("/api/notifications/", params={"page_size": 100}, token=who["access"])
    assert r.status_code == 200, r.text
    return [n for n in r.json()["results"] if n["type"] == type_]


def fail_async(server, o):
    """Delivers checkout.session.async_payment_failed for o's session; returns the raw event."""
    session = provider_session(o)
    assert session["amount_total"] == minor(o["total_amount"]), session
    assert session["currency"] == o["currency"], session
    body = raw(session_event("checkout.session.async_payment_failed", session))
    assert deliver(server, body) == "applied"
    return body


def assert_failed_once(server, shop, buyer, o, stock):
    """The order is failed by one transition, the stock is `stock`, each party was told once."""
    after = get_order(server, buyer, o["id"])
    assert after["status"] == "failed", after
    assert after["payment_url"] is None, after
    assert stock_of(server, shop["variant"]["id"]) == stock
    failed = transitions(server, buyer, o["id"], "failed")
    assert [(h["from"], h["actor"], h["note"]) for h in failed] == [
        ("pending", "provider", "payment_failed")], after["history"]
    assert not transitions(server, buyer, o["id"], "cancelled"), after["history"]
    for who in (buyer, shop["vendor"]):
        assert len(order_updates(server, who, o["id"], "failed")) == 1


# ---- checkout.session.async_payment_failed ---------------------------------------------------


def test_async_payment_failed_releases_stock_once(srv):
    shop, buyer, o = placed(srv, stock=3, quantity=2)
    body = fail_async(srv, o)

    assert_failed_once(srv, shop, buyer, o, stock=3)
    steps = [(h["from"], h["to"]) for h in history(srv, buyer, o["id"])]
    assert steps == [(None, "pending"), ("pending", "failed")], steps
    # the vendor sees the same order, failed
    assert get_order(srv, shop["vendor"], o["id"])["status"] == "failed"
    assert the_payment(srv, buyer, o["id"])["status"] == "failed"
    assert notified(srv, buyer, "payment.failed")

    # the same delivery again (same event id): a duplicate, no effect
    assert deliver(srv, body) == "duplicate"
    assert_failed_once(srv, shop, buyer, o, stock=3)

    # the provider reporting it once more (a new event id): no further stock change
    again = session_event("checkout.session.async_payment_failed", provider_session(o))
    assert again["id"] != json.loads(body)["id"]
    assert deliver(srv, again) in ("applied", "stale")
    assert_failed_once(srv, shop, buyer, o, stock=3)

    # nor may the customer release it again, or revive it with a new payment link
    assert_problem(srv.post(f"/api/orders/{o['id']}/cancel/", token=buyer["access"]), 409,
                   "invalid_state")
    assert_problem(srv.post(f"/api/orders/{o['id']}/payment-link/", token=buyer["access"]), 409,
                   "invalid_state")
    assert_failed_once(srv, shop, buyer, o, stock=3)


def test_late_payment_after_failure_is_refunded_once(srv):
    shop, buyer, o = placed(srv, stock=2, price="12.50")
    fail_async(srv, o)
    assert_failed_once(srv, shop, buyer, o, stock=2)

    # the provider's checkout is still open: a real payment lands after the failure, with the
    # sandbox's own signed payment_intent.succeeded and checkout.session.completed (paid)
    assert pay(o["payment_url"]).status_code == 303
    wait_for(lambda: notes(srv, buyer, o["id"], "late_payment_refunded"),
             what="late payment refunded")
    assert len(notes(srv, buyer, o["id"], "late_payment_received")) == 1
    p = the_payment(srv, buyer, o["id"])
    assert p["status"] == "refunded" and p["amount_refunded"] == "12.50", p
    assert_failed_once(srv, shop, buyer, o, stock=2)
    assert not transitions(srv, buyer, o["id"], "paid")

    # checkout.session.completed delivered once more (a new event id, paid): no second refund
    session = provider_session(o)
    assert session["payment_status"] == "paid" and session["payment_intent"], session
    late = session_event("checkout.session.completed", session, payment_status="paid")
    assert deliver(srv, late) in ("applied", "stale")
    time.sleep(1.0)  # room for a wrongly queued second refund job to run
    assert len(notes(srv, buyer, o["id"], "late_payment_received")) == 1
    assert len(notes(srv, buyer, o["id"], "late_payment_refunded")) == 1
    p = the_payment(srv, buyer, o["id"])
    assert p["amount_refunded"] == "12.50", p
    assert [x["kind"] for x in p["ledger"]].count("charge") == 1, p["ledger"]
    assert sum(minor(x["amount"]) for x in p["ledger"] if x["kind"] == "refund") == 1250, \
        p["ledger"]
    assert_failed_once(srv, shop, buyer, o, stock=2)


def admin_jobs(server, token, kind, state):
    r = server.get("/api/admin/jobs/", params={"kind": kind, "state": state, "page_size": 100},
                   token=token)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_expiry_after_failure_changes_nothing(souk_factory):
    require_order_routes()
    server = souk_factory(**PAYMENTS_ENV, SOUK_CHECKOUT_TTL_SECONDS="3")
    admin = make_user(server, "ADMIN")
    shop, buyer, o = placed(server, stock=1)
    fail_async(server, o)
    assert_failed_once(server, shop, buyer, o, stock=1)

    # the provider's checkout.session.expired (the sandbox's expiry) ...
    def expired_seen():
        r = server.get("/api/admin/payments/events/", params={"status": "all", "page_size": 100},
                       token=admin["access"])
        assert r.status_code == 200, r.text
        return [e for e in r.json()["results"] if e["type"] == "checkout.session.expired"
                and e["provider_object"] == session_id(o)]
    wait_for(expired_seen, timeout=30, what="checkout.session.expired delivered")

    # ... and souk's own order.expire job for this order and attempt, both done
    def expire_job_done():
        return [j for j in admin_jobs(server, admin["access"], "order.expire", "done")
                if j["payload"].get("order_id") == o["id"]]
    wait_for(expire_job_done, timeout=30, what="order.expire job done")
    assert_failed_once(server, shop, buyer, o, stock=1)


# ---- payment_intent.payment_failed -----------------------------------------------------------


def intent_failed(session, amount, currency):
    """payment_intent.payment_failed for a declined card on the session's checkout (the intent
    carries the checkout's metadata, as payment_intent_data[metadata] does)."""
    return event("payment_intent.payment_failed", {
        "id": "pi_" + uuid.uuid4().hex[:24], "amount": amount, "amount_received": 0,
        "currency": currency, "customer": None, "latest_charge": None,
        "metadata": dict(session.get("metadata") or {}), "status": "requires_payment_method"})


def test_payment_intent_failed_alone_leaves_order_pending(srv):
    shop, buyer, o = placed(srv, stock=2, quantity=2)
    session = provider_session(o)
    assert session["metadata"].get("souk_payment_id"), session
    ev = intent_failed(session, minor(o["total_amount"]), o["currency"])
    assert deliver(srv, ev) == "applied"

    after = get_order(srv, buyer, o["id"])
    assert after["status"] == "pending", after
    assert after["payment_url"] == o["payment_url"], after  # the checkout stays open
    assert stock_of(srv, shop["variant"]["id"]) == 0
    declined = notes(srv, buyer, o["id"], "payment_declined")
    assert [(h["from"], h["to"], h["actor"]) for h in declined] == [
        ("pending", "pending", "provider")], after["history"]
    steps = [(h["from"], h["to"]) for h in after["history"] if h["from"] != h["to"]]
    assert steps == [(None, "pending")], after["history"]
    assert notified(srv, buyer, "payment.failed")  # the customer is told and may pay again
    for who in (buyer, shop["vendor"]):
        assert not order_updates(srv, who, o["id"], "failed")
    r = srv.get(f"/api/services/variants/{shop['variant']['id']}/availability/")
    assert r.json()["available"] is False, r.text

    # the same event again, and a second decline: still pending, stock still reserved
    assert deliver(srv, ev) == "duplicate"
    ev2 = intent_failed(session, minor(o["total_amount"]), o["currency"])
    ev2["data"]["object"]["id"] = ev["data"]["object"]["id"]
    assert deliver(srv, ev2) == "applied"
    assert get_order(srv, buyer, o["id"])["status"] == "pending"
    assert stock_of(srv, shop["variant"]["id"]) == 0

    # the order is still the customer's to cancel: the stock comes back then, once
    r = srv.post(f"/api/orders/{o['id']}/cancel/", token=buyer["access"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert stock_of(srv, shop["variant"]["id"]) == 2
    assert_problem(srv.post(f"/api/orders/{o['id']}/cancel/", token=buyer["access"]), 409,
                   "invalid_state")
    assert stock_of(srv, shop["variant"]["id"]) == 2
