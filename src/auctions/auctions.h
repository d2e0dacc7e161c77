/* auctions.h - recipe auctions: creation, atomic bids with soft close, the
 * end of an auction, the winner's payment and second chances.
 *
 * Tables owned: auctions, bids, auction_awards (migration 0006).
 *
 * Bids under contention: a bid is ONE conditional UPDATE of the auction row
 * whose WHERE clause states every rule (open, started, not ended, not the
 * owner, amount >= current_price + min_increment or >= starting_price) and
 * whose SET moves the leader, the price, the bid count and, inside the
 * soft-close window, ends_at; the bid row is inserted in the same
 * transaction. There is no read-then-write window and no application lock:
 * PostgreSQL serialises the writers on the row lock, SQLite on its writer
 * lock. A refused bid changes nothing (a read afterwards only says why).
 *
 * Ending: a job "auction.end" at ends_at (unique key per auction and end
 * time). It ends the auction with a conditional update (`WHERE status =
 * 'open' AND ends_at <= now`), so it is safe to run twice and on several
 * nodes; when soft close has moved ends_at it re-schedules itself at the
 * new end. A recurring sweep catches anything overdue.
 *
 * Winners: the leader at the end wins when the price reaches the reserve
 * (status awarded; an award row with a checkout of purpose "auction" and a
 * pay_by deadline), else the auction is unsold. An award not paid by
 * pay_by is forfeited (job "auction.forfeit") and offered to the next
 * bidder at or above the reserve at their own highest bid.
 *
 * Strings in returned structs live in the arena passed in. Functions taking
 * a struct db_conn run inside the caller's transaction. Thread-safe; the
 * job kinds, the payment purpose and the recipes hook are registered once
 * by auctions_init() before the server starts.
 */
#ifndef SOUK_AUCTIONS_H
#define SOUK_AUCTIONS_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct arena;
struct db;
struct db_conn;
struct router;
struct keyset;

#define AUCTION_SOFT_CLOSE_MAX 86400          /* seconds */
#define AUCTION_DURATION_MAX (366LL * 86400)  /* seconds */
#define AUCTION_LIST_MAX 101                  /* rows per page fetch */

struct auction {
    char id[37];
    char recipe_id[37];
    char chef_id[37];
    char owner_id[37];  /* the chef's user id */
    char status[12];    /* stored: open | awarded | unsold | cancelled */
    int64_t starting_price;
    int64_t min_increment;
    int has_reserve;
    int64_t reserve_price;
    char currency[4];
    int64_t starts_at;
    int64_t ends_at;
    int soft_close_seconds;
    int has_price;      /* a bid exists */
    int64_t current_price;
    char leader_id[37]; /* "" when none */
    int bid_count;
    char winner_id[37]; /* "" when none */
    int64_t created_at;
};

/* What a client sees: scheduled/open/ended are computed from the clock for
 * a stored "open"; the others are the stored status. */
const char *auctions_status_at(const struct auction *a, int64_t now);
/* The smallest acceptable next bid. */
int64_t auctions_minimum_next_bid(const struct auction *a);
/* 1 when a bid has reached the reserve (always, without a reserve). */
int auctions_reserve_met(const struct auction *a);

struct auction_in {
    char recipe_id[37];
    int64_t starting_price;
    int64_t min_increment;
    int has_reserve;
    int64_t reserve_price;
    int64_t starts_at; /* 0: now */
    int64_t ends_at;
    int soft_close_seconds;
};

/* Creates an auction of `recipe_id` (the caller has checked ownership):
 * SOUK_CONFLICT when the recipe already has a running or sold auction,
 * SOUK_INVALID for inconsistent times. Schedules the end job. */
int auctions_create(struct db_conn *tx, const struct auction_in *in, const char *chef_id,
                    const char *owner_id, const char *currency, struct auction *out,
                    struct souk_errinfo *ei);
int auctions_get(struct db_conn *c, const char *id, struct auction *out,
                 struct souk_errinfo *ei);
/* Cancels an auction with no bid: SOUK_PRECONDITION (invalid_state) when a
 * bid exists or it is no longer open. */
int auctions_cancel(struct db_conn *tx, const char *id, struct auction *out,
                    struct souk_errinfo *ei);

struct auction_filter {
    const char *status;    /* API status, NULL: any */
    const char *recipe_id; /* NULL: any */
    const char *chef_id;   /* NULL: any */
};
/* Newest first (created_at, id), ks->limit rows at most. */
int auctions_list(struct db_conn *c, const struct auction_filter *f, const struct keyset *ks,
                  struct arena *a, struct auction **out, int *n, struct souk_errinfo *ei);
/* The recipe's auction to bid on: its open one, else its newest. */
int auctions_for_recipe(struct db_conn *c, const char *recipe_id, char out_id[37],
                        struct souk_errinfo *ei);

