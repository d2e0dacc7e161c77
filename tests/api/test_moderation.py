"""test_moderation.py - reports, the moderator queue, resolving, hiding and bans
(API.md § Listings, messaging and moderation), on SQLite and PostgreSQL.

Content kinds other than `user` (listings, messages, projects, reviews) register with the
moderation module from their own domains; their report/hide flows and the moderator's thread
view are in test_moderation_content.py. Here: the report life cycle on users, bans and their write guard
(on a second node too), and the audit entries each staff action writes.
"""

import datetime
import time
import uuid

from identity_helpers import assert_problem, login, make_user

MISSING = "00000000-0000-7000-8000-000000000000"


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def report(souk, who, target_id, target_type="user", reason="spam"):
    return souk.post("/api/reports/", json={"target_type": target_type, "target_id": target_id,
                                            "reason": reason}, token=who["access"])


def audit(souk, admin, **q):
    r = souk.get("/api/admin/audit/", token=admin["access"], params=q)
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_report_validation_and_duplicates(souk):
    a, b = make_user(souk), make_user(souk)
    r = report(souk, a, b["id"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "open" and body["resolution"] is None
    assert body["reporter_id"] == a["id"] and body["target_id"] == b["id"]
    assert_problem(report(souk, a, b["id"]), 409, "conflict")
    body = assert_problem(report(souk, a, MISSING), 400, "validation_error")
    assert "target_id" in body["errors"]
    body = assert_problem(report(souk, a, b["id"], target_type="planet"), 400,
                          "validation_error")
    assert "target_type" in body["errors"]
    assert_problem(report(souk, a, b["id"], reason=""), 400, "validation_error")
    assert_problem(report(souk, a, b["id"], reason="x" * 2001), 400, "validation_error")
    anon = souk.post("/api/reports/", json={"target_type": "user", "target_id": b["id"],
                                            "reason": "x"})
    assert_problem(anon, 401, "unauthenticated")


def test_queue_is_staff_only_oldest_first(souk):
    mod, cust = make_user(souk, "MODERATOR"), make_user(souk)
    target = make_user(souk)
    ids = [report(souk, make_user(souk), target["id"], reason=f"r{i}").json()["id"]
           for i in range(3)]
    assert_problem(souk.get("/api/moderation/reports/", token=cust["access"]), 403, "forbidden")
    seen, url = [], "/api/moderation/reports/?page_size=100&target_type=user"
    while url:
        page = souk.get(url.replace(souk.url, ""), token=mod["access"]).json()
        seen += [x["id"] for x in page["results"]]
        url = page["next"]
    mine = [i for i in seen if i in ids]
    assert mine == ids, "oldest first"
    assert_problem(souk.get("/api/moderation/reports/?status=bogus", token=mod["access"]), 400,
                   "validation_error")


def test_resolve_dismiss_resolves_every_open_report_on_the_target(souk):
    mod, admin = make_user(souk, "MODERATOR"), make_user(souk, "ADMIN")
    target = make_user(souk)
    first = report(souk, make_user(souk), target["id"]).json()
    second = report(souk, make_user(souk), target["id"]).json()
    r = souk.post(f"/api/moderation/reports/{first['id']}/resolve/",
                  json={"action": "dismiss", "note": "fine"}, token=mod["access"])
    assert r.status_code == 200, r.text
    res = r.json()["resolution"]
    assert r.json()["status"] == "resolved"
    assert res["action"] == "dismiss" and res["note"] == "fine" and res["by"] == mod["id"]
    open_ids = [x["id"] for x in souk.get("/api/moderation/reports/?page_size=100",
                                          token=mod["access"]).json()["results"]]
    assert second["id"] not in open_ids
    again = souk.post(f"/api/moderation/reports/{second['id']}/resolve/",
                      json={"action": "dismiss"}, token=mod["access"])
    assert_problem(again, 409, "invalid_state")
    body = assert_problem(souk.post(f"/api/moderation/reports/{first['id']}/resolve/",
                                    json={"action": "hide_content"}, token=mod["access"]),
                          409, "invalid_state")
    assert body
    entries = audit(souk, admin, action="report.resolve", target_id=first["id"])
    assert len(entries) == 1
    e = entries[0]
    assert e["actor_id"] == mod["id"] and e["actor_role"] == "MODERATOR"
    assert e["before"] == {"status": "open"}
    assert e["after"]["status"] == "resolved" and e["after"]["reports_resolved"] == 2


def test_hide_content_on_a_user_report_is_refused_and_changes_nothing(souk):
    mod = make_user(souk, "MODERATOR")
    target = make_user(souk)
    rep = report(souk, make_user(souk), target["id"]).json()
    r = souk.post(f"/api/moderation/reports/{rep['id']}/resolve/",
                  json={"action": "hide_content"}, token=mod["access"])
    assert_problem(r, 400, "validation_error")
    open_ids = [x["id"] for x in souk.get("/api/moderation/reports/?page_size=100",
                                          token=mod["access"]).json()["results"]]
    assert rep["id"] in open_ids, "a refused resolution leaves the report open"
    r = souk.post("/api/moderation/hide/", json={"target_type": "user", "target_id": target["id"],
                                                 "hidden": True}, token=mod["access"])
    assert_problem(r, 400, "validation_error")


def test_ban_user_from_a_report_blocks_writes_not_reads(souk):
    mod, admin = make_user(souk, "MODERATOR"), make_user(souk, "ADMIN")
    bad = make_user(souk)
    rep = report(souk, make_user(souk), bad["id"]).json()
    r = souk.post(f"/api/moderation/reports/{rep['id']}/resolve/",
                  json={"action": "ban_user", "note": "abuse"}, token=mod["access"])
    assert r.status_code == 200, r.text
    # every write 403 banned, at once
    w = souk.patch("/api/users/profile/", json={"first_name": "X"}, token=bad["access"])
    body = assert_problem(w, 403, "banned")
    assert body["banned_until"] is None
    assert_problem(report(souk, bad, mod["id"]), 403, "banned")
    # reads, login, refresh and logout still work; the token stays valid
    assert souk.get("/api/users/profile/", token=bad["access"]).status_code == 200
    fresh = login(souk, bad["email"])
    assert fresh.status_code == 200, fresh.text
    r = souk.post("/api/users/token/refresh/", json={"refresh": fresh.json()["refresh"]})
    assert r.status_code == 200, r.text
    r = souk.post("/api/users/logout/", json={"refresh": r.json()["refresh"]},
                  token=r.json()["access"])
    assert r.status_code == 204, r.text
    bans = audit(souk, admin, action="user.ban", target_id=bad["id"])
    assert len(bans) == 1 and bans[0]["after"] == {"banned": True, "banned_until": None}
    assert bans[0]["before"] == {"banned": False}
    # the banned user heard of it
    notes = souk.get("/api/notifications/", token=bad["access"]).json()["results"]
    assert [n["type"] for n in notes].count("user.banned") == 1


def test_ban_with_until_ends_by_itself_and_unban(souk):
    mod, admin = make_user(souk, "MODERATOR"), make_user(souk, "ADMIN")
    u = make_user(souk)
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)
    r = souk.post(f"/api/moderation/users/{u['id']}/ban/",
                  json={"until": iso(until), "reason": "cool off"}, token=mod["access"])
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == u["id"] and r.json()["reason"] == "cool off"
    assert r.json()["banned_until"].startswith(iso(until)[:19])
    body = assert_problem(souk.patch("/api/users/profile/", json={"first_name": "Y"},
                                     token=u["access"]), 403, "banned")
    assert body["banned_until"].startswith(iso(until)[:19])
    time.sleep(2.3)
    assert souk.patch("/api/users/profile/", json={"first_name": "Y"},
                      token=u["access"]).status_code == 200
    # a permanent ban, then an unban
    souk.post(f"/api/moderation/users/{u['id']}/ban/", json={}, token=mod["access"])
    assert souk.patch("/api/users/profile/", json={"first_name": "Z"},
                      token=u["access"]).status_code == 403
    r = souk.post(f"/api/moderation/users/{u['id']}/unban/", token=mod["access"])
    assert r.status_code == 200 and r.json()["banned_until"] is None
    assert souk.patch("/api/users/profile/", json={"first_name": "Z"},
                      token=u["access"]).status_code == 200
    actions = [e["action"] for e in audit(souk, admin, target_id=u["id"])]
    assert actions == ["user.unban", "user.ban", "user.ban"], "newest first"


def test_staff_cannot_be_banned_and_strangers_cannot_ban(souk):
    mod, other_mod, cust = (make_user(souk, "MODERATOR"), make_user(souk, "MODERATOR"),
                            make_user(souk))
    assert_problem(souk.post(f"/api/moderation/users/{other_mod['id']}/ban/", json={},
                             token=mod["access"]), 403, "forbidden")
    assert_problem(souk.post(f"/api/moderation/users/{mod['id']}/ban/", json={},
                             token=cust["access"]), 403, "forbidden")
    assert_problem(souk.post(f"/api/moderation/users/{MISSING}/ban/", json={},
                             token=mod["access"]), 404, "not_found")
    assert souk.patch("/api/users/profile/", json={"first_name": "ok"},
                      token=cust["access"]).status_code == 200


def test_ban_holds_on_a_second_node_at_once(souk, souk_factory):
    node_b = souk_factory(SOUK_DATABASE_URL=souk.db_url)
    mod, u = make_user(souk, "MODERATOR"), make_user(souk)
    assert node_b.patch("/api/users/profile/", json={"first_name": "B"},
                        token=u["access"]).status_code == 200
    assert souk.post(f"/api/moderation/users/{u['id']}/ban/", json={},
                     token=mod["access"]).status_code == 200
    assert_problem(node_b.patch("/api/users/profile/", json={"first_name": "C"},
                                token=u["access"]), 403, "banned")
    assert node_b.get("/api/users/profile/", token=u["access"]).json()["first_name"] == "B"


def test_audit_is_admin_only_read_only_and_filtered(souk):
    admin, mod = make_user(souk, "ADMIN"), make_user(souk, "MODERATOR")
    assert_problem(souk.get("/api/admin/audit/", token=mod["access"]), 403, "forbidden")
    assert_problem(souk.get("/api/admin/audit/"), 401, "unauthenticated")
    for method in ("post", "patch", "put", "delete"):
        r = getattr(souk, method)("/api/admin/audit/", token=admin["access"])
        assert_problem(r, 405, "method_not_allowed")
    assert_problem(souk.get("/api/admin/audit/?actor=nope", token=admin["access"]), 400,
                   "validation_error")
    assert_problem(souk.get("/api/admin/audit/?since=yesterday", token=admin["access"]), 400,
                   "validation_error")
    u = make_user(souk)
    t0 = datetime.datetime.now(datetime.timezone.utc)
    souk.post(f"/api/moderation/users/{u['id']}/ban/", json={"reason": "r"},
              token=mod["access"])
    mine = audit(souk, admin, actor=mod["id"])
    assert [e["action"] for e in mine] == ["user.ban"]
    assert mine[0]["note"] == "r" and mine[0]["target_type"] == "user"
    assert audit(souk, admin, actor=mod["id"], since=iso(t0 + datetime.timedelta(hours=1))) == []
    assert len(audit(souk, admin, actor=mod["id"], until=iso(t0 + datetime.timedelta(hours=1)))) == 1


def _sql(souk, db_kind, statement):
    """Runs one statement on the server's database directly; returns the error text or None."""
    import subprocess
    if db_kind == "sqlite":
        import sqlite3
        path = souk.db_url[len("sqlite:///"):]
        conn = sqlite3.connect(path)
        try:
            conn.execute(statement)
            conn.commit()
        except sqlite3.DatabaseError as e:
            return str(e)
        finally:
            conn.close()
        return None
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", souk.db_url, "-c",
                        statement], capture_output=True, text=True, timeout=30)
    return None if r.returncode == 0 else r.stderr


