/* requests_http.c - handlers of /api/requests/..., /api/reviews/{id}/reply/
 * and /api/specialists/{id}/reviews/ (API.md § Home services).
 *
 * A request is read first, then auth/policy.h decides with its client's and
 * specialist's user ids: a stranger (staff too) gets 404, the other party
 * 403. No SQL here.
 *
 * Thread safety: handlers keep everything in the request.
 */
#include <stdlib.h>
#include <string.h>

#include "auth/policy.h"
#include "core/json.h"
#include "core/money.h"
#include "db/keyset.h"
#include "http/http.h"
#include "requests/requests.h"

typedef int (*request_policy)(const struct http_req *req, const char *client_user_id,
                              const char *specialist_user_id, struct souk_errinfo *ei);

static int request_load(struct http_req *req, request_policy allowed, struct request *r,
                        struct souk_errinfo *ei)
{
    int err = policy_user(req, ei);

    if (!err)
        err = requests_get(req->db, http_param(req, 0), req->arena, r, ei);
    if (!err)
        err = allowed(req, r->client_id, r->specialist_user_id, ei);
    return err;
}

/* A text field of at most `max` characters (UTF-8 code points). */
static void text_max(struct jv *v, const char *field, const char *s, size_t max)
{
    size_t n = 0;

    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    if (n > max)
        jv_error(v, field, "Too long.");
}

static int parse_in(struct http_req *req, struct request_in *in, struct souk_errinfo *ei)
{
    json_t *body;
    struct jv v;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    memset(in, 0, sizeof *in);
    jv_begin(&v, body, ei);
    jv_uuid(&v, "specialist_id", JV_REQUIRED, in->specialist_id);
    jv_uuid(&v, "project_id", JV_OPTIONAL | JV_NULLABLE, in->project_id);
    in->message = jv_str(&v, "message", JV_REQUIRED, 1, REQUEST_TEXT_MAX * 4, NULL);
    text_max(&v, "message", in->message, REQUEST_TEXT_MAX);
    in->budget = jv_money(&v, "budget", JV_OPTIONAL | JV_NULLABLE, 0, MONEY_MAX, -1);
    in->currency = jv_str(&v, "currency", JV_OPTIONAL, 3, 3, "usd");
    if (in->currency && !currency_valid(in->currency))
        jv_error(&v, "currency", "Not a currency code.");
    return jv_done(&v);
}

