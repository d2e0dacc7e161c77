"""authz_requests.py - authorization rows for /api/requests/..., /api/reviews/{id}/reply/ and
/api/specialists/{id}/reviews/. Format: see test_authz_matrix.py.

callers["owner"] is made a specialist; requests are sent by callers["customer"] to it. A request
is private to its two parties: everyone else, staff included, gets 404; the other party 403.
"""

from authzlib import Row, all_kinds, signed_in
from home_support import specialize


def _spec(souk, callers):
    specialize(souk, callers["owner"])
    return {"id": callers["owner"]["chef"]["id"], "specialist_id": callers["owner"]["chef"]["id"]}


def _request(souk, callers, to=None):
    ctx = _spec(souk, callers)
    r = souk.post("/api/requests/", json={"specialist_id": ctx["specialist_id"], "message": "Hi"},
                  token=callers["customer"]["access"])
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    steps = {"accepted": [("accept", "owner")],
             "completed": [("accept", "owner"), ("finish", "customer"), ("finish", "owner")]}
    for action, who in steps.get(to, []):
        r = souk.post(f"/api/requests/{rid}/{action}/", token=callers[who]["access"])
        assert r.status_code == 200, r.text
    return {"id": rid}


def _accepted(souk, callers):
    return _request(souk, callers, "accepted")


def _completed(souk, callers):
    return _request(souk, callers, "completed")


def _review(souk, callers):
    rid = _completed(souk, callers)["id"]
    r = souk.post(f"/api/requests/{rid}/review/", json={"rating": 5},
                  token=callers["customer"]["access"])
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


#               anon customer vnp owner other mod admin
PARTIES = (401, 200, 404, 200, 404, 404, 404)
SPECIALIST = (401, 403, 404, 200, 404, 404, 404)
CLIENT = (401, 200, 404, 403, 404, 404, 404)

ROWS = {
    ("POST", "/api/requests/"): Row((401, 201, 403, 403, 403, 403, 403), setup=_spec,
                                    body=lambda ctx: {"specialist_id": ctx["specialist_id"],
                                                      "message": "Hello"}),
    ("GET", "/api/requests/"): Row(signed_in(200)),
    ("GET", "/api/requests/{id}/"): Row(PARTIES, setup=_request),
    ("POST", "/api/requests/{id}/accept/"): Row(SPECIALIST, setup=_request, setup_each=True),
    ("POST", "/api/requests/{id}/decline/"): Row(SPECIALIST, setup=_request, setup_each=True),
    ("POST", "/api/requests/{id}/cancel/"): Row(CLIENT, setup=_request, setup_each=True),
    ("POST", "/api/requests/{id}/finish/"): Row(PARTIES, setup=_accepted, setup_each=True),
    ("POST", "/api/requests/{id}/review/"): Row((401, 201, 404, 403, 404, 404, 404),
                                                setup=_completed, setup_each=True,
                                                body={"rating": 4, "text": "Good"}),
    ("POST", "/api/reviews/{id}/reply/"): Row((401, 403, 403, 200, 403, 403, 403),
                                              setup=_review, setup_each=True,
                                              body={"text": "Thanks"}),
    ("GET", "/api/specialists/{id}/reviews/"): Row(all_kinds(200), setup=_spec),
}
