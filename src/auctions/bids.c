/* bids.c - the atomic bid, the lists of bids, and the fan-out of an
 * accepted bid to everyone watching (bid.placed, bid.outbid, outbid mail).
 *
 * Bids on one auction are placed in batches (auctions_place_bids; one bid
 * is a batch of one): in one transaction the auction row is held and read
 * first, the clock is read after, each bid is decided in C on the row as
 * the bids before it left it (owner, auction_closed, bid_too_low; the soft
 * close), and the accepted ones are written together: one UPDATE of the
 * row, one INSERT of the bids, one fan-out job. All commit or none does.
 *
 * The fan-out (one notification per watcher) runs in that job, so the hot
 * row's lock is held for four statements only, whatever the number of
 * watchers and bids. Running that job twice (a worker
 * that died) would notify twice; nothing else depends on it.
 *
 * Thread safety: stateless.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "auctions/auctions.h"
#include "auctions/internal.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "mail/mail.h"
#include "notify/notify.h"
#include "db/keyset.h"
#include "users/users.h"
#include "core/str.h"

#define MAIL_OUTBID "auction_outbid"

void auctions_bidder_label(const char *auction_id, const char *bidder_id, char out[24])
{
    unsigned char h[8];
    char in[80];

    snprintf(in, sizeof in, "%s/%s", auction_id, bidder_id);
    crypto_generichash(h, sizeof h, (const unsigned char *)in, strlen(in), NULL, 0);
    snprintf(out, 24, "Bidder %02x%02x%02x", h[0], h[1], h[2]);
}

/* ---- the atomic step ------------------------------------------------------------- */

/* The auction row, held (FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE already
 * holds the database on SQLite), with what a bid changes beyond struct
 * auction. */
struct held {
    struct auction a;
    int64_t updated_at;
    int extensions;
    char prev_leader[37];
};

static int hold_auction(struct db_conn *tx, const char *auction_id, struct held *h,
                        struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int pg = db_conn_dialect(tx) == DB_PGSQL;
    int err = db_query(tx,
                       pg ? "SELECT " AUCTION_COLS ", updated_at, extensions, prev_leader_id "
                            "FROM auctions WHERE id = $1 FOR UPDATE"
                          : "SELECT " AUCTION_COLS ", updated_at, extensions, prev_leader_id "
                            "FROM auctions WHERE id = $1",
                       DB_PARAMS(DBT(auction_id)), &r, ei);

    if (err) {
        db_res_free(r);
        return err == SOUK_INVALID ? souk_fail(ei, SOUK_NOT_FOUND, "no such auction") : err;
    }
    if (db_nrows(r) == 0) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "no such auction");
    }
    auction_from_row(r, 0, &h->a);
    h->updated_at = db_int(r, 0, AUCTION_NCOLS);
    h->extensions = (int)db_int(r, 0, AUCTION_NCOLS + 1);
    str_copy(h->prev_leader, sizeof h->prev_leader, db_get(r, 0, AUCTION_NCOLS + 2));
    db_res_free(r);
    return 0;
}

/* Why a bid is refused on the held row at `now`, or 0 when it is not. */
static int refusal(const struct auction *a, const struct bid_try *t, int64_t now,
                   struct souk_errinfo *ei)
{
    char min[MONEY_STR_LEN];

    if (!strcmp(a->owner_id, t->bidder_id))
        return souk_fail(ei, SOUK_FORBIDDEN, "the owner of an auction may not bid on it");
    if (strcmp(auctions_status_at(a, now), "open"))
        return souk_fail_code(ei, SOUK_CONFLICT, "auction_closed", "the auction is %s",
                              auctions_status_at(a, now));
    if (t->amount >= auctions_minimum_next_bid(a))
        return 0;
    money_format(auctions_minimum_next_bid(a), min);
    if (!ei->extra)
        ei->extra = json_object();
    json_object_set_new(ei->extra, "minimum_next_bid", json_string(min));
    souk_errinfo_field(ei, "amount", "Below the minimum next bid.");
    return souk_fail_code(ei, SOUK_CONFLICT, "bid_too_low", "the minimum next bid is %s", min);
}

