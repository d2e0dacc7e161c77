/* subscriptions_http.c - /api/subscriptions/... (API.md § Subscriptions):
 * parse -> authorize (policy) -> the domain in a transaction -> respond.
 *
 * Another user's subscription answers 404, as if it did not exist.
 */
#include <stdio.h>
#include <string.h>

#include "auth/policy.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
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
    if ((err = db_run(req->db, subs_list_rows, &la, &ei)))
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
    if ((err = db_run(req->db, subs_list_rows, &la, &ei)))
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

struct get_args {
    const char *id;
    struct arena *a;
    struct subscription s;
};

static int get_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct get_args *g = arg;

    return subs_load(c, g->id, 0, g->a, &g->s, ei);
}

/* GET /api/subscriptions/{id}/ */
static int subs_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct get_args g = {.id = http_param(req, 0), .a = req->arena};
    int err;

    if ((err = policy_user(req, &ei)) || (err = db_run(req->db, get_fn, &g, &ei)))
        return http_problem(req, err, &ei);
    if (strcmp(g.s.user_id, req->user->id))
        return http_problem(req, souk_fail(&ei, SOUK_NOT_FOUND, "No such subscription."), &ei);
    return http_json(req, 200, subscriptions_to_json(&g.s));
}

/* Runs an owner action and answers the subscription. */
static int action(struct http_req *req, db_tx_fn fn, struct subs_action *in,
                  struct souk_errinfo *ei)
{
    int err;

    in->user_id = req->user->id;
    in->id = http_param(req, 0);
    in->arena = req->arena;
    if ((err = db_tx_run(req->db, fn, in, ei)))
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
    return action(req, subs_change_plan_tx, &in, &ei);
}

/* POST /api/subscriptions/{id}/cancel/ {immediately} */
static int subs_cancel(struct http_req *req)
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
    return action(req, subs_cancel_tx, &in, &ei);
}

/* POST /api/subscriptions/{id}/resume/ */
static int subs_resume(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct subs_action in = {0};
    int err;

    if ((err = policy_user(req, &ei)))
        return http_problem(req, err, &ei);
    return action(req, subs_resume_tx, &in, &ei);
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
    if ((err = db_tx_run(req->db, subs_subscribe_tx, &in, &ei)))
        return http_problem(req, err, &ei);
    if (in.have_checkout) {
        if ((err = payments_checkout_open(req->db, &in.cs, &ei)) ||
            (err = db_run(req->db, subs_set_checkout_url, &in, &ei)))
            return http_problem(req, err, &ei);
        in.out.checkout_url = in.cs.url;
    }
    out = subscriptions_to_json(&in.out);
    if (in.have_checkout)
        json_object_set_new(out, "checkout_expires_at", json_time(in.cs.expires_at));
    return http_json(req, 201, out);
}

struct subscribers_args {
    const char *chef_id;
    int with_list;
    int64_t count;
    json_t *out;
};

static int subscribers_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct subscribers_args *s = arg;
    int err = subscriptions_count_for_chef(c, s->chef_id, &s->count, ei);

    if (!err && s->with_list) /* the newest 100 subscribers */
        err = subscriptions_list_subscribers(c, s->chef_id, 100, &s->out, ei);
    return err;
}

/* GET /api/chefs/{id}/subscribers/: the count; the subscribers too for the
 * chef and ADMIN. */
static int chef_subscribers(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct vendor_profile p;
    struct subscribers_args sa = {0};
    json_t *out;
    int err;

    if ((err = policy_anyone(req, &ei)) ||
        (err = vendors_get(req->db, http_param(req, 0), req->arena, &p, &ei)))
        return http_problem(req, err, &ei);
    sa.chef_id = p.id;
    sa.with_list = policy_sees_private(req, p.user_id);
    if ((err = db_run(req->db, subscribers_fn, &sa, &ei)))
        return http_problem(req, err, &ei);
    out = json_pack("{s:I}", "subscriber_count", (json_int_t)sa.count);
    if (sa.out)
        json_object_set_new(out, "results", sa.out);
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
    http_route(r, "POST", "/api/subscriptions/{id}/cancel/", subs_cancel, 0,
               "Cancel at period end, or immediately");
    http_route(r, "POST", "/api/subscriptions/{id}/resume/", subs_resume, 0,
               "Undo a pending cancel");
}

/* subscriber_count and is_subscribed of vendor statistics (vendors.h). */
static int fill_stats(struct db_conn *c, const char *const *ids, int n, const char *viewer,
                      struct vendor_stats *out, struct souk_errinfo *ei)
{
    int64_t subs[SUBSCRIPTIONS_COUNT_BATCH_MAX];
    int err = subscriptions_count_for_chefs(c, ids, n, subs, ei);

    for (int i = 0; !err && i < n; i++) {
        out[i].subscriber_count = subs[i];
        if (viewer)
            err = subscriptions_is_subscribed(c, viewer, ids[i], &out[i].is_subscribed, ei);
    }
    return err;
}

static const struct vendor_stats_source subs_stats_source = {fill_stats};

int subscriptions_init(struct db *db, struct souk_errinfo *ei)
{
    (void)db;
    subs_purpose_register();
    subs_jobs_register();
    subs_userdata_register();
    vendors_register_stats(&subs_stats_source);
    return subs_cache_start(souk_cfg ? souk_cfg->redis_url : NULL, ei);
}

void subscriptions_shutdown(void)
{
    subs_cache_stop();
}
