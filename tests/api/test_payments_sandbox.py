"""test_payments_sandbox.py - the sandbox's clock-driven behaviour, with short billing periods
(SOUK_SANDBOX_PERIOD_SECONDS=2): renewals (invoice.paid), the failing card's dunning
(invoice.payment_failed retried, then customer.subscription.deleted), cancel at period end,
immediate cancel, and the Stripe API subset (errors, auth, idempotency) it serves.
"""

import uuid

import pytest
import requests

from payments_util import (CARD_OK, CARD_RENEWAL_FAILS, KEY, base_env, checkout, new_admin,
                           new_user, pay, payment, payments_served, sandbox_base, sandbox_get,
                           sandbox_post, wait_for)
from souk_client import SoukFailure, SoukServer


@pytest.fixture(scope="module")
def srv():
    payments_served()
    server = SoukServer(env=base_env(SOUK_SANDBOX_PERIOD_SECONDS="2"))
    try:
        server.start()
    except SoukFailure as e:
        server.stop(check=False)
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def admin(srv):
    return new_admin(srv)


def subscribe(srv, card):
    token, _ = new_user(srv)
    co = checkout(srv, token, amount="9.00", mode="subscription", interval="month")
    assert pay(co["url"], card).status_code == 303
    sub = sandbox_get(sandbox_base(co["url"]), f"/v1/checkout/sessions/{co['id']}")["subscription"]
    assert sub.startswith("sub_")
    return token, co, sub


def events_for(srv, admin, provider_object):
    r = srv.get("/api/admin/payments/events/?status=all&page_size=100", token=admin)
    assert r.status_code == 200, r.text
    return [e["type"] for e in r.json()["results"] if e["provider_object"] == provider_object]


def charges(srv, token, pid):
    return [x for x in payment(srv, token, pid)["ledger"] if x["kind"] == "charge"]


def test_subscription_renews_itself(srv, admin):
    token, co, sub = subscribe(srv, CARD_OK)
    wait_for(lambda: len(charges(srv, token, co["payment_id"])) >= 3, timeout=30,
             what="two renewals")
    assert payment(srv, token, co["payment_id"])["status"] == "succeeded"
    kinds = events_for(srv, admin, sub)
    assert "customer.subscription.created" in kinds and "customer.subscription.updated" in kinds
    s = sandbox_get(sandbox_base(co["url"]), f"/v1/subscriptions/{sub}?expand[0]=latest_invoice")
    assert s["status"] == "active" and s["latest_invoice"]["status"] == "paid"
    assert s["items"]["data"][0]["current_period_end"] > s["items"]["data"][0]["current_period_start"]


def test_failing_card_dunning_then_deleted(srv, admin):
    token, co, sub = subscribe(srv, CARD_RENEWAL_FAILS)
    wait_for(lambda: "customer.subscription.deleted" in events_for(srv, admin, sub), timeout=40,
             what="customer.subscription.deleted")
    failures = [x for x in payment(srv, token, co["payment_id"])["ledger"]
                if x["kind"] == "failure"]
    assert len(failures) == 3  # three invoice.payment_failed, once each
    assert len(charges(srv, token, co["payment_id"])) == 1
    s = sandbox_get(sandbox_base(co["url"]), f"/v1/subscriptions/{sub}")
    assert s["status"] == "canceled"


def test_three_d_secure_card_renewals_fail(srv, admin):
    # API.md: as on Stripe, renewals with the 3-D Secure card fail (no one to authenticate)
    token, _ = new_user(srv)
    co = checkout(srv, token, amount="9.00", mode="subscription", interval="month")
    assert pay(co["url"], "4000002760003184").status_code == 200  # the authentication form
    r = requests.post(co["url"] + "/authenticate", data={"result": "approve"},
                      allow_redirects=False, timeout=30)
    assert r.status_code == 303, r.text
    sub = sandbox_get(sandbox_base(co["url"]), f"/v1/checkout/sessions/{co['id']}")["subscription"]
    wait_for(lambda: "customer.subscription.deleted" in events_for(srv, admin, sub), timeout=40,
             what="customer.subscription.deleted")
    ledger = payment(srv, token, co["payment_id"])["ledger"]
    assert len([x for x in ledger if x["kind"] == "charge"]) == 1, "the first payment only"
    assert len([x for x in ledger if x["kind"] == "failure"]) == 3, ledger
    assert sandbox_get(sandbox_base(co["url"]), f"/v1/subscriptions/{sub}")["status"] == "canceled"


def test_cancel_at_period_end_then_deleted(srv, admin):
    token, co, sub = subscribe(srv, CARD_OK)
    base = sandbox_base(co["url"])
    r = sandbox_post(base, f"/v1/subscriptions/{sub}", {"cancel_at_period_end": "true"},
                     idem=str(uuid.uuid4()))
    assert r.status_code == 200 and r.json()["cancel_at_period_end"] is True
    wait_for(lambda: sandbox_get(base, f"/v1/subscriptions/{sub}")["status"] == "canceled",
             timeout=20, what="canceled at period end")
    wait_for(lambda: "customer.subscription.deleted" in events_for(srv, admin, sub), timeout=20,
             what="deleted event applied")


def test_cancel_now(srv, admin):
    token, co, sub = subscribe(srv, CARD_OK)
    base = sandbox_base(co["url"])
    r = requests.delete(f"{base}/v1/subscriptions/{sub}",
                        headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    again = requests.delete(f"{base}/v1/subscriptions/{sub}",
                            headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    assert again.status_code == 404 and again.json()["error"]["type"] == "invalid_request_error"
    wait_for(lambda: "customer.subscription.deleted" in events_for(srv, admin, sub), timeout=20,
             what="deleted event applied")


def test_sandbox_api_errors(srv):
    token, _ = new_user(srv)
    co = checkout(srv, token)
    base = sandbox_base(co["url"])
    r = requests.get(f"{base}/v1/checkout/sessions/{co['id']}",
                     headers={"Authorization": "Bearer sk_test_wrong"}, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["type"] == "invalid_request_error"
    r = requests.get(f"{base}/v1/checkout/sessions/{co['id']}", timeout=30)
    assert r.status_code == 401
    assert requests.get(f"{base}/v1/checkout/sessions/cs_nope",
                        headers={"Authorization": f"Bearer {KEY}"}, timeout=30).status_code == 404
    bad = sandbox_post(base, "/v1/checkout/sessions", {"mode": "payment"})
    assert bad.status_code == 400 and bad.json()["error"]["param"]
    form = {"mode": "payment", "success_url": "http://x/ok", "line_items[0][quantity]": "1",
            "line_items[0][price_data][currency]": "eur",
            "line_items[0][price_data][unit_amount]": "100",
            "line_items[0][price_data][product_data][name]": "x"}
    key = str(uuid.uuid4())
    first = sandbox_post(base, "/v1/checkout/sessions", form, idem=key)
    second = sandbox_post(base, "/v1/checkout/sessions", form, idem=key)
    assert first.status_code == 200 and second.json()["id"] == first.json()["id"]
    other = sandbox_post(base, "/v1/checkout/sessions", dict(form, mode="subscription"), idem=key)
    assert other.status_code == 400 and other.json()["error"]["type"] == "idempotency_error"
    exp = sandbox_post(base, f"/v1/checkout/sessions/{first.json()['id']}/expire", {})
    assert exp.status_code == 200 and exp.json()["status"] == "expired"
    exp2 = sandbox_post(base, f"/v1/checkout/sessions/{first.json()['id']}/expire", {})
    assert exp2.status_code == 400
