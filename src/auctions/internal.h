/* internal.h - what the files of src/auctions/ share (not for other
 * domains: they use auctions.h). */
#ifndef SOUK_AUCTIONS_INTERNAL_H
#define SOUK_AUCTIONS_INTERNAL_H

#include <stdint.h>
#include <jansson.h>
#include "auctions/auctions.h"
#include "jobs/jobs.h"
#include "core/err.h"

struct db;
struct db_conn;
struct db_res;

#define AUCTION_COLS                                                                          \
    "id, recipe_id, chef_id, owner_id, status, starting_price, min_increment, reserve_price, " \
    "currency, starts_at, ends_at, soft_close_seconds, current_price, leader_id, bid_count, " \
    "winner_id, created_at"
#define AUCTION_NCOLS 17

/* Job kinds */
#define AUCTION_JOB_END "auction.end"
#define AUCTION_JOB_FORFEIT "auction.forfeit"
#define AUCTION_JOB_BID "auction.bid"          /* fan-out of one accepted bid */
#define AUCTION_JOB_CHECKOUT "auction.checkout" /* a fresh checkout for a pending award */
#define AUCTION_JOB_REFUND "auction.refund"    /* a payment that came too late */

/* auctions.c */
void auction_from_row(const struct db_res *r, int i, struct auction *a);

/* One bid of a batch (bids.c): what was asked, and what came of it once the
 * batch's transaction committed: err 0 and *out, or the refusal in err and ei
 * (SOUK_FORBIDDEN for the owner, SOUK_CONFLICT auction_closed / bid_too_low). */
struct bid_try {
    const char *bidder_id;
    int64_t amount;
    struct bid *out;
    int err;
    struct souk_errinfo *ei;
};
#define BID_BATCH_MAX 64 /* BATCH_MAX of db/batch.h */

/* The bids t[0..n) on one auction, in that order, in the caller's
 * transaction: the row is held once and read once, each bid is decided on
 * the row as the bids before it left it, and the accepted ones are written
 * together (one UPDATE of the row, one INSERT, one fan-out job). Returns
 * non-zero only when the batch as a whole fails (no such auction, the
 * database); then nothing of it is kept. */
int auctions_place_bids(struct db_conn *tx, const char *auction_id, struct bid_try *t, int n,
                        struct souk_errinfo *ei);

/* awards.c: inside a transaction, the end job at ends_at (unique per
 * auction and end time, so re-scheduling for a new end adds one job). */
int auction_schedule_end(struct db_conn *tx, const char *auction_id, int64_t ends_at,
                         struct souk_errinfo *ei);

/* bids.c: the fan-out job of an accepted bid */
int auction_bid_job(struct db *db, const struct job *job, struct souk_errinfo *ei);
/* Everyone watching an auction: its owner and its distinct bidders. */
int auction_watchers_notify(struct db_conn *tx, const struct auction *a, const char *type,
                            const json_t *payload, struct souk_errinfo *ei);

/* awards.c: the "auction" payment purpose and the recipes hook */
void auction_purpose_register(void);
void auction_exclusive_install(void);
void auction_jobs_register(void);

/* Registers the auctions part of the export and the erasure (erase.c). */
void auction_userdata_register(void);

#endif
