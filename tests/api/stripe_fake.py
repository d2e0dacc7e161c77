"""stripe_fake.py - a local fake of Stripe's API for SOUK_PAYMENTS=stripe tests.

It records what the server sent (method, path, headers, form fields, idempotency keys) and
answers Stripe-shaped objects built from ../shared/stripe/fixtures.json ("latest" set), with
the ids and amounts the request asked for. A parameter Stripe does not document for the operation
(stripe_params.py) is refused as Stripe refuses it (400 parameter_unknown). A failure plan makes the next requests fail:

    fake.plan = ["500", "close", "409", "429", "402", "400"]

"close" drops the connection without an answer (a network error); "429/1" answers 429 with
`Retry-After: 1` (seconds), "503/date+2" with an HTTP date two seconds ahead; "hang" holds the request unanswered for
`hang_seconds` (default 15) and then drops it; "slow" answers normally after `hang_seconds`. Like Stripe, a key that
already succeeded is replayed (same body, Idempotent-Replayed: true).

Usage:
    fake = StripeFake(key).start(); ...; fake.requests; fake.stop()
"""

import copy
import email.utils
import json
import os
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import souk_client
import stripe_params

FIXTURES = os.path.join(souk_client.repo_root(), "..", "shared", "stripe", "fixtures.json")


def fixtures():
    with open(FIXTURES) as f:
        return json.load(f)["latest"]


class StripeFake:
    def __init__(self, key):
        self.key = key  # the only secret key accepted (401 otherwise)
        self.fx = fixtures()
        self.requests = []
        self.plan = []
        self.hang_seconds = 15.0
        self.replies = {}
        self.refused = []  # (method, path, [unknown parameters]) the fake answered 400 to
        self.lock = threading.Lock()
        self.server = None
        self.url = None

    # -- lifecycle --

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                fake.handle(self)

            def do_POST(self):
                fake.handle(self)

            def do_DELETE(self):
                fake.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    # -- what was sent --

    def sent(self, path_prefix):
        return [r for r in self.requests if r["path"].startswith(path_prefix)]

    # -- answering --

    def handle(self, h):
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length).decode() if length else ""
        path = urllib.parse.urlsplit(h.path).path
        rec = {"method": h.command, "path": path, "headers": {k.lower(): v for k, v in h.headers.items()},
               "form": dict(urllib.parse.parse_qsl(raw, keep_blank_values=True)), "raw": raw,
               "at": time.time()}
        key = rec["headers"].get("idempotency-key")
        with self.lock:
            self.requests.append(rec)
            action = self.plan.pop(0) if self.plan else None
            replay = self.replies.get(key) if key else None
        if action == "slow":  # a late but normal answer
            time.sleep(self.hang_seconds)
            action = None
        if action == "hang":
            time.sleep(self.hang_seconds)
            action = "close"
        if action == "close":
            h.close_connection = True
            h.connection.shutdown(2)
            return
        if action:
            status, _, after = action.partition("/")
            return self.error(h, int(status), retry_after=after or None)
        if replay:
            return self.reply(h, 200, replay, replayed=True)
        if rec["headers"].get("authorization") != "Bearer " + self.key:
            return self.error(h, 401)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h.path).query))
        unknown = stripe_params.unknown_parameters(h.command, path, list(rec["form"]) + list(query))
        if unknown:
            self.refused.append((h.command, path, unknown))
            return self.reply(h, 400, {"error": {
                "type": "invalid_request_error", "code": "parameter_unknown", "param": unknown[0],
                "message": f"Received unknown parameter: {unknown[0]}"}})
        status, body = self.route(rec)
        if key and status == 200:
            with self.lock:
                self.replies[key] = body
        self.reply(h, status, body)

    def route(self, rec):
        p, m, f = rec["path"], rec["method"], rec["form"]
        if m == "POST" and p == "/v1/checkout/sessions":
            refused = self.expires_at_refused(f)
            return (400, refused) if refused else (200, self.session(f))
        if m == "POST" and p.startswith("/v1/checkout/sessions/") and p.endswith("/expire"):
            s = copy.deepcopy(self.fx["checkout.session"])
            s.update({"id": p.split("/")[4], "status": "expired"})
            return 200, s
        if m == "POST" and p == "/v1/refunds":
            r = copy.deepcopy(self.fx["refund"])
            r.update({"id": "re_" + uuid.uuid4().hex[:16], "status": "succeeded",
                      "amount": int(f.get("amount", 0)), "payment_intent": f.get("payment_intent")})
            return 200, r
        if p.startswith("/v1/subscriptions/"):
            s = copy.deepcopy(self.fx["subscription"])
            s["id"] = p.split("/")[3]
            if m == "DELETE":
                s["status"] = "canceled"
            if "cancel_at_period_end" in f:
                s["cancel_at_period_end"] = f["cancel_at_period_end"] == "true"
            return 200, s
        return 404, {"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}

    @staticmethod
    def expires_at_refused(f):
        """Stripe's rule: expires_at between 30 minutes and 24 hours after the creation."""
        if "expires_at" not in f:
            return None
        left = int(f["expires_at"]) - time.time()
        if 1800 <= left <= 86400:
            return None
        return {"error": {"type": "invalid_request_error", "param": "expires_at",
                          "message": "The `expires_at` timestamp must be at least 30 minutes "
                                     "and less than 24 hours from Checkout Session creation."}}

    def session(self, f):
        s = copy.deepcopy(self.fx["checkout.session"])
        sid = "cs_test_" + uuid.uuid4().hex[:24]
        amount = int(f["line_items[0][price_data][unit_amount]"]) * int(f["line_items[0][quantity]"])
        s.update({"id": sid, "object": "checkout.session", "url": "https://checkout.stripe.test/c/pay/" + sid,
                  "status": "open", "payment_status": "unpaid", "mode": f.get("mode"),
                  "amount_total": amount, "currency": f["line_items[0][price_data][currency]"],
                  "client_reference_id": f.get("client_reference_id"),
                  "expires_at": int(f.get("expires_at") or time.time() + 86400)})
        return s

    def error(self, h, status, retry_after=None):
        types = {400: "invalid_request_error", 402: "card_error", 409: "idempotency_error",
                 429: "invalid_request_error"}
        body = {"error": {"type": types.get(status, "api_error"), "message": f"fake {status}",
                          "code": "card_declined" if status == 402 else None}}
        headers = {}
        if retry_after and retry_after.startswith("date+"):
            at = time.time() + int(retry_after[5:])
            headers["Retry-After"] = email.utils.formatdate(at, usegmt=True)
        elif retry_after:
            headers["Retry-After"] = retry_after
        self.reply(h, status, body, headers=headers)

    def reply(self, h, status, body, replayed=False, headers=None):
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Request-Id", "req_" + uuid.uuid4().hex[:14])
        if replayed:
            h.send_header("Idempotent-Replayed", "true")
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
