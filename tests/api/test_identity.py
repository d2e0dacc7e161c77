"""test_identity.py - registration, login, tokens, logout, profile, throttling, administration
of users (API.md § Identity and § Administration's users routes), on SQLite and PostgreSQL.
"""

import base64
import concurrent.futures
import json
import time
import uuid

import jwt
import pytest
import requests

from identity_helpers import (PASSWORD, assert_problem, login, make_user, pyjwt_token, register,
                              unique_email)

USER_FIELDS = {"id", "email", "first_name", "last_name", "role", "date_joined"}


def key_of(server):
    return server.env["SOUK_SECRET_KEY"]


# ---- registration ----------------------------------------------------------------------------


def test_register_returns_user_without_secrets(souk):
    r = register(souk)
    assert r.status_code == 201, r.text
    body = r.json()
    assert USER_FIELDS <= set(body)
    assert body["role"] == "CUSTOMER"
    assert "password" not in r.text and "argon2" not in r.text
    assert body["date_joined"].endswith("Z")


def test_register_vendor_role(souk):
    r = register(souk, role="VENDOR")
    assert r.status_code == 201 and r.json()["role"] == "VENDOR"


@pytest.mark.parametrize("role", ["ADMIN", "MODERATOR", "admin", "SUPERUSER", 7])
def test_register_privileged_role_refused(souk, role):
    body = assert_problem(register(souk, role=role), 400, "validation_error")
    assert "role" in body["errors"]


def test_register_normalises_email_and_refuses_duplicates(souk):
    local = "Mixed" + uuid.uuid4().hex[:8]
    r = register(souk, email=f"  {local}@Example.COM ")
    assert r.status_code == 201, r.text
    assert r.json()["email"] == f"{local}@example.com"
    assert_problem(register(souk, email=f"{local}@EXAMPLE.com"), 409, "conflict")
    assert login(souk, f"{local}@example.COM").status_code == 200


@pytest.mark.parametrize("password", ["short1", "1234567890123", "", "123456789"])
def test_register_password_policy(souk, password):
    body = assert_problem(register(souk, password=password), 400, "validation_error")
    assert "password" in body["errors"]


@pytest.mark.parametrize("email", ["no-at-sign", "a@", "@b.com", "a b@c.com", "a@b@c.com"])
def test_register_bad_email(souk, email):
    assert_problem(register(souk, email=email), 400, "validation_error")


def test_register_missing_and_wrong_types(souk):
    body = assert_problem(souk.post("/api/users/register/", json={"email": 5}), 400,
                          "validation_error")
    assert {"email", "password"} <= set(body["errors"])


def test_concurrent_duplicate_registration_exactly_one_wins(souk):
    email = unique_email("race")
    body = {"email": email, "password": PASSWORD}

    # one connection per thread (requests.Session is not thread-safe)
    def attempt_own(_):
        return requests.post(souk.url + "/api/users/register/", json=body, timeout=60).status_code

    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        codes = list(ex.map(attempt_own, range(20)))
    assert codes.count(201) == 1, codes
    assert codes.count(409) == 19, codes


# ---- login -------------------------------------------------------------------------------------


def test_login_returns_tokens_and_user(souk):
    u = make_user(souk)
    r = login(souk, u["email"])
    body = r.json()
    assert set(body) >= {"access", "refresh", "user"}
    assert body["user"]["email"] == u["email"]
    me = souk.get("/api/users/profile/", token=body["access"])
    assert me.status_code == 200 and me.json()["id"] == u["id"]


def test_login_wrong_password_and_unknown_email_look_the_same(souk):
    u = make_user(souk)
    a = assert_problem(login(souk, u["email"], "wrong-password-1"), 401, "unauthenticated")
    b = assert_problem(login(souk, unique_email(), "wrong-password-1"), 401, "unauthenticated")
    assert a["detail"] == b["detail"]


def test_access_token_is_standard_hs256(souk):
    u = make_user(souk)
    header = jwt.get_unverified_header(u["access"])
    assert header == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(u["access"], key_of(souk), algorithms=["HS256"])
    assert claims["sub"] == u["id"] and claims["role"] == "CUSTOMER"
    assert uuid.UUID(claims["jti"])
    assert 3500 <= claims["exp"] - claims["iat"] <= 3600


# ---- tokens made elsewhere ------------------------------------------------------------------


def test_pyjwt_token_with_the_key_is_accepted(souk):
    u = make_user(souk)
    tok = pyjwt_token(key=key_of(souk), sub=u["id"])
    r = souk.get("/api/users/profile/", token=tok)
    assert r.status_code == 200, r.text
    assert r.json()["email"] == u["email"]


