/* catalog_http.c - /api/services/... handlers: services, variants and
 * availability.
 *
 * Shape of each handler: authorize (auth/policy.h; for object-level checks
 * the object and its vendor profile are read first) → parse (jv_*) →
 * domain (catalog.h) → respond. No SQL here. The vendor's display name comes
 * from src/vendors through its header.
 *
 * Thread safety: handlers keep everything in the request.
 */
#include <string.h>

#include "auth/policy.h"
#include "catalog/catalog.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "http/http.h"
#include "db/keyset.h"
#include "vendors/vendors.h"

/* ---- parsing ------------------------------------------------------------------ */

static int service_parse(struct http_req *req, int create, struct service_in *in,
                         struct souk_errinfo *ei)
{
    struct jv v;
    json_t *body;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    jv_begin(&v, body, ei);
    in->name = jv_str(&v, "name", create ? JV_REQUIRED : 0, 1, CATALOG_NAME_MAX, NULL);
    in->description = jv_str(&v, "description", 0, 0, CATALOG_TEXT_MAX, NULL);
    in->category = jv_str(&v, "category", 0, 0, CATALOG_NAME_MAX, NULL);
    return jv_done(&v);
}

static int variant_parse(struct http_req *req, int create, struct variant_in *in,
                         struct souk_errinfo *ei)
{
    struct jv v;
    json_t *body;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    jv_begin(&v, body, ei);
    in->name = jv_str(&v, "name", create ? JV_REQUIRED : 0, 1, CATALOG_NAME_MAX, NULL);
    in->price = jv_money(&v, "price", create ? JV_REQUIRED : 0, 1, MONEY_MAX, -1);
    in->currency = jv_str(&v, "currency", 0, 3, 3, NULL);
    if (in->currency && !currency_valid(in->currency))
        jv_error(&v, "currency", "Expected a lower-case ISO 4217 code such as \"usd\".");
    in->estimated_minutes = jv_int(&v, "estimated_minutes", 0, 0, CATALOG_MINUTES_MAX, -1);
    in->stock = jv_int(&v, "stock", 0, 0, CATALOG_STOCK_MAX, -1);
    return jv_done(&v);
}

/* ---- who owns what -------------------------------------------------------------- */

/* The caller's own vendor profile (a VENDOR without one: 403). */
static int my_profile(struct http_req *req, struct vendor_profile *p, struct souk_errinfo *ei)
{
    int err = policy_vendor(req, ei);

    if (err)
        return err;
    err = vendors_get_by_user(req->db, req->user->id, req->arena, p, ei);
    if (err == SOUK_NOT_FOUND) {
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        return souk_fail(ei, SOUK_FORBIDDEN, "Create your vendor profile first.");
    }
    return err;
}

/* Reads the service, names its vendor, and (when must_own) checks that the
 * caller owns it. */
static int service_load(struct http_req *req, const char *id, int must_own, struct service *s,
                        struct souk_errinfo *ei)
{
    struct vendor_profile p;
    int err;

    if ((err = policy_anyone(req, ei)) ||
        (err = catalog_service_get(req->db, id, req->arena, s, ei)) ||
        (err = vendors_get(req->db, s->vendor_id, req->arena, &p, ei)))
        return err;
    s->vendor_name = p.business_name;
    return must_own ? policy_owner(req, p.user_id, ei) : 0;
}

/* The variant, checking that the caller owns its service. */
static int variant_owned(struct http_req *req, struct variant *v, struct souk_errinfo *ei)
{
    struct vendor_profile p;
    char vendor_id[37];
    int err;

    if ((err = policy_user(req, ei)) ||
        (err = catalog_variant_get(req->db, http_param(req, 0), req->arena, v, vendor_id, ei)) ||
        (err = vendors_get(req->db, vendor_id, req->arena, &p, ei)))
        return err;
    return policy_owner(req, p.user_id, ei);
}

