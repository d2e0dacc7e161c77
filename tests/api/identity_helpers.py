"""identity_helpers.py - making users, vendors and tokens in the black-box tests.

Used by test_identity.py, test_vendors.py and test_authz_matrix.py (and free for later tests):
every helper talks HTTP to a running server (the `souk` fixture or a souk_factory one), except
make_user() for ADMIN/MODERATOR, which runs `souk createuser` against the server's database.
"""

import time
import uuid

import jwt  # Debian's python3-jwt (PyJWT)

from souk_client import SECRET_KEY, run_souk

PASSWORD = "correct-horse-42"
PROBLEM_TYPE = "application/problem+json"


def unique_email(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def assert_problem(r, status, code):
    assert r.status_code == status, r.text
    assert r.headers.get("Content-Type", "").startswith(PROBLEM_TYPE), r.headers
    body = r.json()
    assert body["status"] == status and body["code"] == code, body
    return body


def register(server, role=None, email=None, password=PASSWORD, **extra):
    body = {"email": email or unique_email(), "password": password, "first_name": "Ann",
            "last_name": "Lee", **extra}
    if role:
        body["role"] = role
    return server.post("/api/users/register/", json=body)


def login(server, email, password=PASSWORD):
    return server.post("/api/users/login/", json={"email": email, "password": password})


def make_user(server, role="CUSTOMER", password=PASSWORD):
    """A user of any role; returns {"id", "email", "access", "refresh", "role"}."""
    email = unique_email(role.lower())
    if role in ("CUSTOMER", "VENDOR"):
        r = register(server, role=role, email=email, password=password)
        assert r.status_code == 201, r.text
    else:
        r = run_souk(["createuser", "--email", email, "--password", password, "--role", role],
                     env=server.env)
        assert r.returncode == 0, r.stderr
    r = login(server, email, password)
    assert r.status_code == 200, r.text
    body = r.json()
    return {"id": body["user"]["id"], "email": email, "access": body["access"],
            "refresh": body["refresh"], "role": role}


def make_chef(server, **profile):
    """A VENDOR with a profile, via /api/chefs/register/; adds "chef" (the profile)."""
    email = unique_email("chef")
    body = {"email": email, "password": PASSWORD, "first_name": "Chef", "last_name": "One",
            "business_name": profile.pop("business_name", "Chez " + email[:10]),
            "bio": "cooks", **profile}
    r = server.post("/api/chefs/register/", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    return {"id": out["user"]["id"], "email": email, "access": out["access"],
            "refresh": out["refresh"], "role": "VENDOR", "chef": out["chef"]}


def pyjwt_token(claims=None, key=SECRET_KEY, algorithm="HS256", **overrides):
    """A token signed by PyJWT (not by the server)."""
    now = int(time.time())
    body = {"sub": str(uuid.uuid4()), "role": "CUSTOMER", "jti": str(uuid.uuid4()),
            "iat": now, "exp": now + 600}
    body.update(claims or {})
    body.update(overrides)
    return jwt.encode(body, key, algorithm=algorithm)
