"""orders_helpers.py - helpers for the catalog and order tests (test_catalog*.py, test_orders*.py,
authz_orders.py): vendors with a service and a variant, orders, paying through the payments
sandbox's hosted checkout page, and waiting for what the webhooks and jobs do.

Every helper talks HTTP to a running server (the `souk` fixture or a souk_factory one).
"""

import time

import pytest
import requests

import souk_client
from identity_helpers import make_chef, make_user

CARD_OK = "4242424242424242"
CARD_DECLINE = "4000000000000002"

# Servers for these tests: no per-address rate limit (many clients from 127.0.0.1), a few job
# workers so webhooks and order jobs run promptly.
ORDER_ENV = {"SOUK_RATE_LIMIT_RPS": "0", "SOUK_JOB_WORKERS": "4"}

_served = None


def require_order_routes():
    """Skips the test until src/app.c registers the catalog and order routes."""
    global _served
    if _served is None:
        _served = set(souk_client.routes())
    if ("POST", "/api/orders/") not in _served or ("GET", "/api/services/") not in _served:
        pytest.fail("the catalog and order routes are not registered (src/app.c)")


def wait_for(fn, timeout=30.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def make_shop(server, price="29.99", stock=5, **variant):
    """A VENDOR with a profile, a service and one variant: {"vendor", "service", "variant"}."""
    vendor = make_chef(server, business_name="Fix-It Shop")
    r = server.post("/api/services/", json={"name": "Screen repair", "description": "Phones",
                                            "category": "repair"}, token=vendor["access"])
    assert r.status_code == 201, r.text
    service = r.json()
    body = {"name": "Standard", "price": price, "estimated_minutes": 45, "stock": stock}
    body.update(variant)
    r = server.post(f"/api/services/{service['id']}/variants/", json=body,
                    token=vendor["access"])
    assert r.status_code == 201, r.text
    return {"vendor": vendor, "service": service, "variant": r.json()}


def order(server, customer, variant_id, quantity=None):
    body = {"variant_id": variant_id}
    if quantity is not None:
        body["quantity"] = quantity
    return server.post("/api/orders/", json=body, token=customer["access"])


def get_order(server, who, order_id):
    r = server.get(f"/api/orders/{order_id}/", token=who["access"])
    assert r.status_code == 200, r.text
    return r.json()


def stock_of(server, variant_id):
    r = server.get(f"/api/services/variants/{variant_id}/availability/")
    assert r.status_code == 200, r.text
    return r.json()["stock"]


def pay(url, card=CARD_OK):
    """Submits the sandbox's hosted checkout form; returns the response (303 when paid)."""
    return requests.post(url, data={"card_number": card}, allow_redirects=False, timeout=30)


def wait_status(server, who, order_id, status, timeout=30.0):
    return wait_for(lambda: (lambda o: o if o["status"] == status else None)(
        get_order(server, who, order_id)), timeout=timeout, what=f"order {order_id} {status}")


def customer(server):
    return make_user(server, "CUSTOMER")