def test_audit_log_refuses_update_and_delete_even_in_sql(souk, db_kind):
    admin, mod, u = make_user(souk, "ADMIN"), make_user(souk, "MODERATOR"), make_user(souk)
    souk.post(f"/api/moderation/users/{u['id']}/ban/", json={}, token=mod["access"])
    before = audit(souk, admin, target_id=u["id"])
    assert len(before) == 1
    err = _sql(souk, db_kind, "UPDATE audit_log SET note = 'rewritten'")
    assert err and "append-only" in err
    err = _sql(souk, db_kind, "DELETE FROM audit_log")
    assert err and "append-only" in err
    assert audit(souk, admin, target_id=u["id"]) == before


def test_report_ids_are_uuids(souk):
    a = make_user(souk)
    r = report(souk, a, make_user(souk)["id"])
    assert uuid.UUID(r.json()["id"]).version == 7


def test_existing_admin_actions_are_audited(souk):
    admin = make_user(souk, "ADMIN")
    u = make_user(souk)
    r = souk.patch(f"/api/admin/users/{u['id']}/", json={"role": "VENDOR"},
                   token=admin["access"])
    assert r.status_code == 200, r.text
    e = audit(souk, admin, action="user.update", target_id=u["id"])
    assert len(e) == 1 and e[0]["actor_id"] == admin["id"] and e[0]["actor_role"] == "ADMIN"
    assert e[0]["before"] == {"role": "CUSTOMER"} and e[0]["after"] == {"role": "VENDOR"}
    from identity_helpers import make_chef
    chef = make_chef(souk)
    vid = chef["chef"]["id"]
    r = souk.post(f"/api/admin/vendors/{vid}/verify/", json={"is_verified": True},
                  token=admin["access"])
    assert r.status_code == 200, r.text
    e = audit(souk, admin, action="vendor.verify", target_id=vid)
    assert len(e) == 1 and e[0]["before"] == {"is_verified": False}
    assert e[0]["after"] == {"is_verified": True}
    # a refused update writes nothing
    r = souk.patch(f"/api/admin/users/{MISSING}/", json={"role": "VENDOR"},
                   token=admin["access"])
    assert r.status_code == 404
    assert audit(souk, admin, target_id=MISSING) == []


