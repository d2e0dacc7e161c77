"""test_authz_matrix.py - every route the server serves × every kind of caller → the status.

The route list comes from `souk routes`. MATRIX is the rows below (operations, identity, vendors)
merged with the ROWS of every tests/api/authz_<domain>.py, so each team keeps its rows in its own
file. The tests fail when a served route has no row, when a row names a route the server does
not serve, when a key is defined twice (the message names both files), when an authz_*.py does
not import or has a malformed row, and of course when a caller gets another status than the row
says.

Writing rows: tests/api/authz_<domain>.py
-----------------------------------------
    from authzlib import Row, admin_only, all_kinds, signed_in
    from identity_helpers import make_user       # and any other helper

    ROWS = {
        ("GET", "/api/recipes/"): Row(all_kinds(200)),
        ("POST", "/api/recipes/"): Row({"anon": 401, "owner": 201, "*": 403},
                                       body={"title": "T", "access": "free"}),
        ("DELETE", "/api/recipes/{id}/"): Row((401, 403, 403, 204, 403, 403, 204),
                                              setup=new_recipe, setup_each=True),
    }

The key is (METHOD, TEMPLATE) exactly as `souk routes` prints it (upper-case method, the
/api/... template with its {param} names and trailing slash). HEAD is not listed.

Caller kinds (one request per kind, in this order):
  anon      no Authorization header
  customer  callers["customer"]: one CUSTOMER
  vnp       a VENDOR without a vendor profile (a new user for every request)
  owner     callers["owner"]: a VENDOR with a profile, the owner of the object in the path
  other     callers["other"]: another VENDOR with a profile
  mod       callers["mod"]: a MODERATOR
  admin     callers["admin"]: an ADMIN

`callers` (shared by the whole module) maps each kind to a dict {"id" (user id), "email",
"access", "refresh", "role"}; "owner" and "other" also have "chef" (their vendor profile as
POST /api/chefs/register/ returned it: callers["owner"]["chef"]["id"] is the profile id).
callers["target"] is one more CUSTOMER, the object of the /api/admin/users/{id}/ rows. An object
that belongs to a customer (an order, a subscription) should be made as callers["customer"], so
that the `customer` column is "the customer who owns it".

Row fields (authzlib.Row):
  statuses     the expected status per kind: a 7-tuple in the order above, or a dict
               {kind: status} where "*" gives every kind not named. Helpers: all_kinds(code),
               signed_in(code) (401 for anon), admin_only(code) (401 anon, 403 others).
  body         the JSON body (None: no body). A callable is called for every request:
               body() or body(ctx) (e.g. a new email each time). bytes are sent as they are
               (set Content-Type in `headers`).
  setup        setup(souk, callers) -> dict: makes what the row needs (a recipe of the owner, an
               order of the customer...) and returns values for the path's {params} and for
               body(ctx) / query. Runs once per row, or before every caller's request with
               setup_each=True (routes that delete or change the state of their object).
  params       fixed path parameter values, e.g. {"id": str(uuid.uuid4())} for a 404 row.
  query        query string dict; str values are formatted with ctx ("{chef_id}").
  headers      extra request headers.
  fresh_token  log the caller in again first (for routes that spend the token, like logout).
  stream       read only the status line and headers, then close the connection (for
               responses that never end, like the text/event-stream of /api/events/).

ctx, in increasing priority: the defaults, `params`, then what setup returned. The defaults
give {id} a value on these prefixes only: /api/chefs/, /api/vendors/, /api/admin/vendors/ → the
owner's vendor profile id; /api/admin/users/ → callers["target"]["id"]. Any other {param} must
come from params or setup, else the row fails with a message saying so.

Keep rows cheap: every row makes 7 requests (and a vnp user); a setup_each setup runs 7 times.
"""

import os

import pytest

from authzlib import (KINDS, Merged, Row, admin_only, all_kinds, call_with_ctx, fill_path,
                      load_domain_rows, signed_in)
from identity_helpers import PASSWORD, login, make_chef, make_user, unique_email
from souk_client import routes

# Row, KINDS and the helpers are importable from here too (`from test_authz_matrix import Row`),
# but new files should import them from authzlib.


def _register_body():
    return {"email": unique_email("m"), "password": PASSWORD}


def _chef_body():
    return {"email": unique_email("mc"), "password": PASSWORD, "business_name": "M"}


#            anon customer vnp owner other mod admin
VENDOR_OWN = (401, 403, 404, 200, 200, 403, 403)

