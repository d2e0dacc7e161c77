"""test_moderation_content.py - reporting and hiding content of the kinds the domains register
(listing, message, project, review, recipe) and the moderator's view of a whole thread (API.md § Listings, messaging and
moderation), on SQLite and PostgreSQL."""

import uuid

from home_support import completed_request, customer, make_project, make_specialist
from identity_helpers import assert_problem, make_chef, make_user
from test_messaging import listing, open_thread
from recipes_support import recipe
from test_moderation import audit, report

MISSING = "00000000-0000-7000-8000-000000000000"


def hide(souk, staff, target_type, target_id, hidden=True):
    return souk.post("/api/moderation/hide/", token=staff["access"],
                     json={"target_type": target_type, "target_id": target_id, "hidden": hidden,
                           "note": "rules"})


def public_ids(souk, token=None):
    r = souk.get("/api/listings/?page_size=100", token=token)
    assert r.status_code == 200, r.text
    return {x["id"] for x in r.json()["results"]}


def test_report_and_hide_a_listing(souk):
    vendor, buyer = make_chef(souk), make_user(souk)
    mod, admin = make_user(souk, "MODERATOR"), make_user(souk, "ADMIN")
    item = listing(souk, vendor)
    draft = listing(souk, vendor, status="draft")
    r = report(souk, buyer, item["id"], "listing")
    assert r.status_code == 201, r.text
    assert r.json()["target_type"] == "listing" and r.json()["status"] == "open"
    assert_problem(report(souk, buyer, item["id"], "listing"), 409, "conflict")
    # a draft is not the buyer's to see, so not to report; a missing id neither
    assert_problem(report(souk, buyer, draft["id"], "listing"), 400, "validation_error")
    assert_problem(report(souk, buyer, MISSING, "listing"), 400, "validation_error")

    r = souk.post(f"/api/moderation/reports/{r.json()['id']}/resolve/", token=mod["access"],
                  json={"action": "hide_content", "note": "scam"})
    assert r.status_code == 200, r.text
    assert item["id"] not in public_ids(souk)
    assert_problem(souk.get(f"/api/listings/{item['id']}/"), 404, "not_found")
    own = souk.get(f"/api/listings/{item['id']}/", token=vendor["access"])
    assert own.status_code == 200 and own.json()["is_hidden"] is True
    assert any(e["target_id"] == item["id"] for e in audit(souk, admin, action="content.hide"))

    r = hide(souk, mod, "listing", item["id"], hidden=False)
    assert r.status_code == 200 and r.json()["is_hidden"] is False
    assert item["id"] in public_ids(souk)
    assert_problem(hide(souk, mod, "listing", MISSING), 400, "validation_error")
    assert_problem(hide(souk, buyer, "listing", item["id"]), 403, "forbidden")


