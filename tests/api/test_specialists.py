"""test_specialists.py - vendor profile categories and /api/specialists/ (API.md § Home
services), on SQLite and PostgreSQL.
"""

from identity_helpers import assert_problem, make_user
from projects_support import create_project, make_specialist


def test_categories_on_the_profile(souk):
    v = make_user(souk, "VENDOR")
    r = souk.post("/api/vendors/profile/", token=v["access"],
                  json={"business_name": "Cats", "categories": ["kitchens", "bath-rooms"]})
    assert r.status_code == 201, r.text
    assert r.json()["categories"] == ["kitchens", "bath-rooms"]
    for bad in (["Kitchens"], ["a b"], [""], ["x" * 51], [str(i) for i in range(11)], "kitchens"):
        assert_problem(souk.patch("/api/vendors/profile/", token=v["access"],
                                  json={"categories": bad}), 400, "validation_error")
    sid = r.json()["id"]
    assert souk.get(f"/api/specialists/{sid}/").status_code == 200
    r = souk.patch("/api/vendors/profile/", token=v["access"], json={"categories": []})
    assert r.status_code == 200 and r.json()["categories"] == []
    assert_problem(souk.get(f"/api/specialists/{sid}/"), 404, "not_found")


def test_specialist_fields_and_filters(souk):
    a = make_specialist(souk, categories=["zz-roofs"], city="Gabes", name="Zeta Roofing")
    b = make_specialist(souk, categories=["zz-roofs", "zz-doors"], city="GABES", name="Omega")
    create_project(souk, b)
    r = souk.get("/api/specialists/?category=zz-roofs")
    assert r.status_code == 200, r.text
    rows = r.json()["results"]
    assert [x["id"] for x in rows] == [b["profile"]["id"], a["profile"]["id"]]
    x = rows[0]
    for k in ("rating_avg", "review_count", "project_count", "completed_requests", "is_pro",
              "pro_until", "favorite_count", "is_favorite", "business_name", "categories"):
        assert k in x
    assert x["rating_avg"] is None and x["review_count"] == 0 and x["project_count"] == 1
    assert x["is_pro"] is False and x["pro_until"] is None and x["is_favorite"] is False
    ids = [s["id"] for s in souk.get("/api/specialists/?category=zz-doors").json()["results"]]
    assert ids == [b["profile"]["id"]]
    ids = [s["id"] for s in souk.get("/api/specialists/?city=gabes&category=zz-roofs")
           .json()["results"]]
    assert ids == [b["profile"]["id"], a["profile"]["id"]]
    ids = [s["id"] for s in souk.get("/api/specialists/?q=roof&category=zz-roofs")
           .json()["results"]]
    assert ids == [a["profile"]["id"]]
    ids = [s["id"] for s in souk.get("/api/specialists/?category=zz-roofs&ordering=-project_count")
           .json()["results"]]
    assert ids == [b["profile"]["id"], a["profile"]["id"]]
    ids = [s["id"] for s in souk.get("/api/specialists/?category=zz-roofs&ordering=project_count")
           .json()["results"]]
    assert ids == [a["profile"]["id"], b["profile"]["id"]]
    ids = [s["id"] for s in souk.get("/api/specialists/?category=zz-roofs&ordering=-is_pro,"
                                     "-rating_avg,review_count").json()["results"]]
    assert ids == [b["profile"]["id"], a["profile"]["id"]]  # ties: id descending
    assert souk.get("/api/specialists/?category=zz-roofs&is_pro=true").json()["results"] == []
    assert_problem(souk.get("/api/specialists/?is_pro=maybe"), 400, "validation_error")
    assert_problem(souk.get("/api/specialists/?ordering=city"), 400, "validation_error")


def test_profile_views_deduplicated(souk):
    s = make_specialist(souk)
    sid = s["profile"]["id"]
    u = make_user(souk)
    souk.get(f"/api/specialists/{sid}/", token=u["access"])
    souk.get(f"/api/specialists/{sid}/", token=u["access"])
    souk.get(f"/api/specialists/{sid}/", token=s["access"])  # the owner's: not counted
    assert souk.get(f"/api/specialists/{sid}/", token=u["access"]).json()["view_count"] == 1


def test_project_count_leaves_with_deleted_projects(souk):
    s = make_specialist(souk)
    p = create_project(souk, s).json()
    create_project(souk, s)
    sid = s["profile"]["id"]
    assert souk.get(f"/api/specialists/{sid}/").json()["project_count"] == 2
    assert souk.delete(f"/api/projects/{p['id']}/", token=s["access"]).status_code == 204
    assert souk.get(f"/api/specialists/{sid}/").json()["project_count"] == 1
