/* bids.c - the atomic bid, the lists of bids, and the fan-out of an
 * accepted bid to everyone watching (bid.placed, bid.outbid, outbid mail).
 *
 * One bid = one transaction: the auction row is held first and the clock
 * read after (lock_and_now), then the conditional UPDATE of
 * the auction (every rule in its WHERE clause; the soft-close extension in
 * its SET) and the INSERT of the bid with the sequence number the UPDATE
 * returned. Both commit or neither does. When the UPDATE matches no row the
 * auction is read only to say why (bid_too_low, auction_closed, owner).
 *
 * The fan-out (one notification per watcher) runs in a job inserted by the
 * bid's transaction, so the hot row's lock is held for three statements
 * only, whatever the number of watchers. Running that job twice (a worker
 * that died) would notify twice; nothing else depends on it.
 *
 * Thread safety: stateless.
 */
#include <stdio.h>
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

/* $1 auction, $2 amount, $3 bidder, $4 now. Sets prev_leader_id from the old
 * row (SET expressions read the row as it was) so RETURNING tells whom this
 * bid outbid. */
static const char BID_SQL[] =
    "UPDATE auctions SET prev_leader_id = leader_id, current_price = $2, leader_id = $3, "
    "bid_count = bid_count + 1, "
    "extensions = extensions + CASE WHEN soft_close_seconds > 0 AND "
    "ends_at - $4 <= CAST(soft_close_seconds AS BIGINT) * 1000000 THEN 1 ELSE 0 END, "
    "ends_at = CASE WHEN soft_close_seconds > 0 AND "
    "ends_at - $4 <= CAST(soft_close_seconds AS BIGINT) * 1000000 "
    "AND $4 + CAST(soft_close_seconds AS BIGINT) * 1000000 > ends_at "
    "THEN $4 + CAST(soft_close_seconds AS BIGINT) * 1000000 ELSE ends_at END, "
    "updated_at = $4 "
    "WHERE id = $1 AND status = 'open' AND starts_at <= $4 AND ends_at > $4 "
    "AND owner_id <> $3 AND $2 >= COALESCE(current_price + min_increment, starting_price) "
    "RETURNING bid_count, ends_at, prev_leader_id, recipe_id, currency, "
    "CASE WHEN soft_close_seconds > 0 AND "
    "ends_at = $4 + CAST(soft_close_seconds AS BIGINT) * 1000000 THEN 1 ELSE 0 END";

/* Why a bid matched no row. */
static int refusal(struct db_conn *tx, const char *auction_id, const char *bidder_id,
                   int64_t now, struct souk_errinfo *ei)
{
    struct auction a;
    char min[MONEY_STR_LEN];
    int err = auctions_get(tx, auction_id, &a, ei);

    if (err)
        return err;
    if (!strcmp(a.owner_id, bidder_id))
        return souk_fail(ei, SOUK_FORBIDDEN, "the owner of an auction may not bid on it");
    if (strcmp(auctions_status_at(&a, now), "open"))
        return souk_fail_code(ei, SOUK_CONFLICT, "auction_closed", "the auction is %s",
                              auctions_status_at(&a, now));
    money_format(auctions_minimum_next_bid(&a), min);
    if (!ei->extra)
        ei->extra = json_object();
    json_object_set_new(ei->extra, "minimum_next_bid", json_string(min));
    souk_errinfo_field(ei, "amount", "Below the minimum next bid.");
    return souk_fail_code(ei, SOUK_CONFLICT, "bid_too_low", "the minimum next bid is %s", min);
}

static int insert_bid(struct db_conn *tx, struct bid *b, const char *prev_leader,
                      struct souk_errinfo *ei)
{
    json_t *job = json_pack("{s:s}", "bid_id", b->id);
    int err = db_exec(tx,
                      "INSERT INTO bids (id, auction_id, bidder_id, amount, seq, "
                      "previous_leader_id, extended, created_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      DB_PARAMS(DBT(b->id), DBT(b->auction_id), DBT(b->bidder_id),
                                DBI(b->amount), DBI(b->seq), DBT(prev_leader),
                                DBB(b->extended), DBI(b->created_at)),
                      NULL, ei);
    if (!err)
        err = job_enqueue(tx, AUCTION_JOB_BID, job, 0, NULL, NULL, ei);
    json_decref(job);
    if (!err && b->extended)
        err = auction_schedule_end(tx, b->auction_id, b->ends_at, ei);
    return err;
}

