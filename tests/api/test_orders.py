"""test_orders.py - orders of stocked variants: the seed walkthrough (vendor, profile, service,
variant "29.99" stock 5, order -> pending with payment_url and stock 4, paid through the sandbox
checkout, webhook -> paid -> processing), cancellation, expiry, refunds, payment links, history.
"""

import pytest

from identity_helpers import assert_problem, make_user
from orders_helpers import (CARD_DECLINE, ORDER_ENV, customer, get_order, make_shop, order, pay,
                            require_order_routes, stock_of, wait_for, wait_status)


@pytest.fixture(scope="module")
def srv(request):
    require_order_routes()
    from souk_client import SoukServer
    server = SoukServer(env=dict(ORDER_ENV))
    server.start()
    yield server
    server.stop()


def test_seed_walkthrough(srv):
    shop = make_shop(srv, price="29.99", stock=5)
    assert shop["variant"]["price"] == "29.99" and shop["variant"]["stock"] == 5
    buyer = customer(srv)
    r = order(srv, buyer, shop["variant"]["id"])
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["status"] == "pending" and o["quantity"] == 1
    assert o["total_amount"] == "29.99" and o["currency"] == "usd"
    assert o["payment_method"] == "stripe" and o["payment_url"]
    assert o["payment_url"].rsplit("/", 1)[-1].startswith("cs_")
    assert o["customer_email"] == buyer["email"] and o["vendor_name"] == "Fix-It Shop"
    assert o["variant"]["id"] == shop["variant"]["id"] and o["variant"]["stock"] == 4
    assert stock_of(srv, shop["variant"]["id"]) == 4
    r = pay(o["payment_url"])
    assert r.status_code == 303, r.text
    done = wait_status(srv, buyer, o["id"], "processing")
    steps = [(h["from"], h["to"]) for h in done["history"]]
    assert steps[0] == (None, "pending")
    assert ("pending", "paid") in steps and ("paid", "processing") in steps
    assert stock_of(srv, shop["variant"]["id"]) == 4
    # both parties see it, and were told
    r = srv.get("/api/orders/vendor/", token=shop["vendor"]["access"])
    assert r.status_code == 200 and [x["id"] for x in r.json()["results"]] == [o["id"]]
    r = srv.get("/api/orders/my/", token=buyer["access"])
    assert [x["id"] for x in r.json()["results"]] == [o["id"]]
    for who in (buyer, shop["vendor"]):
        r = srv.get("/api/notifications/", token=who["access"])
        assert any(n["type"] == "order.updated" for n in r.json()["results"]), r.text
    # the vendor completes it
    r = srv.post(f"/api/orders/{o['id']}/complete/", token=shop["vendor"]["access"])
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text


def test_out_of_stock_and_quantities(srv):
    shop = make_shop(srv, stock=3)
    buyer = customer(srv)
    vid = shop["variant"]["id"]
    assert_problem(order(srv, buyer, vid, 4), 409, "out_of_stock")
    assert order(srv, buyer, vid, 2).status_code == 201
    assert_problem(order(srv, buyer, vid, 2), 409, "out_of_stock")
    assert order(srv, buyer, vid, 1).status_code == 201
    assert stock_of(srv, vid) == 0
    assert_problem(order(srv, buyer, vid, 0), 400, "validation_error")
    assert_problem(srv.post("/api/orders/", json={"variant_id": vid, "quantity": "2"},
                            token=buyer["access"]), 400, "validation_error")


def test_cancel_returns_stock_once(srv):
    shop = make_shop(srv, stock=2)
    buyer = customer(srv)
    o = order(srv, buyer, shop["variant"]["id"], 2).json()
    assert stock_of(srv, shop["variant"]["id"]) == 0
    r = srv.post(f"/api/orders/{o['id']}/cancel/", token=buyer["access"])
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    assert stock_of(srv, shop["variant"]["id"]) == 2
    assert_problem(srv.post(f"/api/orders/{o['id']}/cancel/", token=buyer["access"]), 409,
                   "invalid_state")
    assert stock_of(srv, shop["variant"]["id"]) == 2
    # the vendor may see it but not cancel it; a stranger does not see it
    assert_problem(srv.post(f"/api/orders/{o['id']}/cancel/", token=shop["vendor"]["access"]),
                   403, "forbidden")
    assert_problem(srv.get(f"/api/orders/{o['id']}/", token=customer(srv)["access"]), 404,
                   "not_found")
    # a cancelled order cannot get a new link (only an expired one can)
    assert_problem(srv.post(f"/api/orders/{o['id']}/payment-link/", token=buyer["access"]),
                   409, "invalid_state")


def test_declined_card_leaves_order_pending(srv):
    shop = make_shop(srv, stock=1)
    buyer = customer(srv)
    o = order(srv, buyer, shop["variant"]["id"]).json()
    r = pay(o["payment_url"], CARD_DECLINE)
    assert r.status_code == 402
    wait_for(lambda: any(h["note"] == "payment_declined"
                         for h in get_order(srv, buyer, o["id"])["history"]),
             what="decline recorded")
    assert get_order(srv, buyer, o["id"])["status"] == "pending"
    assert stock_of(srv, shop["variant"]["id"]) == 0
    assert pay(o["payment_url"]).status_code == 303
    wait_status(srv, buyer, o["id"], "processing")


