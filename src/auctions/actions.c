/* actions.c - what /api/auctions/ and /api/bids/ call (auctions_http.c):
 * the functions of auctions.c, bids.c and awards.c, each in a transaction
 * (or a read) of its own. The handler authorizes between reads and writes;
 * an auction's owner never changes, so a check made on a read still holds
 * when the write runs.
 *
 * Thread safety: no shared state.
 */
#include <stdio.h>
#include <string.h>

#include "auctions/auctions.h"
#include "auctions/internal.h"
#include "db/batch.h"
#include "db/db.h"

struct act {
    const char *id, *who, *recipe_id;
    const struct auction_in *in;
    const char *chef_id, *owner_id, *currency;
    const struct auction_filter *f;
    const struct keyset *ks;
    struct arena *a;
    struct auction *auction;
    struct auction **auctions;
    struct bid *bid;
    struct bid **bids;
    struct award **awards;
    int64_t amount;
    int mine, *n;
};

static int add_fn(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct act *x = arg;
    return auctions_create(tx, x->in, x->chef_id, x->owner_id, x->currency, x->auction, ei);
}

int auctions_add(struct db *db, const struct auction_in *in, const char *chef_id,
                 const char *owner_id, const char *currency, struct auction *out,
                 struct souk_errinfo *ei)
{
    struct act x = {.in = in, .chef_id = chef_id, .owner_id = owner_id, .currency = currency,
                    .auction = out};
    return db_tx_run(db, add_fn, &x, ei);
}

static int read_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct act *x = arg;
    return auctions_get(c, x->id, x->auction, ei);
}

int auctions_read(struct db *db, const char *id, struct auction *out, struct souk_errinfo *ei)
{
    struct act x = {.id = id, .auction = out};
    return db_run(db, read_fn, &x, ei);
}

static int withdraw_fn(struct db_conn *tx, void *arg, struct souk_errinfo *ei)
{
    struct act *x = arg;
    return auctions_cancel(tx, x->id, x->auction, ei);
}

int auctions_withdraw(struct db *db, const char *id, struct auction *out, struct souk_errinfo *ei)
{
    struct act x = {.id = id, .auction = out};
    return db_tx_run(db, withdraw_fn, &x, ei);
}

static int list_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct act *x = arg;
    return auctions_list(c, x->f, x->ks, x->a, x->auctions, x->n, ei);
}

int auctions_list_read(struct db *db, const struct auction_filter *f, const struct keyset *ks,
                       struct arena *a, struct auction **out, int *n, struct souk_errinfo *ei)
{
    struct act x = {.f = f, .ks = ks, .a = a, .auctions = out, .n = n};
    return db_run(db, list_fn, &x, ei);
}

/* The bids of one auction's batch (db/batch.h): each arg is a struct bid_try. */
static int bid_batch(struct db_conn *tx, void **args, int n, struct souk_errinfo *ei)
{
    struct bid_try t[BID_BATCH_MAX];
    char auction_id[37];
    int err;

    /* every bid of the batch names the same auction (the batch key) */
    snprintf(auction_id, sizeof auction_id, "%s", ((struct bid_try *)args[0])->out->auction_id);

    for (int i = 0; i < n; i++)
        t[i] = *(struct bid_try *)args[i];
    err = auctions_place_bids(tx, auction_id, t, n, ei);
    for (int i = 0; i < n; i++)
        ((struct bid_try *)args[i])->err = t[i].err;
    return err;
}

static int recipe_auction_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct act *x = arg;
    return auctions_for_recipe(c, x->recipe_id, x->bid->auction_id, ei);
}

/* A bid joins the batch of its auction: requests for the same auction that
 * arrive while one of its transactions is in flight are applied together by
 * the next one, each with its own answer. */
int auctions_bid(struct db *db, const char *auction_id, const char *recipe_id,
                 const char *bidder_id, int64_t amount, struct bid *out, struct souk_errinfo *ei)
{
    struct act x = {.recipe_id = recipe_id, .bid = out};
    struct souk_errinfo mine = {0};
    struct bid_try t = {.bidder_id = bidder_id, .amount = amount, .out = out, .ei = &mine};
    char key[48];
    int err;

    memset(out, 0, sizeof *out);
    if (auction_id)
        snprintf(out->auction_id, sizeof out->auction_id, "%s", auction_id);
    else if ((err = db_run(db, recipe_auction_fn, &x, ei)))
        return err;
    snprintf(key, sizeof key, "bid:%s", out->auction_id);
    err = batch_run(db, key, bid_batch, &t, ei);
    if (!err && t.err) {
        souk_errinfo_cleanup(ei);
        *ei = mine;
        return t.err;
    }
    souk_errinfo_cleanup(&mine);
    return err;
}

static int bids_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct act *x = arg;
    if (x->mine)
        return auctions_bids_for_user(c, x->who, x->ks, x->a, x->bids, x->n, ei);
    return auctions_bids_for_recipe(c, x->who, x->ks, x->a, x->bids, x->n, ei);
}

int auctions_bids_read(struct db *db, const char *who, int mine, const struct keyset *ks,
                       struct arena *a, struct bid **out, int *n, struct souk_errinfo *ei)
{
    struct act x = {.who = who, .mine = mine, .ks = ks, .a = a, .bids = out, .n = n};
    return db_run(db, bids_fn, &x, ei);
}

static int awards_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct act *x = arg;
    if (x->ks)
        return auctions_awards_for_user(c, x->who, x->ks, x->a, x->awards, x->n, ei);
    return auctions_awards_for_auction(c, x->id, x->a, x->awards, x->n, ei);
}

int auctions_awards_read(struct db *db, const char *auction_id, struct arena *a,
                         struct award **out, int *n, struct souk_errinfo *ei)
{
    struct act x = {.id = auction_id, .a = a, .awards = out, .n = n};
    return db_run(db, awards_fn, &x, ei);
}

int auctions_won_read(struct db *db, const char *user_id, const struct keyset *ks,
                      struct arena *a, struct award **out, int *n, struct souk_errinfo *ei)
{
    struct act x = {.who = user_id, .ks = ks, .a = a, .awards = out, .n = n};
    return db_run(db, awards_fn, &x, ei);
}
