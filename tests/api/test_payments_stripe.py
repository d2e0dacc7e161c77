"""test_payments_stripe.py - SOUK_PAYMENTS=stripe against a local fake of Stripe's API
(stripe_fake.py): what the client sends (form fields in bracket notation, Bearer key, pinned
Stripe-Version, idempotency keys derived from the operation), its retries on network errors,
409, 429 and 5xx with the same idempotency key, Stripe errors mapped to 502 upstream_error, and
webhooks matched to the sessions the fake created.
"""

import threading
import time
import uuid

import pytest

from payments_util import (KEY, base_env, event, new_admin, new_user, outcome, payment,
                           payments_served, post_event)
from orders_helpers import customer, make_shop, order, require_order_routes, stock_of, wait_for
from orders_helpers import get_order, wait_status
from stripe_fake import StripeFake

API_VERSION = "2026-10-28.endive"


@pytest.fixture(scope="module")
def fake():
    f = StripeFake(KEY).start()
    yield f
    f.stop()
    # every call souk made in this module used parameters Stripe documents
    assert f.refused == [], f.refused


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
    # operators see them: one retry per failed answer, by the status that caused it
    want = {"500": "500", "close": "0", "409": "409", "429": "429"}
    got = metric_values(srv, "souk_provider_retries_total")
    for step in plan:
        label = 'status="%s"' % want.get(step.split("/")[0], step.split("/")[0])
        assert got.get(label, 0) >= plan.count(step), (plan, got)


def metric_values(srv, name):
    out = {}
    for line in srv.get("/metrics").text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, value = line.rsplit(" ", 1)
            out[key[len(name):].strip("{}")] = float(value)
    return out


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


def test_short_ttl_is_kept_by_souk_and_closed_at_the_provider(fake, souk_factory):
    # Stripe refuses a session that expires within 30 minutes (the fake too): souk asks Stripe for
    # at least 35 minutes, keeps its own 2 s TTL and closes the session at Stripe when it ends
    require_order_routes()
    fake.plan, fake.requests[:] = [], []
    srv = souk_factory(**base_env(SOUK_PAYMENTS="stripe", STRIPE_API_BASE=fake.url,
                                  SOUK_CHECKOUT_TTL_SECONDS="2", SOUK_RATE_LIMIT_RPS="0"))
    shop = make_shop(srv, stock=1)
    buyer = customer(srv)
    r = order(srv, buyer, shop["variant"]["id"])
    assert r.status_code == 201, r.text
    o = r.json()
    [req] = fake.sent("/v1/checkout/sessions")
    assert int(req["form"]["expires_at"]) >= req["at"] + 35 * 60 - 2
    sid = o["payment_url"].rsplit("/", 1)[-1]
    wait_status(srv, buyer, o["id"], "cancelled")
    assert stock_of(srv, shop["variant"]["id"]) == 1
    wait_for(lambda: fake.sent(f"/v1/checkout/sessions/{sid}/expire"), what="provider expiry")