/* Fills vendor_name of every service, one vendors_get per distinct vendor. */
static int name_vendors(struct http_req *req, struct service *s, int n, struct souk_errinfo *ei)
{
    for (int i = 0; i < n; i++) {
        struct vendor_profile p;
        int err;

        for (int k = 0; k < i && !s[i].vendor_name; k++)
            if (strcmp(s[k].vendor_id, s[i].vendor_id) == 0)
                s[i].vendor_name = s[k].vendor_name;
        if (s[i].vendor_name)
            continue;
        if ((err = vendors_get(req->db, s[i].vendor_id, req->arena, &p, ei)))
            return err;
        s[i].vendor_name = p.business_name;
    }
    return 0;
}

/* ---- services ------------------------------------------------------------------- */

static int list_respond(struct http_req *req, const struct service_filter *f, struct page *pg,
                        struct souk_errinfo *ei)
{
    struct service *rows;
    struct keyset ks;
    const char **ids;
    int64_t *keys;
    json_t *results;
    int err, n;

    if ((err = keyset_from_page(pg, 0, &ks, ei)) ||
        (err = catalog_service_list(req->db, f, &ks, req->arena, &rows, &n, ei)) ||
        (err = name_vendors(req, rows, n, ei)))
        return http_problem(req, err, ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(results, catalog_service_to_json(&rows[i]));
        keys[i] = rows[i].created_at;
        ids[i] = rows[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, pg, &ks, results, keys, ids));
}

/* GET /api/services/?vendor=&category=&q= */
static int services_list(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct service_filter f = {0};
    char vendor[UUID_STR_LEN];
    struct page pg;
    int err;

    if ((err = policy_anyone(req, &ei)) || (err = page_parse(req, &pg, &ei)))
        return http_problem(req, err, &ei);
    f.vendor_id = http_query(req, "vendor");
    f.category = http_query(req, "category");
    f.q = http_query(req, "q");
    if (f.vendor_id && !*f.vendor_id)
        f.vendor_id = NULL;
    if (f.vendor_id && uuid_normalize(f.vendor_id, vendor)) /* no such vendor */
        return http_json(req, 200, page_envelope(req, json_array(), NULL, NULL));
    if (f.vendor_id)
        f.vendor_id = vendor;
    if (f.category && !*f.category)
        f.category = NULL;
    if (f.q && !*f.q)
        f.q = NULL;
    return list_respond(req, &f, &pg, &ei);
}

/* GET /api/services/my/ */
static int services_my(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct service_filter f = {0};
    struct vendor_profile p;
    struct page pg;
    int err;

    if ((err = policy_vendor(req, &ei)) || (err = page_parse(req, &pg, &ei)))
        return http_problem(req, err, &ei);
    err = vendors_get_by_user(req->db, req->user->id, req->arena, &p, &ei);
    if (err == SOUK_NOT_FOUND) {
        souk_errinfo_cleanup(&ei);
        return http_json(req, 200, page_envelope(req, json_array(), NULL, NULL));
    }
    if (err)
        return http_problem(req, err, &ei);
    f.vendor_id = p.id;
    return list_respond(req, &f, &pg, &ei);
}

/* POST /api/services/ */
static int services_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    struct service_in in;
    struct service s;
    int err;

    if ((err = my_profile(req, &p, &ei)) || (err = service_parse(req, 1, &in, &ei)) ||
        (err = catalog_service_create(req->db, p.id, &in, req->arena, &s, &ei)))
        return http_problem(req, err, &ei);
    s.vendor_name = p.business_name;
    return http_json(req, 201, catalog_service_to_json(&s));
}

