/* listings.h - what sellers list: priced items with free-form attributes,
 * a place, and a status machine (API.md § "Listings, messaging and
 * moderation").
 *
 * A listing belongs to a vendor profile. `attributes` is a JSON object
 * within the contract's limits (listings_attributes_check); it is stored as
 * JSONB with a GIN index (jsonb_path_ops) on PostgreSQL and as JSON text read
 * with the JSON1 functions on SQLite. Status moves are one conditional
 * statement. Staff hide a listing with listings_set_hidden (moderation):
 * a hidden listing leaves every public list and search.
 *
 * Owns the table listings (0016_listings_messaging.sql). Other domains use
 * the functions below, never the table.
 *
 * Strings in returned structs are allocated from the arena passed in.
 * Functions taking a struct db run their own transaction; *_tx functions
 * and those taking a struct db_conn run in the caller's. Thread-safe; the
 * status hook is set once at start-up.
 */
#ifndef SOUK_LISTINGS_H
#define SOUK_LISTINGS_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct arena;
struct db;
struct db_conn;
struct router;

#define LISTING_TITLE_MAX 200
#define LISTING_TEXT_MAX 10000
#define LISTING_NAME_MAX 200
#define LISTING_ATTR_DEPTH 3
#define LISTING_ATTR_KEYS 50
#define LISTING_ATTR_KEY_MAX 64
#define LISTING_ATTR_STR_MAX 1000
#define LISTING_ATTR_BYTES 16384
#define LISTING_ATTR_FILTERS 16
#define LISTING_ORDER_MAX 3
#define LISTING_Q_WORDS 8
#define LISTING_EARTH_KM 6371.0088
#define LISTING_RADIUS_MAX 20000.0

struct listing {
    char id[37];
    char vendor_id[37];
    char owner_id[37]; /* the vendor profile's user */
    const char *title;
    const char *description;
    const char *category;
    const char *attributes; /* compact JSON object text */
    const char *city;
    int64_t price; /* minor units */
    char currency[4];
    int has_coords;
    double lat, lon;
    char status[10];
    int is_hidden;
    int64_t created_at;
    int64_t updated_at;
    int has_distance;
    int64_t distance_ck; /* distance_km * 100, rounded (with near) */
};

/* Create or PATCH input: NULL strings / price -1 / coords 0 are unchanged
 * (or take their defaults on create). */
struct listing_in {
    const char *title;
    const char *description;
    const char *category;
    const char *currency;
    const char *city;
    const char *status;
    const char *attributes; /* compact JSON text, already checked */
    int64_t price;
    int coords;             /* 0 unchanged, 1 set to lat/lon, 2 set to null */
    double lat, lon;
};

enum listing_attr_op { LISTING_ATTR_EQ = 0, LISTING_ATTR_GTE, LISTING_ATTR_LTE };
struct listing_attr_filter {
    char key[LISTING_ATTR_KEY_MAX + 1];
    enum listing_attr_op op;
    const char *text;   /* the value as given (string match) */
    const char *number; /* JSON number text when the value is one, else NULL */
    int boolean;        /* -1 no, 0 false, 1 true */
};

enum listing_order_key { LISTING_ORD_CREATED = 0, LISTING_ORD_PRICE, LISTING_ORD_DISTANCE };
struct listing_order {
    enum listing_order_key key;
    int desc;
};

/* Keyset position over the ordering keys then id (ties: id descending). */
struct listing_cursor {
    int limit; /* rows to fetch: page size + 1 */
    int has;
    int backwards;
    int64_t k[LISTING_ORDER_MAX];
    char id[37];
};

struct listing_filter {
    const char *owner_id;  /* set: the owner's list (every status, hidden too) */
    const char *status;    /* owner's list only */
    const char *vendor_id;
    const char *category;
    const char *city;
    const char *q;
    int has_price_min, has_price_max;
    int64_t price_min, price_max;
    const char *currency;  /* with a price bound */
    struct listing_attr_filter attrs[LISTING_ATTR_FILTERS];
    int nattrs;
    int near;
    double lat, lon, radius_km;
    struct listing_order order[LISTING_ORDER_MAX];
    int norder;
};

/* Checks the contract's limits on `attributes` (an object ≤ 3 levels deep,
 * ≤ 50 keys per object, keys [A-Za-z0-9_]{1,64}, strings ≤ 1,000 characters,
 * ≤ 16 KiB compact). SOUK_INVALID naming `attributes`; on success *compact
 * is the compact text (arena). */
int listings_attributes_check(const json_t *attrs, struct arena *a, const char **compact,
                              struct souk_errinfo *ei);
/* 1 when `key` is [A-Za-z0-9_]{1,64}. */
int listings_key_valid(const char *key);
/* 1 when the status move from -> to is allowed (from == to is no move). */
int listings_move_allowed(const char *from, const char *to);
/* 1 when anyone may see it (active/reserved/sold, not hidden). */
int listings_is_public(const struct listing *l);

int listings_create(struct db *db, const char *vendor_id, const char *owner_id,
                    const struct listing_in *in, struct arena *a, struct listing *out,
                    struct souk_errinfo *ei);
/* Any status, hidden ones too (visibility is the caller's). SOUK_NOT_FOUND. */
int listings_get(struct db *db, const char *id, struct arena *a, struct listing *out,
                 struct souk_errinfo *ei);
int listings_get_tx(struct db_conn *tx, const char *id, struct arena *a, struct listing *out,
                    struct souk_errinfo *ei);
/* PATCH: fields and/or a status move; a sold or archived listing, or a move
 * the machine forbids, is SOUK_PRECONDITION (invalid_state). */
int listings_update(struct db *db, const char *id, const struct listing_in *in,
                    struct arena *a, struct listing *out, struct souk_errinfo *ei);
/* Only a draft: anything else is SOUK_PRECONDITION. */
int listings_delete(struct db *db, const char *id, struct souk_errinfo *ei);
/* The public list (or the owner's with f->owner_id), cur->limit rows at most
 * in fetch order. */
int listings_list(struct db *db, const struct listing_filter *f, const struct listing_cursor *cur,
                  struct arena *a, struct listing **out, int *n, struct souk_errinfo *ei);
/* The sort key values of a row for the ordering (cursor building). */
void listings_sort_keys(const struct listing_filter *f, const struct listing *l, int64_t *k);

/* Moderation: hides (hidden = 1) or shows again a listing, in the caller's
 * transaction. SOUK_NOT_FOUND when there is no such listing. */
int listings_set_hidden(struct db_conn *tx, const char *id, int hidden, struct souk_errinfo *ei);

/* Called in the transaction of every status change (set by messaging, so
 * that the participants of the listing's threads hear of it). */
typedef int (*listings_status_fn)(struct db_conn *tx, const struct listing *l,
                                  const char *old_status, struct souk_errinfo *ei);
void listings_set_status_hook(listings_status_fn fn);

/* JSON without the vendor (the HTTP layer adds it). New reference. */
json_t *listings_to_json(const struct listing *l);

int listings_init(struct db *db, struct souk_errinfo *ei);
void listings_http_register(struct router *r);
/* The export and erasure part "listings" (erase.c; userdata.h). */
void listings_userdata_register(void);

#endif
