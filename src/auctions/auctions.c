/* auctions.c - the auction itself: create, read, list, cancel, and the
 * statuses a client sees. Bids are in bids.c, the end of an auction and its
 * payment in awards.c. No HTTP here.
 *
 * Thread safety: stateless; every function works in the caller's
 * connection or transaction.
 */
#include <stdio.h>
#include <string.h>

#include "auctions/auctions.h"
#include "auctions/internal.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"
#include "db/keyset.h"
#include "core/str.h"

/* ---- rows ---------------------------------------------------------------------- */

void auction_from_row(const struct db_res *r, int i, struct auction *a)
{
    memset(a, 0, sizeof *a);
    str_copy(a->id, sizeof a->id, db_get(r, i, 0));
    str_copy(a->recipe_id, sizeof a->recipe_id, db_get(r, i, 1));
    str_copy(a->chef_id, sizeof a->chef_id, db_get(r, i, 2));
    str_copy(a->owner_id, sizeof a->owner_id, db_get(r, i, 3));
    str_copy(a->status, sizeof a->status, db_get(r, i, 4));
    a->starting_price = db_int(r, i, 5);
    a->min_increment = db_int(r, i, 6);
    a->has_reserve = !db_isnull(r, i, 7);
    a->reserve_price = db_int(r, i, 7);
    str_copy(a->currency, sizeof a->currency, db_get(r, i, 8));
    a->starts_at = db_int(r, i, 9);
    a->ends_at = db_int(r, i, 10);
    a->soft_close_seconds = (int)db_int(r, i, 11);
    a->has_price = !db_isnull(r, i, 12);
    a->current_price = db_int(r, i, 12);
    str_copy(a->leader_id, sizeof a->leader_id, db_get(r, i, 13));
    a->bid_count = (int)db_int(r, i, 14);
    str_copy(a->winner_id, sizeof a->winner_id, db_get(r, i, 15));
    a->created_at = db_int(r, i, 16);
}

/* ---- what clients see ------------------------------------------------------------- */

const char *auctions_status_at(const struct auction *a, int64_t now)
{
    if (strcmp(a->status, "open"))
        return a->status;
    if (now < a->starts_at)
        return "scheduled";
    return now < a->ends_at ? "open" : "ended";
}

int64_t auctions_minimum_next_bid(const struct auction *a)
{
    return a->has_price ? a->current_price + a->min_increment : a->starting_price;
}

int auctions_reserve_met(const struct auction *a)
{
    if (!a->has_reserve)
        return a->has_price;
    return a->has_price && a->current_price >= a->reserve_price;
}

/* ---- create ------------------------------------------------------------------------- */

static int check_times(const struct auction_in *in, int64_t now, struct souk_errinfo *ei)
{
    if (in->ends_at <= in->starts_at)
        souk_errinfo_field(ei, "ends_at", "Must be after starts_at.");
    else if (in->ends_at <= now)
        souk_errinfo_field(ei, "ends_at", "Must be in the future.");
    else if (in->ends_at - in->starts_at > AUCTION_DURATION_MAX * 1000000)
        souk_errinfo_field(ei, "ends_at", "An auction lasts at most 366 days.");
    else if (in->has_reserve && in->reserve_price < in->starting_price)
        souk_errinfo_field(ei, "reserve_price", "Must not be below starting_price.");
    else
        return 0;
    return souk_fail(ei, SOUK_INVALID, "invalid auction");
}

/* A recipe is auctioned once at a time, and never again once sold. */
static int check_recipe_free(struct db_conn *tx, const char *recipe_id, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(tx,
                       "SELECT COUNT(*) FROM auctions WHERE recipe_id = $1 AND "
                       "status IN ('open', 'awarded')",
                       DB_PARAMS(DBT(recipe_id)), &r, ei);
    if (!err && db_int(r, 0, 0) > 0)
        err = souk_fail(ei, SOUK_CONFLICT, "this recipe already has a running or sold auction");
    db_res_free(r);
    return err;
}

int auctions_create(struct db_conn *tx, const struct auction_in *in, const char *chef_id,
                    const char *owner_id, const char *currency, struct auction *out,
                    struct souk_errinfo *ei)
{
    int64_t now = clock_now_us(), starts = in->starts_at ? in->starts_at : now;
    struct auction_in t = *in;
    char id[37];
    int err;

