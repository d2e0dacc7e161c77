"""test_subscriptions.py - subscribing to chefs (API.md § Subscriptions), driven through the
sandbox's checkout page, with short billing periods so renewals, dunning and expiry happen in
seconds (SOUK_SANDBOX_PERIOD_SECONDS, SOUK_GRACE_SECONDS).
"""

import os
import time

import pytest

from identity_helpers import assert_problem, make_chef, make_user
from recipes_support import (CARD_DECLINE, CARD_RENEWAL_FAILS, can_open, pay, plan, recipe,
                             served, subscribe, subscribe_paid, subscription, wait_for,
                             wait_status)

PERIOD = 6  # seconds per billing interval in the sandbox


@pytest.fixture(scope="module", autouse=True)
def _served():
    served()


@pytest.fixture
def fast(souk_factory):
    """A server whose billing periods last PERIOD seconds and whose grace lasts 3."""
    return souk_factory(SOUK_SANDBOX_PERIOD_SECONDS=str(PERIOD), SOUK_GRACE_SECONDS="3",
                        SOUK_JOB_WORKERS="3")


def setup_chef(server, price="7.00"):
    chef = make_chef(server)
    p1 = plan(server, chef, rank=1, price=price)
    p2 = plan(server, chef, rank=2, price="15.00")
    premium = recipe(server, chef, is_premium=True, required_rank=1)
    gold = recipe(server, chef, is_premium=True, required_rank=2)
    return chef, p1, p2, premium, gold


# ---- subscribe ------------------------------------------------------------------------------


def test_subscribe_pay_read(souk):
    chef, p1, _, premium, _ = setup_chef(souk)
    fan = make_user(souk)
    sub = subscribe(souk, fan, chef, p1)
    assert sub["status"] == "incomplete" and sub["checkout_url"].rsplit("/", 1)[1].startswith("cs_")
    assert sub["plan"]["id"] == p1["id"] and sub["plan"]["rank"] == 1
    assert sub["current_period_end"] is None and not can_open(souk, fan, premium)
    assert [s["id"] for s in souk.get("/api/subscriptions/", token=fan["access"]).json()[
        "results"]] == []
    assert pay(sub["checkout_url"]).status_code == 303
    active = wait_status(souk, fan, sub["id"], "active")
    assert active["current_period_start"] and active["current_period_end"] > \
        active["current_period_start"] and active["checkout_url"] is None
    assert can_open(souk, fan, premium)
    mine = souk.get("/api/subscriptions/", token=fan["access"]).json()["results"]
    assert [s["id"] for s in mine] == [sub["id"]]
    chefs = souk.get("/api/subscriptions/chefs/", token=fan["access"]).json()["results"]
    assert [c["id"] for c in chefs] == [chef["chef"]["id"]]
    # a subscription.updated notification for the activation
    notes = souk.get("/api/notifications/", token=fan["access"]).json()["results"]
    assert any(n["type"] == "subscription.updated" and
               n["payload"]["subscription"]["status"] == "active" for n in notes)
    assert_problem(souk.post("/api/subscriptions/subscribe/", token=fan["access"],
                             json={"chef_id": chef["chef"]["id"], "plan_id": p1["id"]}),
                   409, "conflict")


def test_subscribe_rules(souk):
    chef, p1, _, _, _ = setup_chef(souk)
    other_chef, op1, _, _, _ = setup_chef(souk)
    fan = make_user(souk)
    assert_problem(souk.post("/api/subscriptions/subscribe/", json={
        "chef_id": chef["chef"]["id"], "plan_id": p1["id"]}), 401, "unauthenticated")
    body = assert_problem(souk.post("/api/subscriptions/subscribe/", token=chef["access"], json={
        "chef_id": chef["chef"]["id"], "plan_id": p1["id"]}), 400, "validation_error")
    assert "chef_id" in body["errors"]
    body = assert_problem(souk.post("/api/subscriptions/subscribe/", token=fan["access"], json={
        "chef_id": chef["chef"]["id"], "plan_id": op1["id"]}), 400, "validation_error")
    assert "plan_id" in body["errors"]
    # an incomplete subscription is replaced by a new one
    first = subscribe(souk, fan, chef, p1)
    second = subscribe(souk, fan, chef, p1)
    assert second["id"] != first["id"]
    assert subscription(souk, fan, first["id"])["status"] == "expired"
    listed = souk.get("/api/subscriptions/?status=incomplete", token=fan["access"]).json()
    assert [s["id"] for s in listed["results"]] == [second["id"]]
    assert len(souk.get("/api/subscriptions/?status=all", token=fan["access"]).json()[
        "results"]) == 2
    assert_problem(souk.get("/api/subscriptions/?status=weird", token=fan["access"]), 400,
                   "validation_error")
    # someone else's subscription does not exist for them
    stranger = make_user(souk)
    assert_problem(souk.get(f"/api/subscriptions/{second['id']}/", token=stranger["access"]),
                   404, "not_found")
    assert_problem(souk.post(f"/api/subscriptions/{second['id']}/cancel/", json={},
                             token=stranger["access"]), 404, "not_found")
    # the checkout can be asked for again through the payments API (the same session)
    co = souk.post("/api/payments/checkout/", json={"purpose": "subscription",
                                                    "id": second["id"]}, token=fan["access"])
    assert co.status_code == 201 and co.json()["url"] == second["checkout_url"]


