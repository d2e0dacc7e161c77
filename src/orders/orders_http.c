/* orders_http.c - /api/orders/... handlers.
 *
 * Shape of each handler: authorize (auth/policy.h; an order is read first,
 * then the policy decides with its customer and vendor user ids: a stranger
 * gets 404, a party that may not act 403) → parse (jv_*) → domain
 * (orders.h) → respond. No SQL here.
 *
 * Thread safety: handlers keep everything in the request.
 */
#include <string.h>

#include "auth/policy.h"
#include "core/json.h"
#include "http/http.h"
#include "orders/orders.h"
#include "db/keyset.h"

typedef int (*order_policy)(const struct http_req *req, const char *customer_user_id,
                            const char *vendor_user_id, struct souk_errinfo *ei);
typedef int (*order_action)(struct db *db, const char *id, const struct order_actor *who,
                            struct arena *a, struct order *out, struct souk_errinfo *ei);

/* The caller as recorded in the order history. */
static struct order_actor actor_of(const struct http_req *req, const struct order *o)
{
    struct order_actor who = {"customer", NULL};

    if (!req->user)
        return who;
    who.user_id = req->user->id;
    if (strcmp(req->user->id, o->customer_id) == 0)
        who.kind = "customer";
    else if (strcmp(req->user->id, o->vendor_user_id) == 0)
        who.kind = "vendor";
    else if (policy_is_admin(req))
        who.kind = "admin";
    return who;
}

/* Reads the order in the path and applies `allowed`. */
static int order_load(struct http_req *req, order_policy allowed, int with_history,
                      struct order *o, struct souk_errinfo *ei)
{
    int err = policy_user(req, ei);

    if (!err)
        err = orders_get(req->db, http_param(req, 0), with_history, req->arena, o, ei);
    if (!err)
        err = allowed(req, o->customer_id, o->vendor_user_id, ei);
    return err;
}

