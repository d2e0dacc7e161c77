"""test_payments.py - payments seen from outside: the sandbox's hosted checkout page paying a
session end to end, webhook signatures, the inbox (duplicates, 20 concurrent identical
deliveries, reordering, stale events), review of unmatched and mismatched events, expiry,
refunds and the history API. Runs on SQLite and PostgreSQL like every API test.
"""

import concurrent.futures
import json
import time
import uuid

import pytest
import requests

from payments_util import (CARD_DECLINE, CARD_OK, SECRET, base_env, checkout, event,
                           new_admin, new_user, outcome, pay, payment, payments_served,
                           post_event, sandbox_base, sandbox_get, sandbox_post, sign, wait_for)
from souk_client import SoukFailure, SoukServer


@pytest.fixture(scope="module")
def srv():
    payments_served()
    server = SoukServer(env=base_env())
    try:
        server.start()
    except SoukFailure as e:
        server.stop(check=False)
        pytest.fail(str(e), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def user(srv):
    return new_user(srv)


def ledger(server, token, pid):
    return [(x["kind"], x["amount"]) for x in payment(server, token, pid)["ledger"]]


def status(server, token, pid):
    """The precise state (pending, succeeded, failed, expired, refunded)."""
    return payment(server, token, pid)["state"]


# ---- the sandbox, end to end -------------------------------------------------------------


def test_checkout_page_pays_end_to_end(srv, user):
    token, _ = user
    co = checkout(srv, token, amount="25.00", currency="eur")
    assert co["id"].startswith("cs_") and co["url"].endswith(co["id"])
    assert co["amount"] == "25.00" and co["currency"] == "eur"

    page = requests.get(co["url"], timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<form method="post"' in page.text and 'name="card_number"' in page.text
    assert "25.00" in page.text

    declined = pay(co["url"], CARD_DECLINE)
    assert declined.status_code == 402 and "declined" in declined.text
    wait_for(lambda: ledger(srv, token, co["payment_id"]) == [("failure", "25.00")],
             what="the failure in the ledger")
    assert status(srv, token, co["payment_id"]) == "failed"

    paid = pay(co["url"], CARD_OK)
    assert paid.status_code == 303
    assert co["id"] in paid.headers["Location"]
    wait_for(lambda: status(srv, token, co["payment_id"]) == "succeeded", what="succeeded")
    time.sleep(0.5)  # both payment_intent.succeeded and checkout.session.completed land
    assert sorted(ledger(srv, token, co["payment_id"])) == [("charge", "25.00"),
                                                           ("failure", "25.00")]
    # a second payment of the same session is refused by the page
    again = pay(co["url"], CARD_OK)
    assert again.status_code == 409

    hist = srv.get("/api/payments/history/", token=token).json()
    row = next(x for x in hist["results"] if x["id"] == co["payment_id"])
    assert row["status"] == "succeeded" and row["purpose"] == "test"
    for key in ("id", "purpose", "object_id", "amount", "currency", "status", "created_at"):
        assert key in row


def test_bad_card_number_keeps_page_open(srv, user):
    co = checkout(srv, user[0])
    r = pay(co["url"], "1234")
    assert r.status_code == 400 and 'name="card_number"' in r.text


def test_checkout_same_object_is_idempotent(srv, user):
    token, _ = user
    obj = str(uuid.uuid4())
    a = checkout(srv, token, id=obj)
    b = checkout(srv, token, id=obj)
    assert a["id"] == b["id"] and a["payment_id"] == b["payment_id"]
    c = checkout(srv, token, id=obj, attempt=1)
    assert c["id"] != a["id"]


def test_checkout_validation(srv, user):
    token, _ = user
    r = srv.post("/api/payments/checkout/", json={"purpose": "nope", "id": str(uuid.uuid4())},
                 token=token)
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    r = srv.post("/api/payments/checkout/", json={"purpose": "test"}, token=token)
    assert r.status_code == 400
    r = srv.post("/api/payments/checkout/", json={"purpose": "test", "id": str(uuid.uuid4())})
    assert r.status_code == 401
    r = srv.post("/api/payments/checkout/", token=token,
                 json={"purpose": "test", "id": str(uuid.uuid4()), "amount": 12.5})
    assert r.status_code == 400


def test_other_users_payment_is_404(srv, user):
    co = checkout(srv, user[0])
    other, _ = new_user(srv)
    assert srv.get(f"/api/payments/{co['payment_id']}/", token=other).status_code == 404


def test_session_expiry(srv, user):
    token, _ = user
    co = checkout(srv, token, ttl_seconds=1)
    wait_for(lambda: status(srv, token, co["payment_id"]) == "expired", what="expired")
    assert payment(srv, token, co["payment_id"])["status"] == "failed"  # API.md's four values
    assert requests.get(co["url"], timeout=30).status_code == 410
    assert pay(co["url"], CARD_OK).status_code == 409


def test_refund_through_sandbox_api(srv, user):
    token, _ = user
    co = checkout(srv, token, amount="25.00")
    assert pay(co["url"]).status_code == 303
    wait_for(lambda: status(srv, token, co["payment_id"]) == "succeeded", what="paid")
    base = sandbox_base(co["url"])
    session = sandbox_get(base, f"/v1/checkout/sessions/{co['id']}")
    pi = session["payment_intent"]
    r = sandbox_post(base, "/v1/refunds", {"payment_intent": pi, "amount": "1000"}, idem="rf-1")
    assert r.status_code == 200 and r.json()["status"] == "succeeded"
    replay = sandbox_post(base, "/v1/refunds", {"payment_intent": pi, "amount": "1000"},
                          idem="rf-1")
    assert replay.json()["id"] == r.json()["id"]  # idempotent replay: no second refund
    assert replay.headers.get("Idempotent-Replayed") == "true"
    wait_for(lambda: ("refund", "10.00") in ledger(srv, token, co["payment_id"]),
             what="partial refund")
    assert status(srv, token, co["payment_id"]) == "succeeded"
    too_much = sandbox_post(base, "/v1/refunds", {"payment_intent": pi, "amount": "9999"})
    assert too_much.status_code == 400 and too_much.json()["error"]["type"]
    sandbox_post(base, "/v1/refunds", {"payment_intent": pi})
    wait_for(lambda: status(srv, token, co["payment_id"]) == "refunded", what="refunded")
    refunds = [a for k, a in ledger(srv, token, co["payment_id"]) if k == "refund"]
    assert sorted(refunds) == ["10.00", "15.00"]


# ---- signatures ------------------------------------------------------------------------------


def some_event():
    return event("checkout.session.completed", {"id": "cs_test_" + uuid.uuid4().hex})


@pytest.mark.parametrize("path", ["/api/payments/webhooks/", "/api/webhooks/payment/"])
def test_signature_refusals(srv, path):
    ev = some_event()
    raw = json.dumps(ev).encode()
    now = int(time.time())
    cases = {
        "missing": False,
        "empty": "",
        "forged": sign(raw, "whsec_wrong"),
        "stale": sign(raw, SECRET, now - 301),
        "v0 only": sign(raw, SECRET).replace("v1=", "v0="),
        "no t": sign(raw, SECRET).split(",", 1)[1],
        "uppercase key": sign(raw, SECRET).replace("v1=", "V1="),
        "uppercase hex": "t=%d,v1=%s" % (now, sign(raw, SECRET, now).split("v1=")[1].upper()),
    }
    for name, header in cases.items():
        r = post_event(srv, raw, header=header, path=path)
        assert r.status_code == 400, (name, r.text)
        assert r.json()["code"] == "signature_invalid", name
    # tampered body: signature of the original, one byte changed
    tampered = raw + b" "  # whitespace is enough: the bytes are what is signed
    r = post_event(srv, tampered, header=sign(raw, SECRET), path=path)
    assert r.status_code == 400
    # valid: signed just now, within tolerance, and a rotated secret among several v1
    assert post_event(srv, raw, header=sign(raw, SECRET, now - 250), path=path).status_code == 200
    ev2 = some_event()
    raw2 = json.dumps(ev2).encode()
    old = sign(raw2, "whsec_old_secret").split(",")[1]
    assert post_event(srv, raw2, header=sign(raw2) + "," + old, path=path).status_code == 200
    ev3 = some_event()
    raw3 = json.dumps(ev3).encode()
    rotated = sign(raw3, "whsec_old_secret") + "," + sign(raw3).split(",")[1]
    assert post_event(srv, raw3, header=rotated, path=path).status_code == 200


def test_not_an_event_is_400(srv):
    raw = b'{"hello": "world"}'
    r = post_event(srv, raw)
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    r = post_event(srv, b"not json")
    assert r.status_code == 400


def test_rotated_server_secrets(srv, souk_factory):
    """STRIPE_WEBHOOK_SECRET may list several secrets while one is rolled."""
    s = souk_factory(**base_env(STRIPE_WEBHOOK_SECRET="whsec_new_one," + SECRET))
    ev = some_event()
    assert post_event(s, ev, secret=SECRET).status_code == 200
    assert post_event(s, some_event(), secret="whsec_new_one").status_code == 200
    assert post_event(s, some_event(), secret="whsec_other").status_code == 400


# ---- the inbox --------------------------------------------------------------------------------


def payment_events(co, pi, ch):
    """Events about a payment-mode checkout, oldest first."""
    pid, cs, t = co["payment_id"], co["id"], int(time.time()) - 100
    md = {"souk_payment_id": pid}
    return [
        event("payment_intent.payment_failed",
              {"id": pi, "amount": 2500, "currency": "eur", "metadata": md}, created=t),
        event("payment_intent.succeeded",
              {"id": pi, "amount": 2500, "amount_received": 2500, "currency": "eur",
               "metadata": md}, created=t + 1),
        event("checkout.session.completed",
              {"id": cs, "amount_total": 2500, "currency": "eur", "payment_intent": pi,
               "payment_status": "paid", "metadata": md}, created=t + 1),
        event("charge.refunded",
              {"id": ch, "amount": 2500, "amount_refunded": 1000, "refunded": False,
               "payment_intent": pi, "currency": "eur", "metadata": md}, created=t + 2),
        event("charge.refunded",
              {"id": ch, "amount": 2500, "amount_refunded": 2500, "refunded": True,
               "payment_intent": pi, "currency": "eur", "metadata": md}, created=t + 3),
    ]


def subscription_events(co):
    pid, cs, t = co["payment_id"], co["id"], int(time.time()) - 100
    sub, inv1, inv2 = "sub_" + uuid.uuid4().hex, "in_" + uuid.uuid4().hex, "in_" + uuid.uuid4().hex
    md = {"souk_payment_id": pid}
    items = lambda start: {"object": "list", "data": [  # noqa: E731
        {"id": "si_1", "price": {"currency": "eur", "unit_amount": 900},
         "current_period_start": start, "current_period_end": start + 2592000}]}
    parent = {"type": "subscription_details",
              "subscription_details": {"subscription": sub, "metadata": md}}
    return [
        event("customer.subscription.created",
              {"id": sub, "status": "active", "metadata": md, "currency": "eur",
               "items": items(t)}, created=t),
        event("invoice.paid",
              {"id": inv1, "amount_paid": 900, "currency": "eur", "parent": parent,
               "billing_reason": "subscription_create"}, created=t),
        event("checkout.session.completed",
              {"id": cs, "amount_total": 900, "currency": "eur", "subscription": sub,
               "invoice": inv1, "payment_status": "paid", "mode": "subscription",
               "payment_intent": None, "metadata": md}, index=1, created=t + 1),
        event("invoice.payment_failed",
              {"id": inv2, "amount_paid": 0, "amount_due": 900, "currency": "eur",
               "parent": parent, "billing_reason": "subscription_cycle",
               "attempt_count": 1}, created=t + 5),
        event("customer.subscription.updated",
              {"id": sub, "status": "past_due", "metadata": md, "currency": "eur",
               "items": items(t)}, created=t + 5,
              previous={"status": "active"}),
        event("invoice.paid",
              {"id": inv2, "amount_paid": 900, "currency": "eur", "parent": parent,
               "billing_reason": "subscription_cycle"}, created=t + 8),
        event("customer.subscription.updated",
              {"id": sub, "status": "active", "metadata": md, "currency": "eur",
               "items": items(t + 2592000)}, created=t + 8, previous={"status": "past_due"}),
        event("customer.subscription.deleted",
              {"id": sub, "status": "canceled", "metadata": md, "currency": "eur",
               "items": items(t + 2592000)}, created=t + 20),
    ]


def deliver_20(server, ev):
    """20 identical deliveries at once: exactly one is not a duplicate."""
    raw = json.dumps(ev, separators=(",", ":")).encode()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: post_event(server, raw), range(20)))
    outs = [outcome(r) for r in results]
    assert outs.count("duplicate") == 19, (ev["type"], outs)
    return next(o for o in outs if o != "duplicate")


