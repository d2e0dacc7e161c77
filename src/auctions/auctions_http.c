/* auctions_http.c - the auctions and bids API (API.md § Auctions and bids).
 *
 *   POST /api/auctions/                    create (owner of the recipe)
 *   GET  /api/auctions/                    list (?status= ?recipe_id= ?chef_id=)
 *   GET  /api/auctions/{id}/               detail (+ reserve_price and awards for the owner)
 *   POST /api/auctions/{id}/cancel/        owner or ADMIN, while no bid exists
 *   POST /api/bids/                        {auction_id | recipe_id, amount}
 *   GET  /api/bids/recipes/{recipe_id}/    bids on a recipe's auctions, highest first
 *   GET  /api/bids/user/                   the caller's bids with their status
 *   GET  /api/bids/won/                    the caller's awards and their payment
 *
 * Handlers parse, authorize through policy.h and call auctions.h's
 * actions.c functions, which own their transactions; no SQL here. Thread
 * safety: stateless.
 */
#include <stdio.h>
#include <string.h>

#include "auctions/auctions.h"
#include "auth/policy.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/money.h"
#include "core/uuid.h"
#include "http/http.h"
#include "recipes/recipes.h"
#include "db/keyset.h"

/* ---- JSON ---------------------------------------------------------------------------- */

static json_t *money_or_null(int has, int64_t v)
{
    return has ? money_to_json(v) : json_null();
}

static json_t *award_to_json(const struct award *w, int with_user)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:s, s:i, s:s, s:s, s:o, s:o, s:o}", "id", w->id,
                          "auction_id", w->auction_id, "recipe_id", w->recipe_id, "amount",
                          money_to_json(w->amount), "currency", w->currency, "rank", w->rank,
                          "status", w->status, "payment_status", w->payment_status,
                          "checkout_url", json_str_or_null(w->checkout_url), "pay_by",
                          json_time(w->pay_by), "created_at", json_time(w->created_at));
    if (with_user)
        json_object_set_new(j, "user_id", json_string(w->user_id));
    return j;
}

static json_t *auction_to_json(const struct auction *a, int is_owner)
{
    int64_t now = clock_now_us();
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:i, s:b, s:o, s:o, s:i, s:o, s:o}",
        "id", a->id, "recipe_id", a->recipe_id, "chef_id", a->chef_id, "status",
        auctions_status_at(a, now), "starting_price", money_to_json(a->starting_price),
        "min_increment", money_to_json(a->min_increment), "current_price",
        money_or_null(a->has_price, a->current_price), "minimum_next_bid",
        money_to_json(auctions_minimum_next_bid(a)), "currency", a->currency, "bid_count",
        a->bid_count, "reserve_met", auctions_reserve_met(a), "starts_at",
        json_time(a->starts_at), "ends_at", json_time(a->ends_at), "soft_close_seconds",
        a->soft_close_seconds, "winner_id", json_str_or_null(a->winner_id[0] ? a->winner_id : NULL),
        "created_at", json_time(a->created_at));
    json_object_set_new(j, "has_reserve", json_boolean(a->has_reserve));
    if (is_owner)
        json_object_set_new(j, "reserve_price", money_or_null(a->has_reserve, a->reserve_price));
    return j;
}

static json_t *bid_to_json(const struct bid *b, const char *viewer_id)
{
    char label[24];

    auctions_bidder_label(b->auction_id, b->bidder_id, label);
    json_t *j = json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:s, s:b}", "id", b->id, "auction_id",
                          b->auction_id, "recipe_id", b->recipe_id, "amount",
                          money_to_json(b->amount), "currency", b->currency, "created_at",
                          json_time(b->created_at), "bidder", label, "is_mine",
                          viewer_id && !strcmp(viewer_id, b->bidder_id));
    if (b->status)
        json_object_set_new(j, "status", json_string(b->status));
    return j;
}

/* ---- create ------------------------------------------------------------------------------ */

static int auction_in_parse(struct http_req *req, struct auction_in *in, struct souk_errinfo *ei)
{
    json_t *body;
    struct jv v;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    memset(in, 0, sizeof *in);
    jv_begin(&v, body, ei);
    jv_uuid(&v, "recipe_id", JV_REQUIRED, in->recipe_id);
    in->starting_price = jv_money(&v, "starting_price", JV_REQUIRED, 1, MONEY_MAX, 0);
    in->min_increment = jv_money(&v, "min_increment", JV_OPTIONAL, 1, MONEY_MAX, 100);
    in->has_reserve = jv_has(&v, "reserve_price") &&
                      !json_is_null(json_object_get(body, "reserve_price"));
    in->reserve_price = jv_money(&v, "reserve_price", JV_OPTIONAL | JV_NULLABLE, 1, MONEY_MAX, 0);
    jv_time(&v, "starts_at", JV_OPTIONAL | JV_NULLABLE, &in->starts_at);
    jv_time(&v, "ends_at", JV_REQUIRED, &in->ends_at);
    in->soft_close_seconds =
        (int)jv_int(&v, "soft_close_seconds", JV_OPTIONAL, 0, AUCTION_SOFT_CLOSE_MAX, 0);
    return jv_done(&v);
}

