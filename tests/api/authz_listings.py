"""authz_listings.py - authorization rows for /api/listings/... Format: see test_authz_matrix.py.

Objects: listings belong to callers["owner"]. A draft is seen by its owner and staff only, so
other callers get 404 on it; staff other than ADMIN see it but may not change it (403)."""

from authzlib import Row, all_kinds


def _listing(souk, callers, status="active"):
    r = souk.post("/api/listings/", json={"title": "Authz listing", "price": "5.00",
                                          "status": status, "attributes": {"k": 1}},
                  token=callers["owner"]["access"])
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _draft(souk, callers):
    return _listing(souk, callers, "draft")


ROWS = {
    ("GET", "/api/listings/"): Row(all_kinds(200)),
    ("POST", "/api/listings/"): Row((401, 403, 403, 201, 201, 403, 403),
                                    body={"title": "L", "price": "1.00"}),
    ("GET", "/api/listings/my/"): Row((401, 403, 200, 200, 200, 403, 403)),
    ("GET", "/api/listings/{id}/"): Row(all_kinds(200), setup=_listing),
    ("PATCH", "/api/listings/{id}/"): Row((401, 403, 403, 200, 403, 403, 200),
                                          body={"title": "L2"}, setup=_listing),
    ("DELETE", "/api/listings/{id}/"): Row((401, 404, 404, 204, 404, 403, 204), setup=_draft,
                                           setup_each=True),
}