def test_confirmed_payments_are_audited_once_per_charge(souk):
    from orders_helpers import make_shop, order, pay as pay_order, wait_status as order_status
    from recipes_support import make_chef, pay, plan, recipe, subscribe_paid, wait_for
    admin, fan = make_user(souk, "ADMIN"), make_user(souk)
    chef = make_chef(souk)
    sub = subscribe_paid(souk, fan, chef, plan(souk, chef))
    entries = wait_for(lambda: audit(souk, admin, action="payment.applied",
                                     target_id=sub["id"]))
    assert len(entries) == 1, entries
    e = entries[0]
    assert e["target_type"] == "subscription" and e["actor_id"] is None
    assert e["after"]["payment_status"] == "succeeded" and e["after"]["amount"] == "9.99"
    # a recipe bought: its own entry
    rec = recipe(souk, chef, is_premium=True, price="3.50")
    r = souk.post("/api/payments/checkout/", json={"purpose": "recipe", "id": rec["id"]},
                  token=fan["access"])
    assert r.status_code == 201, r.text
    assert pay(r.json()["url"]).status_code == 303
    bought = wait_for(lambda: audit(souk, admin, action="payment.applied", target_id=rec["id"]))
    assert len(bought) == 1 and bought[0]["after"]["amount"] == "3.50", bought
    # an order is audited by the orders module alone (with its status change), not twice
    shop = make_shop(souk, stock=3)
    o = order(souk, fan, shop["variant"]["id"]).json()
    assert pay_order(o["payment_url"]).status_code == 303
    order_status(souk, fan, o["id"], "processing")
    paid = audit(souk, admin, action="payment.applied", target_id=o["id"])
    assert len(paid) == 1 and paid[0]["target_type"] == "order", paid
    assert paid[0]["after"]["status"] == "paid"