def final_state(server, token, pid):
    """Status, refunded amount, charges and the refunded total (how a refund is split into
    ledger lines depends on what was known when each event came)."""
    p = payment(server, token, pid)
    assert p["status"] in ("pending", "succeeded", "failed", "refunded")
    cents = lambda s: int(s.replace(".", ""))  # noqa: E731
    charges = sorted(x["amount"] for x in p["ledger"] if x["kind"] == "charge")
    refunded = sum(cents(x["amount"]) for x in p["ledger"] if x["kind"] == "refund")
    return p["state"], p["amount_refunded"], charges, refunded


def test_payment_events_once_each_concurrently(srv, user):
    token, _ = user
    co = checkout(srv, token, amount="25.00")
    evs = payment_events(co, "pi_" + uuid.uuid4().hex, "ch_" + uuid.uuid4().hex)
    outs = [deliver_20(srv, ev) for ev in evs]
    assert outs[0] == "applied" and outs[1] == "applied"
    for ev in evs:  # and a late replay of each: still no effect
        assert outcome(post_event(srv, ev)) == "duplicate"
    assert final_state(srv, token, co["payment_id"]) == ("refunded", "25.00", ["25.00"], 2500)
    assert sorted(ledger(srv, token, co["payment_id"])) == [
        ("charge", "25.00"), ("failure", "25.00"), ("refund", "10.00"), ("refund", "15.00")]


