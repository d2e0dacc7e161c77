/* vendors_http.c - /api/vendors/profile/, /api/chefs/... and
 * /api/admin/vendors/{id}/verify/ handlers.
 *
 * Shape of each handler: authorize (auth/policy.h; for object-level
 * checks the object is read first) → parse (jv_*) → domain (vendors.h)
 * → respond. No SQL here.
 */
#include <string.h>

#include "audit/audit.h"
#include "auth/policy.h"
#include "core/json.h"
#include "core/money.h"
#include "db/db.h"
#include "http/http.h"
#include "projects/specialists.h"
#include "db/keyset.h"
#include "users/users.h"
#include "vendors/vendors.h"

static const char *const intervals[] = {"month", "year", NULL};

/* ---- parsing ------------------------------------------------------------------ */

/* Reads the profile fields of a body into in. business_required: create or PUT. */
static void profile_fields(struct jv *v, int business_required, struct vendor_in *in)
{
    memset(in, 0, sizeof *in);
    in->business_name = jv_str(v, "business_name", business_required ? JV_REQUIRED : 0, 1,
                               VENDOR_NAME_MAX, NULL);
    in->address = jv_str(v, "address", JV_OPTIONAL, 0, VENDOR_TEXT_MAX, NULL);
    in->bio = jv_str(v, "bio", JV_OPTIONAL, 0, VENDOR_TEXT_MAX, NULL);
    in->specialties = jv_str_array(v, "specialties", JV_OPTIONAL, VENDOR_SPECIALTIES_MAX, 1,
                                   VENDOR_NAME_MAX);
    in->city = jv_str(v, "city", JV_OPTIONAL, 0, VENDOR_NAME_MAX, NULL);
    in->categories = jv_str_array(v, "categories", JV_OPTIONAL, SPECIALIST_CATEGORIES_MAX, 1,
                                  SPECIALIST_SLUG_MAX);
    if (in->categories && !specialist_slugs_valid(in->categories))
        jv_error(v, "categories", "Each category is a slug of a-z, 0-9 and '-'.");
}

static int profile_parse(struct http_req *req, int business_required, struct vendor_in *in,
                         struct souk_errinfo *ei)
{
    struct jv v;
    json_t *body;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    jv_begin(&v, body, ei);
    profile_fields(&v, business_required, in);
    return jv_done(&v);
}

/* The body of /api/chefs/register/: user fields and profile fields. */
static int chef_parse(struct http_req *req, struct user_new *un, struct vendor_in *in,
                      struct souk_errinfo *ei)
{
    struct jv v;
    json_t *body;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    jv_begin(&v, body, ei);
    un->email = jv_str(&v, "email", JV_REQUIRED, 1, 320, NULL);
    un->password = jv_str(&v, "password", JV_REQUIRED, 1, 4096, NULL);
    un->first_name = jv_str(&v, "first_name", JV_OPTIONAL, 0, USER_NAME_MAX, "");
    un->last_name = jv_str(&v, "last_name", JV_OPTIONAL, 0, USER_NAME_MAX, "");
    profile_fields(&v, 1, in);
    return jv_done(&v);
}

/* ---- responses ---------------------------------------------------------------- */

static json_t *plans_json(struct http_req *req, const char *vendor_id, int with_inactive,
                          struct souk_errinfo *ei, int *err)
{
    struct plan *plans;
    json_t *arr;
    int n;

    if ((*err = vendors_plans(req->db, vendor_id, with_inactive, req->arena, &plans, &n, ei)))
        return NULL;
    arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, vendors_plan_to_json(&plans[i]));
    return arr;
}

/* A profile with its statistics (and plans when with_plans), as every
 * /api/chefs/ endpoint shows it. */
static json_t *chef_json_with(struct http_req *req, const struct vendor_profile *p,
                              const struct vendor_stats *st, int with_plans,
                              struct souk_errinfo *ei, int *err)
{
    json_t *j, *plans = NULL;

    *err = 0;
    if (with_plans)
        plans = plans_json(req, p->id, 0, ei, err);
    if (*err)
        return NULL;
    j = vendors_profile_to_json(p);
    json_object_set_new(j, "subscriber_count", json_integer(st->subscriber_count));
    json_object_set_new(j, "recipe_count", json_integer(st->recipe_count));
    json_object_set_new(j, "premium_recipe_count", json_integer(st->premium_recipe_count));
    if (req->user)
        json_object_set_new(j, "is_subscribed", json_boolean(st->is_subscribed));
    if (plans)
        json_object_set_new(j, "plans", plans);
    return j;
}