/* POST /api/requests/ */
static int requests_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct request_in in;
    struct request r;
    int err;

    if ((err = policy_customer(req, &ei)) || (err = parse_in(req, &in, &ei)) ||
        (err = requests_create(req->db, req->user->id, &in, req->arena, &r, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, requests_to_json(&r));
}

static int filter_parse(struct http_req *req, struct request_filter *f, struct souk_errinfo *ei)
{
    static const char *const statuses[] = {"new", "accepted", "declined", "cancelled",
                                           "completed", NULL};
    int ok = 0;

    f->user_id = req->user->id;
    f->status = http_query(req, "status");
    f->as = http_query(req, "as");
    for (int i = 0; f->status && statuses[i]; i++)
        ok |= strcmp(f->status, statuses[i]) == 0;
    if (f->status && !ok)
        souk_errinfo_field(ei, "status", "Not a request status.");
    if (f->as && strcmp(f->as, "client") && strcmp(f->as, "specialist"))
        souk_errinfo_field(ei, "as", "Must be client or specialist.");
    return ei->errors ? souk_fail(ei, SOUK_INVALID, "Invalid filter.") : 0;
}

/* GET /api/requests/ */
static int requests_index(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct request_filter f;
    struct request *rows;
    struct keyset ks;
    struct page pg;
    const char **ids;
    int64_t *keys;
    json_t *results;
    int err, n = 0;

    if ((err = policy_user(req, &ei)) || (err = filter_parse(req, &f, &ei)) ||
        (err = page_parse(req, &pg, &ei)) || (err = keyset_from_page(&pg, 0, &ks, &ei)) ||
        (err = requests_list(req->db, &f, &ks, req->arena, &rows, &n, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(results, requests_to_json(&rows[i]));
        keys[i] = rows[i].created_at;
        ids[i] = rows[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, results, keys, ids));
}

/* GET /api/requests/{id}/ */
static int request_show(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct request r;
    int err = request_load(req, policy_request_view, &r, &ei);

    return err ? http_problem(req, err, &ei) : http_json(req, 200, requests_to_json(&r));
}

static int request_act(struct http_req *req, request_policy allowed, enum request_action act)
{
    struct souk_errinfo ei = {0};
    struct request r;
    int err;

    if ((err = request_load(req, allowed, &r, &ei)) ||
        (err = requests_act(req->db, r.id, act, req->user->id, req->arena, &r, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, requests_to_json(&r));
}

/* POST /api/requests/{id}/accept/ */
static int request_accept(struct http_req *req)
{
    return request_act(req, policy_request_specialist, REQUEST_ACCEPT);
}

/* POST /api/requests/{id}/decline/ */
static int request_decline(struct http_req *req)
{
    return request_act(req, policy_request_specialist, REQUEST_DECLINE);
}

/* POST /api/requests/{id}/cancel/ */
static int request_cancel(struct http_req *req)
{
    return request_act(req, policy_request_client, REQUEST_CANCEL);
}

/* POST /api/requests/{id}/finish/ */
static int request_finish(struct http_req *req)
{
    return request_act(req, policy_request_view, REQUEST_FINISH);
}

/* ---- reviews -------------------------------------------------------------------------------- */

/* POST /api/requests/{id}/review/ {rating, text} */
static int request_review(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct request r;
    struct review w;
    const char *text;
    json_t *body;
    struct jv v;
    int err, rating;

    if ((err = request_load(req, policy_request_client, &r, &ei)) ||
        (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    rating = (int)jv_int(&v, "rating", JV_REQUIRED, 1, 5, 0);
    text = jv_str(&v, "text", JV_OPTIONAL, 0, REQUEST_TEXT_MAX * 4, "");
    text_max(&v, "text", text, REQUEST_TEXT_MAX);
    if ((err = jv_done(&v)) ||
        (err = reviews_create(req->db, &r, rating, text, req->arena, &w, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, reviews_to_json(&w));
}

/* POST /api/reviews/{id}/reply/ {text} */
static int review_reply(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct review w;
    const char *text;
    json_t *body;
    struct jv v;
    int err;

    if ((err = policy_user(req, &ei)) ||
        (err = reviews_get(req->db, http_param(req, 0), req->arena, &w, &ei)))
        return http_problem(req, err, &ei);
    if (w.hidden_at) /* hidden by staff: gone for replies */
        return http_problem(req, souk_fail(&ei, SOUK_NOT_FOUND, "No such review."), &ei);
    if ((err = policy_owner(req, w.specialist_user_id, &ei)) ||
        (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    text = jv_str(&v, "text", JV_REQUIRED, 1, REQUEST_TEXT_MAX * 4, NULL);
    text_max(&v, "text", text, REQUEST_TEXT_MAX);
    if ((err = jv_done(&v)) || (err = reviews_reply(req->db, w.id, text, req->arena, &w, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, reviews_to_json(&w));
}

/* GET /api/specialists/{id}/reviews/?rating= */
static int specialist_reviews(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    const char *rs = http_query(req, "rating");
    struct review *rows;
    struct keyset ks;
    struct page pg;
    const char **ids;
    int64_t *keys;
    json_t *results;
    int err, n = 0, rating = 0;
    char *end = NULL;

    if (rs) {
        rating = (int)strtol(rs, &end, 10);
        if (!*rs || *end || rating < 1 || rating > 5) {
            souk_errinfo_field(&ei, "rating", "Must be an integer from 1 to 5.");
            return http_problem(req, souk_fail(&ei, SOUK_INVALID, "Invalid filter."), &ei);
        }
    }
    if ((err = policy_anyone(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = keyset_from_page(&pg, 0, &ks, &ei)) ||
        (err = reviews_list(req->db, http_param(req, 0), rating, &ks, req->arena, &rows, &n,
                            &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(results, reviews_to_json(&rows[i]));
        keys[i] = rows[i].created_at;
        ids[i] = rows[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, results, keys, ids));
}

void requests_http_register(struct router *r)
{
    http_route(r, "POST", "/api/requests/", requests_post, ROUTE_AUTH,
               "send a request to a specialist");
    http_route(r, "GET", "/api/requests/", requests_index, ROUTE_AUTH,
               "the caller's requests, as client or specialist");
    http_route(r, "GET", "/api/requests/{id}/", request_show, ROUTE_AUTH, "one request");
    http_route(r, "POST", "/api/requests/{id}/accept/", request_accept, ROUTE_AUTH,
               "the specialist accepts a new request");
    http_route(r, "POST", "/api/requests/{id}/decline/", request_decline, ROUTE_AUTH,
               "the specialist declines a new request");
    http_route(r, "POST", "/api/requests/{id}/cancel/", request_cancel, ROUTE_AUTH,
               "the client cancels a new or accepted request");
    http_route(r, "POST", "/api/requests/{id}/finish/", request_finish, ROUTE_AUTH,
               "a party marks the work finished");
    http_route(r, "POST", "/api/requests/{id}/review/", request_review, ROUTE_AUTH,
               "the client reviews a completed request");
    http_route(r, "POST", "/api/reviews/{id}/reply/", review_reply, ROUTE_AUTH,
               "the reviewed specialist replies");
    http_route(r, "GET", "/api/specialists/{id}/reviews/", specialist_reviews, 0,
               "a specialist's visible reviews, newest first");
}
