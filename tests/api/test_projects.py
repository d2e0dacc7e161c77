"""test_projects.py - projects with media, /media/ serving, favorites, views and statistics
(API.md § Home services), on SQLite and PostgreSQL.
"""

import concurrent.futures
import datetime
import hashlib

from identity_helpers import assert_problem, make_user
from projects_support import (JPEG_16, create_project, files_of, jpeg_with_gps, make_specialist,
                              media_files, png, stored, tmp_files, wait_for)

PROJECT_FIELDS = {"id", "specialist_id", "specialist", "title", "description", "category", "city",
                  "tags", "area_m2", "budget", "currency", "media", "view_count",
                  "favorite_count", "is_favorite", "is_top", "top_until", "is_detailed",
                  "detailed_until", "created_at", "updated_at"}
MEDIA_FIELDS = {"id", "kind", "content_type", "url", "thumbnail_url", "width", "height", "size",
                "position"}


def _path(url):
    return url[url.index("/media/"):]


def test_create_project_multipart(souk):
    spec = make_specialist(souk)
    r = souk.post("/api/projects/", token=spec["access"],
                  data={"title": "Kitchen", "description": "oak", "category": "kitchens",
                        "city": "Tunis", "tags": ["oak", "modern"], "area_m2": "12.5",
                        "budget": "1500.00", "currency": "eur"},
                  files=files_of(png(20, 10), JPEG_16))
    assert r.status_code == 201, r.text
    p = r.json()
    assert PROJECT_FIELDS <= set(p)
    assert p["specialist_id"] == spec["profile"]["id"]
    assert p["specialist"]["business_name"] == spec["profile"]["business_name"]
    assert p["tags"] == ["oak", "modern"] and p["area_m2"] == 12.5
    assert p["budget"] == "1500.00" and p["currency"] == "eur"
    assert [m["position"] for m in p["media"]] == [0, 1]
    m0, m1 = p["media"]
    assert MEDIA_FIELDS <= set(m0)
    assert (m0["kind"], m0["content_type"], m0["width"], m0["height"]) == ("image", "image/png",
                                                                          20, 10)
    assert (m1["content_type"], m1["width"], m1["height"]) == ("image/jpeg", 16, 16)
    assert m0["size"] == len(png(20, 10))
    assert p["view_count"] == 0 and p["is_favorite"] is False and p["is_top"] is False


def test_png_named_jpg_is_served_as_png(souk):
    spec = make_specialist(souk)
    blob = png(9, 9, seed=5)
    r = souk.post("/api/projects/", token=spec["access"], data={"title": "Sniff"},
                  files=[("media", ("photo.jpg", blob, "image/jpeg"))])
    assert r.status_code == 201, r.text
    m = r.json()["media"][0]
    assert m["content_type"] == "image/png"
    pid = r.json()["id"]
    # once the stripping job is done the file behind the URL no longer changes
    assert wait_for(lambda: souk.get(f"/api/projects/{pid}/").json()["media"][0]["thumbnail_url"])
    g = souk.get(_path(m["url"]))
    assert g.status_code == 200
    assert g.headers["Content-Type"] == "image/png"
    assert g.headers["X-Content-Type-Options"] == "nosniff"
    assert g.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    etag = g.headers["ETag"]
    assert souk.get(_path(m["url"]), headers={"If-None-Match": etag}).status_code == 304


def test_html_claiming_png_is_415_and_nothing_stored(souk):
    spec = make_specialist(souk)
    r = souk.post("/api/projects/", token=spec["access"], data={"title": "Bad"},
                  files=[("media", ("x.png", b"<!DOCTYPE html><html><body>hi</body></html>",
                                    "image/png"))])
    assert_problem(r, 415, "unsupported_media_type")
    good, truncated = png(31, 7, seed=9), png(30, 30)[:60]
    r = souk.post("/api/projects/", token=spec["access"], data={"title": "Bad"},
                  files=files_of(good, truncated))
    assert_problem(r, 415, "unsupported_media_type")
    assert stored(souk, good, truncated) == []
    assert wait_for(lambda: tmp_files(souk) == set(), timeout=5)
    assert souk.get("/api/projects/my/", token=spec["access"]).json()["results"] == []