/* Holds the auction row (FOR UPDATE on PostgreSQL; BEGIN IMMEDIATE already
 * holds the database on SQLite) and only then reads the clock: the time that
 * decides and stamps a bid is taken in commit order, never before the last
 * accepted bid's (updated_at), so stamps follow seq and a bid that waited on
 * the lock past ends_at is refused. */
static int lock_and_now(struct db_conn *tx, const char *auction_id, int64_t *now,
                        struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int pg = db_conn_dialect(tx) == DB_PGSQL;
    int err = db_query(tx,
                       pg ? "SELECT updated_at FROM auctions WHERE id = $1 FOR UPDATE"
                          : "SELECT updated_at FROM auctions WHERE id = $1",
                       DB_PARAMS(DBT(auction_id)), &r, ei);

    if (err) {
        db_res_free(r);
        return err == SOUK_INVALID ? souk_fail(ei, SOUK_NOT_FOUND, "no such auction") : err;
    }
    if (db_nrows(r) == 0) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "no such auction");
    }
    *now = clock_now_us();
    if (db_int(r, 0, 0) > *now)
        *now = db_int(r, 0, 0);
    db_res_free(r);
    return 0;
}

int auctions_place_bid(struct db_conn *tx, const char *auction_id, const char *bidder_id,
                       int64_t amount, struct bid *out, struct souk_errinfo *ei)
{
    int64_t now = 0;
    struct db_res *r = NULL;
    const char *prev;
    int err;

    if ((err = lock_and_now(tx, auction_id, &now, ei)))
        return err;
    err = db_query(tx, BID_SQL,
                   DB_PARAMS(DBT(auction_id), DBI(amount), DBT(bidder_id), DBI(now)), &r, ei);
    if (err) {
        db_res_free(r);
        return err == SOUK_INVALID ? souk_fail(ei, SOUK_NOT_FOUND, "no such auction") : err;
    }
    if (db_nrows(r) == 0) {
        db_res_free(r);
        return refusal(tx, auction_id, bidder_id, now, ei);
    }
    memset(out, 0, sizeof *out);
    uuid_v7(out->id);
    str_copy(out->auction_id, sizeof out->auction_id, auction_id);
    str_copy(out->bidder_id, sizeof out->bidder_id, bidder_id);
    out->amount = amount;
    out->seq = (int)db_int(r, 0, 0);
    out->ends_at = db_int(r, 0, 1);
    prev = db_get(r, 0, 2);
    str_copy(out->recipe_id, sizeof out->recipe_id, db_get(r, 0, 3));
    str_copy(out->currency, sizeof out->currency, db_get(r, 0, 4));
    out->extended = (int)db_int(r, 0, 5); /* ends_at is now exactly now + soft close */
    out->created_at = now;
    out->status = "leading";
    if (prev && !strcmp(prev, bidder_id))
        prev = NULL; /* raising one's own bid outbids nobody */
    err = insert_bid(tx, out, prev, ei);
    db_res_free(r);
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

struct fanout {
    const char *bid_id;
};

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

static int fanout_tx(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct fanout *f = arg;
    struct auction a;
    struct bid b;
    char prev[37];
    json_t *ev;
    int err;

    if ((err = load_bid(tx, f->bid_id, &b, prev, ei)) ||
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

int auction_bid_job(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    struct fanout f = {json_string_value(json_object_get(job->payload, "bid_id"))};

    if (!f.bid_id || !uuid_valid(f.bid_id))
        return souk_fail(ei, SOUK_PRECONDITION, "auction.bid: no bid_id");
    return db_tx_run(db, fanout_tx, &f, ei);
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
