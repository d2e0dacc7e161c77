/* subscriptions_http.c - /api/subscriptions/... (API.md § Subscriptions):
 * parse -> authorize (policy) -> the domain (actions.c) -> respond.
 *
 * Another user's subscription answers 404, as if it did not exist.
 */
#include <stdio.h>
#include <string.h>

#include "auth/policy.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "db/db.h"
#include "http/http.h"
#include "subscriptions/internal.h"
#include "db/keyset.h"
#include "vendors/vendors.h"

static const char *const STATUSES[] = {"incomplete", "active",  "past_due",
                                       "canceled",   "expired", NULL};

/* ---- lists -------------------------------------------------------------------------- */

static int status_param(struct http_req *req, const char **out, struct souk_errinfo *ei)
{
    const char *s = http_query(req, "status");

    *out = NULL;
    if (!s || !*s)
        return 0;
    for (int i = 0; STATUSES[i]; i++)
        if (!strcmp(s, STATUSES[i]))
            return *out = s, 0;
    if (!strcmp(s, "all"))
        return *out = s, 0;
    souk_errinfo_field(ei, "status", "Unknown status.");
    return souk_fail(ei, SOUK_INVALID, "Unknown status.");
}

/* GET /api/subscriptions/ */
static int subs_list(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct subs_list la = {0};
    struct page pg;
    struct keyset ks;
    json_t *results;
    int64_t *keys;
    const char **ids;
    int err;

    if ((err = policy_user(req, &ei)) || (err = status_param(req, &la.status, &ei)) ||
        (err = page_parse(req, &pg, &ei)) || (err = keyset_from_page(&pg, 0, &ks, &ei)))
        return http_problem(req, err, &ei);
    la.user_id = req->user->id;
    la.ks = &ks;
    la.a = req->arena;
    if ((err = subs_list_mine(req->db, &la, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)la.n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)la.n + 1, sizeof *ids);
    for (int i = 0; i < la.n; i++) {
        json_array_append_new(results, subscriptions_to_json(&la.rows[i]));
        keys[i] = la.rows[i].created_at;
        ids[i] = la.rows[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, results, keys, ids));
}

