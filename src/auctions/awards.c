/* awards.c - the end of an auction and what follows: the winner's payment
 * request (an award with a checkout of purpose "auction"), forfeiture and
 * second chances, late payments, and the exclusive-recipe hook.
 *
 *   auction.end      at ends_at: `UPDATE ... WHERE status = 'open' AND
 *                    ends_at <= now` decides awarded/unsold exactly once,
 *                    whichever node or run gets there first; a run that
 *                    finds the end moved (soft close) re-schedules itself.
 *   auction.forfeit  at pay_by: `UPDATE auction_awards ... WHERE status =
 *                    'pending' AND pay_by <= now`; the next bidder at or
 *                    above the reserve is offered it at their own bid.
 *   auction.checkout a fresh checkout when a session expired within the window.
 *   auction.refund   a payment for an award that was already forfeited.
 *   auctions.sweep   every 30 s: anything overdue that a job missed.
 *
 * The checkout is recorded (payments_checkout_create) in the transaction
 * that makes the award, and opened at the provider after the commit; a
 * failed open fails the job, whose retry opens it (the end or forfeit is
 * not redone: its conditional update matches nothing the second time).
 *
 * Thread safety: stateless apart from registration at start-up.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auctions/auctions.h"
#include "auctions/internal.h"
#include "auth/auth.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "core/money.h"
#include "core/uuid.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "notify/notify.h"
#include "payments/payments.h"
#include "recipes/recipes.h"
#include "core/str.h"

#define SWEEP_BATCH 100
#define CHECKOUT_TTL_MAX 86400 /* Stripe's longest checkout session */

static int64_t window_us(void)
{
    int s = souk_cfg && souk_cfg->auction_payment_window_seconds > 0
                ? souk_cfg->auction_payment_window_seconds
                : 172800;
    return (int64_t)s * 1000000;
}

int auction_schedule_end(struct db_conn *tx, const char *auction_id, int64_t ends_at,
                         struct souk_errinfo *ei)
{
    char key[96];
    json_t *p = json_pack("{s:s}", "auction_id", auction_id);
    int err;

    snprintf(key, sizeof key, "auction.end:%s:%lld", auction_id, (long long)ends_at);
    err = job_enqueue(tx, AUCTION_JOB_END, p, ends_at, key, NULL, ei);
    json_decref(p);
    return err;
}

/* ---- checkout of an award ---------------------------------------------------------- */

/* Inside a transaction: records a checkout for the pending award (a new
 * payments attempt of the auction) and keeps its payment id. */
static int award_checkout_create(struct db_conn *tx, const char *award_id,
                                 struct checkout_session *cs, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int64_t now = clock_now_us();
    int err = db_query(tx,
                       "UPDATE auctions SET pay_attempt = pay_attempt + 1 WHERE id = "
                       "(SELECT auction_id FROM auction_awards WHERE id = $1 AND status = "
                       "'pending' AND pay_by > $2) RETURNING id, pay_attempt, currency",
                       DB_PARAMS(DBT(award_id), DBI(now)), &r, ei);
    if (err || db_nrows(r) == 0) {
        db_res_free(r);
        return err; /* paid or forfeited meanwhile: nothing to pay */
    }
    struct db_res *w = NULL;
    err = db_query(tx, "SELECT user_id, amount, pay_by FROM auction_awards WHERE id = $1",
                   DB_PARAMS(DBT(award_id)), &w, ei);
    if (!err) {
        int64_t ttl = (db_int(w, 0, 2) - now) / 1000000 + 1;
        struct checkout_spec spec = {
            .purpose = "auction", .object_id = db_get(r, 0, 0), .user_id = db_get(w, 0, 0),
            .unit_amount = db_int(w, 0, 1), .currency = db_get(r, 0, 2),
            .product_name = "Auctioned recipe", .attempt = (int)db_int(r, 0, 1),
            .ttl_seconds = (int)(ttl > CHECKOUT_TTL_MAX ? CHECKOUT_TTL_MAX : ttl)};
        err = payments_checkout_create(tx, &spec, cs, ei);
    }
    if (!err)
        err = db_exec(tx,
                      "UPDATE auction_awards SET payment_id = $2, checkout_url = NULL, "
                      "payment_status = 'pending', updated_at = $3 WHERE id = $1",
                      DB_PARAMS(DBT(award_id), DBT(cs->payment_id), DBI(now)), NULL, ei);
    db_res_free(w);
    db_res_free(r);
    return err;
}