def test_hanging_provider_holds_no_worker(fake, souk_factory):
    # 20 orders whose checkout hangs at the provider, on a server with 2 worker threads: every
    # other route keeps answering at once, and each order ends by the call's 3 s deadline
    require_order_routes()
    fake.plan, fake.requests[:] = ["hang"] * 20, []
    srv = souk_factory(**base_env(SOUK_PAYMENTS="stripe", STRIPE_API_BASE=fake.url,
                                  SOUK_WORKERS="2", SOUK_STRIPE_TIMEOUT_SECONDS="3",
                                  SOUK_STRIPE_MAX_RETRIES="0", SOUK_RATE_LIMIT_RPS="0"))
    shop = make_shop(srv, stock=100)
    buyers = [customer(srv) for _ in range(20)]
    answers = [None] * 20

    def place(i):
        t0 = time.monotonic()
        r = order(srv, buyers[i], shop["variant"]["id"])
        answers[i] = (r.status_code, r.json().get("code"), time.monotonic() - t0)

    threads = [threading.Thread(target=place, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    wait_for(lambda: len(fake.sent("/v1/checkout/sessions")) == 20, timeout=10,
             what="20 calls hanging at the provider")
    for path in ("/healthz", "/api/recipes/", "/api/services/"):
        t0 = time.monotonic()
        r = srv.get(path, timeout=5)
        assert r.status_code == 200 and time.monotonic() - t0 < 1.0, (path, r.status_code)
    for t in threads:
        t.join(timeout=30)
    for status, code, took in answers:
        assert (status, code) == (502, "upstream_error") and took < 3 + 2.5, answers


def test_hanging_provider_holds_no_job_worker(fake, souk_factory):
    # 10 orders whose checkout hangs, then whose retry job (order.checkout_open) hangs again, on
    # one job worker thread: the retries wait in fibers, so another job runs meanwhile at once,
    # and every retry ends by its own deadline rather than one after the other
    from jobs_support import JOB_ENV, admin_token, enqueue, job
    require_order_routes()
    fake.plan, fake.requests[:], fake.hang_seconds = ["hang"] * 20, [], 6.0
    try:
        srv = souk_factory(**base_env(SOUK_PAYMENTS="stripe", STRIPE_API_BASE=fake.url,
                                      SOUK_STRIPE_TIMEOUT_SECONDS="3",
                                      SOUK_STRIPE_MAX_RETRIES="0", SOUK_RATE_LIMIT_RPS="0",
                                      **dict(JOB_ENV, SOUK_JOB_WORKERS="1",
                                             SOUK_JOB_LEASE_SECONDS="30")))
        shop = make_shop(srv, stock=100)
        buyers = [customer(srv) for _ in range(10)]
        threads = [threading.Thread(target=order, args=(srv, b, shop["variant"]["id"]))
                   for b in buyers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        # the ten retries are all at the provider at once (one thread would hold one at a time)
        wait_for(lambda: len(fake.sent("/v1/checkout/sessions")) >= 20, timeout=12,
                 what="ten retries hanging at the provider together")
        t0 = time.monotonic()
        admin = admin_token(srv)
        jid = enqueue(srv, admin, "test.record")["id"]
        wait_for(lambda: job(srv, admin, jid)["state"] == "done", timeout=2.5,
                 what="another job while the provider hangs")
        assert time.monotonic() - t0 < 2.5
        assert len([x for x in fake.requests if x["path"] == "/v1/checkout/sessions"]) == 20
    finally:
        fake.plan, fake.hang_seconds = [], 15.0


def test_timed_out_create_keeps_the_order_and_opens_it_later(fake, souk_factory):
    # the provider does not answer in time: it may have created the session, so the order stays
    # pending with its stock held, the client gets 502, and a job asks again with the same key
    require_order_routes()
    fake.plan, fake.requests[:], fake.hang_seconds = ["hang"], [], 4.0
    try:
        srv = souk_factory(**base_env(SOUK_PAYMENTS="stripe", STRIPE_API_BASE=fake.url,
                                      SOUK_STRIPE_TIMEOUT_SECONDS="2", SOUK_STRIPE_MAX_RETRIES="0",
                                      SOUK_RATE_LIMIT_RPS="0"))
        shop = make_shop(srv, stock=1)
        buyer = customer(srv)
        r = order(srv, buyer, shop["variant"]["id"])
        assert r.status_code == 502 and r.json()["code"] == "upstream_error", r.text
        assert r.json()["provider_outcome"] == "unknown"
        [o] = srv.get("/api/orders/my/", token=buyer["access"]).json()["results"]
        assert o["status"] == "pending" and stock_of(srv, shop["variant"]["id"]) == 0
        done = wait_for(lambda: (lambda x: x if x["payment_url"] else None)(
            get_order(srv, buyer, o["id"])), what="payment_url after the retry")
        assert done["status"] == "pending" and stock_of(srv, shop["variant"]["id"]) == 0
        sent = fake.sent("/v1/checkout/sessions")
        assert len(sent) == 2 and len({x["headers"]["idempotency-key"] for x in sent}) == 1
        assert len({x["raw"] for x in sent}) == 1
        assert done["payment_url"].rsplit("/", 1)[-1].startswith("cs_")
    finally:
        fake.hang_seconds = 15.0


def _hanging_once(fake, souk_factory):
    fake.plan, fake.requests[:], fake.hang_seconds = ["hang"], [], 4.0
    return souk_factory(**base_env(SOUK_PAYMENTS="stripe", STRIPE_API_BASE=fake.url,
                                   SOUK_STRIPE_TIMEOUT_SECONDS="2", SOUK_STRIPE_MAX_RETRIES="0",
                                   SOUK_RATE_LIMIT_RPS="0"))


def _one_key(fake, n):
    sent = [x for x in fake.requests if x["path"] == "/v1/checkout/sessions"]
    assert len(sent) == n and len({x["headers"]["idempotency-key"] for x in sent}) == 1, sent
    assert len({x["raw"] for x in sent}) == 1, "the same request asked again"


def test_timed_out_payment_link_is_opened_later(fake, souk_factory):
    # a fresh payment link whose create timed out: the order keeps its stock and the job asks
    # again for the new attempt's session with that attempt's key
    require_order_routes()
    try:
        srv = _hanging_once(fake, souk_factory)
        fake.plan = []
        shop = make_shop(srv, stock=1)
        buyer = customer(srv)
        o = order(srv, buyer, shop["variant"]["id"]).json()
        first = o["payment_url"]
        # the old session's expiry job may reach the fake first: both calls hang
        fake.plan, fake.requests[:] = ["hang", "hang"], []
        r = srv.post(f"/api/orders/{o['id']}/payment-link/", token=buyer["access"])
        assert r.status_code == 502 and r.json()["provider_outcome"] == "unknown", r.text
        assert stock_of(srv, shop["variant"]["id"]) == 0
        done = wait_for(lambda: (lambda x: x if x["payment_url"] and x["payment_url"] != first
                                 else None)(get_order(srv, buyer, o["id"])),
                        what="the new payment_url after the retry")
        assert done["status"] == "pending" and stock_of(srv, shop["variant"]["id"]) == 0
        _one_key(fake, 2)
    finally:
        fake.hang_seconds = 15.0


def test_timed_out_promotion_checkout_is_opened_later(fake, souk_factory):
    # as for orders: the promotion stays pending, the client gets 502 at the deadline, and the
    # job payments.checkout_open asks again with the same key; GET shows the URL once it has it
    from home_support import make_project, make_specialist
    try:
        srv = _hanging_once(fake, souk_factory)
        spec = make_specialist(srv)
        pid = make_project(srv, spec)
        r = srv.post("/api/promotions/", json={"product": "TOP", "project_id": pid},
                     token=spec["access"])
        assert r.status_code == 502 and r.json()["provider_outcome"] == "unknown", r.text
        [p] = srv.get("/api/promotions/", token=spec["access"]).json()["results"]
        assert p["status"] == "pending" and p["checkout_url"] is None, p
        done = wait_for(lambda: (lambda x: x if x["checkout_url"] else None)(
            srv.get(f"/api/promotions/{p['id']}/", token=spec["access"]).json()),
            what="checkout_url after the retry")
        assert done["status"] == "pending" and done["checkout_url"].rsplit("/", 1)[-1][:3] == "cs_"
        _one_key(fake, 2)
    finally:
        fake.hang_seconds = 15.0


def test_timed_out_subscribe_is_opened_later(fake, souk_factory):
    from recipes_support import make_chef, plan as make_plan
    try:
        srv = _hanging_once(fake, souk_factory)
        chef = make_chef(srv)
        tier = make_plan(srv, chef)
        token, _ = new_user(srv)
        r = srv.post("/api/subscriptions/subscribe/", token=token,
                     json={"chef_id": chef["chef"]["id"], "plan_id": tier["id"]})
        assert r.status_code == 502 and r.json()["provider_outcome"] == "unknown", r.text
        [sub] = srv.get("/api/subscriptions/?status=incomplete", token=token).json()["results"]
        assert sub["status"] == "incomplete" and not sub.get("checkout_url"), sub
        done = wait_for(lambda: (lambda x: x if x.get("checkout_url") else None)(
            srv.get(f"/api/subscriptions/{sub['id']}/", token=token).json()),
            what="checkout_url after the retry")
        assert done["status"] == "incomplete"
        _one_key(fake, 2)
    finally:
        fake.hang_seconds = 15.0


def test_late_checkout_of_a_cancelled_promotion_is_expired_at_the_provider(fake, souk_factory):
    # the owner cancels while the provider is silent: the retry's session, once it exists, is
    # closed at the provider, and the promotion stays cancelled without a URL
    from home_support import make_specialist
    try:
        srv = _hanging_once(fake, souk_factory)
        spec = make_specialist(srv)
        r = srv.post("/api/promotions/", json={"product": "PRO"}, token=spec["access"])
        assert r.status_code == 502 and r.json()["provider_outcome"] == "unknown", r.text
        [p] = srv.get("/api/promotions/", token=spec["access"]).json()["results"]
        r = srv.post(f"/api/promotions/{p['id']}/cancel/", token=spec["access"])
        assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
        expired = wait_for(lambda: [x for x in fake.requests
                                    if x["path"].endswith("/expire")], what="provider expiry")
        sid = expired[0]["path"].split("/")[4]
        created = [x for x in fake.requests if x["path"] == "/v1/checkout/sessions"]
        assert len(created) == 2 and sid.startswith("cs_")
        got = srv.get(f"/api/promotions/{p['id']}/", token=spec["access"]).json()
        assert got["status"] == "cancelled" and got["checkout_url"] is None, got
    finally:
        fake.hang_seconds = 15.0


def _paid_order(srv):
    """A 12.50 order of a shop with stock 2, paid through the fake's session: (shop, buyer,
    order, payment_intent)."""
    shop = make_shop(srv, price="12.50", stock=2)
    buyer = customer(srv)
    o = order(srv, buyer, shop["variant"]["id"]).json()
    pi = "pi_" + uuid.uuid4().hex
    assert outcome(post_event(srv, event(
        "checkout.session.completed",
        {"id": o["payment_url"].rsplit("/", 1)[-1], "amount_total": 1250, "currency": "usd",
         "payment_status": "paid", "payment_intent": pi}))) == "applied"
    wait_status(srv, buyer, o["id"], "processing")
    return shop, buyer, o, pi


def _charge_refunded(srv, pi):
    """The provider's charge.refunded of the whole 12.50 payment pi."""
    return outcome(post_event(srv, event(
        "charge.refunded", {"id": "ch_" + uuid.uuid4().hex[:16], "amount": 1250,
                            "amount_refunded": 1250, "refunded": True, "payment_intent": pi,
                            "currency": "usd"})))


def test_timed_out_refund_is_asked_again_once_and_booked_by_the_event(fake, souk_factory):
    # a refund whose answer never came may exist at the provider: the job payments.refund_retry
    # asks again with the same key and the same body (so it exists once), and the provider's
    # charge.refunded then books it and moves the order to refunded, stock back once
    require_order_routes()
    fake.plan, fake.requests[:], fake.hang_seconds = [], [], 4.0
    try:
        srv = souk_factory(**base_env(SOUK_PAYMENTS="stripe", STRIPE_API_BASE=fake.url,
                                      SOUK_STRIPE_TIMEOUT_SECONDS="2",
                                      SOUK_STRIPE_MAX_RETRIES="0", SOUK_RATE_LIMIT_RPS="0"))
        shop, buyer, o, pi = _paid_order(srv)
        fake.plan = ["hang"]
        r = srv.post(f"/api/orders/{o['id']}/refund/", token=shop["vendor"]["access"])
        assert r.status_code == 502 and r.json()["provider_outcome"] == "unknown", r.text
        assert get_order(srv, buyer, o["id"])["status"] == "processing"
        assert metric_values(srv, "souk_provider_unknown_outcomes_total") == {"": 1.0}
        wait_for(lambda: len(fake.sent("/v1/refunds")) == 2, what="the refund asked again")
        sent = fake.sent("/v1/refunds")
        assert len({x["headers"]["idempotency-key"] for x in sent}) == 1, sent
        assert len({x["raw"] for x in sent}) == 1 and sent[0]["form"]["payment_intent"] == pi
        assert stock_of(srv, shop["variant"]["id"]) == 1, "nothing booked before the event"
        assert _charge_refunded(srv, pi) == "applied"
        wait_status(srv, buyer, o["id"], "refunded")
        assert stock_of(srv, shop["variant"]["id"]) == 2
        time.sleep(3)
        assert len(fake.sent("/v1/refunds")) == 2, "no third ask once it was answered"
    finally:
        fake.hang_seconds = 15.0


def test_refund_applied_by_the_event_first_still_records_who_asked(fake, souk_factory):
    # the provider's charge.refunded arrives while the vendor's refund call is still waiting
    # for its answer: the event moves the order (actor provider), and the vendor's request is
    # recorded too (history note and audit entry order.refund_request), nothing twice
    require_order_routes()
    fake.plan, fake.requests[:], fake.hang_seconds = [], [], 2.0
    try:
        srv = souk_factory(**base_env(SOUK_PAYMENTS="stripe", STRIPE_API_BASE=fake.url,
                                      SOUK_RATE_LIMIT_RPS="0"))
        shop, buyer, o, pi = _paid_order(srv)
        fake.plan = ["slow"]
        answer = {}
        t = threading.Thread(target=lambda: answer.update(r=srv.post(
            f"/api/orders/{o['id']}/refund/", token=shop["vendor"]["access"])))
        t.start()
        wait_for(lambda: fake.sent("/v1/refunds"), what="the refund call at the provider")
        assert _charge_refunded(srv, pi) == "applied"
        t.join(timeout=30)
        assert answer["r"].status_code == 200 and answer["r"].json()["status"] == "refunded"
        assert stock_of(srv, shop["variant"]["id"]) == 2, "stock back once"
        admin = new_admin(srv)
        audit = srv.get("/api/admin/audit/", params={"target_id": o["id"]},
                        token=admin).json()["results"]
        acts = sorted((e["action"], e["actor_id"]) for e in audit
                      if e["action"] != "payment.applied")
        assert acts == sorted([("order.refund", None),
                               ("order.refund_request", shop["vendor"]["id"])]), acts
        hist = get_order(srv, buyer, o["id"])["history"]
        assert [h["note"] for h in hist if h["actor"] == "vendor"] == ["refund_requested"], hist
    finally:
        fake.plan, fake.hang_seconds = [], 15.0


@pytest.mark.parametrize("plan", [["400"], ["402"]])
def test_refused_create_releases_the_order_at_once(fake, souk_factory, plan):
    require_order_routes()
    fake.plan, fake.requests[:] = list(plan), []
    srv = souk_factory(**base_env(SOUK_PAYMENTS="stripe", STRIPE_API_BASE=fake.url,
                                  SOUK_RATE_LIMIT_RPS="0"))
    shop = make_shop(srv, stock=1)
    buyer = customer(srv)
    r = order(srv, buyer, shop["variant"]["id"])
    assert r.status_code == 502 and "provider_outcome" not in r.json(), r.text
    [o] = srv.get("/api/orders/my/", token=buyer["access"]).json()["results"]
    assert o["status"] == "cancelled" and stock_of(srv, shop["variant"]["id"]) == 1
    assert len(fake.sent("/v1/checkout/sessions")) == 1


@pytest.mark.parametrize("plan,wait", [(["429/1"], 1.0), (["503/2"], 2.0), (["503/date+2"], 1.0)])
def test_retry_after_is_honoured(srv, fake, plan, wait):
    # SOUK_STRIPE_RETRY_BASE_MS is 20 ms in these tests, so only Retry-After explains the gap
    token, _ = new_user(srv)
    fake.plan = list(plan)
    r = post_checkout(srv, token)
    assert r.status_code == 201, r.text
    first, second = fake.sent("/v1/checkout/sessions")
    assert second["at"] - first["at"] >= wait - 0.05, (first["at"], second["at"])
    assert first["headers"]["idempotency-key"] == second["headers"]["idempotency-key"]


def test_retry_after_past_the_deadline_is_not_waited(fake, souk_factory):
    payments_served()
    fake.plan, fake.requests[:] = ["429/3600"], []
    srv = souk_factory(**base_env(SOUK_PAYMENTS="stripe", STRIPE_API_BASE=fake.url,
                                  SOUK_STRIPE_TIMEOUT_SECONDS="5"))
    token, _ = new_user(srv)
    r = post_checkout(srv, token)
    assert r.status_code == 502 and r.json()["code"] == "upstream_error", r.text
    assert len(fake.sent("/v1/checkout/sessions")) == 1  # an hour's wait is past a 5 s deadline


def test_fake_refuses_undocumented_parameters(fake):
    import requests
    h = {"Authorization": f"Bearer {KEY}"}
    ok = {"mode": "payment", "success_url": "http://x/", "line_items[0][quantity]": "1",
          "line_items[0][price_data][currency]": "eur",
          "line_items[0][price_data][unit_amount]": "100",
          "line_items[0][price_data][product_data][name]": "x", "metadata[anything]": "y"}
    assert requests.post(fake.url + "/v1/checkout/sessions", data=ok, headers=h).status_code == 200
    for bad in ("line_items[0][price_data][unit_amont]", "expires", "metadata[a][b]",
                "line_items[0][price_data][product_data][nam]"):
        r = requests.post(fake.url + "/v1/checkout/sessions", data={**ok, bad: "1"}, headers=h)
        assert r.status_code == 400 and r.json()["error"]["param"] == bad, (bad, r.text)
    r = requests.post(fake.url + "/v1/refunds", data={"payment_intent": "pi_1", "amout": "5"},
                      headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "parameter_unknown"
    del fake.refused[-5:]  # these were this test's own; the fixture checks souk's calls


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