/* ---- bids ------------------------------------------------------------------ */
struct bid {
    char id[37];
    char auction_id[37];
    char recipe_id[37];
    char bidder_id[37];
    int64_t amount;
    char currency[4];
    int seq;         /* acceptance order within the auction, from 1 */
    int extended;    /* this bid pushed the end out (soft close) */
    int64_t ends_at; /* the auction's end after this bid */
    int64_t created_at;
    const char *status; /* lists: leading | outbid | won | lost */
};

/* The atomic bid. SOUK_NOT_FOUND, SOUK_FORBIDDEN (the owner), SOUK_CONFLICT
 * with code auction_closed or bid_too_low (extra: minimum_next_bid). */
int auctions_place_bid(struct db_conn *tx, const char *auction_id, const char *bidder_id,
                       int64_t amount, struct bid *out, struct souk_errinfo *ei);
/* Bids on the recipe's auctions, highest first (keyset on amount, id). */
int auctions_bids_for_recipe(struct db_conn *c, const char *recipe_id, const struct keyset *ks,
                             struct arena *a, struct bid **out, int *n,
                             struct souk_errinfo *ei);
/* The user's bids, newest first, with their status. */
int auctions_bids_for_user(struct db_conn *c, const char *user_id, const struct keyset *ks,
                           struct arena *a, struct bid **out, int *n, struct souk_errinfo *ei);
/* "Bidder 1a2b3c": stable within one auction, unlinkable across auctions. */
void auctions_bidder_label(const char *auction_id, const char *bidder_id, char out[24]);

/* ---- awards (the winners' payment requests) ------------------------------------ */
struct award {
    char id[37];
    char auction_id[37];
    char recipe_id[37];
    char user_id[37];
    int rank;              /* 1 the winner, 2 the first second chance, ... */
    int64_t amount;
    char currency[4];
    char status[12];       /* pending | paid | forfeited */
    char payment_status[12]; /* pending | succeeded | failed | expired */
    const char *checkout_url; /* NULL until the checkout is open */
    int64_t pay_by;
    int64_t created_at;
};
/* The user's awards, newest first. */
int auctions_awards_for_user(struct db_conn *c, const char *user_id, const struct keyset *ks,
                             struct arena *a, struct award **out, int *n,
                             struct souk_errinfo *ei);
/* Every award of an auction, by rank (for its owner). */
int auctions_awards_for_auction(struct db_conn *c, const char *auction_id, struct arena *a,
                                struct award **out, int *n, struct souk_errinfo *ei);

/* ---- ending (jobs; exposed for tests and the CLI) -------------------------------- */
/* Ends the auction if it is due (idempotent); opens the winner's checkout
 * after commit. */
int auctions_end(struct db *db, const char *auction_id, struct souk_errinfo *ei);
/* Forfeits an unpaid award past pay_by and offers the next bidder. */
int auctions_forfeit(struct db *db, const char *award_id, struct souk_errinfo *ei);

/* ---- actions.c: the same, each in a transaction (or a read) of its own ---------- */
int auctions_add(struct db *db, const struct auction_in *in, const char *chef_id,
                 const char *owner_id, const char *currency, struct auction *out,
                 struct souk_errinfo *ei);
int auctions_read(struct db *db, const char *id, struct auction *out, struct souk_errinfo *ei);
/* auctions_cancel; the caller has checked who may (the owner never changes). */
int auctions_withdraw(struct db *db, const char *id, struct auction *out,
                      struct souk_errinfo *ei);
int auctions_list_read(struct db *db, const struct auction_filter *f, const struct keyset *ks,
                       struct arena *a, struct auction **out, int *n, struct souk_errinfo *ei);
/* A bid on auction_id, or (auction_id NULL) on recipe_id's auction. */
int auctions_bid(struct db *db, const char *auction_id, const char *recipe_id,
                 const char *bidder_id, int64_t amount, struct bid *out,
                 struct souk_errinfo *ei);
/* mine: the bids of user `who`, else the bids on recipe `who`. */
int auctions_bids_read(struct db *db, const char *who, int mine, const struct keyset *ks,
                       struct arena *a, struct bid **out, int *n, struct souk_errinfo *ei);
int auctions_awards_read(struct db *db, const char *auction_id, struct arena *a,
                         struct award **out, int *n, struct souk_errinfo *ei);
int auctions_won_read(struct db *db, const char *user_id, const struct keyset *ks,
                      struct arena *a, struct award **out, int *n, struct souk_errinfo *ei);

/* ---- module ------------------------------------------------------------------ */
/* Registers the job kinds, the sweep, the "auction" payment purpose and the
 * recipes exclusive hook. Call before the server and the job workers start. */
int auctions_init(struct db *db, struct souk_errinfo *ei);
/* /api/auctions/..., /api/bids/..., see API.md § Auctions and bids. */
void auctions_http_register(struct router *r);

#endif