def test_payment_events_reordered_same_outcome(srv, user):
    token, _ = user
    in_order = checkout(srv, token, amount="25.00")
    reordered = checkout(srv, token, amount="25.00")
    for ev in payment_events(in_order, "pi_" + uuid.uuid4().hex, "ch_" + uuid.uuid4().hex):
        outcome(post_event(srv, ev))
    evs = payment_events(reordered, "pi_" + uuid.uuid4().hex, "ch_" + uuid.uuid4().hex)
    for ev in [evs[4], evs[2], evs[0], evs[3], evs[1]]:
        outcome(post_event(srv, ev))
    assert final_state(srv, token, in_order["payment_id"]) == \
        final_state(srv, token, reordered["payment_id"])


def test_subscription_events_once_each_concurrently(srv, user):
    token, _ = user
    co = checkout(srv, token, amount="9.00", mode="subscription", interval="month")
    evs = subscription_events(co)
    outs = [deliver_20(srv, ev) for ev in evs]
    assert outs == ["applied"] * len(evs), outs
    p = payment(srv, token, co["payment_id"])
    charges = [x for x in p["ledger"] if x["kind"] == "charge"]
    assert len(charges) == 2  # the first invoice (seen twice) and the renewal
    assert p["status"] == "succeeded"


def test_subscription_older_event_is_stale(srv, user):
    token, _ = user
    co = checkout(srv, token, amount="9.00", mode="subscription", interval="month")
    evs = subscription_events(co)
    # newest subscription state first, then the older ones: never undone
    assert outcome(post_event(srv, evs[7])) == "applied"   # deleted (t+20)
    assert outcome(post_event(srv, evs[6])) == "stale"     # updated active (t+8)
    assert outcome(post_event(srv, evs[0])) == "stale"     # created (t)
    assert outcome(post_event(srv, evs[5])) == "applied"   # invoice.paid (t+8)
    assert outcome(post_event(srv, evs[3])) == "stale"     # older invoice.payment_failed