/* The recipe to auction, and the owner check (a recipe's owner never changes). */
static int recipe_of(struct http_req *req, const char *id, struct recipe *r,
                     struct souk_errinfo *ei)
{
    int err = recipes_read(req->db, id, req->arena, r, ei);

    if (err == SOUK_NOT_FOUND) {
        souk_errinfo_cleanup(ei);
        memset(ei, 0, sizeof *ei);
        souk_errinfo_field(ei, "recipe_id", "No such recipe.");
        return souk_fail(ei, SOUK_INVALID, "no such recipe");
    }
    return err ? err : policy_owner(req, r->chef_user_id, ei);
}

static int auctions_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct auction_in in;
    struct auction out;
    struct recipe r;
    int err;

    if ((err = policy_user(req, &ei)) || (err = auction_in_parse(req, &in, &ei)) ||
        (err = recipe_of(req, in.recipe_id, &r, &ei)) ||
        (err = auctions_add(req->db, &in, r.chef_id, r.chef_user_id, r.currency, &out, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, auction_to_json(&out, 1));
}

/* ---- read ---------------------------------------------------------------------------------- */

static int filter_parse(struct http_req *req, struct auction_filter *f, struct souk_errinfo *ei)
{
    static const char *const statuses[] = {"scheduled", "open",   "ended",    "awarded",
                                           "unsold",    "cancelled", NULL};
    int bad = 0;

    f->status = http_query(req, "status");
    f->recipe_id = http_query(req, "recipe_id");
    f->chef_id = http_query(req, "chef_id");
    if (!f->chef_id)
        f->chef_id = http_query(req, "chef");
    if (f->status) {
        bad = 1;
        for (int i = 0; statuses[i]; i++)
            bad &= strcmp(statuses[i], f->status) != 0;
        if (bad)
            souk_errinfo_field(ei, "status", "Unknown status.");
    }
    if (f->recipe_id && !uuid_valid(f->recipe_id) && ++bad)
        souk_errinfo_field(ei, "recipe_id", "Not a UUID.");
    if (f->chef_id && !uuid_valid(f->chef_id) && ++bad)
        souk_errinfo_field(ei, "chef_id", "Not a UUID.");
    return bad ? souk_fail(ei, SOUK_INVALID, "bad filter") : 0;
}

static int auctions_get_list(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct auction_filter f;
    struct auction *list;
    struct keyset ks;
    struct page pg;
    int err, n = 0;

    if ((err = policy_anyone(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = keyset_from_page(&pg, 0, &ks, &ei)) || (err = filter_parse(req, &f, &ei)) ||
        (err = auctions_list_read(req->db, &f, &ks, req->arena, &list, &n, &ei)))
        return http_problem(req, err, &ei);
    json_t *rows = json_array();
    int64_t *keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    const char **ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(rows,
                              auction_to_json(&list[i], policy_sees_private(req, list[i].owner_id)));
        keys[i] = list[i].created_at;
        ids[i] = list[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, rows, keys, ids));
}

static int auctions_get_one(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    const char *id = http_param(req, 0);
    struct award *awards = NULL;
    struct auction a;
    int err, owner = 0, n = 0;

    if ((err = policy_anyone(req, &ei)) || (err = auctions_read(req->db, id, &a, &ei)) ||
        ((owner = policy_sees_private(req, a.owner_id)) &&
         (err = auctions_awards_read(req->db, id, req->arena, &awards, &n, &ei))))
        return http_problem(req, err, &ei);
    json_t *j = auction_to_json(&a, owner);
    if (owner) {
        json_t *aw = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(aw, award_to_json(&awards[i], 1));
        json_object_set_new(j, "awards", aw);
    }
    return http_json(req, 200, j);
}

/* ---- cancel ---------------------------------------------------------------------------------- */

static int auctions_post_cancel(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    const char *id = http_param(req, 0);
    struct auction a;
    int err;

    if ((err = policy_user(req, &ei)) || (err = auctions_read(req->db, id, &a, &ei)) ||
        (err = policy_owner_or_admin(req, a.owner_id, &ei)) ||
        (err = auctions_withdraw(req->db, id, &a, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, auction_to_json(&a, policy_sees_private(req, a.owner_id)));
}

/* ---- bids -------------------------------------------------------------------------------------- */

struct bid_args {
    char auction_id[37];
    char recipe_id[37];
    int64_t amount;
};

static int bid_parse(struct http_req *req, struct bid_args *b, struct souk_errinfo *ei)
{
    json_t *body;
    struct jv v;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    jv_begin(&v, body, ei);
    int has_a = jv_uuid(&v, "auction_id", JV_OPTIONAL, b->auction_id);
    int has_r = jv_uuid(&v, "recipe_id", JV_OPTIONAL, b->recipe_id);
    b->amount = jv_money(&v, "amount", JV_REQUIRED, 1, MONEY_MAX, 0);
    if (!has_a && !has_r && !jv_has(&v, "auction_id") && !jv_has(&v, "recipe_id"))
        jv_error(&v, "auction_id", "This field is required (or recipe_id).");
    return jv_done(&v);
}

static int bids_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct bid_args b = {0};
    struct bid out;
    int err;

    if ((err = policy_user(req, &ei)) || (err = bid_parse(req, &b, &ei)) ||
        (err = auctions_bid(req->db, b.auction_id[0] ? b.auction_id : NULL, b.recipe_id,
                            req->user->id, b.amount, &out, &ei)))
        return http_problem(req, err, &ei);
    json_t *j = bid_to_json(&out, req->user->id);
    json_object_set_new(j, "ends_at", json_time(out.ends_at));
    json_object_set_new(j, "extended", json_boolean(out.extended));
    json_object_set_new(j, "seq", json_integer(out.seq));
    return http_json(req, 201, j);
}

/* mine: the bids of user `who` (newest first), else those on recipe `who` (highest first). */
static int bids_list_respond(struct http_req *req, const char *who, int mine)
{
    struct souk_errinfo ei = {0};
    struct bid *list;
    struct keyset ks;
    struct page pg;
    int err, n = 0;

    if ((err = page_parse(req, &pg, &ei)) || (err = keyset_from_page(&pg, 0, &ks, &ei)) ||
        (err = auctions_bids_read(req->db, who, mine, &ks, req->arena, &list, &n, &ei)))
        return http_problem(req, err, &ei);
    json_t *rows = json_array();
    int64_t *keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    const char **ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(rows, bid_to_json(&list[i], req->user ? req->user->id : NULL));
        keys[i] = mine ? list[i].created_at : list[i].amount;
        ids[i] = list[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, rows, keys, ids));
}

static int bids_get_recipe(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    int err;

    if ((err = policy_anyone(req, &ei)))
        return http_problem(req, err, &ei);
    return bids_list_respond(req, http_param(req, 0), 0);
}

static int bids_get_user(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    int err;

    if ((err = policy_user(req, &ei)))
        return http_problem(req, err, &ei);
    return bids_list_respond(req, req->user->id, 1);
}

static int bids_get_won(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct award *list;
    struct keyset ks;
    struct page pg;
    int err, n = 0;

    if ((err = policy_user(req, &ei)) || (err = page_parse(req, &pg, &ei)) ||
        (err = keyset_from_page(&pg, 0, &ks, &ei)) ||
        (err = auctions_won_read(req->db, req->user->id, &ks, req->arena, &list, &n, &ei)))
        return http_problem(req, err, &ei);
    json_t *rows = json_array();
    int64_t *keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    const char **ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(rows, award_to_json(&list[i], 0));
        keys[i] = list[i].created_at;
        ids[i] = list[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, rows, keys, ids));
}

/* ---- routes ---------------------------------------------------------------------------------- */

void auctions_http_register(struct router *r)
{
    http_route(r, "POST", "/api/auctions/", auctions_post, 0, "Create an auction of a recipe");
    http_route(r, "GET", "/api/auctions/", auctions_get_list, 0, "List auctions");
    http_route(r, "GET", "/api/auctions/{id}/", auctions_get_one, 0, "One auction");
    http_route(r, "POST", "/api/auctions/{id}/cancel/", auctions_post_cancel, 0,
               "Cancel an auction without bids");
    http_route(r, "POST", "/api/bids/", bids_post, ROUTE_PARKS, "Place a bid");
    http_route(r, "GET", "/api/bids/recipes/{recipe_id}/", bids_get_recipe, 0,
               "Bids on a recipe's auctions, highest first");
    http_route(r, "GET", "/api/bids/user/", bids_get_user, 0, "The caller's bids");
    http_route(r, "GET", "/api/bids/won/", bids_get_won, 0, "Auctions the caller won");
}
