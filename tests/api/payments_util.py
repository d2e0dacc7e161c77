"""payments_util.py - helpers shared by tests/api/test_payments*.py.

Servers run with SOUK_TEST_PAYMENTS=1 (the "test" purpose: any uuid, amount from the body) and a
known webhook secret and API key, so the tests can sign events themselves (Python's hmac, an
implementation independent of the server's) and talk to the sandbox's API.
"""

import copy
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid

import pytest
import requests

import souk_client
from souk_client import run_souk

SECRET = "whsec_souk_test_0123456789abcdef"
KEY = "sk_test_souk_0123456789abcdef"
PASSWORD = "correct-horse-battery"
CARD_OK = "4242424242424242"
CARD_DECLINE = "4000000000000002"
CARD_RENEWAL_FAILS = "4000000000000341"

SHARED = os.path.join(souk_client.repo_root(), "..", "shared", "stripe")
JS_DIR = os.path.join(souk_client.repo_root(), "tests", "js")


def payments_served():
    """Fails the test when the binary does not serve the payments API."""
    served = {(m, t.rstrip("/")) for m, t in souk_client.routes()}
    if ("POST", "/api/payments/checkout") not in served:
        pytest.fail("the binary does not serve /api/payments/ (payments missing from src/app.c)")


def base_env(**extra):
    env = {"SOUK_TEST_PAYMENTS": "1", "STRIPE_WEBHOOK_SECRET": SECRET, "STRIPE_SECRET_KEY": KEY,
           "SOUK_JOB_WORKERS": "2", "SOUK_STRIPE_RETRY_BASE_MS": "20"}
    env.update(extra)
    return env


# ---- users ------------------------------------------------------------------------------


def login(server, email):
    r = server.post("/api/users/login/", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    return body["access"], body["user"]["id"]


def new_user(server):
    email = f"pay-{uuid.uuid4().hex[:12]}@example.com"
    r = server.post("/api/users/register/", json={"email": email, "password": PASSWORD,
                                                 "first_name": "P", "last_name": "Q"})
    assert r.status_code == 201, r.text
    return login(server, email)


def new_admin(server):
    email = f"admin-{uuid.uuid4().hex[:12]}@example.com"
    r = run_souk(["createuser", "--email", email, "--password", PASSWORD, "--role", "ADMIN"],
                 env=server.env)
    assert r.returncode == 0, r.stderr
    return login(server, email)[0]


# ---- checkout ---------------------------------------------------------------------------


def checkout(server, token, amount="25.00", currency="eur", **extra):
    body = {"purpose": "test", "id": str(uuid.uuid4()), "amount": amount, "currency": currency}
    body.update(extra)
    r = server.post("/api/payments/checkout/", json=body, token=token)
    assert r.status_code == 201, r.text
    return r.json()


def pay(url, card=CARD_OK):
    return requests.post(url, data={"card_number": card}, allow_redirects=False, timeout=30)


def payment(server, token, pid):
    r = server.get(f"/api/payments/{pid}/", token=token)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(fn, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


def sandbox_base(checkout_url):
    return checkout_url.split("/checkout/")[0]


def sandbox_get(base, path):
    r = requests.get(base + path, headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def sandbox_post(base, path, data, idem=None):
    h = {"Authorization": f"Bearer {KEY}"}
    if idem:
        h["Idempotency-Key"] = idem
    return requests.post(base + path, data=data, headers=h, timeout=30)


# ---- events ------------------------------------------------------------------------------


def sign(payload, secret=SECRET, t=None):
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def samples():
    with open(os.path.join(SHARED, "events.sample.json")) as f:
        return json.load(f)


def sample(type_, index=0):
    found = [e for e in samples() if e["type"] == type_]
    return copy.deepcopy(found[index])


def event(type_, obj, created=None, index=0, previous=None):
    """An event of type_ from events.sample.json with a fresh id and obj merged into the
    sample's data.object."""
    ev = sample(type_, index)
    ev["id"] = "evt_" + uuid.uuid4().hex
    ev["created"] = int(time.time()) if created is None else created
    ev["data"]["object"].update(obj)
    if previous is not None:
        ev["data"]["previous_attributes"] = previous
    return ev


def post_event(server, ev, secret=SECRET, t=None, header=None, path="/api/payments/webhooks/"):
    raw = ev if isinstance(ev, bytes) else json.dumps(ev, separators=(",", ":")).encode()
    h = {"Content-Type": "application/json"}
    sig = header if header is not None else sign(raw, secret, t)
    if sig is not False:
        h["Stripe-Signature"] = sig
    return requests.post(server.url + path, data=raw, headers=h, timeout=30)


def outcome(r):
    assert r.status_code == 200, r.text
    return r.json()["outcome"]


# ---- node ---------------------------------------------------------------------------------


def node_interop(*args, stdin=None):
    """Runs tests/js/interop.js (installing the pinned stripe package when missing)."""
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "stripe")):
        r = subprocess.run(["npm", "ci", "--prefix", JS_DIR, "--no-audit", "--no-fund"],
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            pytest.skip(f"npm ci failed (offline?): {r.stderr[-500:]}")
    r = subprocess.run(["node", os.path.join(JS_DIR, "interop.js")] + list(args), input=stdin,
                       capture_output=True, text=True, timeout=120)
    out = r.stdout.strip().splitlines()
    assert out, f"interop.js printed nothing: {r.stderr}"
    return json.loads(out[-1])
