"""authz_orders.py - authorization rows for the catalog (/api/services/...) and the orders
(/api/orders/...) routes. Format: see test_authz_matrix.py.

Objects: services and variants belong to callers["owner"]; orders are placed by
callers["customer"] on the owner's variant. A stranger to an order gets 404 (it is private); a
party that sees it but may not act gets 403.
"""

from authzlib import Row, all_kinds
from orders_helpers import pay, wait_for

#             anon customer vnp owner other mod admin
OWNER_ONLY = (401, 403, 403, 200, 403, 403, 403)


def _service(souk, callers):
    tok = callers["owner"]["access"]
    r = souk.post("/api/services/", json={"name": "Authz service", "category": "authz"},
                  token=tok)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = souk.post(f"/api/services/{sid}/variants/", json={"name": "V", "price": "5.00",
                                                          "stock": 1000}, token=tok)
    assert r.status_code == 201, r.text
    return {"id": sid, "service_id": sid, "variant_id": r.json()["id"]}


def _variant(souk, callers):
    ctx = _service(souk, callers)
    return {"id": ctx["variant_id"], "variant_id": ctx["variant_id"]}


def _order(souk, callers):
    ctx = _service(souk, callers)
    r = souk.post("/api/orders/", json={"variant_id": ctx["variant_id"]},
                  token=callers["customer"]["access"])
    assert r.status_code == 201, r.text
    return {"id": r.json()["id"], "variant_id": ctx["variant_id"],
            "payment_url": r.json()["payment_url"]}


def _processing_order(souk, callers):
    ctx = _order(souk, callers)
    assert pay(ctx["payment_url"]).status_code == 303
    tok = callers["customer"]["access"]
    wait_for(lambda: souk.get(f"/api/orders/{ctx['id']}/", token=tok).json()["status"]
             == "processing", what="order processing")
    return ctx


ROWS = {
    # services
    ("GET", "/api/services/"): Row(all_kinds(200)),
    ("POST", "/api/services/"): Row((401, 403, 403, 201, 201, 403, 403), body={"name": "S"}),
    ("GET", "/api/services/my/"): Row((401, 403, 200, 200, 200, 403, 403)),
    ("GET", "/api/services/{id}/"): Row(all_kinds(200), setup=_service),
    ("PATCH", "/api/services/{id}/"): Row(OWNER_ONLY, body={"name": "S2"}, setup=_service),
    ("DELETE", "/api/services/{id}/"): Row((401, 403, 403, 204, 403, 403, 403),
                                           setup=_service, setup_each=True),
    # variants
    ("GET", "/api/services/{id}/variants/"): Row(all_kinds(200), setup=_service),
    ("POST", "/api/services/{id}/variants/"): Row((401, 403, 403, 201, 403, 403, 403),
                                                  body={"name": "V2", "price": "1.00",
                                                        "stock": 1},
                                                  setup=_service),
    ("PATCH", "/api/services/variants/{id}/"): Row(OWNER_ONLY, body={"stock": 7},
                                                   setup=_variant),
    ("DELETE", "/api/services/variants/{id}/"): Row((401, 403, 403, 204, 403, 403, 403),
                                                    setup=_variant, setup_each=True),
    ("GET", "/api/services/variants/{id}/availability/"): Row(all_kinds(200), setup=_variant),
    # orders
    ("POST", "/api/orders/"): Row((401, 201, 403, 403, 403, 403, 403),
                                  body=lambda ctx: {"variant_id": ctx["variant_id"]},
                                  setup=_service),
    ("GET", "/api/orders/my/"): Row((401, 200, 403, 403, 403, 403, 403)),
    ("GET", "/api/orders/vendor/"): Row((401, 403, 200, 200, 200, 403, 403)),
    ("GET", "/api/orders/{id}/"): Row((401, 200, 404, 200, 404, 404, 200), setup=_order),
    ("GET", "/api/orders/{id}/success/"): Row(all_kinds(200), setup=_order),
    ("GET", "/api/orders/{id}/cancel/"): Row(all_kinds(200), setup=_order),
    ("POST", "/api/orders/{id}/cancel/"): Row((401, 200, 404, 403, 404, 404, 403),
                                              setup=_order, setup_each=True),
    ("POST", "/api/orders/{id}/payment-link/"): Row((401, 200, 404, 403, 404, 404, 403),
                                                    setup=_order),
    ("POST", "/api/orders/{id}/complete/"): Row((401, 403, 404, 200, 404, 404, 403),
                                                setup=_processing_order),
    # the owner refunds first; the admin then finds it refunded already (409)
    ("POST", "/api/orders/{id}/refund/"): Row((401, 403, 404, 200, 404, 404, 409),
                                              setup=_processing_order),
}
