"""test_payments_interop.py - proof with the official `stripe` npm package (pinned in
tests/js/package.json; `npm ci` runs when tests/js/node_modules is missing): the SDK, pointed at
the sandbox through its host/port/protocol options, creates and retrieves a Checkout Session;
its constructEvent accepts the events the sandbox signs and delivers; our verifier accepts
headers made by generateTestHeaderString and refuses tampered, stale and wrong-secret ones.
"""

import json
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from payments_util import (KEY, SECRET, base_env, checkout, event, new_user, node_interop, pay,
                           payments_served, post_event, sandbox_base, wait_for)

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


class Capture:
    """An HTTP endpoint that keeps every delivery (raw body and Stripe-Signature)."""

    def __init__(self):
        self.got = []
        cap = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                cap.got.append({"payload": self.rfile.read(n).decode(),
                                "header": self.headers.get("Stripe-Signature")})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def capture():
    c = Capture()
    yield c
    c.stop()


def test_sdk_creates_and_retrieves_a_session(souk_factory):
    payments_served()
    srv = souk_factory(**base_env())
    token, _ = new_user(srv)
    base = sandbox_base(checkout(srv, token)["url"])
    out = node_interop("session", base, KEY)
    assert "error" not in out, out
    created, retrieved = out["created"], out["retrieved"]
    assert created["id"].startswith("cs_") and retrieved["id"] == created["id"]
    assert created["amount_total"] == 5000 and created["currency"] == "eur"
    assert created["metadata"] == {"order_id": "42"}
    assert created["url"].endswith(created["id"])
    bad = node_interop("session", base, "sk_test_not_the_key")
    assert "error" in bad


def test_construct_event_accepts_sandbox_deliveries(souk_factory, capture):
    payments_served()
    srv = souk_factory(**base_env(SOUK_SANDBOX_WEBHOOK_URL=capture.url))
    token, _ = new_user(srv)
    co = checkout(srv, token, mode="subscription", interval="month", amount="9.00")
    assert pay(co["url"]).status_code == 303
    wait_for(lambda: len(capture.got) >= 3, what="three deliveries")
    types = set()
    for d in capture.got:
        ok = node_interop("construct", SECRET, stdin=json.dumps(d))
        assert ok["ok"], ok
        types.add(ok["type"])
        wrong = node_interop("construct", "whsec_wrong", stdin=json.dumps(d))
        assert not wrong["ok"]
    assert {"checkout.session.completed", "invoice.paid",
            "customer.subscription.created"} <= types


def test_our_verifier_and_generate_test_header_string(souk_factory):
    payments_served()
    srv = souk_factory(**base_env())
    for path in ("/api/payments/webhooks/", "/api/webhooks/payment/"):
        raw = json.dumps(event("checkout.session.completed", {})).encode()
        good = node_interop("sign", SECRET, stdin=raw.decode())["header"]
        assert post_event(srv, raw, header=good, path=path).status_code == 200
        raw = json.dumps(event("checkout.session.completed", {})).encode()
        stale = node_interop("sign", SECRET, str(int(time.time()) - 600), stdin=raw.decode())
        r = post_event(srv, raw, header=stale["header"], path=path)
        assert r.status_code == 400 and r.json()["code"] == "signature_invalid"
        wrong = node_interop("sign", "whsec_not_ours", stdin=raw.decode())["header"]
        assert post_event(srv, raw, header=wrong, path=path).status_code == 400
        tampered = raw.replace(b"checkout.session.completed", b"checkout.session.expired")
        good = node_interop("sign", SECRET, stdin=raw.decode())["header"]
        assert post_event(srv, tampered, header=good, path=path).status_code == 400