struct url_args {
    const char *award_id, *payment_id, *url;
};

/* Records the URL once and tells the winner (auction.won carries it). */
static int record_url_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct url_args *u = arg;
    struct db_res *r = NULL;
    int err = db_query(tx,
                       "UPDATE auction_awards SET checkout_url = $3 WHERE id = $1 AND "
                       "payment_id = $2 AND checkout_url IS NULL AND status = 'pending' "
                       "RETURNING auction_id, user_id, amount, pay_by, rank",
                       DB_PARAMS(DBT(u->award_id), DBT(u->payment_id), DBT(u->url)), &r, ei);
    if (!err && db_nrows(r) == 1) {
        char amount[MONEY_STR_LEN], pay_by[CLOCK_RFC3339_LEN];
        money_format(db_int(r, 0, 2), amount);
        clock_format(db_int(r, 0, 3), pay_by);
        json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:i, s:b}", "auction_id", db_get(r, 0, 0),
                               "amount", amount, "checkout_url", u->url, "pay_by", pay_by,
                               "rank", (int)db_int(r, 0, 4), "second_chance",
                               db_int(r, 0, 4) > 1);
        err = notify(tx, db_get(r, 0, 1), "auction.won", ev, ei);
        json_decref(ev);
    }
    db_res_free(r);
    return err;
}

struct unopened {
    const char *auction_id;
    struct db_res *rows;
};

static int find_unopened(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct unopened *u = arg;
    return db_query(c,
                    "SELECT id, payment_id FROM auction_awards WHERE auction_id = $1 "
                    "AND status = 'pending' AND payment_id IS NOT NULL AND "
                    "checkout_url IS NULL",
                    DB_PARAMS(DBT(u->auction_id)), &u->rows, ei);
}

/* Opens (at the provider) the checkout of the auction's pending award if
 * it has none yet, and records its URL. Outside any transaction. */
static int award_checkout_open(struct db *db, const char *auction_id, struct souk_errinfo *ei)
{
    struct unopened u = {auction_id, NULL};
    struct checkout_session cs;
    int err = db_run(db, find_unopened, &u, ei);

    for (int i = 0; !err && i < db_nrows(u.rows); i++) {
        memset(&cs, 0, sizeof cs);
        str_copy(cs.payment_id, sizeof cs.payment_id, db_get(u.rows, i, 1));
        err = payments_checkout_open(db, &cs, ei);
        if (!err)
            err = db_tx_run(db, record_url_tx,
                            &(struct url_args){db_get(u.rows, i, 0), cs.payment_id, cs.url},
                            ei);
    }
    db_res_free(u.rows);
    return err;
}

/* ---- offering an auction to a bidder --------------------------------------------- */

/* Inside a transaction: bidder `user_id` wins at their bid `bid_id` of
 * `amount` (rank 1: the winner; more: a second chance). */