/* Applies one bid to the held row at time `now`: 0 and *out filled when it
 * is accepted (prev: whom it outbid, "" for nobody), else its refusal.
 * Soft close: a bid in the last soft_close_seconds moves the end to now +
 * soft_close_seconds, never earlier than it was. */
static int apply(struct held *h, const struct bid_try *t, int64_t now, char prev[37],
                 struct souk_errinfo *ei)
{
    struct auction *a = &h->a;
    int64_t sc = (int64_t)a->soft_close_seconds * 1000000;
    struct bid *out = t->out;
    int err = refusal(a, t, now, ei);

    if (err)
        return err;
    str_copy(prev, 37, strcmp(a->leader_id, t->bidder_id) ? a->leader_id : "");
    str_copy(h->prev_leader, sizeof h->prev_leader, a->leader_id);
    a->has_price = 1;
    a->current_price = t->amount;
    str_copy(a->leader_id, sizeof a->leader_id, t->bidder_id);
    a->bid_count++;
    if (sc > 0 && a->ends_at - now <= sc) {
        h->extensions++;
        if (now + sc > a->ends_at)
            a->ends_at = now + sc;
    }
    h->updated_at = now;

    memset(out, 0, sizeof *out);
    uuid_v7(out->id);
    str_copy(out->auction_id, sizeof out->auction_id, a->id);
    str_copy(out->bidder_id, sizeof out->bidder_id, t->bidder_id);
    str_copy(out->recipe_id, sizeof out->recipe_id, a->recipe_id);
    str_copy(out->currency, sizeof out->currency, a->currency);
    out->amount = t->amount;
    out->seq = a->bid_count;
    out->ends_at = a->ends_at;
    out->extended = sc > 0 && a->ends_at == now + sc;
    out->created_at = now;
    out->status = "leading";
    return 0;
}

#define BID_INSERT "INSERT INTO bids (id, auction_id, bidder_id, amount, seq, " \
                   "previous_leader_id, extended, created_at) VALUES "
#define BID_NPARAMS 8

/* The writes of the accepted bids (n > 0): the row once, the bids in one
 * INSERT, one fan-out job for them all, the end job when the end moved. */
static int write_bids(struct db_conn *tx, const struct held *h, struct bid **bids,
                      char (*prevs)[37], int n, int extended, struct souk_errinfo *ei)
{
    const struct auction *a = &h->a;
    struct db_param *p = calloc((size_t)n * BID_NPARAMS, sizeof *p);
    size_t cap = sizeof BID_INSERT + (size_t)n * 64;
    char *sql = malloc(cap);
    json_t *ids = json_array();
    int err = 0;

    if (!p || !sql || !ids) {
        free(p);
        free(sql);
        json_decref(ids);
        return souk_fail(ei, SOUK_INTERNAL, "out of memory");
    }
    size_t len = (size_t)snprintf(sql, cap, "%s", BID_INSERT);
    for (int i = 0; i < n; i++) {
        const struct bid *b = bids[i];
        int k = i * BID_NPARAMS;
        len += (size_t)snprintf(sql + len, cap - len, "%s($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)",
                                i ? ", " : "", k + 1, k + 2, k + 3, k + 4, k + 5, k + 6, k + 7,
                                k + 8);
        p[k] = DBT(b->id);
        p[k + 1] = DBT(b->auction_id);
        p[k + 2] = DBT(b->bidder_id);
        p[k + 3] = DBI(b->amount);
        p[k + 4] = DBI(b->seq);
        p[k + 5] = DBT(prevs[i][0] ? prevs[i] : NULL);
        p[k + 6] = DBB(b->extended);
        p[k + 7] = DBI(b->created_at);
        json_array_append_new(ids, json_string(b->id));
    }
    err = db_exec(tx,
                  "UPDATE auctions SET prev_leader_id = $2, current_price = $3, leader_id = $4, "
                  "bid_count = $5, extensions = $6, ends_at = $7, updated_at = $8 WHERE id = $1",
                  DB_PARAMS(DBT(a->id), DBT(h->prev_leader[0] ? h->prev_leader : NULL),
                            DBI(a->current_price), DBT(a->leader_id), DBI(a->bid_count),
                            DBI(h->extensions), DBI(a->ends_at), DBI(h->updated_at)),
                  NULL, ei);
    if (!err)
        err = db_exec(tx, sql, p, n * BID_NPARAMS, NULL, ei);
    if (!err) {
        json_t *job = json_pack("{s:O}", "bid_ids", ids);
        err = job_enqueue(tx, AUCTION_JOB_BID, job, 0, NULL, NULL, ei);
        json_decref(job);
    }
    if (!err && extended)
        err = auction_schedule_end(tx, a->id, a->ends_at, ei);
    json_decref(ids);
    free(sql);
    free(p);
    return err;
}