def test_declined_card_stays_incomplete(souk):
    chef, p1, _, premium, _ = setup_chef(souk)
    fan = make_user(souk)
    sub = subscribe(souk, fan, chef, p1)
    assert pay(sub["checkout_url"], CARD_DECLINE).status_code == 402
    time.sleep(1)
    assert subscription(souk, fan, sub["id"])["status"] == "incomplete"
    assert not can_open(souk, fan, premium)
    assert pay(sub["checkout_url"]).status_code == 303
    wait_status(souk, fan, sub["id"], "active")


def test_checkout_expiry_expires_incomplete(souk_factory):
    srv = souk_factory(SOUK_CHECKOUT_TTL_SECONDS="2", SOUK_JOB_WORKERS="2")
    chef, p1, _, _, _ = setup_chef(srv)
    fan = make_user(srv)
    sub = subscribe(srv, fan, chef, p1)
    wait_status(srv, fan, sub["id"], "expired", timeout=20)


def test_tier_change(souk):
    chef, p1, p2, premium, gold = setup_chef(souk)
    fan = make_user(souk)
    sub = subscribe_paid(souk, fan, chef, p1)
    assert not can_open(souk, fan, gold)
    up = souk.patch(f"/api/subscriptions/{sub['id']}/", json={"plan_id": p2["id"]},
                    token=fan["access"])
    assert up.status_code == 200 and up.json()["plan"]["rank"] == 2, up.text
    assert can_open(souk, fan, gold)  # upgrade: now
    down = souk.patch(f"/api/subscriptions/{sub['id']}/", json={"plan_id": p1["id"]},
                      token=fan["access"])
    assert down.status_code == 200 and down.json()["plan"]["rank"] == 2
    assert down.json()["pending_plan_id"] == p1["id"]
    assert can_open(souk, fan, gold)  # downgrade: at renewal
    other = setup_chef(souk)[1]
    assert_problem(souk.patch(f"/api/subscriptions/{sub['id']}/", json={"plan_id": other["id"]},
                              token=fan["access"]), 400, "validation_error")


def test_cancel_resume_and_immediate(souk):
    chef, p1, _, premium, _ = setup_chef(souk)
    fan = make_user(souk)
    sub = subscribe_paid(souk, fan, chef, p1)
    r = souk.post(f"/api/subscriptions/{sub['id']}/cancel/", json={}, token=fan["access"])
    assert r.status_code == 200 and r.json()["cancel_at_period_end"] is True
    assert r.json()["status"] == "active" and can_open(souk, fan, premium)
    r = souk.post(f"/api/subscriptions/{sub['id']}/resume/", json={}, token=fan["access"])
    assert r.status_code == 200 and r.json()["cancel_at_period_end"] is False
    assert_problem(souk.post(f"/api/subscriptions/{sub['id']}/resume/", json={},
                             token=fan["access"]), 409, "invalid_state")
    r = souk.post(f"/api/subscriptions/{sub['id']}/cancel/", json={"immediately": True},
                  token=fan["access"])
    assert r.status_code == 200 and r.json()["status"] == "canceled"
    assert not can_open(souk, fan, premium)  # at once: the cache was invalidated
    assert_problem(souk.post(f"/api/subscriptions/{sub['id']}/cancel/", json={},
                             token=fan["access"]), 409, "invalid_state")
    # canceled frees the chef for a new subscription
    again = subscribe(souk, fan, chef, p1)
    assert again["status"] == "incomplete"


# ---- time: renewals, dunning, period end ----------------------------------------------------


def test_renewal_keeps_access(fast):
    chef, p1, _, premium, _ = setup_chef(fast)
    fan = make_user(fast)
    sub = subscribe_paid(fast, fan, chef, p1)
    end = sub["current_period_end"]
    renewed = wait_for(lambda: (lambda s: s if s["current_period_end"] > end else None)(
        subscription(fast, fan, sub["id"])), timeout=PERIOD * 3, what="a renewal")
    assert renewed["status"] == "active"
    assert can_open(fast, fan, premium)


