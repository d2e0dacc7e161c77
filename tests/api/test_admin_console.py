"""test_admin_console.py - the admin console at the HTTP level (API.md § "Admin console"):
no session -> 302 to the login page (other methods 403), the cookie's flags, CSRF on every
POST, Bearer tokens refused, the login's answers (401 form, 403 non-staff, 429 throttle),
sessions ending on logout / role change / deactivation, the security headers, MODERATOR
limits, the actions going through the API's domain code (verify, refund, retry, discard), and
one stored-XSS test per section: every page escapes a stored `<script>` payload.
"""

import re
import uuid

import pytest

from admin_console_support import ESCAPED, PAYLOAD, Console, assert_escaped, db_exec
from identity_helpers import PASSWORD, make_chef, make_user
from jobs_support import JOB_ENV, enqueue, wait_for, wait_state
from orders_helpers import ORDER_ENV, customer, get_order, make_shop, order, pay, wait_status
from recipes_support import plan, recipe, subscribe
from souk_client import SoukServer, routes

ENV = dict(ORDER_ENV, **JOB_ENV, SOUK_LOGIN_MAX_FAILURES="3")


@pytest.fixture(scope="module")
def srv():
    server = SoukServer(env=ENV)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def admin(srv):
    u = make_user(srv, "ADMIN")
    c = Console(srv)
    assert c.login(u["email"], PASSWORD).status_code == 303
    c.user = u
    return c


@pytest.fixture
def moderator(srv):
    u = make_user(srv, "MODERATOR")
    c = Console(srv)
    assert c.login(u["email"], PASSWORD).status_code == 303
    c.user = u
    return c


# ---- routes and the gate ---------------------------------------------------------------------


def test_routes_listed_outside_the_schema(srv):
    served = set(routes())
    for m, t in [("GET", "/admin/"), ("GET", "/admin/login/"), ("POST", "/admin/login/"),
                 ("POST", "/admin/logout/"), ("GET", "/admin/users/"),
                 ("POST", "/admin/orders/{id}/refund/"), ("POST", "/admin/jobs/{id}/retry/")]:
        assert (m, t) in served, (m, t)
    paths = srv.get("/api/schema/").json()["paths"]
    assert not [p for p in paths if p.startswith("/admin/")]


@pytest.mark.parametrize("path", ["/admin/", "/admin/users/", "/admin/orders/?status=paid",
                                  "/admin/jobs/" + str(uuid.uuid4()) + "/"])
def test_no_session_get_redirects_to_login(srv, path):
    r = Console(srv).get(path)
    assert r.status_code == 302
    loc = r.headers["Location"]
    assert loc.startswith("/admin/login/?next=/admin/"), loc
    assert "status%3Dpaid" in loc or "?" not in path


def test_no_session_post_is_403(srv):
    c = Console(srv)
    u = make_user(srv, "CUSTOMER")
    r = c.post(f"/admin/users/{u['id']}/deactivate/", {"csrf_token": "x"}, csrf=False)
    assert r.status_code == 403
    assert srv.get("/api/users/profile/", token=u["access"]).status_code == 200


def test_bearer_token_is_not_a_session(srv):
    u = make_user(srv, "ADMIN")
    r = Console(srv).get("/admin/users/", headers={"Authorization": "Bearer " + u["access"]})
    assert r.status_code == 302 and r.headers["Location"].startswith("/admin/login/")