def _b64(obj):
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_tampered_tokens_are_refused(souk):
    u = make_user(souk)
    key = key_of(souk)
    now = int(time.time())
    claims = {"sub": u["id"], "role": "ADMIN", "jti": str(uuid.uuid4()), "iat": now,
              "exp": now + 600}
    head, payload, sig = u["access"].split(".")
    bad = {
        "alg none": _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + ".",
        "HS512": jwt.encode(claims, key, algorithm="HS512"),
        "modified payload": head + "." + _b64(claims) + "." + sig,
        "bad signature": pyjwt_token(key="not-the-key-" + "x" * 40, sub=u["id"]),
        "expired": pyjwt_token(key=key, sub=u["id"], iat=now - 7200, exp=now - 3600),
        "garbage": "abc.def.ghi",
        "two parts": head + "." + payload,
        "truncated sig": u["access"][:-2],
    }
    for name, tok in bad.items():
        r = souk.get("/api/users/profile/", token=tok)
        assert r.status_code == 401, name
        assert r.json()["code"] == "token_invalid", name


def test_expired_within_leeway_is_accepted(souk):
    u = make_user(souk)
    now = int(time.time())
    tok = pyjwt_token(key=key_of(souk), sub=u["id"], iat=now - 100, exp=now - 5)
    assert souk.get("/api/users/profile/", token=tok).status_code == 200


def test_no_token_is_unauthenticated(souk):
    assert_problem(souk.get("/api/users/profile/"), 401, "unauthenticated")


# ---- refresh ------------------------------------------------------------------------------------


def test_refresh_rotates_and_reuse_revokes_family(souk):
    u = make_user(souk)
    r1 = souk.post("/api/users/token/refresh/", json={"refresh": u["refresh"]})
    assert r1.status_code == 200, r1.text
    pair1 = r1.json()
    assert set(pair1) == {"access", "refresh"} and pair1["refresh"] != u["refresh"]
    assert souk.get("/api/users/profile/", token=pair1["access"]).status_code == 200
    # replaying the first token: refused, and the whole family dies
    assert_problem(souk.post("/api/users/token/refresh/", json={"refresh": u["refresh"]}), 401,
                   "token_invalid")
    assert_problem(souk.post("/api/users/token/refresh/", json={"refresh": pair1["refresh"]}),
                   401, "token_invalid")


def test_refresh_unknown_and_missing(souk):
    assert_problem(souk.post("/api/users/token/refresh/", json={"refresh": "nope"}), 401,
                   "token_invalid")
    assert_problem(souk.post("/api/users/token/refresh/", json={}), 400, "validation_error")


def test_other_families_survive_a_reuse(souk):
    u = make_user(souk)
    other = login(souk, u["email"]).json()
    souk.post("/api/users/token/refresh/", json={"refresh": u["refresh"]})
    souk.post("/api/users/token/refresh/", json={"refresh": u["refresh"]})  # reuse
    assert souk.post("/api/users/token/refresh/",
                     json={"refresh": other["refresh"]}).status_code == 200


# ---- logout -------------------------------------------------------------------------------------


def test_logout_takes_effect_at_once(souk):
    u = make_user(souk)
    r = souk.post("/api/users/logout/", json={"refresh": u["refresh"]}, token=u["access"])
    assert r.status_code == 204, r.text
    assert_problem(souk.get("/api/users/profile/", token=u["access"]), 401, "token_invalid")
    assert_problem(souk.post("/api/users/token/refresh/", json={"refresh": u["refresh"]}), 401,
                   "token_invalid")
    # a new login works
    assert login(souk, u["email"]).status_code == 200


def test_logout_requires_a_user(souk):
    assert_problem(souk.post("/api/users/logout/", json={"refresh": "x"}), 401,
                   "unauthenticated")


def test_logout_reaches_a_second_node_within_a_second(souk, souk_factory):
    node2 = souk_factory(SOUK_DATABASE_URL=souk.db_url)
    u = make_user(souk)
    assert node2.get("/api/users/profile/", token=u["access"]).status_code == 200
    souk.post("/api/users/logout/", json={"refresh": u["refresh"]}, token=u["access"])
    deadline = time.monotonic() + 1.5
    while node2.get("/api/users/profile/", token=u["access"]).status_code == 200:
        assert time.monotonic() < deadline, "logout not seen by the second node within 1.5 s"
        time.sleep(0.05)


# ---- profile ------------------------------------------------------------------------------------