def test_failing_renewal_past_due_then_expired(fast):
    chef, p1, _, premium, _ = setup_chef(fast)
    fan = make_user(fast)
    sub = subscribe_paid(fast, fan, chef, p1, card=CARD_RENEWAL_FAILS)
    past_due = wait_status(fast, fan, sub["id"], "past_due", timeout=PERIOD * 3)
    assert past_due["grace_until"] and can_open(fast, fan, premium)  # grace keeps access
    wait_status(fast, fan, sub["id"], "expired", timeout=PERIOD * 4)
    assert not can_open(fast, fan, premium)
    mails = os.listdir(os.path.join(fast.data_dir, "mail")) if os.path.isdir(
        os.path.join(fast.data_dir, "mail")) else []
    wait_for(lambda: len(os.listdir(os.path.join(fast.data_dir, "mail"))) >= 2
             if os.path.isdir(os.path.join(fast.data_dir, "mail")) else False,
             timeout=15, what="payment-failed and expiry e-mails (had %d)" % len(mails))


def test_cancel_at_period_end_locks_after_the_period(fast):
    chef, p1, _, premium, _ = setup_chef(fast)
    fan = make_user(fast)
    sub = subscribe_paid(fast, fan, chef, p1)
    r = fast.post(f"/api/subscriptions/{sub['id']}/cancel/", json={}, token=fast and fan["access"])
    assert r.status_code == 200 and r.json()["cancel_at_period_end"] is True
    assert can_open(fast, fan, premium)
    wait_status(fast, fan, sub["id"], "canceled", timeout=PERIOD * 3)
    assert not can_open(fast, fan, premium)
    assert fast.get("/api/subscriptions/", token=fan["access"]).json()["results"] == []


# ---- two nodes -------------------------------------------------------------------------------


def test_cancel_takes_effect_on_every_node(souk_factory):
    redis = os.environ.get("SOUK_TEST_REDIS_URL")
    if not redis:
        pytest.skip("SOUK_TEST_REDIS_URL not set")
    a = souk_factory(SOUK_REDIS_URL=redis)
    b = souk_factory(SOUK_REDIS_URL=redis, SOUK_DATABASE_URL=a.db_url, SOUK_DATA_DIR=a.data_dir)
    chef, p1, _, premium, _ = setup_chef(a)
    fan = make_user(a)
    sub = subscribe_paid(a, fan, chef, p1)
    assert can_open(b, fan, premium)  # node b has it cached now
    r = a.post(f"/api/subscriptions/{sub['id']}/cancel/", json={"immediately": True},
               token=fan["access"])
    assert r.status_code == 200
    wait_for(lambda: not can_open(b, fan, premium), timeout=0.5, step=0.02,
             what="node b to see the cancel")


# ---- statistics on the chef's profile ----------------------------------------------------------


def test_chef_statistics_and_lists(souk):
    chef, p1, _, premium, gold = setup_chef(souk)
    recipe(souk, chef)  # and a free one
    cid = chef["chef"]["id"]
    fan = make_user(souk)
    got = souk.get(f"/api/chefs/{cid}/", token=fan["access"]).json()
    assert (got["recipe_count"], got["premium_recipe_count"], got["subscriber_count"]) == (3, 2, 0)
    subscribe_paid(souk, fan, chef, p1)
    got = souk.get(f"/api/chefs/{cid}/", token=fan["access"]).json()
    assert got["subscriber_count"] == 1
    listed = souk.get("/api/chefs/?page_size=100", token=fan["access"]).json()["results"]
    assert next(c for c in listed if c["id"] == cid)["is_subscribed"] is True
    subs = souk.get(f"/api/chefs/{cid}/subscribers/").json()
    assert subs == {"subscriber_count": 1}
    subs = souk.get(f"/api/chefs/{cid}/subscribers/", token=chef["access"]).json()
    assert [s["user_id"] for s in subs["results"]] == [fan["id"]]
    # the chef's recipes, access-filtered like /api/recipes/
    rows = {r["id"]: r for r in souk.get(f"/api/chefs/{cid}/recipes/",
                                         token=fan["access"]).json()["results"]}
    assert rows[premium["id"]]["locked"] is False and rows[gold["id"]]["locked"] is True
    anon = {r["id"]: r for r in souk.get(f"/api/chefs/{cid}/recipes/").json()["results"]}
    assert anon[premium["id"]]["locked"] is True and anon[premium["id"]]["ingredients"] is None