/* One profile (detail views): its statistics from vendors_stats. */
static json_t *chef_json(struct http_req *req, const struct vendor_profile *p, int with_plans,
                         struct souk_errinfo *ei, int *err)
{
    struct vendor_stats st;

    *err = vendors_stats(req->db, p->id, req->user ? req->user->id : NULL, &st, ei);
    return *err ? NULL : chef_json_with(req, p, &st, with_plans, ei, err);
}

/* ---- /api/vendors/profile/ ------------------------------------------------------ */

/* POST /api/vendors/profile/ */
static int profile_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    struct vendor_in in;
    int err;

    if ((err = policy_vendor(req, &ei)) || (err = profile_parse(req, 1, &in, &ei)) ||
        (err = vendors_create(req->db, req->user->id, &in, req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, vendors_profile_to_json(&p));
}

/* GET /api/vendors/profile/ */
static int profile_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    int err;

    if ((err = policy_vendor(req, &ei)) ||
        (err = vendors_get_by_user(req->db, req->user->id, req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, vendors_profile_to_json(&p));
}

/* PATCH /api/vendors/profile/ */
static int profile_patch(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    struct vendor_in in;
    int err;

    if ((err = policy_vendor(req, &ei)) ||
        (err = vendors_get_by_user(req->db, req->user->id, req->arena, &p, &ei)) ||
        (err = profile_parse(req, 0, &in, &ei)) ||
        (err = vendors_update(req->db, p.id, &in, req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, vendors_profile_to_json(&p));
}

/* ---- /api/chefs/ ----------------------------------------------------------------------- */

/* POST /api/chefs/register/ */
static int chef_register(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct user_new un = {.role = AUTH_ROLE_VENDOR};
    struct vendor_in in;
    struct vendor_profile p = {0};
    struct auth_tokens t = {0};
    struct user u = {0};
    json_t *out;
    int err;

    if ((err = policy_anyone(req, &ei)) || (err = chef_parse(req, &un, &in, &ei)))
        return http_problem(req, err, &ei);
    if ((err = vendors_register_chef(req->db, &un, &in, req->arena, &p, &u, &t, &ei)))
        return http_problem(req, err, &ei);
    out = json_pack("{s:o, s:o, s:s, s:s}", "chef", vendors_profile_to_json(&p), "user",
                    users_to_json(&u, 0), "access", t.access, "refresh", t.refresh);
    return http_json(req, 201, out);
}

/* GET /api/chefs/ */
static int chefs_list(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile *rows;
    struct vendor_stats *st;
    struct keyset ks;
    struct page pg;
    const char **ids;
    int64_t *keys;
    json_t *results;
    int err, n;

    if ((err = policy_anyone(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = keyset_from_page(&pg, 0, &ks, &ei)) ||
        (err = vendors_list(req->db, &ks, req->arena, &rows, &n, &ei)))
        return http_problem(req, err, &ei);
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    st = arena_calloc(req->arena, (size_t)n + 1, sizeof *st);
    for (int i = 0; i < n; i++)
        ids[i] = rows[i].id;
    if ((err = vendors_stats_page(req->db, ids, n, req->user ? req->user->id : NULL, st, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    for (int i = 0; i < n; i++) {
        json_t *j = chef_json_with(req, &rows[i], &st[i], 1, &ei, &err);
        if (err) {
            json_decref(results);
            return http_problem(req, err, &ei);
        }
        json_array_append_new(results, j);
        keys[i] = rows[i].created_at;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, results, keys, ids));
}

/* GET /api/chefs/{id}/ */
static int chef_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    json_t *j;
    int err;

    if ((err = policy_anyone(req, &ei)) ||
        (err = vendors_get(req->db, http_param(req, 0), req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    if (!(j = chef_json(req, &p, 1, &ei, &err)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, j);
}

/* PUT /api/chefs/{id}/ */
static int chef_put(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    struct vendor_in in;
    json_t *j;
    int err;

    if ((err = policy_user(req, &ei)) ||
        (err = vendors_get(req->db, http_param(req, 0), req->arena, &p, &ei)) ||
        (err = policy_owner_or_admin(req, p.user_id, &ei)) ||
        (err = profile_parse(req, 1, &in, &ei)) ||
        (err = vendors_update(req->db, p.id, &in, req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    if (!(j = chef_json(req, &p, 1, &ei, &err)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, j);
}

/* GET /api/chefs/{id}/plans/: active plans; the owner and ADMIN see all. */
static int chef_plans(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    json_t *plans;
    int err;

    if ((err = policy_anyone(req, &ei)) ||
        (err = vendors_get(req->db, http_param(req, 0), req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    if (!(plans = plans_json(req, p.id, policy_sees_private(req, p.user_id), &ei, &err)))
        return http_problem(req, err, &ei);
    /* a vendor has a handful of tiers: one page, in rank order */
    return http_json(req, 200, page_envelope(req, plans, NULL, NULL));
}

static int plan_parse(struct http_req *req, struct plan *in, struct souk_errinfo *ei)
{
    const char *name, *desc, *cur, *ival;
    struct jv v;
    json_t *body;
    int err;

    memset(in, 0, sizeof *in);
    if ((err = http_body_json(req, &body, ei)))
        return err;
    jv_begin(&v, body, ei);
    name = jv_str(&v, "name", JV_REQUIRED, 1, VENDOR_NAME_MAX, NULL);
    in->price = jv_money(&v, "price", JV_REQUIRED, 0, MONEY_MAX, 0);
    cur = jv_str(&v, "currency", JV_OPTIONAL, 3, 3, "usd");
    ival = jv_enum(&v, "interval", JV_REQUIRED, intervals, NULL);
    in->rank = (int)jv_int(&v, "rank", JV_OPTIONAL, 1, 1000, 1);
    desc = jv_str(&v, "description", JV_OPTIONAL, 0, VENDOR_TEXT_MAX, "");
    in->is_active = jv_bool(&v, "is_active", JV_OPTIONAL, 1);
    if (cur && !currency_valid(cur))
        jv_error(&v, "currency", "Enter a lower-case ISO 4217 currency code.");
    if ((err = jv_done(&v)))
        return err;
    in->name = name;
    in->description = desc;
    memcpy(in->currency, cur, 4);
    memcpy(in->interval, ival, strlen(ival) + 1);
    return SOUK_OK;
}

/* POST /api/chefs/{id}/plans/ (the owner) */
static int chef_plan_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    struct plan in, out;
    int err;

    if ((err = policy_user(req, &ei)) ||
        (err = vendors_get(req->db, http_param(req, 0), req->arena, &p, &ei)) ||
        (err = policy_owner(req, p.user_id, &ei)) || (err = plan_parse(req, &in, &ei)))
        return http_problem(req, err, &ei);
    memcpy(in.vendor_id, p.id, sizeof in.vendor_id);
    if ((err = vendors_plan_create(req->db, &in, req->arena, &out, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, vendors_plan_to_json(&out));
}

/* POST /api/admin/vendors/{id}/verify/ {is_verified} */
static int admin_verify(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    struct jv v;
    json_t *body;
    int err, verified;

    if ((err = policy_admin(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    verified = jv_bool(&v, "is_verified", JV_OPTIONAL, 1);
    if ((err = jv_done(&v)) ||
        (err = vendors_set_verified(req->db,
                                         &(struct audit_actor){req->user->id, "ADMIN"},
                                         http_param(req, 0), verified, req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, vendors_profile_to_json(&p));
}

void vendors_http_register(struct router *r)
{
    http_route(r, "POST", "/api/vendors/profile/", profile_post, 0,
               "Create the caller's vendor profile (VENDOR)");
    http_route(r, "GET", "/api/vendors/profile/", profile_get, 0,
               "The caller's vendor profile (VENDOR)");
    http_route(r, "PATCH", "/api/vendors/profile/", profile_patch, 0,
               "Change the caller's vendor profile (VENDOR)");
    http_route(r, "POST", "/api/chefs/register/", chef_register, 0,
               "Register a VENDOR user with a profile");
    http_route(r, "GET", "/api/chefs/", chefs_list, 0, "List chefs (vendor profiles)");
    http_route(r, "GET", "/api/chefs/{id}/", chef_get, 0, "A chef with statistics");
    http_route(r, "PUT", "/api/chefs/{id}/", chef_put, 0, "Update a chef (owner, ADMIN)");
    http_route(r, "GET", "/api/chefs/{id}/plans/", chef_plans, 0, "A chef's plans");
    http_route(r, "POST", "/api/chefs/{id}/plans/", chef_plan_post, 0,
               "Create a plan (owner)");
    http_route(r, "POST", "/api/admin/vendors/{id}/verify/", admin_verify, 0,
               "Set a vendor's verified badge (ADMIN)");
}