def test_thirteen_files_is_400_and_nothing_stored(souk):
    spec = make_specialist(souk)
    blobs = [png(4, 4, seed=100 + i) for i in range(13)]
    r = create_project(souk, spec, blobs)
    assert_problem(r, 400, "validation_error")
    assert "media" in r.json()["errors"]
    assert_problem(create_project(souk, spec, []), 400, "validation_error")
    assert stored(souk, *blobs) == []
    assert souk.get("/api/projects/my/", token=spec["access"]).json()["results"] == []


def test_file_over_limit_is_413(souk_factory):
    s = souk_factory(SOUK_MEDIA_MAX_BYTES=2000)
    spec = make_specialist(s)
    big = png(400, 400, seed=3)
    assert len(big) > 2000
    r = create_project(s, spec, [big])
    assert_problem(r, 413, "payload_too_large")
    assert media_files(s) == set()
    assert create_project(s, spec, [png(4, 4)]).status_code == 201


def test_patch_adds_and_deletes_in_one_request(souk):
    spec = make_specialist(souk)
    p = create_project(souk, spec, [png(5, 5, 1), png(6, 6, 2)]).json()
    first, second = p["media"]
    r = souk.patch(f"/api/projects/{p['id']}/", token=spec["access"],
                   data={"title": "Renamed", "delete_media": [first["id"]]},
                   files=files_of(png(7, 7, 3), png(8, 8, 4)))
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["title"] == "Renamed"
    assert [m["id"] for m in q["media"]][0] == second["id"]
    assert [m["width"] for m in q["media"]] == [6, 7, 8]
    assert souk.get(_path(first["url"])).status_code == 404  # at once
    # deleting every file → 400, nothing changes
    ids = [m["id"] for m in q["media"]]
    r = souk.patch(f"/api/projects/{p['id']}/", token=spec["access"],
                   json={"delete_media": ids})
    assert_problem(r, 400, "validation_error")
    # a foreign media id → 400, the new file of that request is not kept
    other = create_project(souk, make_specialist(souk), [png(3, 3, 77)]).json()
    r = souk.patch(f"/api/projects/{p['id']}/", token=spec["access"],
                   data={"delete_media": [other["media"][0]["id"]]},
                   files=files_of(png(11, 11, 99)))
    assert_problem(r, 400, "validation_error")
    assert "delete_media" in r.json()["errors"]
    assert stored(souk, png(11, 11, 99)) == []
    assert len(souk.get(f"/api/projects/{p['id']}/").json()["media"]) == 3
    # JSON PATCH of text fields
    r = souk.patch(f"/api/projects/{p['id']}/", token=spec["access"],
                   json={"budget": None, "area_m2": 3, "tags": ["a-b"]})
    assert r.status_code == 200 and r.json()["budget"] is None and r.json()["tags"] == ["a-b"]
    assert_problem(souk.patch(f"/api/projects/{p['id']}/", token=spec["access"],
                              json={"area_m2": -1}), 400, "validation_error")


def test_delete_removes_files_and_thumbnails_made(souk):
    spec = make_specialist(souk)
    blob = png(500, 300, seed=42)
    p = create_project(souk, spec, [blob]).json()
    pid = p["id"]

    def processed():
        m = souk.get(f"/api/projects/{pid}/").json()["media"][0]
        return m if m["thumbnail_url"] else None
    m = wait_for(processed)
    assert m, "thumbnail not made"
    t = souk.get(_path(m["thumbnail_url"]))
    assert t.status_code == 200 and t.headers["Content-Type"] == "image/png"
    assert t.content[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(t.content[16:20], "big"), int.from_bytes(t.content[20:24], "big")
    assert (w, h) == (400, 240)
    served = souk.get(_path(m["url"]))
    assert served.status_code == 200
    names = {served.headers["ETag"].strip('"'), t.headers["ETag"].strip('"')}
    assert hashlib.sha256(served.content).hexdigest() in names
    assert names <= media_files(souk)
    assert souk.delete(f"/api/projects/{pid}/", token=spec["access"]).status_code == 204
    assert souk.get(_path(m["url"])).status_code == 404
    assert souk.get(f"/api/projects/{pid}/").status_code == 404
    assert wait_for(lambda: not (names & media_files(souk))), "files still on disk"


def test_exif_gone_from_served_jpeg(souk):
    spec = make_specialist(souk)
    blob = jpeg_with_gps()
    assert b"Exif" in blob and b"SoukCam" in blob
    p = create_project(souk, spec, [blob]).json()
    assert p["media"][0]["content_type"] == "image/jpeg"

    def stripped():
        m = souk.get(f"/api/projects/{p['id']}/").json()["media"][0]
        return m if m["thumbnail_url"] else None
    m = wait_for(stripped)
    assert m
    assert m["url"] == p["media"][0]["url"]  # the URL stays; the file behind it is stripped
    g = souk.get(_path(m["url"]))
    body = g.content
    assert body[:2] == b"\xff\xd8"
    assert b"Exif" not in body and b"SoukCam" not in body
    assert hashlib.sha256(body).hexdigest() == g.headers["ETag"].strip('"')
    assert hashlib.sha256(blob).hexdigest() != g.headers["ETag"].strip('"')
    assert b"Exif" not in souk.get(_path(m["thumbnail_url"])).content


def test_pdf_is_a_document(souk):
    spec = make_specialist(souk)
    pdf = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]"
           b"/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    r = create_project(souk, spec, [png(), pdf])
    assert r.status_code == 201, r.text
    d = r.json()["media"][1]
    assert (d["kind"], d["content_type"], d["width"], d["height"], d["thumbnail_url"]) == (
        "document", "application/pdf", None, None, None)