OWN_ROWS = {
    # operations
    ("GET", "/healthz"): Row(all_kinds(200)),
    ("GET", "/readyz"): Row(all_kinds(200)),
    ("GET", "/metrics"): Row(all_kinds(200)),
    ("GET", "/api/schema/"): Row(all_kinds(200)),
    ("GET", "/api/docs/"): Row(all_kinds(200)),
    # identity
    ("POST", "/api/users/register/"): Row(all_kinds(201), body=_register_body),
    ("POST", "/api/users/login/"): Row(all_kinds(401), body={"email": "nobody@example.com",
                                                             "password": "wrong-password-0"}),
    ("POST", "/api/users/token/refresh/"): Row(all_kinds(401), body={"refresh": "not-a-token"}),
    ("POST", "/api/users/logout/"): Row(signed_in(204), body={"refresh": "x"},
                                        fresh_token=True),
    ("GET", "/api/users/profile/"): Row(signed_in(200)),
    ("PATCH", "/api/users/profile/"): Row(signed_in(200), body={"first_name": "M"}),
    # administration of users
    ("GET", "/api/admin/users/"): Row(admin_only(200)),
    ("PATCH", "/api/admin/users/{id}/"): Row(admin_only(200), body={"is_active": True}),
    # vendors and chefs
    ("POST", "/api/vendors/profile/"): Row((401, 403, 201, 409, 409, 403, 403),
                                           body={"business_name": "M"}),
    ("GET", "/api/vendors/profile/"): Row(VENDOR_OWN),
    ("PATCH", "/api/vendors/profile/"): Row(VENDOR_OWN, body={"city": "M"}),
    ("POST", "/api/chefs/register/"): Row(all_kinds(201), body=_chef_body),
    ("GET", "/api/chefs/"): Row(all_kinds(200)),
    ("GET", "/api/chefs/{id}/"): Row(all_kinds(200)),
    ("PUT", "/api/chefs/{id}/"): Row((401, 403, 403, 200, 403, 403, 200),
                                     body={"business_name": "M"}),
    ("GET", "/api/chefs/{id}/recipes/"): Row(all_kinds(200)),
    ("GET", "/api/chefs/{id}/subscribers/"): Row(all_kinds(200)),
    ("GET", "/api/chefs/{id}/plans/"): Row(all_kinds(200)),
    ("POST", "/api/chefs/{id}/plans/"): Row((401, 403, 403, 201, 403, 403, 403),
                                            body={"name": "M", "price": "1.00",
                                                  "interval": "month"}),
    ("POST", "/api/admin/vendors/{id}/verify/"): Row(admin_only(200),
                                                     body={"is_verified": True}),
}

_merged = Merged()
_merged.add(OWN_ROWS, os.path.basename(__file__))
load_domain_rows(_merged, os.path.dirname(os.path.abspath(__file__)))
MATRIX = _merged.rows
ORIGIN = _merged.origin  # (METHOD, TEMPLATE) -> the file that defines the row

# {id} defaults by path prefix (see the docstring); anything else comes from params/setup.
_VENDOR_ID_PREFIXES = ("/api/chefs/", "/api/vendors/", "/api/admin/vendors/")


@pytest.fixture(scope="module")
def callers(souk):
    out = {"anon": None, "customer": make_user(souk, "CUSTOMER"), "owner": make_chef(souk),
           "other": make_chef(souk), "mod": make_user(souk, "MODERATOR"),
           "admin": make_user(souk, "ADMIN"), "target": make_user(souk, "CUSTOMER")}
    return out


def _defaults(tmpl, callers):
    if tmpl.startswith("/api/admin/users/"):
        return {"id": callers["target"]["id"]}
    if tmpl.startswith(_VENDOR_ID_PREFIXES):
        return {"id": callers["owner"]["chef"]["id"]}
    return {}


def _context(souk, callers, tmpl, row):
    ctx = {**_defaults(tmpl, callers), **row.params}
    if row.setup:
        extra = row.setup(souk, callers)
        assert isinstance(extra, dict) or extra is None, \
            f"setup of {tmpl} must return a dict, got {type(extra).__name__}"
        ctx.update(extra or {})
    return ctx


def _token(souk, kind, callers, row):
    if kind == "anon":
        return None
    who = make_user(souk, "VENDOR") if kind == "vnp" else callers[kind]
    if row.fresh_token:
        return login(souk, who["email"]).json()["access"]
    return who["access"]


def _send(souk, method, tmpl, row, ctx, token):
    try:
        path = fill_path(tmpl, ctx)
    except KeyError as e:
        path = None
        missing = e.args[0]
    if path is None:
        pytest.fail(f"{method} {tmpl} (in {ORIGIN[(method, tmpl)]}): no value for {{{missing}}}; "
                    "give it with Row(params=...) or Row(setup=...)", pytrace=False)
    body = call_with_ctx(row.body, ctx) if callable(row.body) else row.body
    query = {k: v.format_map(ctx) if isinstance(v, str) else v for k, v in row.query.items()}
    kw = {"data": body} if isinstance(body, bytes) else {"json": body}
    r = souk.request(method, path, token=token, headers=row.headers, params=query or None,
                     stream=row.stream, **kw)
    if row.stream:
        r.close()  # the status is known; do not wait for a stream that never ends
    return r


def test_rows_are_well_formed():
    """Every authz_*.py imports, defines ROWS of Row values, and no key is defined twice."""
    if _merged.problems:
        pytest.fail("\n".join(_merged.problems), pytrace=False)


def test_every_route_has_a_row():
    # /admin/ pages (HTML, cookie sessions) are covered by test_admin_console.py
    served = {r for r in routes() if not r[1].startswith("/admin/")}
    missing = [f"{m} {t}" for m, t in sorted(served - set(MATRIX))]
    stale = [f"{m} {t} (in {ORIGIN[(m, t)]})" for m, t in sorted(set(MATRIX) - served)]
    msg = []
    if missing:
        msg.append("routes without a row (add them to tests/api/authz_<domain>.py):\n  "
                   + "\n  ".join(missing))
    if stale:
        msg.append("rows for routes the server does not serve:\n  " + "\n  ".join(stale))
    if msg:
        pytest.fail("\n".join(msg), pytrace=False)


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_statuses(souk, callers, route):
    method, tmpl = route
    row = MATRIX[route]
    ctx = None if row.setup_each else _context(souk, callers, tmpl, row)
    got = []
    for kind in KINDS:
        token = _token(souk, kind, callers, row)
        r = _send(souk, method, tmpl, row,
                  _context(souk, callers, tmpl, row) if row.setup_each else ctx, token)
        got.append(r.status_code)
    wrong = [f"{k}: want {w}, got {g}" for k, w, g in zip(KINDS, row.statuses, got) if w != g]
    if wrong:
        pytest.fail(f"{method} {tmpl} (row in {ORIGIN[route]}): " + "; ".join(wrong),
                    pytrace=False)
