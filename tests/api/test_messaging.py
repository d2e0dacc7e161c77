"""test_messaging.py - private threads: opening and reuse, who sees them (participants only,
staff included in the 404), soft-deleted placeholders, unread counts and read marks, hiding,
and message.created / listing.updated on the other participant's event stream."""

import json

from identity_helpers import assert_problem, make_chef, make_user
from test_notifications import Stream


def listing(souk, chef, status="active"):
    r = souk.post("/api/listings/", json={"title": "Kitten", "price": "50.00", "status": status},
                  token=chef["access"])
    assert r.status_code == 201, r.text
    return r.json()


def open_thread(souk, who, **body):
    return souk.post("/api/threads/", json={"body": "hello", **body}, token=who["access"])


def test_open_reuse_and_refusals(souk):
    seller, buyer = make_chef(souk), make_user(souk)
    l = listing(souk, seller)
    r = open_thread(souk, buyer, listing_id=l["id"])
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["listing_id"] == l["id"] and t["listing"] == {"id": l["id"], "title": "Kitten",
                                                           "status": "active"}
    assert {p["id"] for p in t["participants"]} == {seller["id"], buyer["id"]}
    assert t["last_message"]["body"] == "hello" and t["unread_count"] == 0
    again = open_thread(souk, buyer, listing_id=l["id"], body="still there?")
    assert again.status_code == 201 and again.json()["id"] == t["id"]
    assert_problem(open_thread(souk, seller, listing_id=l["id"]), 400, "validation_error")
    assert_problem(open_thread(souk, buyer, recipient_id=buyer["id"]), 400, "validation_error")
    assert_problem(open_thread(souk, buyer, listing_id=l["id"], recipient_id=seller["id"]), 400,
                   "validation_error")
    draft = listing(souk, seller, status="draft")
    assert_problem(open_thread(souk, buyer, listing_id=draft["id"]), 409, "invalid_state")
    d1 = open_thread(souk, buyer, recipient_id=seller["id"])
    d2 = open_thread(souk, seller, recipient_id=buyer["id"])
    assert d1.status_code == 201 and d2.json()["id"] == d1.json()["id"] != t["id"]
    assert d1.json()["listing"] is None


def test_strangers_and_staff_get_404(souk):
    a, b = make_user(souk), make_user(souk)
    t = open_thread(souk, a, recipient_id=b["id"]).json()
    for who in (make_user(souk), make_user(souk, "MODERATOR"), make_user(souk, "ADMIN")):
        for path in (f"/api/threads/{t['id']}/", f"/api/threads/{t['id']}/messages/"):
            assert_problem(souk.get(path, token=who["access"]), 404, "not_found")
        assert_problem(souk.post(f"/api/threads/{t['id']}/messages/", json={"body": "x"},
                                 token=who["access"]), 404, "not_found")
        mid = t["last_message"]["id"]
        assert_problem(souk.delete(f"/api/messages/{mid}/", token=who["access"]), 404,
                       "not_found")


def test_deleted_message_placeholder_unread_and_read(souk):
    a, b = make_user(souk), make_user(souk)
    t = open_thread(souk, a, recipient_id=b["id"]).json()
    url = f"/api/threads/{t['id']}/"
    for body in ("two", "three"):
        assert souk.post(url + "messages/", json={"body": body}, token=a["access"]).status_code == 201
    assert_problem(souk.post(url + "messages/", json={"body": ""}, token=a["access"]), 400,
                   "validation_error")
    assert_problem(souk.post(url + "messages/", json={"body": "x" * 5001}, token=a["access"]),
                   400, "validation_error")
    assert souk.get(url, token=b["access"]).json()["unread_count"] == 3
    assert souk.get(url, token=a["access"]).json()["unread_count"] == 0
    msgs = souk.get(url + "messages/", token=b["access"]).json()["results"]
    assert [m["body"] for m in msgs] == ["three", "two", "hello"]
    assert_problem(souk.delete(f"/api/messages/{msgs[1]['id']}/", token=b["access"]), 403,
                   "forbidden")
    assert souk.delete(f"/api/messages/{msgs[1]['id']}/", token=a["access"]).status_code == 204
    assert souk.delete(f"/api/messages/{msgs[1]['id']}/", token=a["access"]).status_code == 204
    for who in (a, b):
        got = souk.get(url + "messages/", token=who["access"]).json()["results"][1]
        assert got == {"id": msgs[1]["id"], "thread_id": t["id"], "sender_id": a["id"],
                       "created_at": msgs[1]["created_at"], "deleted": True, "body": None}
    assert souk.get(url, token=b["access"]).json()["unread_count"] == 2
    r = souk.post(url + "read/", token=b["access"])
    assert r.status_code == 200 and r.json() == {"unread_count": 0}
    assert souk.get(url, token=b["access"]).json()["unread_count"] == 0
    lst = souk.get("/api/threads/", token=b["access"]).json()["results"]
    assert [x["id"] for x in lst] == [t["id"]] and lst[0]["last_message"]["body"] == "three"


def test_hide_until_new_message_and_order(souk):
    a, b, c = make_user(souk), make_user(souk), make_user(souk)
    t1 = open_thread(souk, a, recipient_id=b["id"]).json()
    t2 = open_thread(souk, a, recipient_id=c["id"]).json()
    lst = lambda: [x["id"] for x in souk.get("/api/threads/", token=a["access"]).json()["results"]]
    assert lst() == [t2["id"], t1["id"]]
    souk.post(f"/api/threads/{t1['id']}/messages/", json={"body": "up"}, token=b["access"])
    assert lst() == [t1["id"], t2["id"]]
    assert souk.delete(f"/api/threads/{t1['id']}/", token=a["access"]).status_code == 204
    assert lst() == [t2["id"]]
    assert [x["id"] for x in souk.get("/api/threads/", token=b["access"]).json()["results"]] \
        == [t1["id"]]
    souk.post(f"/api/threads/{t1['id']}/messages/", json={"body": "back"}, token=b["access"])
    assert lst() == [t1["id"], t2["id"]]
    r = souk.get("/api/threads/?page_size=1", token=a["access"]).json()
    assert len(r["results"]) == 1 and r["next"]


def test_events_reach_the_other_participant(souk):
    seller, buyer = make_chef(souk), make_user(souk)
    l = listing(souk, seller)
    stream = Stream(souk, token=seller["access"])
    try:
        assert stream.status == 200
        t = open_thread(souk, buyer, listing_id=l["id"], body="is it still here?").json()
        ev = stream.next()
        assert ev["event"] == "message.created"
        data = json.loads(ev["data"])
        assert data["payload"]["thread_id"] == t["id"]
        assert data["payload"]["body"] == "is it still here?"
        r = souk.patch(f"/api/listings/{l['id']}/", json={"status": "reserved"},
                       token=seller["access"])
        assert r.status_code == 200
        ev = stream.next()
        assert ev["event"] == "listing.updated"
        assert json.loads(ev["data"])["payload"]["status"] == "reserved"
    finally:
        stream.close()