static int award_offer(struct db_conn *tx, const char *auction_id, const char *bid_id,
                       const char *user_id, int64_t amount, int rank, struct souk_errinfo *ei)
{
    int64_t now = clock_now_us(), pay_by = now + window_us();
    struct checkout_session cs;
    char id[37], key[96];
    json_t *p;
    int err;

    uuid_v7(id);
    err = db_exec(tx,
                  "INSERT INTO auction_awards (id, auction_id, bid_id, user_id, rank, amount, "
                  "pay_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                  DB_PARAMS(DBT(id), DBT(auction_id), DBT(bid_id), DBT(user_id), DBI(rank),
                            DBI(amount), DBI(pay_by), DBI(now)),
                  NULL, ei);
    if (!err)
        err = db_exec(tx, "UPDATE auctions SET winner_id = $2, updated_at = $3 WHERE id = $1",
                      DB_PARAMS(DBT(auction_id), DBT(user_id), DBI(now)), NULL, ei);
    if (!err)
        err = award_checkout_create(tx, id, &cs, ei);
    if (err)
        return err;
    p = json_pack("{s:s}", "award_id", id);
    snprintf(key, sizeof key, "auction.forfeit:%s", id);
    err = job_enqueue(tx, AUCTION_JOB_FORFEIT, p, pay_by, key, NULL, ei);
    json_decref(p);
    return err;
}

static int notify_ended(struct db_conn *tx, const char *auction_id, struct souk_errinfo *ei)
{
    struct auction a;
    char price[MONEY_STR_LEN] = "";
    int err = auctions_get(tx, auction_id, &a, ei);

    if (err)
        return err;
    if (a.has_price)
        money_format(a.current_price, price);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:i, s:b}", "auction_id", a.id,
                           "recipe_id", a.recipe_id, "status", a.status, "final_price",
                           a.has_price ? price : NULL, "currency", a.currency, "bid_count",
                           a.bid_count, "reserve_met", auctions_reserve_met(&a));
    err = auction_watchers_notify(tx, &a, "auction.ended", ev, ei);
    json_decref(ev);
    return err;
}

/* ---- auction.end --------------------------------------------------------------------- */

static const char END_SQL[] =
    "UPDATE auctions SET status = CASE WHEN leader_id IS NOT NULL AND current_price >= "
    "COALESCE(reserve_price, 0) THEN 'awarded' ELSE 'unsold' END, ended_at = $2, "
    "updated_at = $2 WHERE id = $1 AND status = 'open' AND ends_at <= $2 "
    "RETURNING status, leader_id, current_price";

static int leading_bid(struct db_conn *tx, const char *auction_id, char bid_id[37],
                       struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(tx,
                       "SELECT id FROM bids WHERE auction_id = $1 ORDER BY seq DESC LIMIT 1",
                       DB_PARAMS(DBT(auction_id)), &r, ei);
    if (!err && db_nrows(r) == 0)
        err = souk_fail(ei, SOUK_INTERNAL, "awarded auction without bids");
    if (!err)
        str_copy(bid_id, 37, db_get(r, 0, 0));
    db_res_free(r);
    return err;
}

/* The end moved (soft close) or not yet due: make sure a job waits for it. */
static int end_not_due(struct db_conn *tx, const char *auction_id, struct souk_errinfo *ei)
{
    struct auction a;
    int err = auctions_get(tx, auction_id, &a, ei);

    if (err == SOUK_NOT_FOUND)
        return 0; /* deleted with its recipe */
    if (err || strcmp(a.status, "open"))
        return err;
    return auction_schedule_end(tx, auction_id, a.ends_at, ei);
}

static int end_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    const char *id = arg;
    struct db_res *r = NULL;
    char bid_id[37], leader[37];
    int64_t price;
    int err = db_query(tx, END_SQL, DB_PARAMS(DBT(id), DBI(clock_now_us())), &r, ei);

    if (err || db_nrows(r) == 0) {
        db_res_free(r);
        return err ? err : end_not_due(tx, id, ei);
    }
    int awarded = !strcmp(db_get(r, 0, 0), "awarded");
    str_copy(leader, sizeof leader, db_get(r, 0, 1));
    price = db_int(r, 0, 2);
    db_res_free(r);
    if (awarded && ((err = leading_bid(tx, id, bid_id, ei)) ||
                    (err = award_offer(tx, id, bid_id, leader, price, 1, ei))))
        return err;
    return notify_ended(tx, id, ei);
}

