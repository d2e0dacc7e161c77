"""test_orders_race.py - orders that never oversell, and stock that comes back exactly once.

- 64 clients x 20 attempts (CI bound; bench/orders.sh runs 64 x 500) on one variant with stock
  100 -> exactly 100 orders and stock 0.
- Mixed quantities: what was sold plus what is left is what there was.
- Expiry (souk's own job and the provider's checkout.session.expired) and customer cancels racing
  late payments: the stock comes back once per order that was not paid, and every payment that
  landed on an order that could not take it is refunded exactly once.
"""

import random
import threading
import time

import pytest
import requests

import souk_client

from orders_helpers import (ORDER_ENV, customer, get_order, make_shop, pay, require_order_routes,
                            stock_of, wait_for)

CLIENTS = 64
ATTEMPTS = 20


@pytest.fixture(scope="module")
def srv():
    require_order_routes()
    from souk_client import SoukServer
    server = SoukServer(env=dict(ORDER_ENV, SOUK_CHECKOUT_TTL_SECONDS="3"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hold():
    """A server whose checkouts outlive the races: on a loaded machine the 3 s TTL of `srv`
    would expire (and rightly release) early orders while the race is still running, and the
    counts below would then mean something else."""
    require_order_routes()
    from souk_client import SoukServer
    server = SoukServer(env=dict(ORDER_ENV, SOUK_CHECKOUT_TTL_SECONDS="1800"))
    server.start()
    yield server
    server.stop()


def hammer(srv, tokens, variant_id, attempts, quantity=lambda: 1):
    """Every client fires `attempts` orders; returns [(status, quantity, body)]."""
    out, lock = [], threading.Lock()
    start = threading.Barrier(len(tokens))

    def client(token):
        s = requests.Session()
        mine = []
        start.wait()
        for _ in range(attempts):
            q = quantity()
            r = s.post(srv.url + "/api/orders/", json={"variant_id": variant_id, "quantity": q},
                       headers={"Authorization": f"Bearer {token}"}, timeout=60)
            mine.append((r.status_code, q, r.json()))
        with lock:
            out.extend(mine)

    threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_64_clients_never_oversell(hold):
    srv = hold
    shop = make_shop(srv, stock=100)
    buyers = [customer(srv) for _ in range(8)]
    tokens = [buyers[i % len(buyers)]["access"] for i in range(CLIENTS)]
    res = hammer(srv, tokens, shop["variant"]["id"], ATTEMPTS)
    codes = [c for c, _, _ in res]
    assert set(codes) <= {201, 409}, set(codes)
    assert codes.count(201) == 100
    assert all(b["code"] == "out_of_stock" for c, _, b in res if c == 409)
    assert stock_of(srv, shop["variant"]["id"]) == 0
    assert len({b["id"] for c, _, b in res if c == 201}) == 100


def test_mixed_quantities(hold):
    srv = hold
    shop = make_shop(srv, stock=100)
    buyers = [customer(srv) for _ in range(4)]
    tokens = [buyers[i % len(buyers)]["access"] for i in range(32)]
    res = hammer(srv, tokens, shop["variant"]["id"], 10, quantity=lambda: random.randint(1, 7))
    sold = sum(q for c, q, _ in res if c == 201)
    left = stock_of(srv, shop["variant"]["id"])
    assert sold + left == 100 and left >= 0
    # every refusal was right when it was made: nothing smaller than the stock left was refused
    # at the end (the last refusals saw at most what is left now)
    assert all(c in (201, 409) for c, _, _ in res)
    assert all(b["total_amount"] == f"{q * 2999 // 100}.{q * 2999 % 100:02d}"
               for c, q, b in res if c == 201)


def _payments_of(srv, who, order_id):
    hist = srv.get("/api/payments/history/?page_size=100", token=who["access"]).json()["results"]
    return [p for p in hist if p["object_id"] == order_id]


def _late_refund_notes(o):
    return [h for h in o["history"] if (h["note"] or "").startswith("late_payment_refunded")]


def test_expiry_and_cancel_race_late_payments(srv):
    n = 12
    shop = make_shop(srv, stock=n)
    vid = shop["variant"]["id"]
    buyer = customer(srv)
    orders = [srv.post("/api/orders/", json={"variant_id": vid},
                       token=buyer["access"]).json() for _ in range(n)]
    assert stock_of(srv, vid) == 0
    results = {}

    def late_pay(o, delay):
        time.sleep(delay)
        results[o["id"]] = pay(o["payment_url"]).status_code

    def cancel(o, delay):
        time.sleep(delay)
        srv.post(f"/api/orders/{o['id']}/cancel/", token=buyer["access"])

    threads = []
    for i, o in enumerate(orders):
        if i % 3 == 0:  # customer cancel racing a payment
            threads.append(threading.Thread(target=cancel, args=(o, 0.0)))
            threads.append(threading.Thread(target=late_pay, args=(o, 0.0)))
        else:  # expiry (TTL 3 s) racing a payment at the deadline
            threads.append(threading.Thread(target=late_pay, args=(o, 2.6 + 0.05 * i)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    def settled():
        states = [get_order(srv, buyer, o["id"]) for o in orders]
        for o in states:
            if o["status"] not in ("processing", "cancelled"):
                return None
            pays = _payments_of(srv, buyer, o["id"])
            if o["status"] == "cancelled" and any(p["status"] == "succeeded" for p in pays):
                return None  # a refund still on its way
            if o["status"] == "cancelled" and len(_late_refund_notes(o)) < sum(
                    1 for p in pays if p["status"] == "refunded"):
                return None  # refunded; the job writes the order's note right after
        return states

    states = wait_for(settled, timeout=60, what="orders settled")
    kept = sum(1 for o in states if o["status"] == "processing")
    assert stock_of(srv, vid) == n - kept
    for o in states:
        pays = _payments_of(srv, buyer, o["id"])
        stock_returns = [h for h in o["history"] if h["from"] == "pending"
                         and h["to"] == "cancelled"]
        if o["status"] == "cancelled":
            assert len(stock_returns) == 1, o["history"]
            assert all(p["status"] in ("refunded", "pending", "failed") or p["status"] == "expired"
                       for p in pays), pays
            refunded = _late_refund_notes(o)
            assert len(refunded) == sum(1 for p in pays if p["status"] == "refunded"), o
        else:
            assert not stock_returns and [p["status"] for p in pays] == ["succeeded"]


def test_expired_order_gets_a_new_link(srv):
    shop = make_shop(srv, stock=1)
    vid = shop["variant"]["id"]
    buyer = customer(srv)
    o = srv.post("/api/orders/", json={"variant_id": vid}, token=buyer["access"]).json()
    wait_for(lambda: get_order(srv, buyer, o["id"])["status"] == "cancelled", timeout=30,
             what="expiry")
    assert get_order(srv, buyer, o["id"])["cancel_reason"] == "expired"
    assert stock_of(srv, vid) == 1
    # someone else takes the last one: no new link
    other = customer(srv)
    taken = srv.post("/api/orders/", json={"variant_id": vid}, token=other["access"]).json()
    r = srv.post(f"/api/orders/{o['id']}/payment-link/", token=buyer["access"])
    assert r.status_code == 409 and r.json()["code"] == "out_of_stock", r.text
    srv.post(f"/api/orders/{taken['id']}/cancel/", token=other["access"])
    r = srv.post(f"/api/orders/{o['id']}/payment-link/", token=buyer["access"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["order"]["status"] == "pending" and body["payment_url"] != o["payment_url"]
    assert body["expires_at"] and stock_of(srv, vid) == 0
    assert pay(body["payment_url"]).status_code == 303
    wait_for(lambda: get_order(srv, buyer, o["id"])["status"] == "processing", what="paid")
    assert stock_of(srv, vid) == 0


def test_a_burst_on_one_variant_gets_exact_answers(hold, db_kind):
    """64 buyers released at once, three times, on a stock of 150: each request gets its own
    exact answer, a 201 whose variant.stock is what its own order left (so the 150 answers
    are 149 ... 0, each once) or 409 out_of_stock once nothing is left; nothing is oversold;
    and on PostgreSQL the bursts were placed in batches (db/batch.h)."""
    srv = hold
    shop = make_shop(srv, stock=150)
    vid = shop["variant"]["id"]
    buyers = [customer(srv) for _ in range(16)]
    before = souk_client.batch_totals(srv, "order")
    res = []
    for _ in range(3):
        res += hammer(srv, [buyers[i % 16]["access"] for i in range(CLIENTS)], vid, 1)
    ok = [b for c, _, b in res if c == 201]
    refused = [b for c, _, b in res if c == 409]
    assert len(ok) + len(refused) == 3 * CLIENTS, {c for c, _, _ in res}
    assert len(ok) == 150 and len({b["id"] for b in ok}) == 150
    assert sorted(b["variant"]["stock"] for b in ok) == list(range(150)), "each its own stock"
    assert all(b["code"] == "out_of_stock" for b in refused)
    assert all(b["payment_url"] for b in ok), "each opened its own checkout"
    assert stock_of(srv, vid) == 0
    souk_client.assert_batched(before, souk_client.batch_totals(srv, "order"),
                               3 * CLIENTS, db_kind, "order")