def test_login_cookie_flags_and_headers(srv):
    u = make_user(srv, "ADMIN")
    c = Console(srv)
    r = c.login(u["email"], PASSWORD, next_path="/admin/users/?role=ADMIN")
    assert r.status_code == 303 and r.headers["Location"] == "/admin/users/?role=ADMIN"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("souk_admin=")
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/admin/", "Max-Age=43200"]:
        assert flag in cookie, cookie
    assert "Secure" not in cookie  # http:// public URL
    page = c.get("/admin/users/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp and "unsafe" not in csp
    assert "default-src 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.text


def test_secure_cookie_under_https_public_url(souk_factory):
    server = souk_factory(SOUK_PUBLIC_URL="https://console.example.com")
    u = make_user(server, "ADMIN")
    c = Console(server)
    form = c.http.get(c.url("/admin/login/"))
    assert "; Secure" in form.headers["Set-Cookie"]  # the login form's token cookie too
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    # requests keeps Secure cookies off http://: send it as a browser would over https
    r = c.http.post(c.url("/admin/login/"), data={"email": u["email"], "password": PASSWORD,
                                                  "csrf_token": token},
                    headers={"Cookie": "souk_admin_login=" + token}, allow_redirects=False)
    assert r.status_code == 303 and "; Secure" in r.headers["Set-Cookie"]


@pytest.mark.parametrize("nxt", ["https://evil.example/", "//evil.example/admin/", "/api/x/",
                                 "/admin/\\evil"])
def test_login_next_is_same_site_only(srv, nxt):
    u = make_user(srv, "ADMIN")
    r = Console(srv).login(u["email"], PASSWORD, next_path=nxt)
    assert r.status_code == 303 and r.headers["Location"] == "/admin/"


def test_login_wrong_password_401_and_throttle(srv):
    u = make_user(srv, "ADMIN")
    c = Console(srv)
    for _ in range(3):
        r = c.login(u["email"], "wrong-password-1")
        assert r.status_code == 401 and "Wrong email or password" in r.text
        assert "souk_admin=" not in r.headers.get("Set-Cookie", "")
    r = c.login(u["email"], PASSWORD)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    # the API login shares the throttle
    assert srv.post("/api/users/login/", json={"email": u["email"],
                                               "password": PASSWORD}).status_code == 429


def test_login_non_staff_403_no_session(srv):
    for role in ("CUSTOMER", "VENDOR"):
        u = make_user(srv, role)
        c = Console(srv)
        r = c.login(u["email"], PASSWORD)
        assert r.status_code == 403
        assert "souk_admin=" not in r.headers.get("Set-Cookie", "")
        assert c.get("/admin/").status_code == 302


def test_login_without_csrf_is_403(srv):
    u = make_user(srv, "ADMIN")
    c = Console(srv)
    c.http.get(c.url("/admin/login/"))
    r = c.http.post(c.url("/admin/login/"), data={"email": u["email"], "password": PASSWORD},
                    allow_redirects=False)
    assert r.status_code == 403 and "souk_admin=" not in r.headers.get("Set-Cookie", "")


def test_post_without_or_with_wrong_csrf_changes_nothing(srv, admin):
    chef = make_chef(srv)
    vid = chef["chef"]["id"]
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        r = admin.post(f"/admin/vendors/{vid}/verify/", data, csrf=False)
        assert r.status_code == 403, data
    assert srv.get(f"/api/chefs/{vid}/").json()["is_verified"] is False
    r = admin.post(f"/admin/vendors/{vid}/verify/")
    assert r.status_code == 303 and r.headers["Location"].startswith(f"/admin/vendors/{vid}/")
    assert srv.get(f"/api/chefs/{vid}/").json()["is_verified"] is True


def test_logout_ends_the_session(srv, admin):
    cookie = admin.http.cookies.get("souk_admin")
    r = admin.post("/admin/logout/")
    assert r.status_code == 303 and r.headers["Location"] == "/admin/login/"
    replay = Console(srv)
    replay.http.cookies.set("souk_admin", cookie)
    assert replay.get("/admin/").status_code == 302


def test_role_change_and_deactivation_end_sessions(srv, admin):
    for change in ({"role": "CUSTOMER"}, {"is_active": False}):
        other = make_user(srv, "MODERATOR")
        c = Console(srv)
        assert c.login(other["email"], PASSWORD).status_code == 303
        assert c.get("/admin/users/").status_code == 200
        r = srv.patch(f"/api/admin/users/{other['id']}/", json=change,
                      token=admin.user["access"])
        assert r.status_code == 200, r.text
        assert c.get("/admin/users/").status_code == 302, change


def test_console_deactivate_ends_api_tokens(srv, admin):
    u = make_user(srv, "CUSTOMER")
    admin.get(f"/admin/users/{u['id']}/")
    r = admin.post(f"/admin/users/{u['id']}/deactivate/")
    assert r.status_code == 303
    assert srv.get("/api/users/profile/", token=u["access"]).status_code == 401
    page = admin.get(f"/admin/users/{u['id']}/?done=x")
    assert "Activate" in page.text
    assert admin.post(f"/admin/users/{u['id']}/activate/").status_code == 303
    r = admin.post(f"/admin/users/{u['id']}/role/", {"role": "NOPE"})
    assert r.status_code == 400


# ---- roles -----------------------------------------------------------------------------------


def test_moderator_limits(srv, moderator):
    assert moderator.get("/admin/").status_code == 200
    assert moderator.get("/admin/users/").status_code == 200
    assert moderator.get("/admin/recipes/").status_code == 200
    for path in ["/admin/orders/", "/admin/vendors/", "/admin/jobs/", "/admin/subscriptions/",
                 "/admin/promotions/",
                 "/admin/payments/events/", f"/admin/orders/{uuid.uuid4()}/"]:
        assert moderator.get(path).status_code == 403, path
    u = make_user(srv, "CUSTOMER")
    page = moderator.get(f"/admin/users/{u['id']}/")
    assert page.status_code == 200 and "/deactivate/" not in page.text
    assert moderator.post(f"/admin/users/{u['id']}/deactivate/").status_code == 403
    assert srv.get("/api/users/profile/", token=u["access"]).status_code == 200
    nav = moderator.get("/admin/").text
    assert 'href="/admin/orders/"' not in nav and 'href="/admin/users/"' in nav


def test_lists_filter_search_and_page(srv, admin):
    tag = uuid.uuid4().hex[:8]
    for i in range(3):
        make_chef(srv, business_name=f"Pager{tag} {i}")
    r = admin.get(f"/admin/vendors/?q=Pager{tag}&page_size=2")
    assert r.text.count(f">Pager{tag}") == 2
    nxt = re.search(r'href="[^"]*(/admin/vendors/\?[^"]*cursor=[^"]+)"', r.text).group(1)
    r2 = admin.get(nxt.replace("&amp;", "&"))
    assert r2.status_code == 200 and r2.text.count(f">Pager{tag}") == 1
    mods = admin.get("/admin/users/?role=MODERATOR")
    assert mods.status_code == 200 and "<td>CUSTOMER</td>" not in mods.text
    assert "<td>MODERATOR</td>" in mods.text
    u = make_user(srv, "CUSTOMER")
    found = admin.get("/admin/users/?q=" + u["email"][:14])
    assert found.text.count(f'href="/admin/users/{u["id"]}/"') == 1
    assert ">No users match.<" in admin.get("/admin/users/?q=nobody-" + tag).text
    word = "zq" + tag
    chef = make_chef(srv)
    rec = recipe(srv, chef, title=f"Soup {word}")
    hits = admin.get(f"/admin/recipes/?q={word}")
    assert hits.status_code == 200 and hits.text.count(f'href="/admin/recipes/{rec["id"]}/"') == 1
    assert hits.text.count('href="/admin/recipes/0') == 1  # the one match only
    assert admin.get("/admin/users/?cursor=garbage").status_code == 400


# ---- actions through the domain ----------------------------------------------------------------


def test_refund_from_the_console(srv, admin):
    shop = make_shop(srv, stock=3)
    buyer = customer(srv)
    o = order(srv, buyer, shop["variant"]["id"]).json()
    assert pay(o["payment_url"]).status_code == 303
    wait_status(srv, buyer, o["id"], "processing")
    assert admin.get(f"/admin/orders/{o['id']}/").status_code == 200
    r = admin.post(f"/admin/orders/{o['id']}/refund/")
    assert r.status_code == 303, r.text[:400]
    assert get_order(srv, buyer, o["id"])["status"] == "refunded"
    hist = get_order(srv, buyer, o["id"])["history"]
    assert hist[-1]["to"] == "refunded", hist
    again = admin.post(f"/admin/orders/{o['id']}/refund/")
    assert again.status_code == 409 and "refunded" in again.text


def test_retry_and_discard_dead_jobs(srv, admin):
    token = admin.user["access"]
    dead = [enqueue(srv, token, "test.fail", {"permanent": True}) for _ in range(2)]
    for j in dead:
        wait_state(srv, token, j["id"], "dead")
    page = admin.get("/admin/jobs/?state=dead")
    assert dead[0]["id"] in page.text and dead[1]["id"] in page.text
    before = srv.get(f"/api/admin/jobs/{dead[0]['id']}/", token=token).json()["finished_at"]
    assert admin.post(f"/admin/jobs/{dead[0]['id']}/retry/").status_code == 303
    # it runs again (a fresh set of attempts) and fails again
    wait_for(lambda: (lambda j: j["state"] == "dead" and j["finished_at"] > before)(
        srv.get(f"/api/admin/jobs/{dead[0]['id']}/", token=token).json()), what="second run")
    assert admin.post(f"/admin/jobs/{dead[1]['id']}/discard/").status_code == 303
    r = srv.get(f"/api/admin/jobs/{dead[1]['id']}/", token=token).json()
    assert r["state"] == "dead" and r["last_error"] == "discarded", r


def dashboard_count(console, label):
    page = console.get("/admin/")
    assert page.status_code == 200
    m = re.search(r'<span class="n">(\d+)</span><span class="l">' + re.escape(label) + "<",
                  page.text)
    assert m, (label, page.text[page.text.find("<main"):][:600])
    return int(m.group(1))


def test_dashboard_counts(srv, admin, moderator):
    for label in ["Users", "Orders paid today", "Open reports", "Dead jobs", "Failing webhooks"]:
        dashboard_count(admin, label)
    users = dashboard_count(admin, "Users")
    make_user(srv, "CUSTOMER")
    assert dashboard_count(admin, "Users") == users + 1
    reports = dashboard_count(moderator, "Open reports")
    open_report(srv, "user", make_user(srv, "CUSTOMER")["id"])
    assert dashboard_count(moderator, "Open reports") == reports + 1
    assert "Dead jobs" not in moderator.get("/admin/").text


# ---- stored XSS, one per section -----------------------------------------------------------------


def test_xss_users(srv, admin):
    r = srv.post("/api/users/register/", json={"email": f"x-{uuid.uuid4().hex[:8]}@example.com",
                                               "password": PASSWORD, "first_name": PAYLOAD})
    uid = r.json()["id"]
    assert_escaped(admin.get("/admin/users/"))
    assert_escaped(admin.get(f"/admin/users/{uid}/"))


def test_xss_vendors(srv, admin):
    chef = make_chef(srv, business_name=PAYLOAD, bio=PAYLOAD)
    assert_escaped(admin.get("/admin/vendors/"))
    assert_escaped(admin.get(f"/admin/vendors/{chef['chef']['id']}/"))


def test_xss_recipes(srv, admin, moderator):
    chef = make_chef(srv)
    rec = recipe(srv, chef, title=PAYLOAD, instructions=PAYLOAD)
    assert_escaped(admin.get("/admin/recipes/"))
    assert_escaped(moderator.get(f"/admin/recipes/{rec['id']}/"))


def test_xss_orders(srv, admin):
    shop = make_shop(srv)
    r = srv.patch(f"/api/services/{shop['service']['id']}/", json={"name": PAYLOAD},
                  token=shop["vendor"]["access"])
    assert r.status_code == 200, r.text
    o = order(srv, customer(srv), shop["variant"]["id"]).json()
    assert_escaped(admin.get("/admin/orders/"))
    assert_escaped(admin.get(f"/admin/orders/{o['id']}/"))


def test_xss_subscriptions(srv, admin):
    chef = make_chef(srv)
    sub = subscribe(srv, make_user(srv, "CUSTOMER"), chef, plan(srv, chef, name=PAYLOAD))
    assert_escaped(admin.get("/admin/subscriptions/?status=incomplete"))
    assert_escaped(admin.get(f"/admin/subscriptions/{sub['id']}/"))


def test_xss_jobs(srv, admin):
    j = enqueue(srv, admin.user["access"], "test.record", {"note": PAYLOAD})
    wait_state(srv, admin.user["access"], j["id"], "done")
    assert_escaped(admin.get(f"/admin/jobs/{j['id']}/"))


def test_xss_payment_events(srv, admin):
    eid = "evt_xss_" + uuid.uuid4().hex[:10]
    db_exec(srv, "INSERT INTO payment_events (event_id, type, status, reason, event_created_at,"
                 f" payload, received_at, updated_at) VALUES ('{eid}', 'charge.refunded', "
                 f"'review', '{PAYLOAD}', 1, '{{\"x\": \"{PAYLOAD}\"}}', 1, 1)")
    assert_escaped(admin.get("/admin/payments/events/"))
    assert_escaped(admin.get(f"/admin/payments/events/{eid}/"))


def test_xss_in_the_login_form_and_query(srv, admin):
    r = Console(srv).http.get(srv.url + "/admin/login/?next=/admin/" + PAYLOAD)
    assert PAYLOAD not in r.text
    assert_escaped(admin.get("/admin/users/?q=" + PAYLOAD))


# ---- reports and the audit trail ---------------------------------------------------------------


def open_report(srv, target_type, target_id, reason="spam"):
    reporter = make_user(srv)
    r = srv.post("/api/reports/", json={"target_type": target_type, "target_id": target_id,
                                        "reason": reason}, token=reporter["access"])
    assert r.status_code == 201, r.text
    return r.json()


def test_xss_reports_and_audit(srv, admin, moderator):
    rep = open_report(srv, "user", make_user(srv)["id"], reason=PAYLOAD)
    assert_escaped(moderator.get("/admin/reports/"))
    assert_escaped(moderator.get(f"/admin/reports/{rep['id']}/"))
    r = admin.post(f"/admin/reports/{rep['id']}/resolve/", data={"action": "dismiss",
                                                                 "note": PAYLOAD})
    assert r.status_code == 303, r.text[:400]
    assert_escaped(admin.get("/admin/audit/?action=report.resolve"))
    entries = srv.get("/api/admin/audit/", params={"action": "report.resolve",
                                                   "target_id": rep["id"]},
                      token=admin.user["access"]).json()["results"]
    assert entries, "the console's resolve is audited"
    assert_escaped(admin.get(f"/admin/audit/{entries[0]['id']}/"))


def test_resolve_a_report_from_the_console(srv, moderator, admin):
    chef = make_chef(srv)
    rec = recipe(srv, chef)
    first = open_report(srv, "recipe", rec["id"])
    second = open_report(srv, "recipe", rec["id"])
    page = moderator.get("/admin/reports/?target_type=recipe")
    assert page.status_code == 200 and first["id"] in page.text and second["id"] in page.text
    detail = moderator.get(f"/admin/reports/{first['id']}/")
    assert f'/admin/reports/{second["id"]}/' in detail.text, "the other open report is listed"
    r = moderator.post(f"/admin/reports/{first['id']}/resolve/",
                       data={"action": "hide_content", "note": "off-topic"})
    assert r.status_code == 303, r.text[:400]
    assert srv.get(f"/api/recipes/{rec['id']}/").status_code == 404, "the recipe is hidden"
    for rep in (first, second):  # both reports on the target are resolved
        page = moderator.get(f"/admin/reports/{rep['id']}/").text
        assert "resolved" in page and "/resolve/" not in page
    assert first["id"] not in moderator.get("/admin/reports/").text
    assert first["id"] in moderator.get("/admin/reports/?status=resolved").text
    # the same domain function: its audit entries, with the moderator as actor
    audit = srv.get("/api/admin/audit/", params={"target_id": rec["id"]},
                    token=admin.user["access"]).json()["results"]
    hide = [e for e in audit if e["action"] == "content.hide"]
    assert hide and hide[0]["actor_id"] == moderator.user["id"]
    # a bad action changes nothing and says why
    third = open_report(srv, "user", make_user(srv)["id"])
    bad = moderator.post(f"/admin/reports/{third['id']}/resolve/", data={"action": "explode"})
    assert bad.status_code == 400
    assert "/resolve/" in moderator.get(f"/admin/reports/{third['id']}/").text


def test_audit_is_for_admins_only(srv, admin, moderator):
    assert moderator.get("/admin/audit/").status_code == 403
    page = admin.get("/admin/audit/?action=user.update")
    assert page.status_code == 200
    assert 'href="/admin/audit/"' in admin.get("/admin/").text
    assert 'href="/admin/audit/"' not in moderator.get("/admin/").text
    assert 'href="/admin/reports/"' in moderator.get("/admin/").text
    assert moderator.post(f"/admin/audit/{uuid.uuid4()}/delete/").status_code in (403, 404, 405)


def test_ban_and_unban_from_the_console(srv, moderator, admin):
    u = make_user(srv)
    assert "/ban/" in moderator.get(f"/admin/users/{u['id']}/").text
    bad = moderator.post(f"/admin/users/{u['id']}/ban/", data={"reason": "spam", "days": "0"})
    assert bad.status_code == 400
    assert moderator.post(f"/admin/users/{u['id']}/ban/", data={"days": "3"}).status_code == 400
    r = srv.post("/api/reports/", json={"target_type": "user", "target_id": admin.user["id"],
                                        "reason": "still allowed"}, token=u["access"])
    assert r.status_code == 201, "nothing was banned by the refused attempts"
    r = moderator.post(f"/admin/users/{u['id']}/ban/", data={"reason": "spam", "days": "3"})
    assert r.status_code == 303, r.text[:400]
    page = moderator.get(f"/admin/users/{u['id']}/").text
    assert "/unban/" in page and "spam" in page
    w = srv.post("/api/reports/", json={"target_type": "user", "target_id": moderator.user["id"],
                                        "reason": "x"}, token=u["access"])
    assert w.status_code == 403 and w.json()["code"] == "banned" and w.json()["banned_until"]
    entries = srv.get("/api/admin/audit/", params={"action": "user.ban", "target_id": u["id"]},
                      token=admin.user["access"]).json()["results"]
    assert len(entries) == 1 and entries[0]["actor_id"] == moderator.user["id"]
    assert moderator.post(f"/admin/users/{u['id']}/unban/").status_code == 303
    w = srv.post("/api/reports/", json={"target_type": "user", "target_id": moderator.user["id"],
                                        "reason": "x"}, token=u["access"])
    assert w.status_code == 201, w.text
    # staff cannot be banned
    assert moderator.post(f"/admin/users/{admin.user['id']}/ban/",
                          data={"reason": "no"}).status_code == 403


# ---- the content sections: recipes, projects, listings, reviews ---------------------------------


def content_targets(srv):
    """One of each content kind, made through the API: {kind: (id, public URL)}."""
    from home_support import completed_request, make_project, make_specialist
    spec = make_specialist(srv, business_name=PAYLOAD)
    pid = make_project(srv, spec, title=PAYLOAD)
    client = make_user(srv, "CUSTOMER")
    req = completed_request(srv, client, spec)
    r = srv.post(f"/api/requests/{req['id']}/review/", json={"rating": 4, "text": PAYLOAD},
                 token=client["access"])
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    r = srv.post("/api/listings/", json={"title": PAYLOAD, "price": "50.00", "status": "active",
                                         "description": PAYLOAD}, token=spec["access"])
    assert r.status_code == 201, r.text
    lid = r.json()["id"]
    rec = recipe(srv, make_chef(srv), title=PAYLOAD)
    return spec, {
        "recipes": (rec["id"], f"/api/recipes/{rec['id']}/"),
        "projects": (pid, f"/api/projects/{pid}/"),
        "listings": (lid, f"/api/listings/{lid}/"),
        "reviews": (rid, f"/api/specialists/{spec['vendor_id']}/reviews/"),
    }


def publicly_visible(srv, kind, target, url):
    r = srv.get(url)
    if kind != "reviews":
        return r.status_code == 200
    assert r.status_code == 200, r.text
    return target in [x["id"] for x in r.json()["results"]]


def test_hide_and_unhide_content_from_the_console(srv, moderator, admin):
    spec, targets = content_targets(srv)
    for kind, (target, url) in targets.items():
        assert_escaped(moderator.get(f"/admin/{kind}/"))
        page = moderator.get(f"/admin/{kind}/{target}/")
        assert_escaped(page)
        assert f'action="/admin/{kind}/{target}/hide/"' in page.text, kind
        assert publicly_visible(srv, kind, target, url), kind
        r = moderator.post(f"/admin/{kind}/{target}/hide/", data={"note": PAYLOAD})
        assert r.status_code == 303, (kind, r.text[:400])
        assert not publicly_visible(srv, kind, target, url), f"{kind}: gone from the public API"
        page = moderator.get(f"/admin/{kind}/{target}/")
        assert f'action="/admin/{kind}/{target}/unhide/"' in page.text, kind
        assert "hidden since" in page.text
        assert target in moderator.get(f"/admin/{kind}/?hidden=hidden").text, kind
        assert target not in moderator.get(f"/admin/{kind}/?hidden=visible").text, kind
        assert moderator.post(f"/admin/{kind}/{target}/unhide/").status_code == 303
        assert publicly_visible(srv, kind, target, url), f"{kind}: back in the public API"
        # the API's audit entries, with the moderator as actor and the note
        audit = srv.get("/api/admin/audit/", params={"target_id": target},
                        token=admin.user["access"]).json()["results"]
        acts = [(e["action"], e["actor_id"]) for e in audit]
        assert ("content.hide", moderator.user["id"]) in acts, (kind, acts)
        assert ("content.unhide", moderator.user["id"]) in acts, (kind, acts)
    # a note too long changes nothing
    target, url = targets["projects"]
    r = moderator.post(f"/admin/projects/{target}/hide/", data={"note": "x" * 2001})
    assert r.status_code == 400 and publicly_visible(srv, "projects", target, url)
    # the page rendered at the action's URL keeps absolute actions (a relative one would post
    # to .../hide/hide/)
    assert f'action="/admin/projects/{target}/hide/"' in r.text
    # without a token nothing changes
    r = moderator.post(f"/admin/listings/{targets['listings'][0]}/hide/", csrf=False)
    assert r.status_code == 403
    assert publicly_visible(srv, "listings", *targets["listings"])
    # a customer's session does not exist, and an unknown id is 404
    assert moderator.get(f"/admin/projects/{uuid.uuid4()}/").status_code == 404


def test_thread_moderator_view_and_hiding_a_message(srv, moderator, admin):
    a, b = make_user(srv), make_user(srv)
    r = srv.post("/api/threads/", json={"body": PAYLOAD, "recipient_id": b["id"]},
                 token=a["access"])
    assert r.status_code == 201, r.text
    t = r.json()
    mid = t["last_message"]["id"]
    gone = srv.post(f"/api/threads/{t['id']}/messages/", json={"body": "deleted later"},
                    token=b["access"]).json()
    assert srv.delete(f"/api/messages/{gone['id']}/", token=b["access"]).status_code == 204
    page = moderator.get(f"/admin/threads/?q={a['email'][:12]}")
    assert page.status_code == 200 and t["id"] in page.text
    assert "alert(1)" not in page.text, "the list shows no message text"
    page = moderator.get(f"/admin/threads/{t['id']}/")
    assert_escaped(page)
    assert "deleted later" in page.text and "deleted" in page.text, "the original is shown"
    audit = srv.get("/api/admin/audit/", params={"action": "thread.view", "target_id": t["id"]},
                    token=admin.user["access"]).json()["results"]
    assert audit and audit[0]["actor_id"] == moderator.user["id"], "the reading is audited"
    r = moderator.post(f"/admin/threads/{t['id']}/hide-message/", data={"message_id": mid})
    assert r.status_code == 303, r.text[:400]
    seen = srv.get(f"/api/threads/{t['id']}/messages/", token=b["access"]).json()["results"]
    assert all(m["body"] != PAYLOAD for m in seen), "hidden from the participants"
    assert "Show again" in moderator.get(f"/admin/threads/{t['id']}/").text
    r = moderator.post(f"/admin/threads/{t['id']}/unhide-message/", data={"message_id": mid})
    assert r.status_code == 303
    seen = srv.get(f"/api/threads/{t['id']}/messages/", token=b["access"]).json()["results"]
    assert any(m["body"] == PAYLOAD for m in seen)
    bad = moderator.post(f"/admin/threads/{t['id']}/hide-message/",
                         data={"message_id": str(uuid.uuid4())})
    assert bad.status_code == 400, "no such message: the API's answer (target_id)"
    assert f'action="/admin/threads/{t["id"]}/hide-message/"' in bad.text, "absolute actions"
    # a message of another thread, posted to this thread's URL, stays as it is
    c = make_user(srv)
    other = srv.post("/api/threads/", json={"body": "elsewhere", "recipient_id": a["id"]},
                     token=c["access"]).json()
    assert other["id"] != t["id"]
    r = moderator.post(f"/admin/threads/{t['id']}/hide-message/",
                       data={"message_id": other["last_message"]["id"]})
    assert r.status_code == 400, r.status_code
    seen = srv.get(f"/api/threads/{other['id']}/messages/", token=a["access"]).json()["results"]
    assert [m["body"] for m in seen] == ["elsewhere"]
    assert moderator.get(f"/admin/threads/{uuid.uuid4()}/").status_code == 404


# ---- the blog ----------------------------------------------------------------------------------

MARKDOWN = ("# Spring kitchens\n\n*bold* ideas\n\n<div onclick=\"x()\">raw</div>\n\n"
            "[click](javascript:alert(1)) and [ok](https://example.com/a)\n\n" + PAYLOAD)


def preview_of(page):
    """The rendered Markdown of a blog page (the form around it holds the typed text)."""
    return page.text.split('<article class="preview">', 1)[1].split("</article>", 1)[0]


def blog_id(page):
    m = re.search(r'action="/admin/blog/([0-9a-f-]{36})/save/"', page.text)
    assert m, page.text[:800]
    return m.group(1)


def test_blog_write_preview_schedule_publish_and_delete(srv, moderator, admin):
    tag = uuid.uuid4().hex[:8]
    title = f"Spring {tag} " + PAYLOAD
    r = moderator.post("/admin/blog/", data={"title": title, "slug": f"spring-{tag}",
                                              "excerpt": PAYLOAD, "body": MARKDOWN,
                                              "published_at": ""})
    assert r.status_code == 303, r.text[:600]
    loc = r.headers["Location"]
    assert re.match(r"^/admin/blog/[0-9a-f-]{36}/", loc), loc
    page = moderator.get(loc)
    assert_escaped(page)
    pid = blog_id(page)
    assert "draft" in page.text
    # drafts stay out of the public API
    assert srv.get(f"/api/blog/spring-{tag}/").status_code == 404
    # the preview renders Markdown in safe mode and changes nothing
    r = moderator.post(f"/admin/blog/{pid}/preview/",
                       data={"title": title, "slug": f"spring-{tag}", "excerpt": "",
                             "body": "## Typed *only*\n\n<b>raw</b> [x](javascript:alert(2))",
                             "published_at": ""})
    assert r.status_code == 200 and "nothing was saved" in r.text
    assert "<h2>Typed <em>only</em></h2>" in preview_of(r)
    art = preview_of(r)
    assert "<b>raw</b>" not in art and "javascript:" not in art, art
    assert "## Typed *only*" in r.text, "the form keeps the typed text"
    # text that Save refuses is refused by the preview too, and the typed form kept
    r = moderator.post(f"/admin/blog/{pid}/preview/",
                       data={"title": "", "slug": "Bad Slug", "excerpt": "", "body": "kept",
                             "published_at": ""})
    assert r.status_code == 400 and 'class="flash err"' in r.text, r.text[:300]
    stored = srv.get(f"/api/blog/spring-{tag}/", token=moderator_token(moderator)).json()
    assert stored["body"] == MARKDOWN, "a preview saves nothing"
    art = preview_of(moderator.get(f"/admin/blog/{pid}/"))
    assert "<h1>Spring kitchens</h1>" in art and "<em>bold</em>" in art, art
    assert "onclick" not in art and "javascript:" not in art and "<script" not in art, art
    assert 'href="https://example.com/a"' in art and ESCAPED not in art, art
    # schedule it: still hidden, listed as scheduled
    r = moderator.post(f"/admin/blog/{pid}/save/",
                       data={"title": f"Spring {tag}", "slug": f"spring-{tag}", "excerpt": "e",
                             "body": MARKDOWN, "published_at": "2099-01-01T08:30"})
    assert r.status_code == 303, r.text[:600]
    assert srv.get(f"/api/blog/spring-{tag}/").status_code == 404
    assert pid in moderator.get("/admin/blog/?state=scheduled").text
    assert pid not in moderator.get("/admin/blog/?state=published").text
    stored = srv.get(f"/api/blog/spring-{tag}/", token=moderator_token(moderator)).json()
    assert stored["published_at"].startswith("2099-01-01T08:30:00"), stored["published_at"]
    assert stored["title"] == f"Spring {tag}"
    # publish now: in the public API, with the same body
    assert moderator.post(f"/admin/blog/{pid}/publish/").status_code == 303
    pub = srv.get(f"/api/blog/spring-{tag}/")
    assert pub.status_code == 200 and pub.json()["body"] == MARKDOWN
    assert pid in moderator.get(f"/admin/blog/?state=published&q=Spring {tag}").text
    assert moderator.post(f"/admin/blog/{pid}/unpublish/").status_code == 303
    assert srv.get(f"/api/blog/spring-{tag}/").status_code == 404
    # every write is the API's, audited with the console user as actor
    audit = srv.get("/api/admin/audit/", params={"target_id": pid},
                    token=admin.user["access"]).json()["results"]
    acts = [(e["action"], e["actor_id"]) for e in audit]
    assert ("blog.create", moderator.user["id"]) in acts, acts
    assert acts.count(("blog.update", moderator.user["id"])) == 3, acts
    # delete: back to the list, gone everywhere
    r = moderator.post(f"/admin/blog/{pid}/delete/")
    assert r.status_code == 303 and r.headers["Location"].startswith("/admin/blog/")
    assert moderator.get(f"/admin/blog/{pid}/").status_code == 404
    assert srv.get(f"/api/blog/spring-{tag}/", token=moderator_token(moderator)).status_code == 404


def moderator_token(console):
    return console.user["access"]


def test_blog_refusals_change_nothing(srv, moderator, admin):
    tag = uuid.uuid4().hex[:8]
    base = {"title": f"Taken {tag}", "slug": f"taken-{tag}", "body": "b", "published_at": ""}
    assert moderator.post("/admin/blog/", data=base).status_code == 303
    # a taken slug: the list comes back with the error and the typed form
    r = moderator.post("/admin/blog/", data=dict(base, title="Second " + PAYLOAD))
    assert r.status_code == 409, r.text[:400]
    assert PAYLOAD not in r.text and ESCAPED in r.text, "the typed title, escaped"
    assert f'value="taken-{tag}"' in r.text, "the typed form is kept"
    fresh = dict(base, slug=f"other-{tag}")
    for bad in ({"slug": "Bad Slug"}, {"title": ""}, {"published_at": "tomorrow"},
                {"title": "x" * 801}, {"excerpt": "x" * 2001}):
        r = moderator.post("/admin/blog/", data=dict(fresh, **bad))
        assert r.status_code == 400, (bad, r.status_code, r.text[:300])
        assert 'class="flash err"' in r.text, (bad, r.text[r.text.find("<main"):][:300])
    assert srv.get(f"/api/blog/other-{tag}/", token=moderator_token(moderator)).status_code == 404
    # without the CSRF token nothing is created
    r = moderator.post("/admin/blog/", data=dict(base, slug=f"nocsrf-{tag}"), csrf=False)
    assert r.status_code == 403
    assert srv.get(f"/api/blog/nocsrf-{tag}/", token=moderator_token(moderator)).status_code == 404
    # a customer has no console session; an unknown post is 404
    assert moderator.get(f"/admin/blog/{uuid.uuid4()}/").status_code == 404
    r = moderator.post(f"/admin/blog/{uuid.uuid4()}/publish/")
    assert r.status_code == 404


# ---- promotions ------------------------------------------------------------------------------


def products(srv):
    return {p["product"]: p for p in srv.get("/api/promotions/products/").json()["results"]}


def test_promotions_list_detail_and_product_settings(srv, admin, moderator):
    from home_support import make_project, make_specialist
    spec = make_specialist(srv, business_name=PAYLOAD)
    pid = make_project(srv, spec, title=PAYLOAD)
    r = srv.post("/api/promotions/", json={"product": "TOP", "project_id": pid},
                 token=spec["access"])
    assert r.status_code == 201, r.text
    promo = r.json()
    # the list, filtered by status, product and owner; the detail
    page = admin.get("/admin/promotions/?status=pending&product=TOP")
    assert page.status_code == 200 and f'href="/admin/promotions/{promo["id"]}/"' in page.text
    assert_escaped(page)
    assert promo["id"] not in admin.get("/admin/promotions/?status=active").text
    assert promo["id"] not in admin.get("/admin/promotions/?product=PRO").text
    assert promo["id"] in admin.get("/admin/promotions/?q=" + spec["email"]).text
    assert promo["id"] not in admin.get("/admin/promotions/?q=nobody-" + spec["email"]).text
    detail = admin.get(f"/admin/promotions/{promo['id']}/")
    assert_escaped(detail)
    assert "9.99 usd for 7 days" in detail.text and "not paid" in detail.text
    assert admin.get(f"/admin/promotions/{uuid.uuid4()}/").status_code == 404
    # MODERATOR: no entry, no write
    assert moderator.get("/admin/promotions/").status_code == 403
    assert moderator.get(f"/admin/promotions/{promo['id']}/").status_code == 403
    form = {"product": "TOP", "price": "1.00", "duration_days": "1", "is_active": "1"}
    assert moderator.post("/admin/promotions/", data=form).status_code == 403
    assert products(srv)["TOP"]["price"] == "9.99"
    before = products(srv)["TOP"]
    # refusals re-render the list with the error and change nothing
    for bad, status in (({"price": "abc"}, 400), ({"price": "0"}, 400),
                        ({"price": "1.234"}, 400), ({"duration_days": "0"}, 400),
                        ({"duration_days": "3651"}, 400), ({"duration_days": "7x"}, 400),
                        ({"product": "GOLD"}, 404)):
        r = admin.post("/admin/promotions/", data=dict(form, **bad))
        assert r.status_code == status, (bad, r.status_code, r.text[:300])
        assert 'class="flash err"' in r.text, bad
        assert products(srv)["TOP"] == before, bad
    r = admin.post("/admin/promotions/", data=dict(form, price="12.5"), csrf=False)
    assert r.status_code == 403 and products(srv)["TOP"] == before
    # a save goes through the API's function: audited, and bought promotions keep their price
    try:
        r = admin.post("/admin/promotions/", data={"product": "TOP", "price": "12.50",
                                                   "duration_days": "10", "is_active": "0"})
        assert r.status_code == 303 and r.headers["Location"].startswith("/admin/promotions/?")
        assert products(srv)["TOP"] == dict(before, price="12.50", duration_days=10,
                                            is_active=False)
        audit = srv.get("/api/admin/audit/", params={"action": "promotion.product_update",
                                                     "target_id": "TOP"},
                        token=admin.user["access"]).json()["results"]
        assert audit and audit[0]["actor_id"] == admin.user["id"], audit
        assert audit[0]["before"]["price"] == "9.99" and audit[0]["after"]["price"] == "12.50"
        assert srv.get(f"/api/promotions/{promo['id']}/",
                       token=spec["access"]).json()["price"] == "9.99"
        r = srv.post("/api/promotions/", json={"product": "TOP", "project_id": pid},
                     token=spec["access"])
        assert r.status_code == 409, "an inactive product is not sold"
        page = admin.get("/admin/promotions/")
        assert 'value="12.50"' in page.text and 'value="0" selected' in page.text
    finally:
        assert admin.post("/admin/promotions/", data={
            "product": "TOP", "price": before["price"], "duration_days": str(before["duration_days"]),
            "is_active": "1"}).status_code == 303
    assert products(srv)["TOP"] == before