int auctions_end(struct db *db, const char *auction_id, struct souk_errinfo *ei)
{
    int err = db_tx_run(db, end_tx, (void *)auction_id, ei);
    return err ? err : award_checkout_open(db, auction_id, ei);
}

/* ---- auction.forfeit --------------------------------------------------------------- */

/* The next bidder at or above the reserve who has not been offered it yet,
 * at their highest bid. */
static const char NEXT_SQL[] =
    "SELECT b.id, b.bidder_id, b.amount FROM bids b JOIN auctions a ON a.id = b.auction_id "
    "WHERE b.auction_id = $1 AND b.amount >= COALESCE(a.reserve_price, 0) AND NOT EXISTS "
    "(SELECT 1 FROM auction_awards w WHERE w.auction_id = $1 AND w.user_id = b.bidder_id) "
    "ORDER BY b.amount DESC, b.seq ASC LIMIT 1";

static int offer_next(struct db_conn *tx, const char *auction_id, int rank,
                      struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(tx, NEXT_SQL, DB_PARAMS(DBT(auction_id)), &r, ei);

    if (!err && db_nrows(r) == 1)
        err = award_offer(tx, auction_id, db_get(r, 0, 0), db_get(r, 0, 1), db_int(r, 0, 2),
                          rank + 1, ei);
    else if (!err)
        err = db_exec(tx,
                      "UPDATE auctions SET status = 'unsold', winner_id = NULL, updated_at = $2 "
                      "WHERE id = $1 AND status = 'awarded'",
                      DB_PARAMS(DBT(auction_id), DBI(clock_now_us())), NULL, ei);
    if (!err && db_nrows(r) == 0)
        err = notify_ended(tx, auction_id, ei);
    db_res_free(r);
    return err;
}

struct forfeit {
    const char *award_id;
    char auction_id[37];
    char payment_id[37];
};

/* For a repeated run: which auction, so that its checkout can still be opened. */
static int award_auction(struct db_conn *tx, struct forfeit *f, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(tx, "SELECT auction_id FROM auction_awards WHERE id = $1",
                       DB_PARAMS(DBT(f->award_id)), &r, ei);
    if (!err && db_nrows(r) == 1)
        str_copy(f->auction_id, sizeof f->auction_id, db_get(r, 0, 0));
    db_res_free(r);
    return err;
}

static int forfeit_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct forfeit *f = arg;
    struct db_res *r = NULL;
    int err = db_query(tx,
                       "UPDATE auction_awards SET status = 'forfeited', payment_status = "
                       "'expired', updated_at = $2 WHERE id = $1 AND status = 'pending' AND "
                       "pay_by <= $2 RETURNING auction_id, payment_id, user_id, rank, amount",
                       DB_PARAMS(DBT(f->award_id), DBI(clock_now_us())), &r, ei);
    if (err || db_nrows(r) == 0) {
        db_res_free(r);
        return err ? err : award_auction(tx, f, ei); /* paid in time, or done before */
    }
    str_copy(f->auction_id, sizeof f->auction_id, db_get(r, 0, 0));
    str_copy(f->payment_id, sizeof f->payment_id, db_get(r, 0, 1));
    json_t *ev = json_pack("{s:s, s:s}", "auction_id", f->auction_id, "award_id", f->award_id);
    err = notify(tx, db_get(r, 0, 2), "auction.forfeited", ev, ei);
    json_decref(ev);
    if (!err)
        err = offer_next(tx, f->auction_id, (int)db_int(r, 0, 3), ei);
    db_res_free(r);
    return err;
}

int auctions_forfeit(struct db *db, const char *award_id, struct souk_errinfo *ei)
{
    struct forfeit f = {.award_id = award_id};
    struct souk_errinfo e2 = {0};
    int err = db_tx_run(db, forfeit_tx, &f, ei);

    if (err || !f.auction_id[0])
        return err;
    if (f.payment_id[0] && payments_checkout_expire(db, f.payment_id, &e2))
        log_warn("auction %s: expiring the forfeited checkout failed: %s", f.auction_id,
                 e2.detail);
    souk_errinfo_cleanup(&e2);
    return award_checkout_open(db, f.auction_id, ei);
}