/* GET /api/services/{id}/ */
static int service_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct service s;
    int err;

    if ((err = service_load(req, http_param(req, 0), 0, &s, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, catalog_service_to_json(&s));
}

/* PATCH /api/services/{id}/ */
static int service_patch(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct service_in in;
    struct service s;
    const char *name;
    int err;

    if ((err = service_load(req, http_param(req, 0), 1, &s, &ei)) ||
        (err = service_parse(req, 0, &in, &ei)))
        return http_problem(req, err, &ei);
    name = s.vendor_name;
    if ((err = catalog_service_update(req->db, s.id, &in, req->arena, &s, &ei)))
        return http_problem(req, err, &ei);
    s.vendor_name = name;
    return http_json(req, 200, catalog_service_to_json(&s));
}

/* DELETE /api/services/{id}/ */
static int service_delete(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct service s;
    int err;

    if ((err = service_load(req, http_param(req, 0), 1, &s, &ei)) ||
        (err = catalog_service_delete(req->db, s.id, &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

/* ---- variants ------------------------------------------------------------------- */

/* GET /api/services/{id}/variants/ (all of them: a service has few) */
static int variants_list(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct service s;
    json_t *arr;
    int err;

    if ((err = service_load(req, http_param(req, 0), 0, &s, &ei)))
        return http_problem(req, err, &ei);
    arr = json_array();
    for (int i = 0; i < s.nvariants; i++)
        json_array_append_new(arr, catalog_variant_to_json(&s.variants[i]));
    return http_json(req, 200, page_envelope(req, arr, NULL, NULL));
}

/* POST /api/services/{id}/variants/ */
static int variants_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct variant_in in;
    struct service s;
    struct variant v;
    int err;

    if ((err = service_load(req, http_param(req, 0), 1, &s, &ei)) ||
        (err = variant_parse(req, 1, &in, &ei)) ||
        (err = catalog_variant_create(req->db, s.id, &in, req->arena, &v, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, catalog_variant_to_json(&v));
}

/* PATCH /api/services/variants/{id}/ */
static int variant_patch(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct variant_in in;
    struct variant v;
    int err;

    if ((err = variant_owned(req, &v, &ei)) || (err = variant_parse(req, 0, &in, &ei)) ||
        (err = catalog_variant_update(req->db, v.id, &in, req->arena, &v, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, catalog_variant_to_json(&v));
}

/* DELETE /api/services/variants/{id}/ */
static int variant_delete(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct variant v;
    int err;

    if ((err = variant_owned(req, &v, &ei)) || (err = catalog_variant_delete(req->db, v.id, &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

/* GET /api/services/variants/{id}/availability/ */
static int variant_availability(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct variant v;
    int err;

    if ((err = policy_anyone(req, &ei)) ||
        (err = catalog_variant_get(req->db, http_param(req, 0), req->arena, &v, NULL, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200,
                     json_pack("{s:s, s:I, s:b}", "variant_id", v.id, "stock",
                               (json_int_t)v.stock, "available", v.stock > 0));
}

void catalog_http_register(struct router *r)
{
    http_route(r, "GET", "/api/services/", services_list, 0, "list services");
    http_route(r, "POST", "/api/services/", services_post, ROUTE_AUTH, "create a service");
    http_route(r, "GET", "/api/services/my/", services_my, ROUTE_AUTH, "the caller's services");
    http_route(r, "GET", "/api/services/{id}/", service_get, 0, "a service with its variants");
    http_route(r, "PATCH", "/api/services/{id}/", service_patch, ROUTE_AUTH, "update a service");
    http_route(r, "DELETE", "/api/services/{id}/", service_delete, ROUTE_AUTH,
               "delete a service without orders");
    http_route(r, "GET", "/api/services/{id}/variants/", variants_list, 0,
               "variants of a service");
    http_route(r, "POST", "/api/services/{id}/variants/", variants_post, ROUTE_AUTH,
               "add a variant");
    http_route(r, "PATCH", "/api/services/variants/{id}/", variant_patch, ROUTE_AUTH,
               "update a variant");
    http_route(r, "DELETE", "/api/services/variants/{id}/", variant_delete, ROUTE_AUTH,
               "delete a variant without orders");
    http_route(r, "GET", "/api/services/variants/{id}/availability/", variant_availability, 0,
               "stock of a variant");
}
