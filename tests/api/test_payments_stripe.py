"""test_payments_stripe.py - SOUK_PAYMENTS=stripe against a local fake of Stripe's API
(stripe_fake.py): what the client sends (form fields in bracket notation, Bearer key, pinned
Stripe-Version, idempotency keys derived from the operation), its retries on network errors,
409, 429 and 5xx with the same idempotency key, Stripe errors mapped to 502 upstream_error, and
webhooks matched to the sessions the fake created.
"""

import uuid

import pytest

from payments_util import (KEY, base_env, event, new_user, outcome, payment, payments_served,
                           post_event)
from stripe_fake import StripeFake

API_VERSION = "2026-10-28.endive"


@pytest.fixture(scope="module")
def fake():
    f = StripeFake(KEY).start()
    yield f
    f.stop()


@pytest.fixture
def srv(fake, souk_factory):
    payments_served()
    fake.plan = []
    fake.requests.clear()
    return souk_factory(**base_env(SOUK_PAYMENTS="stripe", STRIPE_API_BASE=fake.url))


def post_checkout(srv, token, obj=None, **extra):
    body = {"purpose": "test", "id": obj or str(uuid.uuid4()), "amount": "25.00",
            "currency": "eur"}
    body.update(extra)
    return srv.post("/api/payments/checkout/", json=body, token=token)


def test_checkout_wire_format(srv, fake):
    token, _ = new_user(srv)
    obj = str(uuid.uuid4())
    r = post_checkout(srv, token, obj)
    assert r.status_code == 201, r.text
    co = r.json()
    assert co["url"].startswith("https://checkout.stripe.test/") and co["id"].startswith("cs_")
    [req] = fake.sent("/v1/checkout/sessions")
    h, f = req["headers"], req["form"]
    assert h["authorization"] == f"Bearer {KEY}"
    assert h["stripe-version"] == API_VERSION
    assert h["content-type"] == "application/x-www-form-urlencoded"
    assert h["idempotency-key"] == f"souk-checkout-test-{obj}-0"
    assert f["mode"] == "payment"
    assert f["line_items[0][price_data][currency]"] == "eur"
    assert f["line_items[0][price_data][unit_amount]"] == "2500"
    assert f["line_items[0][quantity]"] == "1"
    assert f["line_items[0][price_data][product_data][name]"]
    assert f["client_reference_id"] == co["payment_id"]
    assert f["metadata[souk_payment_id]"] == co["payment_id"]
    assert f["payment_intent_data[metadata][souk_payment_id]"] == co["payment_id"]
    assert f["metadata[purpose]"] == "test" and f["metadata[object_id]"] == obj
    assert f["success_url"].startswith(srv.url) and "{CHECKOUT_SESSION_ID}" in f["success_url"]
    assert f["cancel_url"].startswith(srv.url)
    assert int(f["expires_at"]) > 0
    assert "line_items[0][price_data][recurring][interval]" not in f
    assert "metadata[" in req["raw"]  # brackets are sent raw, as stripe-node does


def test_subscription_checkout_fields(srv, fake):
    token, _ = new_user(srv)
    r = post_checkout(srv, token, mode="subscription", interval="year", amount="90.00")
    assert r.status_code == 201, r.text
    f = fake.sent("/v1/checkout/sessions")[-1]["form"]
    assert f["mode"] == "subscription"
    assert f["line_items[0][price_data][recurring][interval]"] == "year"
    assert f["line_items[0][price_data][recurring][interval_count]"] == "1"
    assert f["subscription_data[metadata][souk_payment_id]"] == r.json()["payment_id"]
    assert "payment_intent_data[metadata][souk_payment_id]" not in f


@pytest.mark.parametrize("plan", [["500", "503"], ["close"], ["409"], ["429", "502"]])
def test_retries_reuse_the_idempotency_key(srv, fake, plan):
    token, _ = new_user(srv)
    fake.plan = list(plan)
    r = post_checkout(srv, token)
    assert r.status_code == 201, r.text
    sent = fake.sent("/v1/checkout/sessions")
    assert len(sent) == len(plan) + 1
    assert len({s["headers"]["idempotency-key"] for s in sent}) == 1
    assert len({s["raw"] for s in sent}) == 1  # the same parameters every time


def test_provider_down_then_recovered(srv, fake):
    token, _ = new_user(srv)
    obj = str(uuid.uuid4())
    fake.plan = ["500", "500", "500"]
    r = post_checkout(srv, token, obj)
    assert r.status_code == 502 and r.json()["code"] == "upstream_error"
    assert len(fake.sent("/v1/checkout/sessions")) == 3  # 1 + 2 retries
    r = post_checkout(srv, token, obj)  # the client tries again later: same operation
    assert r.status_code == 201, r.text
    keys = {s["headers"]["idempotency-key"] for s in fake.sent("/v1/checkout/sessions")}
    assert keys == {f"souk-checkout-test-{obj}-0"}
    again = post_checkout(srv, token, obj)  # recorded: no new provider call
    assert again.json()["id"] == r.json()["id"]
    assert len(fake.sent("/v1/checkout/sessions")) == 4


@pytest.mark.parametrize("status", ["400", "402", "401"])
def test_refusals_are_not_retried(srv, fake, status):
    token, _ = new_user(srv)
    fake.plan = [status]
    r = post_checkout(srv, token)
    assert r.status_code == 502 and r.json()["code"] == "upstream_error"
    assert len(fake.sent("/v1/checkout/sessions")) == 1


def test_webhook_matches_fake_session(srv, fake):
    token, _ = new_user(srv)
    co = post_checkout(srv, token).json()
    pi = "pi_" + uuid.uuid4().hex
    ev = event("checkout.session.completed",
               {"id": co["id"], "amount_total": 2500, "currency": "eur", "payment_status": "paid",
                "payment_intent": pi})
    assert outcome(post_event(srv, ev)) == "applied"
    assert outcome(post_event(srv, ev)) == "duplicate"
    p = payment(srv, token, co["payment_id"])
    assert p["status"] == "succeeded" and [x["provider_id"] for x in p["ledger"]] == [pi]
