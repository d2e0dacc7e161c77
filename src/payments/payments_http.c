/* payments_http.c - the payments API (API.md § Payments).
 *
 *   POST /api/payments/checkout/          a checkout session for {purpose, id}
 *   GET  /api/payments/history/           the caller's payments
 *   GET  /api/payments/{id}/              one of them, with its ledger lines
 *   POST /api/payments/webhooks/          Stripe events (also /api/webhooks/payment/)
 *   GET  /api/admin/payments/events/      webhook events kept for review (ADMIN)
 *
 * Handlers parse, authorize and call payments.c / webhooks.c / history.c;
 * they hold no SQL. Thread safety: stateless.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "core/json.h"
#include "core/money.h"
#include "db/db.h"
#include "http/http.h"
#include "payments/history.h"
#include "payments/internal.h"
#include "db/keyset.h"

/* ---- checkout ------------------------------------------------------------------ */

struct checkout_args {
    const struct payment_purpose *purpose;
    const char *object_id;
    const json_t *body;
    struct checkout_session cs;
};

static int checkout_parse(struct http_req *req, struct checkout_args *a, struct souk_errinfo *ei)
{
    json_t *body;
    struct jv v;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    jv_begin(&v, body, ei);
    const char *purpose = jv_str(&v, "purpose", JV_REQUIRED, 1, 40, NULL);
    a->object_id = jv_str(&v, "id", JV_REQUIRED, 1, 64, NULL);
    if ((err = jv_done(&v)))
        return err;
    a->purpose = payments_purpose(purpose);
    if (!a->purpose || !a->purpose->prepare) {
        souk_errinfo_field(ei, "purpose", "Unknown payment purpose.");
        return souk_fail(ei, SOUK_INVALID, "unknown payment purpose");
    }
    a->body = body;
    return 0;
}

static int checkout_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct checkout_args a = {0};
    int err;

    if ((err = policy_user(req, &ei)) || (err = checkout_parse(req, &a, &ei)))
        return http_problem(req, err, &ei);
    if ((err = payments_checkout_for(req->db, a.purpose, req->user->id, a.object_id, a.body,
                                     req->arena, &a.cs, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201,
                     json_pack("{s:s, s:s, s:s, s:o, s:o, s:s}", "id", a.cs.session_id,
                               "payment_id", a.cs.payment_id, "url", a.cs.url, "expires_at",
                               json_time(a.cs.expires_at), "amount", money_to_json(a.cs.amount),
                               "currency", a.cs.currency));
}

/* ---- history --------------------------------------------------------------------- */

static int history_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct page pg;
    struct keyset ks;
    struct payments_page *pp;
    const char *ids[PAYMENTS_PAGE_MAX];
    int err;

    if ((err = policy_user(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = keyset_from_page(&pg, 0, &ks, &ei)))
        return http_problem(req, err, &ei);
    pp = arena_alloc(req->arena, sizeof *pp);
    if ((err = payments_history(req->db, req->user->id, &ks, pp, &ei)))
        return http_problem(req, err, &ei);
    for (int i = 0; i < pp->n; i++)
        ids[i] = pp->ids[i];
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, pp->rows, pp->keys, ids));
}

static int payment_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    char owner[37];
    json_t *p = NULL;
    int err;

    if ((err = policy_user(req, &ei)))
        return http_problem(req, err, &ei);
    if ((err = payments_get(req->db, http_param(req, 0), owner, &p, &ei)))
        return http_problem(req, err, &ei);
    if (!policy_sees_private(req, owner)) { /* someone else's: as if it did not exist */
        json_decref(p);
        return http_problem(req, souk_fail(&ei, SOUK_NOT_FOUND, "no such payment"), &ei);
    }
    return http_json(req, 200, p);
}

/* ---- webhooks ---------------------------------------------------------------------- */

