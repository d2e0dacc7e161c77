"""test_sandbox_3ds.py - the sandbox's 3-D Secure card 4000002760003184 (API.md § Payments and
events of the home-services routes): an authentication form, approve pays, fail shows the
checkout again with 402 and sends payment_intent.payment_failed with
payment_intent_authentication_failure, nothing pending is a 409. Paid for here through a
promotion (purpose `promotion`). SQLite and PostgreSQL."""

import requests

from home_support import make_specialist, wait_for
from identity_helpers import make_user
from payments_util import base_env, sandbox_base, sandbox_get

CARD_3DS = "4000002760003184"


def _post(url, **data):
    return requests.post(url, data=data, allow_redirects=False, timeout=30)


def _promotion(server, spec):
    r = server.post("/api/promotions/", json={"product": "PRO"}, token=spec["access"])
    assert r.status_code == 201, r.text
    return r.json()


def _status(server, spec, pid):
    return server.get(f"/api/promotions/{pid}/", token=spec["access"]).json()["status"]


def test_approve_pays(souk_factory):
    server = souk_factory(**base_env())
    spec = make_specialist(server)
    p = _promotion(server, spec)
    url = p["checkout_url"]
    r = _post(url, card_number=CARD_3DS)
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    action = url.split(sandbox_base(url))[1] + "/authenticate"
    assert f'action="{action}"' in r.text
    assert 'name="result" value="approve"' in r.text and 'value="fail"' in r.text
    assert _status(server, spec, p["id"]) == "pending"
    r = _post(url + "/authenticate", result="approve")
    assert r.status_code == 303 and r.headers["Location"]
    wait_for(lambda: _status(server, spec, p["id"]) == "active", what="promotion active")
    assert _post(url + "/authenticate", result="approve").status_code == 409


def test_fail_leaves_checkout_open(souk_factory):
    server = souk_factory(**base_env())
    spec = make_specialist(server)
    admin = make_user(server, "ADMIN")
    p = _promotion(server, spec)
    url = p["checkout_url"]
    assert _post(url + "/authenticate", result="approve").status_code == 409  # nothing pending
    assert _post(url, card_number=CARD_3DS).status_code == 200
    assert _post(url + "/authenticate", result="maybe").status_code == 400
    r = _post(url + "/authenticate", result="fail")
    assert r.status_code == 402 and 'name="card_number"' in r.text
    assert _post(url + "/authenticate", result="fail").status_code == 409
    assert requests.get(url, timeout=30).status_code == 200  # still open
    pay = server.post("/api/payments/checkout/", json={"purpose": "promotion", "id": p["id"]},
                      token=spec["access"]).json()

    def failed_event():
        rows = server.get("/api/admin/payments/events/?status=all&page_size=100",
                          token=admin["access"]).json()["results"]
        return [e for e in rows if e["type"] == "payment_intent.payment_failed"
                and e["payment_id"] == pay["payment_id"]]
    ev = wait_for(failed_event, what="payment_intent.payment_failed")
    assert len(ev) == 1
    obj = sandbox_get(sandbox_base(url), f"/v1/events/{ev[0]['id']}")["data"]["object"]
    assert obj["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    assert _status(server, spec, p["id"]) == "pending"
    # the checkout still takes a good card
    assert _post(url, card_number="4242424242424242").status_code == 303
    wait_for(lambda: _status(server, spec, p["id"]) == "active", what="promotion active")
