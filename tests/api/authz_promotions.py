"""authz_promotions.py - authorization rows for /api/promotions/... and
/api/admin/promotions/products/{product}/. Format: see test_authz_matrix.py.

callers["owner"] is made a specialist and buys the promotions (PRO: its own profile); a
promotion is private to its owner (another's is 404). callers["other"] has a vendor profile
without categories, so it is not a specialist (403 on buying).
"""

from authzlib import Row, admin_only, all_kinds, signed_in
from home_support import specialize

OWNER = (401, 404, 404, 200, 404, 404, 404)


def _promotion(souk, callers):
    specialize(souk, callers["owner"])
    r = souk.post("/api/promotions/", json={"product": "PRO"}, token=callers["owner"]["access"])
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"]}


def _specialist(souk, callers):
    specialize(souk, callers["owner"])
    return {}


ROWS = {
    ("GET", "/api/promotions/products/"): Row(all_kinds(200)),
    ("PATCH", "/api/admin/promotions/products/{product}/"): Row(
        admin_only(200), params={"product": "DETAILED"}, body={"duration_days": 7}),
    ("POST", "/api/promotions/"): Row((401, 403, 403, 201, 403, 403, 403), setup=_specialist,
                                      body={"product": "PRO"}),
    ("GET", "/api/promotions/"): Row(signed_in(200)),
    ("GET", "/api/promotions/{id}/"): Row(OWNER, setup=_promotion),
    ("POST", "/api/promotions/{id}/cancel/"): Row(OWNER, setup=_promotion, setup_each=True),
}
