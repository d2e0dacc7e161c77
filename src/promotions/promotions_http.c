/* promotions_http.c - handlers of /api/promotions/... and
 * /api/admin/promotions/products/{product}/ (API.md § Home services).
 * Promotions are private to their owner: another's is a 404.
 *
 * Thread safety: handlers keep everything in the request.
 */
#include <string.h>

#include "audit/audit.h"
#include "auth/policy.h"
#include "core/json.h"
#include "core/money.h"
#include "db/keyset.h"
#include "http/http.h"
#include "promotions/promotions.h"

static const char *const PRODUCTS[] = {"TOP", "DETAILED", "PRO", NULL};

/* GET /api/promotions/products/ */
static int products_index(struct http_req *req)
{
    struct promotion_product pp[PROMOTION_PRODUCTS];
    struct souk_errinfo ei = {0};
    json_t *results;
    int err, n = 0;

    if ((err = policy_anyone(req, &ei)) || (err = promotions_products(req->db, pp, &n, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(results, promotions_product_to_json(&pp[i]));
    return http_json(req, 200, page_envelope(req, results, NULL, NULL));
}

/* PATCH /api/admin/promotions/products/{product}/ {price, duration_days, is_active} */
static int product_patch(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct promotion_product_in in = {0};
    struct promotion_product out;
    json_t *body;
    struct jv v;
    int err;

    if ((err = policy_admin(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    in.has_price = jv_has(&v, "price");
    in.price = jv_money(&v, "price", JV_OPTIONAL, 1, MONEY_MAX, 0);
    in.has_duration = jv_has(&v, "duration_days");
    in.duration_days =
        (int)jv_int(&v, "duration_days", JV_OPTIONAL, 1, PROMOTION_DURATION_MAX_DAYS, 0);
    in.has_active = jv_has(&v, "is_active");
    in.is_active = jv_bool(&v, "is_active", JV_OPTIONAL, 0);
    if ((err = jv_done(&v)) ||
        (err = promotions_product_update(
                    req->db, &(struct audit_actor){req->user->id, "ADMIN"}, http_param(req, 0),
                    &in, &out, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, promotions_product_to_json(&out));
}

/* POST /api/promotions/ {product, project_id} */
static int promotions_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    char project_id[37] = "";
    const char *product;
    struct promotion p;
    json_t *body;
    struct jv v;
    int err;

    if ((err = policy_vendor(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    product = jv_enum(&v, "product", JV_REQUIRED, PRODUCTS, NULL);
    jv_uuid(&v, "project_id", JV_OPTIONAL | JV_NULLABLE, project_id);
    if ((err = jv_done(&v)) ||
        (err = promotions_create(req->db, req->user->id, product, project_id, req->arena, &p,
                                 &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, promotions_to_json(&p));
}

/* GET /api/promotions/?status= */
static int promotions_index(struct http_req *req)
{
    static const char *const statuses[] = {"pending", "active", "expired", "cancelled", NULL};
    struct souk_errinfo ei = {0};
    const char *status = http_query(req, "status");
    struct promotion *rows;
    struct keyset ks;
    struct page pg;
    const char **ids;
    int64_t *keys;
    json_t *results;
    int err, n = 0, ok = !status;

    for (int i = 0; status && statuses[i]; i++)
        ok |= strcmp(status, statuses[i]) == 0;
    if (!ok) {
        souk_errinfo_field(&ei, "status", "Not a promotion status.");
        return http_problem(req, souk_fail(&ei, SOUK_INVALID, "Invalid filter."), &ei);
    }
    if ((err = policy_user(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = keyset_from_page(&pg, 0, &ks, &ei)) ||
        (err = promotions_list(req->db, req->user->id, status, &ks, req->arena, &rows, &n, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(results, promotions_to_json(&rows[i]));
        keys[i] = rows[i].created_at;
        ids[i] = rows[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, results, keys, ids));
}

/* GET /api/promotions/{id}/ */
static int promotion_show(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct promotion p;
    int err;

    if ((err = policy_user(req, &ei)) ||
        (err = promotions_get(req->db, http_param(req, 0), req->user->id, req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, promotions_to_json(&p));
}

/* POST /api/promotions/{id}/cancel/ */
static int promotion_cancel(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct promotion p;
    int err;

    if ((err = policy_user(req, &ei)) ||
        (err = promotions_cancel(req->db, http_param(req, 0), req->user->id, req->arena, &p,
                                 &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, promotions_to_json(&p));
}

void promotions_http_register(struct router *r)
{
    http_route(r, "GET", "/api/promotions/products/", products_index, 0,
               "promotion products and their prices");
    http_route(r, "PATCH", "/api/admin/promotions/products/{product}/", product_patch, ROUTE_AUTH,
               "change a promotion product (ADMIN)");
    http_route(r, "POST", "/api/promotions/", promotions_post, ROUTE_AUTH | ROUTE_PROVIDER,
               "buy a promotion (specialist)");
    http_route(r, "GET", "/api/promotions/", promotions_index, ROUTE_AUTH,
               "the caller's promotions, newest first");
    http_route(r, "GET", "/api/promotions/{id}/", promotion_show, ROUTE_AUTH, "one promotion");
    http_route(r, "POST", "/api/promotions/{id}/cancel/", promotion_cancel, ROUTE_AUTH,
               "cancel a pending promotion");
}