/* Runs one action on the order in the path and answers with the order. */
static int order_act(struct http_req *req, order_policy allowed, order_action act)
{
    struct souk_errinfo ei = {0};
    struct order_actor who;
    struct order o;
    int err;

    if ((err = order_load(req, allowed, 0, &o, &ei)))
        return http_problem(req, err, &ei);
    who = actor_of(req, &o);
    if ((err = act(req->db, o.id, &who, req->arena, &o, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, orders_to_json(&o));
}

/* ---- placing and reading ------------------------------------------------------------ */

/* POST /api/orders/ {variant_id, quantity} */
static int orders_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    char variant_id[37];
    struct order o;
    json_t *body;
    struct jv v;
    int err, qty;

    if ((err = policy_customer(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    jv_uuid(&v, "variant_id", JV_REQUIRED, variant_id);
    qty = (int)jv_int(&v, "quantity", JV_OPTIONAL, 1, ORDER_QUANTITY_MAX, 1);
    if ((err = jv_done(&v)))
        return http_problem(req, err, &ei);
    err = orders_create(req->db, req->user->id, variant_id, qty, req->arena, &o, &ei);
    if (err == SOUK_NOT_FOUND) { /* a body naming nothing: a field error, not a 404 */
        souk_errinfo_field(&ei, "variant_id", "No such variant.");
        err = SOUK_INVALID;
    }
    if (err)
        return http_problem(req, err, &ei);
    return http_json(req, 201, orders_to_json(&o));
}

static int list_respond(struct http_req *req, const char *customer_id, const char *vendor_user_id,
                        struct souk_errinfo *ei)
{
    struct order *rows;
    struct keyset ks;
    struct page pg;
    const char **ids;
    int64_t *keys;
    json_t *results;
    int err, n;

    if ((err = page_parse(req, &pg, ei)) || (err = keyset_from_page(&pg, 0, &ks, ei)) ||
        (err = orders_list(req->db, customer_id, vendor_user_id, &ks, req->arena, &rows, &n,
                           ei)))
        return http_problem(req, err, ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(results, orders_to_json(&rows[i]));
        keys[i] = rows[i].created_at;
        ids[i] = rows[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, results, keys, ids));
}

/* GET /api/orders/my/ */
static int orders_my(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    int err = policy_customer(req, &ei);

    return err ? http_problem(req, err, &ei) : list_respond(req, req->user->id, NULL, &ei);
}

/* GET /api/orders/vendor/ */
static int orders_vendor(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    int err = policy_vendor(req, &ei);

    return err ? http_problem(req, err, &ei) : list_respond(req, NULL, req->user->id, &ei);
}

/* GET /api/orders/{id}/ (with its history) */
static int order_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct order o;
    int err;

    if ((err = order_load(req, policy_order_view, 1, &o, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, orders_to_json(&o));
}

/* ---- the checkout's redirect targets ------------------------------------------------- */

static json_t *redirect_json(const struct order *o)
{
    return json_pack("{s:s, s:s}", "order_id", o->id, "status", o->status);
}

/* GET /api/orders/{id}/success/ */
static int order_success_page(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct order o;
    int err;

    if ((err = policy_anyone(req, &ei)) ||
        (err = orders_get(req->db, http_param(req, 0), 0, req->arena, &o, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, redirect_json(&o));
}

/* GET /api/orders/{id}/cancel/: the customer left the checkout; a still
 * pending order is cancelled and its stock released. */
static int order_cancel_page(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct order_actor who;
    struct order o;
    int err;

    if ((err = policy_anyone(req, &ei)) ||
        (err = orders_get(req->db, http_param(req, 0), 0, req->arena, &o, &ei)))
        return http_problem(req, err, &ei);
    if (strcmp(o.status, "pending") == 0) {
        who = actor_of(req, &o);
        err = orders_cancel(req->db, o.id, &who, req->arena, &o, &ei);
        if (err == SOUK_PRECONDITION) { /* it moved on meanwhile: show where it is */
            souk_errinfo_cleanup(&ei);
            memset(&ei, 0, sizeof ei);
            err = orders_get(req->db, http_param(req, 0), 0, req->arena, &o, &ei);
        }
        if (err)
            return http_problem(req, err, &ei);
    }
    return http_json(req, 200, redirect_json(&o));
}

/* ---- actions ------------------------------------------------------------------------------ */

/* POST /api/orders/{id}/cancel/ */
static int order_cancel(struct http_req *req)
{
    return order_act(req, policy_order_customer, orders_cancel);
}

/* POST /api/orders/{id}/complete/ */
static int order_complete(struct http_req *req)
{
    return order_act(req, policy_order_vendor, orders_complete);
}

/* POST /api/orders/{id}/refund/ */
static int order_refund(struct http_req *req)
{
    return order_act(req, policy_order_refund, orders_refund);
}

/* POST /api/orders/{id}/payment-link/ */
static int order_payment_link(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct order_actor who;
    struct order o;
    int err;

    if ((err = order_load(req, policy_order_customer, 0, &o, &ei)))
        return http_problem(req, err, &ei);
    who = actor_of(req, &o);
    if ((err = orders_payment_link(req->db, o.id, &who, req->arena, &o, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200,
                     json_pack("{s:s, s:o, s:o}", "payment_url", o.payment_url, "expires_at",
                               json_time(o.checkout_expires_at), "order", orders_to_json(&o)));
}

void orders_http_register(struct router *r)
{
    http_route(r, "POST", "/api/orders/", orders_post, ROUTE_AUTH | ROUTE_PROVIDER, "place an order");
    http_route(r, "GET", "/api/orders/my/", orders_my, ROUTE_AUTH, "the caller's orders");
    http_route(r, "GET", "/api/orders/vendor/", orders_vendor, ROUTE_AUTH,
               "orders of the caller's services");
    http_route(r, "GET", "/api/orders/{id}/", order_get, ROUTE_AUTH,
               "an order with its history");
    http_route(r, "GET", "/api/orders/{id}/success/", order_success_page, 0,
               "checkout success redirect target");
    http_route(r, "GET", "/api/orders/{id}/cancel/", order_cancel_page, 0,
               "checkout cancel redirect target (cancels a pending order)");
    http_route(r, "POST", "/api/orders/{id}/cancel/", order_cancel, ROUTE_AUTH,
               "cancel a pending order");
    http_route(r, "POST", "/api/orders/{id}/payment-link/", order_payment_link, ROUTE_AUTH | ROUTE_PROVIDER,
               "a fresh checkout for the order");
    http_route(r, "POST", "/api/orders/{id}/complete/", order_complete, ROUTE_AUTH,
               "processing -> completed");
    http_route(r, "POST", "/api/orders/{id}/refund/", order_refund, ROUTE_AUTH | ROUTE_PROVIDER,
               "refund a paid order");
}
