"""test_userdata.py - the data export and the erasure of an account (GDPR articles 15, 17 and
20; API.md § Listings, messaging and moderation), on SQLite and PostgreSQL.

The erasure test greps a dump of the whole database for the erased user's email and names.
"""

import subprocess
import uuid

from identity_helpers import PASSWORD, assert_problem, login, make_chef, make_user, register
from orders_helpers import make_shop, order, pay, stock_of, wait_status
from projects_support import create_project, make_specialist, png, stored, wait_for
from recipes_support import plan, recipe, subscribe_paid

EXPORT_KEYS = {"exported_at", "user", "vendor_profile", "plans", "recipes", "subscriptions",
               "purchases", "payments", "orders", "bids", "projects", "favorites", "requests",
               "reviews", "promotions", "listings", "threads", "reports", "notifications"}


def dump(souk, db_kind):
    """The whole database as text, less the tables of the built-in payments sandbox: they stand
    for the payment provider's own records (Stripe's, in production), not souk's."""
    if db_kind == "sqlite":
        import sqlite3
        conn = sqlite3.connect(souk.db_url[len("sqlite:///"):])
        try:
            return "\n".join(line for line in conn.iterdump()
                             if not line.startswith('INSERT INTO "sandbox_'))
        finally:
            conn.close()
    r = subprocess.run(["pg_dump", "--data-only", "--exclude-table=sandbox_*", souk.db_url],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def unique_user(souk, role="CUSTOMER"):
    """A user with a unique name, so that a grep of the database finds only them."""
    first, last = "Zq" + uuid.uuid4().hex[:8], "Xv" + uuid.uuid4().hex[:8]
    email = f"erase-{uuid.uuid4().hex[:10]}@example.com"
    r = register(souk, role=role, email=email, first_name=first, last_name=last)
    assert r.status_code == 201, r.text
    body = login(souk, email).json()
    return {"id": body["user"]["id"], "email": email, "access": body["access"],
            "refresh": body["refresh"], "first": first, "last": last}


def test_export_is_an_attachment_with_every_record(souk):
    shop = make_shop(souk, stock=5)
    u = unique_user(souk)
    o = order(souk, u, shop["variant"]["id"]).json()
    rep = souk.post("/api/reports/", json={"target_type": "user", "target_id": shop["vendor"]["id"],
                                           "reason": "test"}, token=u["access"]).json()
    r = souk.get("/api/users/profile/export/", token=u["access"])
    assert r.status_code == 200, r.text
    assert r.headers["Content-Disposition"].startswith("attachment")
    doc = r.json()
    assert EXPORT_KEYS <= set(doc)
    assert doc["user"]["email"] == u["email"] and doc["vendor_profile"] is None
    assert [x["id"] for x in doc["orders"]] == [o["id"]]
    assert [x["id"] for x in doc["reports"]] == [rep["id"]]
    assert any(p["object_id"] == o["id"] for p in doc["payments"]), doc["payments"]
    assert_problem(souk.get("/api/users/profile/export/"), 401, "unauthenticated")
    # the vendor's own export holds its profile, and the order from the vendor's side
    v = souk.get("/api/users/profile/export/", token=shop["vendor"]["access"]).json()
    assert v["vendor_profile"]["id"] == shop["vendor"]["chef"]["id"]
    assert [x["id"] for x in v["orders"]] == [o["id"]]


def test_wrong_password_or_unfinished_business_erases_nothing(souk):
    shop = make_shop(souk, stock=5)
    u = unique_user(souk)
    body = assert_problem(souk.delete("/api/users/profile/", json={"password": "wrong-pass-1"},
                                      token=u["access"]), 400, "validation_error")
    assert "password" in body["errors"]
    o = order(souk, u, shop["variant"]["id"]).json()
    assert pay(o["payment_url"]).status_code == 303
    wait_status(souk, u, o["id"], "processing")
    assert_problem(souk.delete("/api/users/profile/", json={"password": PASSWORD},
                               token=u["access"]), 409, "invalid_state")
    # the vendor is blocked too, by the same paid order
    assert_problem(souk.delete("/api/users/profile/", json={"password": PASSWORD},
                               token=shop["vendor"]["access"]), 409, "invalid_state")
    assert souk.get("/api/users/profile/", token=u["access"]).status_code == 200
    assert login(souk, u["email"]).status_code == 200
    r = souk.post(f"/api/orders/{o['id']}/complete/", token=shop["vendor"]["access"])
    assert r.status_code == 200, r.text
    assert souk.delete("/api/users/profile/", json={"password": PASSWORD},
                       token=u["access"]).status_code == 204


def test_customer_erasure(souk, db_kind):
    admin = make_user(souk, "ADMIN")
    shop = make_shop(souk, stock=5)
    u = unique_user(souk)
    paid = order(souk, u, shop["variant"]["id"]).json()
    assert pay(paid["payment_url"]).status_code == 303
    wait_status(souk, u, paid["id"], "processing")
    assert souk.post(f"/api/orders/{paid['id']}/complete/",
                     token=shop["vendor"]["access"]).status_code == 200
    pending = order(souk, u, shop["variant"]["id"], quantity=2).json()
    assert stock_of(souk, shop["variant"]["id"]) == 2
    r = souk.delete("/api/users/profile/", json={"password": PASSWORD}, token=u["access"])
    assert r.status_code == 204, r.text
    # tokens end, login fails, the email is free again
    assert_problem(souk.get("/api/users/profile/", token=u["access"]), 401, "token_invalid")
    assert_problem(souk.post("/api/users/token/refresh/", json={"refresh": u["refresh"]}), 401,
                   "token_invalid")
    assert login(souk, u["email"]).status_code == 401
    # the pending order is cancelled and its stock back; the paid one stays
    ven = shop["vendor"]["access"]
    assert souk.get(f"/api/orders/{pending['id']}/", token=ven).json()["status"] == "cancelled"
    assert stock_of(souk, shop["variant"]["id"]) == 4
    kept = souk.get(f"/api/orders/{paid['id']}/", token=admin["access"]).json()
    assert kept["status"] == "completed" and kept["customer_email"] != u["email"]
    # an audit entry, and nothing personal left in the database
    entries = souk.get("/api/admin/audit/", params={"action": "user.erase", "target_id": u["id"]},
                       token=admin["access"]).json()["results"]
    assert len(entries) == 1
    text = dump(souk, db_kind)
    for secret in (u["email"], u["first"], u["last"]):
        found = [line[:300] for line in text.splitlines() if secret in line]
        assert not found, f"{secret} still in the database: {found}"
    assert f"erased-{u['id']}@invalid" in text
    again = register(souk, email=u["email"])
    assert again.status_code == 201, again.text


def test_chef_erasure_ends_subscriptions_and_removes_content(souk, db_kind):
    chef = make_chef(souk, business_name="Zq Kitchen " + uuid.uuid4().hex[:6])
    p = plan(souk, chef)
    rec = recipe(souk, chef, is_premium=True)
    fan = make_user(souk)
    sub = subscribe_paid(souk, fan, chef, p)
    r = souk.delete("/api/users/profile/", json={"password": PASSWORD}, token=chef["access"])
    assert r.status_code == 204, r.text
    assert souk.get(f"/api/recipes/{rec['id']}/").status_code == 404
    s = souk.get(f"/api/subscriptions/{sub['id']}/", token=fan["access"]).json()
    assert s["status"] == "canceled"
    ids = []
    url = "/api/chefs/?page_size=100"
    while url:
        page = souk.get(url.replace(souk.url, "")).json()
        ids += [c["id"] for c in page["results"]]
        url = page["next"]
    assert chef["chef"]["id"] not in ids, "an erased vendor leaves every list"
    prof = souk.get(f"/api/chefs/{chef['chef']['id']}/").json()
    assert prof["business_name"] == "Deleted vendor"
    assert chef["email"] not in dump(souk, db_kind)


def home_world(souk):
    """A specialist with a project (one image), a listing, a pending promotion, a thread with a
    buyer, an open request and a reviewed one from a client, favorites from a fan; every text
    unique, so that a grep of the database finds it."""
    tag = uuid.uuid4().hex[:10]
    spec = make_specialist(souk, name="Zq Studio " + tag)
    spec["tag"] = tag
    blob = png(8, 8, seed=int(tag[:6], 16))
    r = create_project(souk, spec, [blob], title="Zq loft " + tag)
    assert r.status_code == 201, r.text
    pid, vid = r.json()["id"], spec["profile"]["id"]
    client, fan, buyer = make_user(souk), make_user(souk), make_user(souk)
    for path in (f"/api/projects/{pid}/favorite/", f"/api/specialists/{vid}/favorite/"):
        assert souk.put(path, token=fan["access"]).status_code == 200
    body = {"specialist_id": vid, "message": "Zq please " + tag}
    open_req = souk.post("/api/requests/", json=body, token=client["access"]).json()
    done = souk.post("/api/requests/", json=body, token=client["access"]).json()
    rid = done["id"]
    assert souk.post(f"/api/requests/{rid}/accept/", token=spec["access"]).status_code == 200
    for who in (client, spec):
        assert souk.post(f"/api/requests/{rid}/finish/", token=who["access"]).status_code == 200
    review = souk.post(f"/api/requests/{rid}/review/", json={"rating": 4,
                                                             "text": "Zq good " + tag},
                       token=client["access"]).json()
    r = souk.post(f"/api/reviews/{review['id']}/reply/", json={"text": "Zq thanks " + tag},
                  token=spec["access"])
    assert r.status_code == 200, r.text
    item = souk.post("/api/listings/", json={"title": "Zq lamp " + tag, "price": "5.00",
                                             "status": "active"}, token=spec["access"]).json()
    t = souk.post("/api/threads/", json={"listing_id": item["id"], "body": "Zq hi " + tag},
                  token=buyer["access"]).json()
    m = souk.post(f"/api/threads/{t['id']}/messages/", json={"body": "Zq reply " + tag},
                  token=spec["access"]).json()
    promo = souk.post("/api/promotions/", json={"product": "TOP", "project_id": pid},
                      token=spec["access"])
    assert promo.status_code == 201, promo.text
    return {"spec": spec, "client": client, "fan": fan, "buyer": buyer, "blob": blob,
            "project": pid, "vendor": vid, "open_request": open_req["id"], "request": rid,
            "review": review["id"], "listing": item["id"], "thread": t["id"], "message": m["id"],
            "promotion": promo.json()["id"]}


def test_export_holds_the_home_services_and_listings_records(souk):
    w = home_world(souk)
    doc = souk.get("/api/users/profile/export/", token=w["spec"]["access"]).json()
    assert [p["id"] for p in doc["projects"]] == [w["project"]]
    assert doc["projects"][0]["title"] == "Zq loft " + w["spec"]["tag"]
    assert {r["id"] for r in doc["requests"]} == {w["open_request"], w["request"]}
    assert [r["id"] for r in doc["reviews"]] == [w["review"]]
    assert doc["reviews"][0]["rating"] == 4
    assert [x["id"] for x in doc["listings"]] == [w["listing"]]
    assert doc["listings"][0]["price"] == "5.00"
    assert [x["id"] for x in doc["promotions"]] == [w["promotion"]]
    assert [x["id"] for x in doc["threads"]] == [w["thread"]]
    assert [m["id"] for m in doc["threads"][0]["messages"]][-1] == w["message"]
    fan = souk.get("/api/users/profile/export/", token=w["fan"]["access"]).json()
    assert {(f["target_type"], f["target_id"]) for f in fan["favorites"]} == {
        ("project", w["project"]), ("specialist", w["vendor"])}
    # the buyer sees the specialist's deleted message without its body; the specialist, in full
    assert souk.delete(f"/api/messages/{w['message']}/",
                       token=w["spec"]["access"]).status_code == 204
    mine = souk.get("/api/users/profile/export/", token=w["spec"]["access"]).json()
    own = [m for m in mine["threads"][0]["messages"] if m["id"] == w["message"]][0]
    assert own["body"] == "Zq reply " + w["spec"]["tag"] and own["deleted_at"]
    theirs = souk.get("/api/users/profile/export/", token=w["buyer"]["access"]).json()
    seen = [m for m in theirs["threads"][0]["messages"] if m["id"] == w["message"]][0]
    assert seen["body"] is None and seen["deleted_at"]
    client = souk.get("/api/users/profile/export/", token=w["client"]["access"]).json()
    assert [r["id"] for r in client["reviews"]] == [w["review"]]


def test_specialist_erasure_removes_the_showcase_and_erases_texts(souk, db_kind):
    w = home_world(souk)
    spec, tag = w["spec"], w["spec"]["tag"]
    assert stored(souk, w["blob"])
    r = souk.delete("/api/users/profile/", json={"password": PASSWORD}, token=spec["access"])
    assert r.status_code == 204, r.text
    assert_problem(souk.get(f"/api/specialists/{w['vendor']}/"), 404, "not_found")
    listed, url = [], "/api/specialists/?page_size=100"
    while url:
        page = souk.get(url.replace(souk.url, "")).json()
        listed += [s["id"] for s in page["results"]]
        url = page["next"]
    assert w["vendor"] not in listed, "an erased specialist leaves every list"
    assert_problem(souk.get(f"/api/projects/{w['project']}/"), 404, "not_found")
    assert_problem(souk.get(f"/api/listings/{w['listing']}/"), 404, "not_found")
    assert souk.get("/api/favorites/", token=w["fan"]["access"]).json()["results"] == []
    req = souk.get(f"/api/requests/{w['open_request']}/", token=w["client"]["access"]).json()
    assert req["status"] == "cancelled"
    # the buyer keeps the thread; the specialist's message is a deleted placeholder
    msgs = souk.get(f"/api/threads/{w['thread']}/messages/",
                    token=w["buyer"]["access"]).json()["results"]
    gone = [m for m in msgs if m["id"] == w["message"]][0]
    assert gone["deleted"] is True and gone["body"] is None
    assert wait_for(lambda: not stored(souk, w["blob"])), "the media file is removed by a job"
    text = dump(souk, db_kind)
    for secret in (spec["email"], "Zq Studio " + tag, "Zq loft " + tag, "Zq lamp " + tag,
                   "Zq reply " + tag, "Zq thanks " + tag):
        found = [line[:300] for line in text.splitlines() if secret in line]
        assert not found, f"{secret} still in the database: {found}"


def test_erased_author_keeps_the_rating_and_shows_as_deleted_user(souk, db_kind):
    w = home_world(souk)
    c, tag = w["client"], w["spec"]["tag"]
    r = souk.delete("/api/users/profile/", json={"password": PASSWORD}, token=c["access"])
    assert r.status_code == 204, r.text
    reviews = souk.get(f"/api/specialists/{w['vendor']}/reviews/").json()["results"]
    rv = [x for x in reviews if x["id"] == w["review"]][0]
    assert rv["rating"] == 4 and not rv["text"] and rv["author"]["name"] == "Deleted user"
    req = souk.get(f"/api/requests/{w['request']}/", token=w["spec"]["access"]).json()
    assert req["status"] == "completed" and req["message"] == ""
    opened = souk.get(f"/api/requests/{w['open_request']}/", token=w["spec"]["access"]).json()
    assert opened["status"] == "cancelled"
    text = dump(souk, db_kind)
    for secret in (c["email"], "Zq good " + tag, "Zq please " + tag):
        found = [line[:300] for line in text.splitlines() if secret in line]
        assert not found, f"{secret} still in the database: {found}"