static int webhook_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    enum webhook_outcome outcome = WEBHOOK_APPLIED;
    int err = webhook_receive(req->db, http_header(req, "Stripe-Signature"), req->body,
                              req->body_len, &outcome, &ei);

    if (err)
        return http_problem(req, err, &ei);
    return http_json(req, 200, json_pack("{s:b, s:s}", "received", 1, "outcome",
                                         webhook_outcome_str(outcome)));
}

/* ---- review ------------------------------------------------------------------------- */

static int events_cursor(struct http_req *req, const struct page *pg, int64_t *before,
                         const char **before_id, struct souk_errinfo *ei)
{
    const json_t *k = json_object_get(pg->cursor, "k");
    const json_t *e = json_object_get(pg->cursor, "e");

    *before = 0;
    *before_id = NULL;
    if (!pg->cursor)
        return 0;
    if (!json_is_integer(k) || !json_is_string(e) || pg->backwards) {
        souk_errinfo_field(ei, "cursor", "Invalid cursor.");
        return souk_fail(ei, SOUK_INVALID, "invalid cursor");
    }
    *before = json_integer_value(k);
    *before_id = arena_strdup(req->arena, json_string_value(e));
    return 0;
}

static int events_get(struct http_req *req)
{
    static const char *const statuses[] = {"open", "all", "review", "failed", "stale",
                                           "ignored", "applied", NULL};
    struct souk_errinfo ei = {0};
    const char *status = http_query(req, "status"), *before_id;
    struct page pg;
    int64_t before;
    json_t *rows = NULL, *next = NULL;
    int err, ok = !status;

    for (int i = 0; status && statuses[i]; i++)
        ok |= strcmp(status, statuses[i]) == 0;
    if ((err = policy_admin(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = events_cursor(req, &pg, &before, &before_id, &ei)))
        return http_problem(req, err, &ei);
    if (!ok) {
        souk_errinfo_field(&ei, "status", "Unknown status.");
        return http_problem(req, souk_fail(&ei, SOUK_INVALID, "bad status"), &ei);
    }
    err = payments_events_list(req->db, status ? status : "open", before, before_id,
                               pg.size + 1, &rows, &ei);
    if (err)
        return http_problem(req, err, &ei);
    if ((int)json_array_size(rows) > pg.size) {
        json_array_remove(rows, (size_t)pg.size);
        const json_t *last = json_array_get(rows, (size_t)pg.size - 1);
        next = json_pack("{s:O, s:O, s:s}", "k", json_object_get(last, "_k"), "e",
                         json_object_get(last, "id"), "d", "n");
    }
    for (size_t i = 0; i < json_array_size(rows); i++)
        json_object_del(json_array_get(rows, i), "_k");
    json_t *env = page_envelope(req, rows, next ? page_cursor_encode(req, next) : NULL, NULL);
    json_decref(next);
    return http_json(req, 200, env);
}

/* ---- registration --------------------------------------------------------------------- */

void payments_http_register(struct router *r)
{
    http_route(r, "POST", "/api/payments/checkout/", checkout_post, ROUTE_AUTH | ROUTE_PROVIDER,
               "a checkout session for {purpose, id}");
    http_route(r, "GET", "/api/payments/history/", history_get, ROUTE_AUTH,
               "the caller's payments");
    http_route(r, "GET", "/api/payments/{id}/", payment_get, ROUTE_AUTH,
               "one of the caller's payments with its ledger");
    http_route(r, "POST", "/api/payments/webhooks/", webhook_post,
               ROUTE_RAW_BODY | ROUTE_NO_RATELIMIT, "payment provider events (Stripe)");
    http_route(r, "POST", "/api/webhooks/payment/", webhook_post,
               ROUTE_RAW_BODY | ROUTE_NO_RATELIMIT, "payment provider events (Stripe)");
    http_route(r, "GET", "/api/admin/payments/events/", events_get, ROUTE_AUTH,
               "webhook events kept for review (ADMIN)");
}