    t.starts_at = starts;
    if ((err = check_times(&t, now, ei)) || (err = check_recipe_free(tx, in->recipe_id, ei)))
        return err;
    uuid_v7(id);
    err = db_exec(tx,
                  "INSERT INTO auctions (id, recipe_id, chef_id, owner_id, starting_price, "
                  "min_increment, reserve_price, currency, starts_at, ends_at, "
                  "soft_close_seconds, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, "
                  "$7, $8, $9, $10, $11, $12, $12)",
                  DB_PARAMS(DBT(id), DBT(in->recipe_id), DBT(chef_id), DBT(owner_id),
                            DBI(in->starting_price), DBI(in->min_increment),
                            in->has_reserve ? DBI(in->reserve_price) : DBNULL,
                            DBT(currency ? currency : "usd"), DBI(starts), DBI(in->ends_at),
                            DBI(in->soft_close_seconds), DBI(now)),
                  NULL, ei);
    if (err == SOUK_CONFLICT) /* the partial unique key: a concurrent create */
        return souk_fail(ei, SOUK_CONFLICT, "this recipe already has a running auction");
    if (err || (err = auction_schedule_end(tx, id, in->ends_at, ei)))
        return err;
    return auctions_get(tx, id, out, ei);
}

/* ---- read ----------------------------------------------------------------------------- */

int auctions_get(struct db_conn *c, const char *id, struct auction *out,
                 struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c, "SELECT " AUCTION_COLS " FROM auctions WHERE id = $1",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (!err && db_nrows(r) == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "no such auction");
    if (!err)
        auction_from_row(r, 0, out);
    db_res_free(r);
    return err;
}

int auctions_for_recipe(struct db_conn *c, const char *recipe_id, char out_id[37],
                        struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c,
                       "SELECT id FROM auctions WHERE recipe_id = $1 ORDER BY "
                       "CASE WHEN status = 'open' THEN 0 ELSE 1 END, created_at DESC LIMIT 1",
                       DB_PARAMS(DBT(recipe_id)), &r, ei);
    if (!err && db_nrows(r) == 0)
        err = souk_fail(ei, SOUK_NOT_FOUND, "this recipe has no auction");
    if (!err)
        str_copy(out_id, 37, db_get(r, 0, 0));
    db_res_free(r);
    return err;
}

/* The WHERE fragment of an API status; $1 is now. NULL for an unknown one. */
static const char *status_where(const char *status)
{
    static const struct {
        const char *name, *sql;
    } map[] = {
        {"scheduled", " AND status = 'open' AND starts_at > $1"},
        {"open", " AND status = 'open' AND starts_at <= $1 AND ends_at > $1"},
        {"ended", " AND status = 'open' AND ends_at <= $1"},
        {"awarded", " AND status = 'awarded'"},
        {"unsold", " AND status = 'unsold'"},
        {"cancelled", " AND status = 'cancelled'"},
    };
    if (!status)
        return " AND CAST($1 AS BIGINT) > 0"; /* binds $1 */
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i].name, status))
            return map[i].sql;
    return NULL;
}

int auctions_list(struct db_conn *c, const struct auction_filter *f, const struct keyset *ks,
                  struct arena *a, struct auction **out, int *n, struct souk_errinfo *ei)
{
    const char *sw = status_where(f->status);
    char where[160], order[160];
    struct db_param p[] = {DBI(clock_now_us()), DBT(f->recipe_id), DBT(f->chef_id),
                           DBI(ks->k), DBT(ks->id)};
    struct db_res *r = NULL;
    int err;

    if (!sw)
        return souk_fail(ei, SOUK_INVALID, "unknown status");
    const char *sql = arena_sprintf(
        a,
        "SELECT " AUCTION_COLS " FROM auctions WHERE recipe_id = COALESCE($2, recipe_id) AND "
        "chef_id = COALESCE($3, chef_id)%s%s%s",
        sw, keyset_where(ks, "created_at", "id", 4, where, sizeof where),
        keyset_order(ks, "created_at", "id", order, sizeof order));
    if ((err = db_query(c, sql, p, ks->has_cursor ? 5 : 3, &r, ei)))
        return err;
    *n = db_nrows(r);
    *out = arena_calloc(a, (size_t)*n + 1, sizeof **out);
    for (int i = 0; i < *n; i++)
        auction_from_row(r, i, &(*out)[i]);
    db_res_free(r);
    return 0;
}

/* ---- cancel ------------------------------------------------------------------------------ */

int auctions_cancel(struct db_conn *tx, const char *id, struct auction *out,
                    struct souk_errinfo *ei)
{
    int64_t changed = 0;
    int err = db_exec(tx,
                      "UPDATE auctions SET status = 'cancelled', ended_at = $2, updated_at = $2 "
                      "WHERE id = $1 AND status = 'open' AND bid_count = 0",
                      DB_PARAMS(DBT(id), DBI(clock_now_us())), &changed, ei);
    if (err || (err = auctions_get(tx, id, out, ei)))
        return err;
    if (changed == 0)
        return souk_fail(ei, SOUK_PRECONDITION,
                         out->bid_count ? "the auction has bids" : "the auction is not open");
    return 0;
}
