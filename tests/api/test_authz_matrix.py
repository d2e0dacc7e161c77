"""test_authz_matrix.py - every route the server serves × every kind of caller → the status.

The route list comes from `souk routes`; a served route without a row in MATRIX fails
test_every_route_has_a_row, so each issue that adds routes adds their rows here. A row is
(METHOD, TEMPLATE) → Row(statuses, body=..., fresh_token=...) where statuses gives the expected
HTTP status for each caller kind, in KINDS order:

  anon      no token
  customer  a CUSTOMER
  vnp       a VENDOR without a vendor profile (a new one for every row)
  owner     the VENDOR who owns the object in the path ({id} = their vendor profile)
  other     another VENDOR with a profile
  mod       a MODERATOR
  admin     an ADMIN

Path parameters: {id} under /api/chefs/ and /api/admin/vendors/ is the owner's vendor profile
id; under /api/admin/users/ a separate target user's id. `body` may be a callable (a fresh body
for every call, e.g. a new email). fresh_token logs the caller in again first (for routes that
spend the token, like logout).
"""

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from identity_helpers import PASSWORD, login, make_chef, make_user, unique_email
from souk_client import routes

KINDS = ("anon", "customer", "vnp", "owner", "other", "mod", "admin")


@dataclass
class Row:
    statuses: tuple
    body: Any = None
    fresh_token: bool = False
    params: dict = field(default_factory=dict)


def _all(code):
    return (code,) * len(KINDS)


def _user_only(code):
    return (401,) + (code,) * (len(KINDS) - 1)


def _admin_only(code):
    return (401, 403, 403, 403, 403, 403, code)


def _register_body():
    return {"email": unique_email("m"), "password": PASSWORD}


def _chef_body():
    return {"email": unique_email("mc"), "password": PASSWORD, "business_name": "M"}


#            anon customer vnp owner other mod admin
VENDOR_OWN = (401, 403, 404, 200, 200, 403, 403)

MATRIX = {
    # operations
    ("GET", "/healthz"): Row(_all(200)),
    ("GET", "/readyz"): Row(_all(200)),
    ("GET", "/metrics"): Row(_all(200)),
    ("GET", "/api/schema/"): Row(_all(200)),
    ("GET", "/api/docs/"): Row(_all(200)),
    # identity
    ("POST", "/api/users/register/"): Row(_all(201), body=_register_body),
    ("POST", "/api/users/login/"): Row(_all(401), body={"email": "nobody@example.com",
                                                       "password": "wrong-password-0"}),
    ("POST", "/api/users/token/refresh/"): Row(_all(401), body={"refresh": "not-a-token"}),
    ("POST", "/api/users/logout/"): Row(_user_only(204), body={"refresh": "x"},
                                        fresh_token=True),
    ("GET", "/api/users/profile/"): Row(_user_only(200)),
    ("PATCH", "/api/users/profile/"): Row(_user_only(200), body={"first_name": "M"}),
    # administration of users
    ("GET", "/api/admin/users/"): Row(_admin_only(200)),
    ("PATCH", "/api/admin/users/{id}/"): Row(_admin_only(200), body={"is_active": True}),
    # vendors and chefs
    ("POST", "/api/vendors/profile/"): Row((401, 403, 201, 409, 409, 403, 403),
                                           body={"business_name": "M"}),
    ("GET", "/api/vendors/profile/"): Row(VENDOR_OWN),
    ("PATCH", "/api/vendors/profile/"): Row(VENDOR_OWN, body={"city": "M"}),
    ("POST", "/api/chefs/register/"): Row(_all(201), body=_chef_body),
    ("GET", "/api/chefs/"): Row(_all(200)),
    ("GET", "/api/chefs/{id}/"): Row(_all(200)),
    ("PUT", "/api/chefs/{id}/"): Row((401, 403, 403, 200, 403, 403, 200),
                                     body={"business_name": "M"}),
    ("GET", "/api/chefs/{id}/recipes/"): Row(_all(200)),
    ("GET", "/api/chefs/{id}/subscribers/"): Row(_all(200)),
    ("GET", "/api/chefs/{id}/plans/"): Row(_all(200)),
    ("POST", "/api/chefs/{id}/plans/"): Row((401, 403, 403, 201, 403, 403, 403),
                                            body={"name": "M", "price": "1.00",
                                                  "interval": "month"}),
    ("POST", "/api/admin/vendors/{id}/verify/"): Row(_admin_only(200),
                                                     body={"is_verified": True}),
}


@pytest.fixture(scope="module")
def callers(souk):
    out = {"anon": None, "customer": make_user(souk, "CUSTOMER"), "owner": make_chef(souk),
           "other": make_chef(souk), "mod": make_user(souk, "MODERATOR"),
           "admin": make_user(souk, "ADMIN"), "target": make_user(souk, "CUSTOMER")}
    return out


def _path(tmpl, callers):
    if tmpl.startswith("/api/admin/users/"):
        return tmpl.replace("{id}", callers["target"]["id"])
    return tmpl.replace("{id}", callers["owner"]["chef"]["id"])


def _token(souk, kind, callers, row):
    if kind == "anon":
        return None
    who = make_user(souk, "VENDOR") if kind == "vnp" else callers[kind]
    if row.fresh_token:
        return login(souk, who["email"]).json()["access"]
    return who["access"]


def test_every_route_has_a_row():
    served = set(routes())
    missing = sorted(served - set(MATRIX))
    assert not missing, f"routes without a row in test_authz_matrix.MATRIX: {missing}"
    stale = sorted(set(MATRIX) - served)
    assert not stale, f"rows for routes the server does not serve: {stale}"


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_statuses(souk, callers, route):
    method, tmpl = route
    row = MATRIX[route]
    got = []
    for kind in KINDS:
        body = row.body() if callable(row.body) else row.body
        r = souk.request(method, _path(tmpl, callers), json=body,
                         token=_token(souk, kind, callers, row))
        got.append(r.status_code)
    assert tuple(got) == row.statuses, dict(zip(KINDS, zip(row.statuses, got)))