def test_twenty_concurrent_favorites_count_one(souk):
    spec = make_specialist(souk)
    p = create_project(souk, spec).json()
    fan = make_user(souk)

    def put(_):
        return souk.put(f"/api/projects/{p['id']}/favorite/", token=fan["access"])
    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        rs = list(ex.map(put, range(20)))
    assert [r.status_code for r in rs] == [200] * 20
    assert all(r.json() == {"is_favorite": True, "favorite_count": 1} for r in rs[-1:])
    d = souk.get(f"/api/projects/{p['id']}/", token=fan["access"]).json()
    assert d["favorite_count"] == 1 and d["is_favorite"] is True
    assert souk.get(f"/api/projects/{p['id']}/").json()["is_favorite"] is False
    lst = souk.get(f"/api/projects/?specialist={spec['profile']['id']}", token=fan["access"])
    assert [x["is_favorite"] for x in lst.json()["results"]] == [True]
    favs = souk.get("/api/favorites/", token=fan["access"]).json()["results"]
    assert [(f["target_type"], f["target"]["id"]) for f in favs] == [("project", p["id"])]
    assert souk.delete(f"/api/projects/{p['id']}/favorite/", token=fan["access"]).status_code == 204
    assert souk.delete(f"/api/projects/{p['id']}/favorite/", token=fan["access"]).status_code == 204
    assert souk.get(f"/api/projects/{p['id']}/").json()["favorite_count"] == 0
    assert souk.get("/api/favorites/", token=fan["access"]).json()["results"] == []
    assert_problem(souk.put(f"/api/projects/{p['id']}/favorite/"), 401, "unauthenticated")


def test_specialist_favorite(souk):
    spec = make_specialist(souk)
    fan = make_user(souk)
    sid = spec["profile"]["id"]
    for _ in range(2):
        r = souk.put(f"/api/specialists/{sid}/favorite/", token=fan["access"])
        assert r.status_code == 200 and r.json() == {"is_favorite": True, "favorite_count": 1}
    assert souk.get(f"/api/specialists/{sid}/", token=fan["access"]).json()["is_favorite"] is True
    favs = souk.get("/api/favorites/?type=specialist", token=fan["access"]).json()["results"]
    assert [f["target"]["id"] for f in favs] == [sid]
    assert souk.get("/api/favorites/?type=project", token=fan["access"]).json()["results"] == []
    assert_problem(souk.get("/api/favorites/?type=x", token=fan["access"]), 400,
                   "validation_error")
    plain = make_user(souk, "VENDOR")
    prof = souk.post("/api/vendors/profile/", token=plain["access"],
                     json={"business_name": "No categories"}).json()
    assert_problem(souk.put(f"/api/specialists/{prof['id']}/favorite/", token=fan["access"]),
                   404, "not_found")