int auctions_place_bids(struct db_conn *tx, const char *auction_id, struct bid_try *t, int n,
                        struct souk_errinfo *ei)
{
    struct held h;
    struct bid *bids[BID_BATCH_MAX];
    char prevs[BID_BATCH_MAX][37];
    int accepted = 0, extended = 0, err;
    int64_t floor;

    if (n > BID_BATCH_MAX)
        return souk_fail(ei, SOUK_INTERNAL, "a batch of %d bids", n);
    for (int i = 0; i < n; i++) { /* a retried transaction starts over */
        t[i].err = 0;
        souk_errinfo_cleanup(t[i].ei);
    }
    if ((err = hold_auction(tx, auction_id, &h, ei)))
        return err;
    /* The clock is read with the row held, and never behind the last
     * accepted bid (updated_at): stamps follow seq, and a bid that waited
     * for the row past ends_at is refused. */
    floor = h.updated_at;
    for (int i = 0; i < n; i++) {
        int64_t now = clock_now_us();
        if (now < floor)
            now = floor;
        t[i].err = apply(&h, &t[i], now, prevs[accepted], t[i].ei);
        if (!t[i].err) {
            floor = now;
            extended |= t[i].out->extended;
            bids[accepted++] = t[i].out;
        }
    }
    return accepted ? write_bids(tx, &h, bids, prevs, accepted, extended, ei) : 0;
}

int auctions_place_bid(struct db_conn *tx, const char *auction_id, const char *bidder_id,
                       int64_t amount, struct bid *out, struct souk_errinfo *ei)
{
    struct souk_errinfo mine = {0};
    struct bid_try t = {.bidder_id = bidder_id, .amount = amount, .out = out, .ei = &mine};
    int err = auctions_place_bids(tx, auction_id, &t, 1, ei);

    if (!err && t.err) {
        souk_errinfo_cleanup(ei);
        *ei = mine; /* the caller's errinfo takes over the refusal */
        return t.err;
    }
    souk_errinfo_cleanup(&mine);
    return err;
}

/* ---- fan-out ---------------------------------------------------------------------- */

int auction_watchers_notify(struct db_conn *tx, const struct auction *a, const char *type,
                            const json_t *payload, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(tx,
                       "SELECT owner_id FROM auctions WHERE id = $1 UNION "
                       "SELECT DISTINCT bidder_id FROM bids WHERE auction_id = $1",
                       DB_PARAMS(DBT(a->id)), &r, ei);
    for (int i = 0; !err && i < db_nrows(r); i++)
        err = notify(tx, db_get(r, i, 0), type, payload, ei);
    db_res_free(r);
    return err;
}

static json_t *bid_event(const struct bid *b, const struct auction *a)
{
    char amount[MONEY_STR_LEN], min[MONEY_STR_LEN], label[24];
    char ends[CLOCK_RFC3339_LEN];

    money_format(b->amount, amount);
    money_format(auctions_minimum_next_bid(a), min);
    clock_format(a->ends_at, ends);
    auctions_bidder_label(a->id, b->bidder_id, label);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:b}", "bid_id", b->id,
                     "auction_id", a->id, "recipe_id", a->recipe_id, "amount", amount,
                     "currency", a->currency, "minimum_next_bid", min, "bidder", label,
                     "bid_count", a->bid_count, "ends_at", ends, "extended", b->extended);
}