def test_profile_patch_changes_names_only(souk):
    u = make_user(souk)
    r = souk.patch("/api/users/profile/", token=u["access"],
                   json={"first_name": "Zed", "role": "ADMIN", "email": "x@evil.com"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["first_name"] == "Zed" and body["role"] == "CUSTOMER"
    assert body["email"] == u["email"]
    claims = jwt.decode(login(souk, u["email"]).json()["access"], key_of(souk),
                        algorithms=["HS256"])
    assert claims["role"] == "CUSTOMER"


def test_profile_patch_wrong_type(souk):
    u = make_user(souk)
    assert_problem(souk.patch("/api/users/profile/", token=u["access"], json={"first_name": 3}),
                   400, "validation_error")


# ---- throttling ---------------------------------------------------------------------------------


def test_login_throttling_and_reset(souk_factory):
    s = souk_factory(SOUK_LOGIN_WINDOW_SECONDS=2, SOUK_LOGIN_MAX_FAILURES=3)
    u = make_user(s)
    for _ in range(3):
        assert_problem(login(s, u["email"], "wrong-password-9"), 401, "unauthenticated")
    r = login(s, u["email"])  # the right password, too
    assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    # another email from the same address is not affected
    other = make_user(s)
    assert login(s, other["email"]).status_code == 200
    time.sleep(2.2)
    assert login(s, u["email"]).status_code == 200


def test_throttling_counts_unknown_emails_too(souk_factory):
    s = souk_factory(SOUK_LOGIN_WINDOW_SECONDS=2, SOUK_LOGIN_MAX_FAILURES=3)
    email = unique_email()
    for _ in range(3):
        assert_problem(login(s, email, "wrong-password-9"), 401, "unauthenticated")
    assert_problem(login(s, email, "wrong-password-9"), 429, "rate_limited")


# ---- administration ----------------------------------------------------------------------------


def test_admin_lists_and_filters_users(souk):
    admin = make_user(souk, "ADMIN")
    v = make_user(souk, "VENDOR")
    r = souk.get("/api/admin/users/?role=VENDOR&page_size=100", token=admin["access"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"next", "previous", "results"} <= set(body)
    assert all(x["role"] == "VENDOR" for x in body["results"])
    r = souk.get(f"/api/admin/users/?email={v['email']}", token=admin["access"])
    assert [x["id"] for x in r.json()["results"]] == [v["id"]]
    assert_problem(souk.get("/api/admin/users/?role=KING", token=admin["access"]), 400,
                   "validation_error")


def test_admin_users_pagination(souk):
    admin = make_user(souk, "ADMIN")
    for _ in range(3):
        make_user(souk)
    seen, url, pages = [], "/api/admin/users/?page_size=2", 0
    while url:
        r = souk.get(url, token=admin["access"])
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["results"]) <= 2
        seen += [x["id"] for x in body["results"]]
        url = body["next"] and body["next"].replace(souk.url, "")
        pages += 1
    assert len(seen) == len(set(seen)) >= 4 and pages >= 2
    # and back
    last = souk.get("/api/admin/users/?page_size=2", token=admin["access"]).json()
    nxt = souk.get(last["next"].replace(souk.url, ""), token=admin["access"]).json()
    back = souk.get(nxt["previous"].replace(souk.url, ""), token=admin["access"]).json()
    assert [x["id"] for x in back["results"]] == [x["id"] for x in last["results"]]


def test_non_admins_cannot_administer(souk):
    target = make_user(souk)
    for role in ("CUSTOMER", "VENDOR", "MODERATOR"):
        u = make_user(souk, role)
        assert_problem(souk.get("/api/admin/users/", token=u["access"]), 403, "forbidden")
        assert_problem(souk.patch(f"/api/admin/users/{target['id']}/", token=u["access"],
                                  json={"role": "ADMIN"}), 403, "forbidden")
    me = make_user(souk)
    assert_problem(souk.patch(f"/api/admin/users/{me['id']}/", token=me["access"],
                              json={"role": "ADMIN"}), 403, "forbidden")


def test_deactivation_stops_tokens_at_once(souk):
    admin = make_user(souk, "ADMIN")
    u = make_user(souk)
    r = souk.patch(f"/api/admin/users/{u['id']}/", token=admin["access"],
                   json={"is_active": False})
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert_problem(souk.get("/api/users/profile/", token=u["access"]), 401, "token_invalid")
    assert_problem(souk.post("/api/users/token/refresh/", json={"refresh": u["refresh"]}), 401,
                   "token_invalid")
    assert_problem(login(souk, u["email"]), 401, "unauthenticated")
    # reactivated: a new login works again
    souk.patch(f"/api/admin/users/{u['id']}/", token=admin["access"], json={"is_active": True})
    time.sleep(0.01)
    again = login(souk, u["email"])
    assert again.status_code == 200
    assert souk.get("/api/users/profile/", token=again.json()["access"]).status_code == 200


def test_admin_promotes_user(souk):
    admin = make_user(souk, "ADMIN")
    u = make_user(souk)
    r = souk.patch(f"/api/admin/users/{u['id']}/", token=admin["access"],
                   json={"role": "MODERATOR"})
    assert r.status_code == 200 and r.json()["role"] == "MODERATOR"
    # tokens carry the role: the old ones end, a new login carries the new role
    assert souk.get("/api/users/profile/", token=u["access"]).status_code == 401
    assert login(souk, u["email"]).json()["user"]["role"] == "MODERATOR"


def test_admin_patch_validation_and_missing_user(souk):
    admin = make_user(souk, "ADMIN")
    assert_problem(souk.patch(f"/api/admin/users/{uuid.uuid4()}/", token=admin["access"],
                              json={"is_active": False}), 404, "not_found")
    u = make_user(souk)
    assert_problem(souk.patch(f"/api/admin/users/{u['id']}/", token=admin["access"],
                              json={"role": "KING"}), 400, "validation_error")
    assert_problem(souk.patch(f"/api/admin/users/{u['id']}/", token=admin["access"],
                              json={"is_active": "no"}), 400, "validation_error")


def test_createuser_cli_refuses_bad_input(souk):
    from souk_client import run_souk
    r = run_souk(["createuser", "--email", "bad", "--password", "x", "--role", "ADMIN"],
                 env=souk.env)
    assert r.returncode != 0