/* GET /api/subscriptions/chefs/: the chefs the caller's subscriptions open now. */
static int subs_chefs(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct keyset ks = {.limit = 1000};
    struct subs_list la = {0};
    json_t *results;
    int err;

    if ((err = policy_user(req, &ei)))
        return http_problem(req, err, &ei);
    la.user_id = req->user->id;
    la.ks = &ks;
    la.a = req->arena;
    if ((err = subs_list_mine(req->db, &la, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    for (int i = 0; i < la.n; i++) {
        struct vendor_profile p;
        json_t *j;
        if (vendors_get(req->db, la.rows[i].chef_id, req->arena, &p, &ei)) {
            souk_errinfo_cleanup(&ei);
            memset(&ei, 0, sizeof ei);
            continue; /* deleted meanwhile */
        }
        j = vendors_profile_to_json(&p);
        json_object_set_new(j, "subscription", subscriptions_to_json(&la.rows[i]));
        json_array_append_new(results, j);
    }
    return http_json(req, 200, page_envelope(req, results, NULL, NULL));
}

/* ---- one subscription ----------------------------------------------------------------- */

/* GET /api/subscriptions/{id}/ */
static int subs_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct subscription s;
    int err;

    if ((err = policy_user(req, &ei)) ||
        (err = subs_get_mine(req->db, http_param(req, 0), req->user->id, req->arena, &s, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, subscriptions_to_json(&s));
}

/* Runs an owner action and answers the subscription. */
static int action(struct http_req *req,
                  int (*fn)(struct db *, struct subs_action *, struct souk_errinfo *),
                  struct subs_action *in, struct souk_errinfo *ei)
{
    int err;

    in->user_id = req->user->id;
    in->id = http_param(req, 0);
    in->arena = req->arena;
    if ((err = fn(req->db, in, ei)))
        return http_problem(req, err, ei);
    return http_json(req, 200, subscriptions_to_json(&in->out));
}

/* PATCH /api/subscriptions/{id}/ {plan_id} */
static int subs_patch(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct subs_action in = {0};
    char plan[37];
    json_t *body;
    struct jv v;
    int err;

    if ((err = policy_user(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    jv_uuid(&v, "plan_id", JV_REQUIRED, plan);
    if ((err = jv_done(&v)))
        return http_problem(req, err, &ei);
    in.plan_id = plan;
    return action(req, subs_change_plan, &in, &ei);
}

/* POST /api/subscriptions/{id}/cancel/ {immediately} */
static int cancel_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct subs_action in = {0};
    json_t *body;
    struct jv v;
    int err;

    if ((err = policy_user(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    in.immediately = jv_bool(&v, "immediately", JV_OPTIONAL, 0);
    if ((err = jv_done(&v)))
        return http_problem(req, err, &ei);
    return action(req, subs_cancel, &in, &ei);
}

/* POST /api/subscriptions/{id}/resume/ */
static int resume_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct subs_action in = {0};
    int err;

    if ((err = policy_user(req, &ei)))
        return http_problem(req, err, &ei);
    return action(req, subs_resume, &in, &ei);
}

/* POST /api/subscriptions/subscribe/ {chef_id, plan_id} */
static int subs_subscribe(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct subs_subscribe in = {0};
    char chef[37], plan[37];
    json_t *body, *out;
    struct jv v;
    int err;

    if ((err = policy_user(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    jv_uuid(&v, "chef_id", JV_REQUIRED, chef);
    jv_uuid(&v, "plan_id", JV_REQUIRED, plan);
    if ((err = jv_done(&v)))
        return http_problem(req, err, &ei);
    in = (struct subs_subscribe){
        .user_id = req->user->id, .chef_id = chef, .plan_id = plan, .arena = req->arena};
    if ((err = subs_subscribe_open(req->db, &in, &ei)))
        return http_problem(req, err, &ei);
    out = subscriptions_to_json(&in.out);
    if (in.have_checkout)
        json_object_set_new(out, "checkout_expires_at", json_time(in.cs.expires_at));
    return http_json(req, 201, out);
}

/* GET /api/chefs/{id}/subscribers/: the count; the subscribers too for the
 * chef and ADMIN. */
static int chef_subscribers(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    int64_t count = 0;
    json_t *list = NULL, *out;
    int err;

    if ((err = policy_anyone(req, &ei)) ||
        (err = vendors_get(req->db, http_param(req, 0), req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    if ((err = subs_subscribers(req->db, p.id, policy_sees_private(req, p.user_id), &count,
                                &list, &ei)))
        return http_problem(req, err, &ei);
    out = json_pack("{s:I}", "subscriber_count", (json_int_t)count);
    if (list)
        json_object_set_new(out, "results", list);
    return http_json(req, 200, out);
}

void subscriptions_http_register(struct router *r)
{
    http_route(r, "GET", "/api/chefs/{id}/subscribers/", chef_subscribers, 0,
               "Subscriber count (and subscribers for the owner and ADMIN)");
    http_route(r, "GET", "/api/subscriptions/", subs_list, 0,
               "The caller's subscriptions (granting access now; ?status=S|all)");
    http_route(r, "POST", "/api/subscriptions/subscribe/", subs_subscribe, ROUTE_PROVIDER,
               "Subscribe to a chef's plan: an incomplete subscription and its checkout");
    http_route(r, "GET", "/api/subscriptions/chefs/", subs_chefs, 0,
               "Chefs the caller is subscribed to");
    http_route(r, "GET", "/api/subscriptions/{id}/", subs_get, 0,
               "One of the caller's subscriptions");
    http_route(r, "PATCH", "/api/subscriptions/{id}/", subs_patch, 0,
               "Change tier (upgrade now, downgrade at renewal)");
    http_route(r, "POST", "/api/subscriptions/{id}/cancel/", cancel_post, 0,
               "Cancel at period end, or immediately");
    http_route(r, "POST", "/api/subscriptions/{id}/resume/", resume_post, 0,
               "Undo a pending cancel");
}