static int outbid_mail(struct db_conn *tx, const char *user_id, const struct bid *b,
                       const json_t *ev, struct souk_errinfo *ei)
{
    struct user u;
    char key[96];
    int err;

    if (!mail_template_exists(MAIL_OUTBID))
        return 0; /* the template is not there yet: the notification suffices */
    if ((err = users_get(tx, user_id, &u, ei)))
        return err == SOUK_NOT_FOUND ? 0 : err;
    json_t *vars = json_deep_copy(ev);
    json_object_set_new(vars, "first_name", json_string(u.first_name));
    snprintf(key, sizeof key, "auction.outbid:%s", b->id);
    err = mail_enqueue(tx, u.email, MAIL_OUTBID, vars, key, ei);
    json_decref(vars);
    return err;
}

static int load_bid(struct db_conn *tx, const char *id, struct bid *b, char prev[37],
                    struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(tx,
                       "SELECT auction_id, bidder_id, amount, seq, previous_leader_id, extended, "
                       "created_at FROM bids WHERE id = $1",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (!err && db_nrows(r) == 0)
        err = souk_fail(ei, SOUK_PRECONDITION, "bid %s is gone", id);
    if (!err) {
        memset(b, 0, sizeof *b);
        str_copy(b->id, sizeof b->id, id);
        str_copy(b->auction_id, sizeof b->auction_id, db_get(r, 0, 0));
        str_copy(b->bidder_id, sizeof b->bidder_id, db_get(r, 0, 1));
        b->amount = db_int(r, 0, 2);
        b->seq = (int)db_int(r, 0, 3);
        str_copy(prev, 37, db_get(r, 0, 4));
        b->extended = db_bool(r, 0, 5);
        b->created_at = db_int(r, 0, 6);
    }
    db_res_free(r);
    return err;
}

static int fanout_one(struct db_conn *tx, const char *bid_id, struct souk_errinfo *ei)
{
    struct auction a;
    struct bid b;
    char prev[37];
    json_t *ev;
    int err;

    if ((err = load_bid(tx, bid_id, &b, prev, ei)) ||
        (err = auctions_get(tx, b.auction_id, &a, ei)))
        return err;
    ev = bid_event(&b, &a);
    err = auction_watchers_notify(tx, &a, "bid.placed", ev, ei);
    if (!err && prev[0])
        err = notify(tx, prev, "bid.outbid", ev, ei);
    if (!err && prev[0])
        err = outbid_mail(tx, prev, &b, ev, ei);
    json_decref(ev);
    return err;
}

/* The job's payload: {"bid_ids": [...]} (the bids one transaction accepted,
 * in seq order), or {"bid_id": ...} (one bid, as queued before batches). */
static int fanout_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    const json_t *payload = arg, *ids = json_object_get(payload, "bid_ids"), *id;
    size_t i;
    int err = 0;

    if (!ids)
        return fanout_one(tx, json_string_value(json_object_get(payload, "bid_id")), ei);
    json_array_foreach(ids, i, id)
        if ((err = fanout_one(tx, json_string_value(id), ei)))
            break;
    return err;
}

int auction_bid_job(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const json_t *ids = json_object_get(job->payload, "bid_ids"), *id;
    size_t i;

    if (ids) {
        if (!json_is_array(ids) || json_array_size(ids) == 0)
            return souk_fail(ei, SOUK_PRECONDITION, "auction.bid: bid_ids is not a list of ids");
        json_array_foreach(ids, i, id)
            if (!json_is_string(id) || !uuid_valid(json_string_value(id)))
                return souk_fail(ei, SOUK_PRECONDITION, "auction.bid: a bid id is not a uuid");
    } else {
        const char *one = json_string_value(json_object_get(job->payload, "bid_id"));
        if (!one || !uuid_valid(one))
            return souk_fail(ei, SOUK_PRECONDITION, "auction.bid: no bid_id");
    }
    return db_tx_run(db, fanout_tx, (void *)job->payload, ei);
}

