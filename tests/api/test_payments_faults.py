"""test_payments_faults.py - a webhook whose apply fails is kept and applied later, exactly once.

The server runs with SOUK_TEST_PAYMENTS=1 and SOUK_TEST_FAIL_APPLY=1: the first apply of every
event fails with an internal error at the end of its transaction, after the status, the ledger
line, the provider ids and the notification were written and before the commit (webhooks.c).
The delivery is still answered 200 (outcome "failed": the inbox row and its job make the retry
durable, so the provider need not redeliver), nothing of the event is visible, a redelivery is a
duplicate, and the job payments.apply_event applies it once a few seconds later.
"""

import time
import uuid

import pytest

from payments_util import (CARD_OK, base_env, checkout, event, new_admin, new_user, outcome, pay,
                           payment, payments_served, post_event, wait_for)
from souk_client import SoukFailure, SoukServer

JOB_DELAY = 30.0  # the retry job runs 5 s after the failure; leave room for slow (ASan) runs


@pytest.fixture(scope="module")
def srv():
    payments_served()
    server = SoukServer(env=base_env(SOUK_TEST_FAIL_APPLY="1"))
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


def inbox(srv, admin, event_id):
    r = srv.get("/api/admin/payments/events/", params={"status": "all", "page_size": 100},
                token=admin)
    assert r.status_code == 200, r.text
    rows = [e for e in r.json()["results"] if e["id"] == event_id]
    return rows[0] if rows else None


def notifications(srv, token, type_):
    r = srv.get("/api/notifications/", token=token)
    assert r.status_code == 200, r.text
    return [n for n in r.json()["results"] if n["type"] == type_]


def ledger(srv, token, pid):
    return [(x["kind"], x["amount"]) for x in payment(srv, token, pid)["ledger"]]


def test_failed_apply_is_retried_once_and_never_half_applied(srv, admin):
    token, _ = new_user(srv)
    co = checkout(srv, token, amount="25.00", currency="eur")
    pid = co["payment_id"]
    ev = event("payment_intent.succeeded",
               {"id": "pi_" + uuid.uuid4().hex, "amount": 2500, "amount_received": 2500,
                "currency": "eur", "metadata": {"souk_payment_id": pid}})

    r = post_event(srv, ev)
    assert r.status_code == 200 and outcome(r) == "failed", r.text

    # rolled back as a whole: no status, no ledger line, no notification
    p = payment(srv, token, pid)
    assert p["state"] == "pending" and p["ledger"] == [], p
    assert notifications(srv, token, "payment.succeeded") == []
    row = inbox(srv, admin, ev["id"])
    assert row["status"] == "failed" and row["reason"] == "apply_failed", row

    # a redelivery meanwhile changes nothing: the job owns the event now
    assert outcome(post_event(srv, ev)) == "duplicate"
    assert payment(srv, token, pid)["state"] == "pending"

    wait_for(lambda: payment(srv, token, pid)["state"] == "succeeded", timeout=JOB_DELAY,
             what="the job to apply the event")
    row = inbox(srv, admin, ev["id"])
    assert row["status"] == "applied" and row["attempts"] >= 1, row
    time.sleep(1.0)  # nothing else is coming
    assert ledger(srv, token, pid) == [("charge", "25.00")]
    assert len(notifications(srv, token, "payment.succeeded")) == 1
    assert outcome(post_event(srv, ev)) == "duplicate"


def test_sandbox_payment_lands_once_despite_failed_first_applies(srv, admin):
    """Every event of a real (sandbox) payment fails once; the jobs apply them all, once."""
    token, _ = new_user(srv)
    co = checkout(srv, token, amount="7.00", currency="usd")
    assert pay(co["url"], CARD_OK).status_code == 303
    time.sleep(0.5)
    assert payment(srv, token, co["payment_id"])["state"] == "pending"
    wait_for(lambda: payment(srv, token, co["payment_id"])["state"] == "succeeded",
             timeout=JOB_DELAY, what="the jobs to apply the sandbox's events")
    # payment_intent.succeeded and checkout.session.completed are both applied, none is left
    # failed in the inbox...
    wait_for(lambda: not _events(srv, admin, "failed"), timeout=JOB_DELAY,
             what="no failed event left")
    applied = sorted(e["type"] for e in _events(srv, admin, "applied")
                     if e["payment_id"] == co["payment_id"])
    assert applied == ["checkout.session.completed", "payment_intent.succeeded"], applied
    # ...and book one charge between them
    assert ledger(srv, token, co["payment_id"]) == [("charge", "7.00")]
    assert len([n for n in notifications(srv, token, "payment.succeeded")
                if n["payload"]["payment_id"] == co["payment_id"]]) == 1


def _events(srv, admin, status):
    r = srv.get("/api/admin/payments/events/", params={"status": status, "page_size": 100},
                token=admin)
    assert r.status_code == 200, r.text
    return r.json()["results"]
