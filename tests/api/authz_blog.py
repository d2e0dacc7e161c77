"""authz_blog.py - authorization rows for /api/blog/... Format: see test_authz_matrix.py.
Anyone reads published posts; staff (MODERATOR, ADMIN) write."""

import uuid

from authzlib import Row, all_kinds

STAFF = (401, 403, 403, 403, 403, 200, 200)


def _post(souk, callers):
    slug = "authz-" + uuid.uuid4().hex[:10]
    r = souk.post("/api/blog/", json={"title": "Authz", "slug": slug, "body": "# Hi",
                                      "published_at": "2026-01-01T00:00:00Z"},
                  token=callers["admin"]["access"])
    assert r.status_code == 201, r.text
    return {"slug": slug}


ROWS = {
    ("GET", "/api/blog/"): Row(all_kinds(200)),
    ("POST", "/api/blog/"): Row((401, 403, 403, 403, 403, 201, 201),
                                body=lambda: {"title": "Post " + uuid.uuid4().hex[:8]}),
    ("GET", "/api/blog/{slug}/"): Row(all_kinds(200), setup=_post),
    ("PATCH", "/api/blog/{slug}/"): Row(STAFF, setup=_post, body={"excerpt": "e"}),
    ("DELETE", "/api/blog/{slug}/"): Row((401, 403, 403, 403, 403, 204, 204), setup=_post,
                                         setup_each=True),
}
