"""authz_messaging.py - authorization rows for /api/threads/... and /api/messages/{id}/.
Format: see test_authz_matrix.py.

Objects: a thread about callers["owner"]'s listing, opened by callers["customer"]; its
participants are the owner and the customer. Everyone else, staff included, gets 404."""

from authzlib import Row, signed_in

#               anon customer vnp owner other mod admin
def PARTIES(code):
    return (401, code, 404, code, 404, 404, 404)


def _thread(souk, callers):
    r = souk.post("/api/listings/", json={"title": "Authz pet", "price": "5.00",
                                          "status": "active"}, token=callers["owner"]["access"])
    assert r.status_code == 201, r.text
    r = souk.post("/api/threads/", json={"listing_id": r.json()["id"], "body": "hi"},
                  token=callers["customer"]["access"])
    assert r.status_code == 201, r.text
    t = r.json()
    return {"id": t["id"], "message_id": t["last_message"]["id"]}


def _message(souk, callers):
    ctx = _thread(souk, callers)
    return {"id": ctx["message_id"]}


def _recipient(souk, callers):
    return {"rid": callers["target"]["id"]}


ROWS = {
    ("POST", "/api/threads/"): Row(signed_in(201), setup=_recipient,
                                   body=lambda ctx: {"recipient_id": ctx["rid"], "body": "hi"}),
    ("GET", "/api/threads/"): Row(signed_in(200)),
    ("GET", "/api/threads/{id}/"): Row(PARTIES(200), setup=_thread),
    ("DELETE", "/api/threads/{id}/"): Row(PARTIES(204), setup=_thread),
    ("GET", "/api/threads/{id}/messages/"): Row(PARTIES(200), setup=_thread),
    ("POST", "/api/threads/{id}/messages/"): Row(PARTIES(201), body={"body": "x"},
                                                 setup=_thread),
    ("POST", "/api/threads/{id}/read/"): Row(PARTIES(200), setup=_thread),
    ("DELETE", "/api/messages/{id}/"): Row((401, 204, 404, 403, 404, 404, 404),
                                           setup=_message),
}