def test_views_deduplicated_and_statistics(souk):
    spec = make_specialist(souk)
    p = create_project(souk, spec).json()
    a, b = make_user(souk), make_user(souk)
    for tok in (a["access"], a["access"], b["access"], spec["access"]):
        souk.get(f"/api/projects/{p['id']}/", token=tok)
    r = souk.get(f"/api/projects/{p['id']}/")  # anonymous: by client address
    assert r.json()["view_count"] == 3
    assert souk.get(f"/api/projects/{p['id']}/").json()["view_count"] == 3
    souk.put(f"/api/projects/{p['id']}/favorite/", token=a["access"])
    souk.get(f"/api/specialists/{spec['profile']['id']}/", token=b["access"])
    today = datetime.datetime.now(datetime.timezone.utc).date()
    st = souk.get(f"/api/projects/{p['id']}/statistics/", token=spec["access"])
    assert st.status_code == 200, st.text
    s = st.json()
    assert s["days"] == 7 and len(s["series"]) == 7
    assert s["series"][-1]["date"] == today.isoformat()
    assert s["series"][0]["date"] == (today - datetime.timedelta(days=6)).isoformat()
    assert s["series"][-1] == {"date": today.isoformat(), "views": 3, "favorites": 1,
                               "requests": 0}
    assert s["totals"] == {"views": 3, "favorites": 1, "requests": 0}
    assert all(d["views"] == 0 for d in s["series"][:-1])
    me = souk.get("/api/specialists/me/statistics/?days=30", token=spec["access"]).json()
    assert me["days"] == 30 and len(me["series"]) == 30
    assert me["totals"] == {"views": 4, "favorites": 1, "requests": 0}  # 3 project + 1 profile
    assert_problem(souk.get(f"/api/projects/{p['id']}/statistics/?days=8", token=spec["access"]),
                   400, "validation_error")
    assert_problem(souk.get(f"/api/projects/{p['id']}/statistics/", token=a["access"]), 403,
                   "forbidden")
    assert_problem(souk.get("/api/specialists/me/statistics/", token=a["access"]), 403,
                   "forbidden")


def test_list_filters_and_ordering(souk):
    spec = make_specialist(souk, city="Bizerte")
    sid = spec["profile"]["id"]
    p1 = create_project(souk, spec, title="Blue bathroom", tags=["tiles", "blue"],
                        budget="10.00").json()
    p2 = create_project(souk, spec, title="Green kitchen", tags=["tiles"],
                        budget="30.00").json()
    p3 = create_project(souk, spec, title="Red hall", category="halls", budget="20.00").json()
    base = f"/api/projects/?specialist={sid}"

    def ids(q):
        r = souk.get(base + q)
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["results"]]
    assert ids("") == [p3["id"], p2["id"], p1["id"]]
    assert ids("&ordering=budget") == [p1["id"], p3["id"], p2["id"]]
    assert ids("&ordering=-budget,created_at") == [p2["id"], p3["id"], p1["id"]]
    assert ids("&tags=tiles") == [p2["id"], p1["id"]]
    assert ids("&tags=tiles&tags=blue") == [p1["id"]]
    assert ids("&category=halls") == [p3["id"]]
    assert ids("&q=bath") == [p1["id"]]
    assert ids("&q=KITCHEN%20green") == [p2["id"]]
    assert ids("&q=itchen") == []
    assert ids("&city=tunis") == [p3["id"], p2["id"], p1["id"]]
    assert_problem(souk.get(base + "&ordering=title"), 400, "validation_error")
    assert_problem(souk.get(base + "&ordering=budget,,id"), 400, "validation_error")
    r = souk.get(base + "&page_size=2")
    assert [x["id"] for x in r.json()["results"]] == [p3["id"], p2["id"]]
    nxt = r.json()["next"]
    r2 = souk.get(nxt[nxt.index("/api/"):])
    assert [x["id"] for x in r2.json()["results"]] == [p1["id"]]
    assert r2.json()["next"] is None and r2.json()["previous"]


def test_only_specialists_create_and_owner_edits(souk):
    customer = make_user(souk)
    assert_problem(create_project(souk, customer), 403, "forbidden")
    plain = make_user(souk, "VENDOR")
    assert_problem(create_project(souk, plain), 403, "forbidden")
    spec, other = make_specialist(souk), make_specialist(souk)
    p = create_project(souk, spec).json()
    assert_problem(souk.patch(f"/api/projects/{p['id']}/", token=other["access"],
                              json={"title": "x"}), 403, "forbidden")
    assert_problem(souk.delete(f"/api/projects/{p['id']}/", token=other["access"]), 403,
                   "forbidden")
    admin = make_user(souk, "ADMIN")
    r = souk.patch(f"/api/projects/{p['id']}/", token=admin["access"], json={"title": "By admin"})
    assert r.status_code == 200 and r.json()["title"] == "By admin"
    r = souk.post("/api/projects/", token=spec["access"], json={"title": "json"})
    assert_problem(r, 415, "unsupported_media_type")
    assert_problem(create_project(souk, spec, title=""), 400, "validation_error")