def test_payment_failed_after_success_is_stale(srv, user):
    token, _ = user
    co = checkout(srv, token, amount="25.00")
    evs = payment_events(co, "pi_" + uuid.uuid4().hex, "ch_" + uuid.uuid4().hex)
    assert outcome(post_event(srv, evs[2])) == "applied"
    assert outcome(post_event(srv, evs[0])) == "stale"
    assert status(srv, token, co["payment_id"]) == "succeeded"


def test_expired_event(srv, user):
    token, _ = user
    co = checkout(srv, token, amount="25.00")
    ev = event("checkout.session.expired", {"id": co["id"], "amount_total": 2500,
                                            "currency": "eur"})
    assert deliver_20(srv, ev) == "applied"
    assert status(srv, token, co["payment_id"]) == "expired"
    late = event("checkout.session.completed",
                 {"id": co["id"], "amount_total": 2500, "currency": "eur",
                  "payment_status": "paid", "payment_intent": "pi_" + uuid.uuid4().hex},
                 created=int(time.time()) - 1000)
    assert outcome(post_event(srv, late)) == "applied"  # applied as it stands (forward only)


# ---- review --------------------------------------------------------------------------------


def test_mismatch_and_unmatched_are_kept_for_review(srv, user):
    token, _ = user
    admin = new_admin(srv)
    co = checkout(srv, token, amount="25.00")
    wrong_amount = event("checkout.session.completed",
                         {"id": co["id"], "amount_total": 1, "currency": "eur",
                          "payment_status": "paid"})
    wrong_currency = event("checkout.session.completed",
                           {"id": co["id"], "amount_total": 2500, "currency": "usd",
                            "payment_status": "paid"})
    unknown = event("checkout.session.completed", {"id": "cs_test_" + uuid.uuid4().hex})
    forged_md = event("payment_intent.succeeded",
                      {"id": "pi_" + uuid.uuid4().hex, "amount": 2500, "currency": "eur",
                       "metadata": {"souk_payment_id": str(uuid.uuid4())}})
    other_type = event("checkout.session.completed", {"id": co["id"]})
    other_type["type"] = "customer.created"
    for ev in (wrong_amount, wrong_currency, unknown, forged_md):
        assert outcome(post_event(srv, ev)) == "review"
    assert outcome(post_event(srv, other_type)) == "ignored"
    assert status(srv, token, co["payment_id"]) == "pending"
    assert payment(srv, token, co["payment_id"])["ledger"] == []

    r = srv.get("/api/admin/payments/events/?page_size=100", token=admin)
    assert r.status_code == 200, r.text
    listed = {e["id"]: e for e in r.json()["results"]}
    assert listed[wrong_amount["id"]]["reason"] == "amount_mismatch"
    assert listed[wrong_currency["id"]]["reason"] == "currency_mismatch"
    assert listed[unknown["id"]]["reason"] == "unmatched"
    assert other_type["id"] not in listed
    assert srv.get("/api/admin/payments/events/", token=token).status_code == 403
    r = srv.get("/api/admin/payments/events/?status=ignored&page_size=1", token=admin)
    assert r.status_code == 200 and len(r.json()["results"]) == 1
    if r.json()["next"]:
        nxt = requests.get(r.json()["next"], headers={"Authorization": f"Bearer {admin}"},
                           timeout=30)
        assert nxt.status_code == 200


def test_history_pagination(srv):
    token, _ = new_user(srv)
    ids = [checkout(srv, token)["payment_id"] for _ in range(3)]
    page = srv.get("/api/payments/history/?page_size=2", token=token).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = requests.get(page["next"], headers={"Authorization": f"Bearer {token}"},
                        timeout=30).json()
    seen = [x["id"] for x in page["results"] + rest["results"]]
    assert sorted(seen) == sorted(ids)