def test_refund_by_vendor_and_admin(srv):
    shop = make_shop(srv, stock=5)
    buyer = customer(srv)
    admin = make_user(srv, "ADMIN")
    ids = []
    for _ in range(2):
        o = order(srv, buyer, shop["variant"]["id"]).json()
        assert pay(o["payment_url"]).status_code == 303
        wait_status(srv, buyer, o["id"], "processing")
        ids.append(o["id"])
    assert_problem(srv.post(f"/api/orders/{ids[0]}/refund/", token=buyer["access"]), 403,
                   "forbidden")
    r = srv.post(f"/api/orders/{ids[0]}/refund/", token=shop["vendor"]["access"])
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    r = srv.post(f"/api/orders/{ids[1]}/refund/", token=admin["access"])
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    assert_problem(srv.post(f"/api/orders/{ids[1]}/refund/", token=admin["access"]), 409,
                   "invalid_state")
    hist = srv.get("/api/payments/history/", token=buyer["access"]).json()["results"]
    assert sum(1 for p in hist if p["status"] == "refunded") == 2, hist
    # the later charge.refunded changes nothing
    o = get_order(srv, buyer, ids[0])
    assert sum(1 for h in o["history"] if h["to"] == "refunded" and h["from"] != "refunded") == 1
    # every money change is in the audit trail, once, with the actor that moved the order: the
    # asker, or the provider (actor null) when its charge.refunded arrived first
    for oid, actor, role in ((ids[0], shop["vendor"]["id"], "VENDOR"),
                             (ids[1], admin["id"], "ADMIN")):
        r = srv.get("/api/admin/audit/", token=admin["access"],
                    params={"target_type": "order", "target_id": oid})
        assert r.status_code == 200, r.text
        entries = r.json()["results"]
        refunds = [e for e in entries if e["action"] == "order.refund"]
        assert len(refunds) == 1, entries
        assert (refunds[0]["actor_id"], refunds[0]["actor_role"]) in ((actor, role), (None, None))
        assert refunds[0]["after"]["status"] == "refunded"
        # the asker is in the trail either way: as the mover, or beside the provider's entry
        asked = [e for e in entries if e["action"] == "order.refund_request"]
        if refunds[0]["actor_id"] is None:
            assert [(e["actor_id"], e["actor_role"]) for e in asked] == [(actor, role)], entries
        else:
            assert asked == [], entries
        applied = [e for e in entries if e["action"] == "payment.applied"]
        assert len(applied) == 1 and applied[0]["actor_id"] is None, entries


def test_refund_returns_stock_once_unless_completed(srv):
    shop = make_shop(srv, stock=5)
    vid, vendor = shop["variant"]["id"], shop["vendor"]["access"]
    buyer = customer(srv)
    ids = []
    for qty in (2, 1):
        o = order(srv, buyer, vid, qty).json()
        assert pay(o["payment_url"]).status_code == 303
        wait_status(srv, buyer, o["id"], "processing")
        ids.append(o["id"])
    assert stock_of(srv, vid) == 2
    # not completed: the quantity goes back, once (the provider's charge.refunded that follows
    # and a second ask change nothing)
    r = srv.post(f"/api/orders/{ids[0]}/refund/", token=vendor)
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    assert stock_of(srv, vid) == 4
    assert_problem(srv.post(f"/api/orders/{ids[0]}/refund/", token=vendor), 409, "invalid_state")
    # completed: the work was done, the stock stays as it is
    r = srv.post(f"/api/orders/{ids[1]}/complete/", token=vendor)
    assert r.status_code == 200, r.text
    r = srv.post(f"/api/orders/{ids[1]}/refund/", token=vendor)
    assert r.status_code == 200 and r.json()["status"] == "refunded", r.text
    wait_for(lambda: all(p["status"] == "refunded" for p in srv.get(
        "/api/payments/history/", token=buyer["access"]).json()["results"]), what="refunds booked")
    assert stock_of(srv, vid) == 4


def test_cancel_page_and_success_page(srv):
    shop = make_shop(srv, stock=1)
    buyer = customer(srv)
    o = order(srv, buyer, shop["variant"]["id"]).json()
    r = srv.get(f"/api/orders/{o['id']}/success/")
    assert r.status_code == 200 and r.json()["status"] == "pending"
    r = srv.get(f"/api/orders/{o['id']}/cancel/")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert stock_of(srv, shop["variant"]["id"]) == 1


def test_late_payment_after_cancel_is_refunded(srv):
    shop = make_shop(srv, stock=1)
    buyer = customer(srv)
    o = order(srv, buyer, shop["variant"]["id"]).json()
    # pay first at the provider, cancel before the webhook can land: whichever order the two
    # happen in, the stock comes back at most once and the money is refunded once.
    r1 = srv.post(f"/api/orders/{o['id']}/cancel/", token=buyer["access"])
    r2 = pay(o["payment_url"])
    assert r1.status_code == 200
    if r2.status_code == 303:  # the checkout was still open: the payment must go back
        wait_for(lambda: any((h["note"] or "").startswith("late_payment_refunded")
                             for h in get_order(srv, buyer, o["id"])["history"]),
                 what="late payment refunded")
        hist = srv.get("/api/payments/history/", token=buyer["access"]).json()["results"]
        assert [p["status"] for p in hist if p["object_id"] == o["id"]] == ["refunded"]
    assert get_order(srv, buyer, o["id"])["status"] == "cancelled"
    assert stock_of(srv, shop["variant"]["id"]) == 1
