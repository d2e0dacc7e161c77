"""authz_recipes.py - authorization rows for /api/recipes/... and /api/subscriptions/...
Format: see test_authz_matrix.py (loaded by load_domain_rows).

Objects: recipes belong to callers["owner"] (the chef); the recipe used for the detail row is
premium, so callers who cannot open it get 403 subscription_required. Subscriptions belong to
callers["customer"] (subscribed, still incomplete, to the owner's plan): anyone else gets 404.
"""

from authzlib import Row, all_kinds, signed_in

#            anon customer vnp owner other mod admin
OWNER_ADMIN = (401, 403, 403, 200, 403, 403, 200)
SUB_OWNER = (401, 200, 404, 404, 404, 404, 404)


def _plan(souk, callers):
    owner = callers["owner"]
    r = souk.post(f"/api/chefs/{owner['chef']['id']}/plans/", token=owner["access"],
                  json={"name": "Authz", "price": "3.00", "interval": "month", "rank": 1})
    assert r.status_code == 201, r.text
    return {"chef_id": owner["chef"]["id"], "plan_id": r.json()["id"]}


def _recipe(souk, callers):
    ctx = _plan(souk, callers)
    r = souk.post("/api/recipes/", token=callers["owner"]["access"],
                  json={"title": "Authz recipe", "is_premium": True, "ingredients": ["x"]})
    assert r.status_code == 201, r.text
    ctx["id"] = r.json()["id"]
    return ctx


def _subscription(souk, callers):
    ctx = _plan(souk, callers)
    r = souk.post("/api/subscriptions/subscribe/", token=callers["customer"]["access"],
                  json={"chef_id": ctx["chef_id"], "plan_id": ctx["plan_id"]})
    assert r.status_code == 201, r.text
    ctx["id"] = r.json()["id"]
    return ctx


def _subscribe_body(ctx):
    return {"chef_id": ctx["chef_id"], "plan_id": ctx["plan_id"]}


ROWS = {
    # recipes and the global cookbook
    ("GET", "/api/recipes/"): Row(all_kinds(200)),
    ("POST", "/api/recipes/"): Row((401, 403, 403, 201, 201, 403, 403), body={"title": "A"}),
    ("GET", "/api/recipes/global/"): Row(all_kinds(200)),
    ("GET", "/api/recipes/search/"): Row(all_kinds(200)),
    ("GET", "/api/recipes/{id}/"): Row((403, 403, 403, 200, 403, 200, 200), setup=_recipe),
    ("PUT", "/api/recipes/{id}/"): Row(OWNER_ADMIN, body={"title": "B"}, setup=_recipe),
    ("PATCH", "/api/recipes/{id}/"): Row(OWNER_ADMIN, body={"title": "C"}, setup=_recipe),
    ("DELETE", "/api/recipes/{id}/"): Row((401, 403, 403, 204, 403, 403, 204), setup=_recipe,
                                          setup_each=True),
    # subscriptions
    ("GET", "/api/subscriptions/"): Row(signed_in(200)),
    ("POST", "/api/subscriptions/subscribe/"): Row((401, 201, 201, 400, 201, 201, 201),
                                                   body=_subscribe_body, setup=_plan),
    ("GET", "/api/subscriptions/chefs/"): Row(signed_in(200)),
    ("GET", "/api/subscriptions/{id}/"): Row(SUB_OWNER, setup=_subscription),
    ("PATCH", "/api/subscriptions/{id}/"): Row((401, 409, 404, 404, 404, 404, 404),
                                               body=lambda ctx: {"plan_id": ctx["plan_id"]},
                                               setup=_subscription),
    ("POST", "/api/subscriptions/{id}/cancel/"): Row(SUB_OWNER, body={}, setup=_subscription,
                                                     setup_each=True),
    ("POST", "/api/subscriptions/{id}/resume/"): Row((401, 409, 404, 404, 404, 404, 404),
                                                     body={}, setup=_subscription),
}