/* ---- lists ------------------------------------------------------------------------- */

#define BID_COLS                                                                          \
    "b.id, b.auction_id, a.recipe_id, b.bidder_id, b.amount, a.currency, b.seq, b.extended, " \
    "b.created_at"

static void bid_from_row(const struct db_res *r, int i, struct bid *b)
{
    memset(b, 0, sizeof *b);
    str_copy(b->id, sizeof b->id, db_get(r, i, 0));
    str_copy(b->auction_id, sizeof b->auction_id, db_get(r, i, 1));
    str_copy(b->recipe_id, sizeof b->recipe_id, db_get(r, i, 2));
    str_copy(b->bidder_id, sizeof b->bidder_id, db_get(r, i, 3));
    b->amount = db_int(r, i, 4);
    str_copy(b->currency, sizeof b->currency, db_get(r, i, 5));
    b->seq = (int)db_int(r, i, 6);
    b->extended = db_bool(r, i, 7);
    b->created_at = db_int(r, i, 8);
}

static int bids_query(struct db_conn *c, const char *sql, const char *who,
                      const struct keyset *ks, struct arena *a, struct bid **out, int *n,
                      int with_status, struct souk_errinfo *ei)
{
    struct db_param p[] = {DBT(who), DBI(ks->k), DBT(ks->id)};
    struct db_res *r = NULL;
    int err = db_query(c, sql, p, ks->has_cursor ? 3 : 1, &r, ei);

    if (err)
        return err;
    *n = db_nrows(r);
    *out = arena_calloc(a, (size_t)*n + 1, sizeof **out);
    for (int i = 0; i < *n; i++) {
        bid_from_row(r, i, &(*out)[i]);
        if (with_status)
            (*out)[i].status = arena_strdup(a, db_get(r, i, 9));
    }
    db_res_free(r);
    return 0;
}

int auctions_bids_for_recipe(struct db_conn *c, const char *recipe_id, const struct keyset *ks,
                             struct arena *a, struct bid **out, int *n,
                             struct souk_errinfo *ei)
{
    char where[160], order[160];
    const char *sql = arena_sprintf(
        a, "SELECT " BID_COLS " FROM bids b JOIN auctions a ON a.id = b.auction_id "
           "WHERE a.recipe_id = $1%s%s",
        keyset_where(ks, "b.amount", "b.id", 2, where, sizeof where),
        keyset_order(ks, "b.amount", "b.id", order, sizeof order));
    return bids_query(c, sql, recipe_id, ks, a, out, n, 0, ei);
}

/* leading: the auction is open and this is its top bid (amounts strictly
 * increase, so the top bid is the one at current_price); won: the bid an
 * award of the bidder is for, not forfeited; outbid / lost otherwise. */
#define BID_STATUS_SQL                                                                      \
    "CASE WHEN a.status = 'open' THEN (CASE WHEN a.leader_id = b.bidder_id AND "            \
    "a.current_price = b.amount THEN 'leading' ELSE 'outbid' END) "                         \
    "WHEN EXISTS (SELECT 1 FROM auction_awards w WHERE w.bid_id = b.id AND "                \
    "w.status IN ('pending', 'paid')) THEN 'won' ELSE 'lost' END"

int auctions_bids_for_user(struct db_conn *c, const char *user_id, const struct keyset *ks,
                           struct arena *a, struct bid **out, int *n, struct souk_errinfo *ei)
{
    char where[160], order[160];
    const char *sql = arena_sprintf(
        a, "SELECT " BID_COLS ", " BID_STATUS_SQL " FROM bids b JOIN auctions a ON "
           "a.id = b.auction_id WHERE b.bidder_id = $1%s%s",
        keyset_where(ks, "b.created_at", "b.id", 2, where, sizeof where),
        keyset_order(ks, "b.created_at", "b.id", order, sizeof order));
    return bids_query(c, sql, user_id, ks, a, out, n, 1, ei);
}
