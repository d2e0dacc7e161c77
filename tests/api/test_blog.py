"""test_blog.py - blog posts: publication by the server's clock, drafts, slugs, staff writes
(API.md § Home services). SQLite and PostgreSQL."""

import uuid

from identity_helpers import assert_problem, make_user

PAST, FUTURE = "2026-01-01T00:00:00Z", "2099-01-01T00:00:00Z"


def test_publication_drafts_and_slugs(souk):
    mod = make_user(souk, "MODERATOR")
    tag = uuid.uuid4().hex[:8]
    r = souk.post("/api/blog/", json={"title": f"Kitchen Ideas {tag}!", "body": "# Hello\n*x*",
                                      "excerpt": "e", "published_at": PAST},
                  token=mod["access"])
    assert r.status_code == 201, r.text
    pub = r.json()
    assert pub["slug"] == f"kitchen-ideas-{tag}" and pub["body"] == "# Hello\n*x*"
    assert pub["author"]["id"] == mod["id"] and pub["published_at"].startswith("2026-01-01T")
    draft = souk.post("/api/blog/", json={"title": "Draft", "slug": f"draft-{tag}"},
                      token=mod["access"]).json()
    sched = souk.post("/api/blog/", json={"title": "Later", "slug": f"later-{tag}",
                                          "published_at": FUTURE}, token=mod["access"]).json()
    assert draft["published_at"] is None
    assert souk.get(f"/api/blog/{pub['slug']}/").status_code == 200
    for p in (draft, sched):
        assert_problem(souk.get(f"/api/blog/{p['slug']}/"), 404, "not_found")
        assert souk.get(f"/api/blog/{p['slug']}/", token=mod["access"]).status_code == 200
    public = [x["slug"] for x in souk.get("/api/blog/?page_size=100").json()["results"]]
    assert pub["slug"] in public and draft["slug"] not in public and sched["slug"] not in public
    cust = make_user(souk)
    anyone = [x["slug"] for x in souk.get("/api/blog/?drafts=true&page_size=100",
                                          token=cust["access"]).json()["results"]]
    assert draft["slug"] not in anyone
    staff = [x["slug"] for x in souk.get("/api/blog/?drafts=true&page_size=100",
                                         token=mod["access"]).json()["results"]]
    assert {pub["slug"], draft["slug"], sched["slug"]} <= set(staff)
    r = souk.post("/api/blog/", json={"title": "Again", "slug": pub["slug"]}, token=mod["access"])
    assert_problem(r, 409, "conflict")
    for bad in ("Bad Slug", "a--b", "-a", "a" * 101):
        r = souk.post("/api/blog/", json={"title": "T", "slug": bad}, token=mod["access"])
        assert_problem(r, 400, "validation_error")


def test_patch_and_delete(souk):
    admin = make_user(souk, "ADMIN")
    slug = "p-" + uuid.uuid4().hex[:8]
    souk.post("/api/blog/", json={"title": "T", "slug": slug}, token=admin["access"])
    r = souk.patch(f"/api/blog/{slug}/", json={"published_at": PAST, "title": "T2"},
                   token=admin["access"])
    assert r.status_code == 200 and r.json()["title"] == "T2"
    assert souk.get(f"/api/blog/{slug}/").json()["title"] == "T2"
    r = souk.patch(f"/api/blog/{slug}/", json={"published_at": None}, token=admin["access"])
    assert r.json()["published_at"] is None
    assert_problem(souk.get(f"/api/blog/{slug}/"), 404, "not_found")
    assert_problem(souk.patch(f"/api/blog/{slug}/", json={"title": 5}, token=admin["access"]),
                   400, "validation_error")
    vendor = make_user(souk, "VENDOR")
    assert_problem(souk.delete(f"/api/blog/{slug}/", token=vendor["access"]), 403, "forbidden")
    assert souk.delete(f"/api/blog/{slug}/", token=admin["access"]).status_code == 204
    assert_problem(souk.delete(f"/api/blog/{slug}/", token=admin["access"]), 404, "not_found")


def test_staff_writes_are_audited(souk):
    mod, admin = make_user(souk, "MODERATOR"), make_user(souk, "ADMIN")
    slug = "audited-" + uuid.uuid4().hex[:8]
    post = souk.post("/api/blog/", json={"title": "Audited", "slug": slug, "body": "abc"},
                     token=mod["access"]).json()

    def entries(action):
        r = souk.get("/api/admin/audit/", params={"action": action, "target_id": post["id"]},
                     token=admin["access"])
        assert r.status_code == 200, r.text
        return r.json()["results"]
    [created] = entries("blog.create")
    assert created["actor_id"] == mod["id"] and created["actor_role"] == "MODERATOR"
    assert created["target_type"] == "blog_post" and created["before"] is None
    assert created["after"]["slug"] == slug and created["after"]["body_length"] == 3
    r = souk.patch(f"/api/blog/{slug}/", json={"title": "Audited 2", "published_at": PAST},
                   token=admin["access"])
    assert r.status_code == 200, r.text
    [updated] = entries("blog.update")
    assert updated["actor_id"] == admin["id"]
    assert updated["before"]["title"] == "Audited" and updated["before"]["published_at"] is None
    assert updated["after"]["title"] == "Audited 2" and updated["after"]["published_at"]
    # a refused write leaves no entry
    assert_problem(souk.patch(f"/api/blog/{slug}/", json={"title": 5}, token=admin["access"]),
                   400, "validation_error")
    assert len(entries("blog.update")) == 1
    assert souk.delete(f"/api/blog/{slug}/", token=mod["access"]).status_code == 204
    [deleted] = entries("blog.delete")
    assert deleted["before"]["slug"] == slug and deleted["after"] is None


def test_created_with_explicit_null_is_a_draft(souk):
    """`published_at: null` on create is a draft, exactly like leaving it out."""
    mod = make_user(souk, "MODERATOR")
    slug = "null-" + uuid.uuid4().hex[:8]
    r = souk.post("/api/blog/", json={"title": "Null", "slug": slug, "published_at": None},
                  token=mod["access"])
    assert r.status_code == 201 and r.json()["published_at"] is None
    assert_problem(souk.get(f"/api/blog/{slug}/"), 404, "not_found")
    assert slug not in [p["slug"] for p in souk.get("/api/blog/?page_size=100").json()["results"]]