/* ---- jobs ------------------------------------------------------------------------------ */

static const char *payload_id(const struct job *job, const char *key)
{
    const char *id = json_string_value(json_object_get(job->payload, key));
    return id && uuid_valid(id) ? id : NULL;
}

static int end_job(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *id = payload_id(job, "auction_id");
    return id ? auctions_end(db, id, ei) : souk_fail(ei, SOUK_PRECONDITION, "no auction_id");
}

static int forfeit_job(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *id = payload_id(job, "award_id");
    return id ? auctions_forfeit(db, id, ei) : souk_fail(ei, SOUK_PRECONDITION, "no award_id");
}

struct fresh {
    const char *award_id;
    char auction_id[37];
    struct checkout_session cs;
};

static int fresh_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct fresh *f = arg;
    struct forfeit fa = {.award_id = f->award_id};
    int err = award_auction(tx, &fa, ei);

    str_copy(f->auction_id, sizeof f->auction_id, fa.auction_id);
    return err ? err : award_checkout_create(tx, f->award_id, &f->cs, ei);
}

/* A fresh checkout for a pending award whose session expired in the window. */
static int checkout_job(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    struct fresh f = {.award_id = payload_id(job, "award_id")};
    int err;

    if (!f.award_id)
        return souk_fail(ei, SOUK_PRECONDITION, "no award_id");
    if ((err = db_tx_run(db, fresh_tx, &f, ei)) || !f.auction_id[0])
        return err;
    return award_checkout_open(db, f.auction_id, ei);
}

static int refund_job(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    const char *pid = payload_id(job, "payment_id");
    if (!pid)
        return souk_fail(ei, SOUK_PRECONDITION, "no payment_id");
    return payments_refund(db, pid, 0, "auction award already forfeited", ei);
}

struct due {
    const char *sql;
    struct db_res *rows;
};

static int due_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct due *d = arg;
    return db_query(c, d->sql, DB_PARAMS(DBI(clock_now_us()), DBI(SWEEP_BATCH)), &d->rows, ei);
}

/* Runs fn on each id the query returns; the first error is kept. */
static int sweep_each(struct db *db, const char *sql,
                      int (*fn)(struct db *, const char *, struct souk_errinfo *),
                      struct souk_errinfo *ei)
{
    struct due d = {sql, NULL};
    int err = db_run(db, due_fn, &d, ei), first = 0;

    for (int i = 0; !err && i < db_nrows(d.rows); i++) {
        struct souk_errinfo e = {0};
        int e1 = fn(db, db_get(d.rows, i, 0), &e);
        if (e1 && !first) {
            first = e1;
            snprintf(ei->detail, sizeof ei->detail, "%s", e.detail);
        }
        souk_errinfo_cleanup(&e);
    }
    db_res_free(d.rows);
    return err ? err : first;
}

static int sweep_job(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    (void)job;
    int err = sweep_each(db,
                         "SELECT id FROM auctions WHERE status = 'open' AND ends_at <= $1 "
                         "ORDER BY ends_at LIMIT $2",
                         auctions_end, ei);
    int e2 = sweep_each(db,
                        "SELECT id FROM auction_awards WHERE status = 'pending' AND "
                        "pay_by <= $1 ORDER BY pay_by LIMIT $2",
                        auctions_forfeit, ei);
    return err ? err : e2;
}

void auction_jobs_register(void)
{
    job_register_provider(AUCTION_JOB_END, end_job, 10);
    job_register_provider(AUCTION_JOB_FORFEIT, forfeit_job, 10);
    job_register(AUCTION_JOB_BID, auction_bid_job, 5);
    job_register_provider(AUCTION_JOB_CHECKOUT, checkout_job, 10);
    job_register_provider(AUCTION_JOB_REFUND, refund_job, 10);
    job_recurring("auctions.sweep", 30, sweep_job);
}