def test_report_and_hide_a_message_and_the_moderator_thread_view(souk):
    vendor, buyer, stranger = make_chef(souk), make_user(souk), make_user(souk)
    mod, admin = make_user(souk, "MODERATOR"), make_user(souk, "ADMIN")
    item = listing(souk, vendor)
    t = open_thread(souk, buyer, listing_id=item["id"])
    assert t.status_code == 201, t.text
    tid = t.json()["id"]
    r = souk.post(f"/api/threads/{tid}/messages/", json={"body": "rude words"},
                  token=vendor["access"])
    assert r.status_code == 201, r.text
    mid = r.json()["id"]

    # only participants may report a message; others do not see it
    assert_problem(report(souk, stranger, mid, "message"), 400, "validation_error")
    r = report(souk, buyer, mid, "message")
    assert r.status_code == 201, r.text
    assert hide(souk, mod, "message", mid).status_code == 200

    msgs = souk.get(f"/api/threads/{tid}/messages/", token=buyer["access"]).json()["results"]
    hidden = [m for m in msgs if m["id"] == mid][0]
    assert hidden["body"] is None and hidden["deleted"] is True and hidden["is_hidden"] is True

    # staff read the whole thread as written, oldest first; each view is audited
    assert_problem(souk.get(f"/api/moderation/threads/{tid}/", token=buyer["access"]), 403,
                   "forbidden")
    assert_problem(souk.get(f"/api/moderation/threads/{MISSING}/", token=mod["access"]), 404,
                   "not_found")
    before = len(audit(souk, admin, action="thread.view", target_id=tid))
    r = souk.get(f"/api/moderation/threads/{tid}/", token=mod["access"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["thread"]["id"] == tid
    assert [m["body"] for m in body["results"]] == ["hello", "rude words"]
    assert body["results"][1]["is_hidden"] is True and body["results"][1]["deleted_at"] is None
    after = audit(souk, admin, action="thread.view", target_id=tid)
    assert len(after) == before + 1 and after[0]["actor_id"] == mod["id"]
    page = souk.get(f"/api/moderation/threads/{tid}/?page_size=1", token=mod["access"]).json()
    assert [m["body"] for m in page["results"]] == ["hello"] and page["next"]


def test_report_and_hide_a_project(souk):
    spec, viewer, mod = make_specialist(souk), make_user(souk), make_user(souk, "MODERATOR")
    pid = make_project(souk, spec)
    r = report(souk, viewer, pid, "project")
    assert r.status_code == 201, r.text
    assert hide(souk, mod, "project", pid).status_code == 200
    assert_problem(souk.get(f"/api/projects/{pid}/"), 404, "not_found")
    listed = souk.get("/api/projects/?page_size=100").json()["results"]
    assert pid not in {p["id"] for p in listed}
    own = souk.get(f"/api/projects/{pid}/", token=spec["access"])
    assert own.status_code == 200 and own.json()["is_hidden"] is True
    # hidden, it is no longer the viewer's to report
    assert_problem(report(souk, make_user(souk), pid, "project"), 400, "validation_error")
    assert hide(souk, mod, "project", pid, hidden=False).status_code == 200
    assert souk.get(f"/api/projects/{pid}/").status_code == 200


def test_report_and_hide_a_review(souk):
    client, spec, mod = customer(souk), make_specialist(souk), make_user(souk, "MODERATOR")
    rid = completed_request(souk, client, spec)["id"]
    r = souk.post(f"/api/requests/{rid}/review/", json={"rating": 1, "text": "awful"},
                  token=client["access"])
    assert r.status_code == 201, r.text
    rv = r.json()["id"]
    r = report(souk, spec, rv, "review")
    assert r.status_code == 201, r.text
    r = souk.post(f"/api/moderation/reports/{r.json()['id']}/resolve/", token=mod["access"],
                  json={"action": "hide_content", "note": "abuse"})
    assert r.status_code == 200, r.text
    url = f"/api/specialists/{spec['vendor_id']}/reviews/"
    assert rv not in {x["id"] for x in souk.get(url).json()["results"]}
    assert hide(souk, mod, "review", rv, hidden=False).status_code == 200
    assert rv in {x["id"] for x in souk.get(url).json()["results"]}


def test_report_and_hide_a_recipe(souk):
    chef, viewer, mod = make_chef(souk), make_user(souk), make_user(souk, "MODERATOR")
    word = "zqhidden" + uuid.uuid4().hex[:8]
    rec = recipe(souk, chef, title=f"Soup {word}")
    chef_url = f"/api/chefs/{chef['chef']['id']}/"
    assert souk.get(chef_url).json()["recipe_count"] == 1
    r = report(souk, viewer, rec["id"], "recipe")
    assert r.status_code == 201, r.text
    assert hide(souk, mod, "recipe", rec["id"]).status_code == 200
    # gone from the detail, every list, the search and the chef's counts
    assert_problem(souk.get(f"/api/recipes/{rec['id']}/"), 404, "not_found")
    assert_problem(souk.get(f"/api/recipes/{rec['id']}/", token=viewer["access"]), 404,
                   "not_found")
    listed = souk.get("/api/recipes/", params={"chef_id": chef["chef"]["id"]}).json()["results"]
    assert rec["id"] not in {x["id"] for x in listed}
    assert souk.get("/api/recipes/", params={"q": word}).json()["results"] == []
    assert souk.get(chef_url).json()["recipe_count"] == 0
    # its owner and staff still see it, marked
    for who in (chef, mod):
        own = souk.get(f"/api/recipes/{rec['id']}/", token=who["access"])
        assert own.status_code == 200 and own.json()["is_hidden"] is True, own.text
    assert_problem(report(souk, make_user(souk), rec["id"], "recipe"), 400, "validation_error")
    assert hide(souk, mod, "recipe", rec["id"], hidden=False).status_code == 200
    assert souk.get(f"/api/recipes/{rec['id']}/").status_code == 200
    assert "is_hidden" not in souk.get(f"/api/recipes/{rec['id']}/").json()
    found = souk.get("/api/recipes/", params={"q": word}).json()["results"]
    assert [x["id"] for x in found] == [rec["id"]]
    assert souk.get(chef_url).json()["recipe_count"] == 1
