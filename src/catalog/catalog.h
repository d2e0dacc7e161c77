/* catalog.h - what vendors sell: services and their priced, stocked variants.
 *
 * A service belongs to a vendor profile; its variants carry the price
 * (int64 minor units + currency) and the stock. Stock only ever moves by
 * one conditional statement (catalog_stock_take / catalog_stock_give), so
 * concurrent orders can never oversell: there is no read-then-write.
 *
 * Owns the tables services and variants (0007_catalog_orders.sql). Other
 * domains (orders) use the functions below, never the tables.
 *
 * Strings in returned structs are allocated from the arena passed in.
 * Functions taking a struct db run their own transaction; *_tx functions
 * run in the caller's. Thread-safe.
 */
#ifndef SOUK_CATALOG_H
#define SOUK_CATALOG_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct arena;
struct db;
struct db_conn;
struct router;
struct keyset;

#define CATALOG_NAME_MAX 200
#define CATALOG_TEXT_MAX 5000
#define CATALOG_STOCK_MAX INT64_C(1000000000)
#define CATALOG_MINUTES_MAX 100000

struct variant {
    char id[37];
    char service_id[37];
    const char *name;
    int64_t price; /* minor units */
    char currency[4];
    int64_t estimated_minutes;
    int64_t stock;
    int64_t created_at;
};

struct service {
    char id[37];
    char vendor_id[37];
    const char *vendor_name;   /* filled by the HTTP layer (vendors.h) */
    const char *name;
    const char *description;
    const char *category;
    int64_t created_at;
    int64_t updated_at;
    struct variant *variants;  /* oldest first */
    int nvariants;
};

/* Input of a create or an update: NULL strings / -1 numbers are left as they
 * are (or take their defaults on create). */
struct service_in {
    const char *name;
    const char *description;
    const char *category;
};
struct variant_in {
    const char *name;
    int64_t price;             /* -1: unchanged */
    const char *currency;
    int64_t estimated_minutes; /* -1: unchanged */
    int64_t stock;             /* -1: unchanged */
};

struct service_filter {
    const char *vendor_id;     /* NULL: any */
    const char *category;      /* NULL: any; exact, case-insensitive */
    const char *q;             /* NULL: any; every word in name/description/category */
};

/* ---- services ------------------------------------------------------------- */
int catalog_service_create(struct db *db, const char *vendor_id, const struct service_in *in,
                           struct arena *a, struct service *out, struct souk_errinfo *ei);
/* With its variants. SOUK_NOT_FOUND when absent. */
int catalog_service_get(struct db *db, const char *id, struct arena *a, struct service *out,
                        struct souk_errinfo *ei);
int catalog_service_update(struct db *db, const char *id, const struct service_in *in,
                           struct arena *a, struct service *out, struct souk_errinfo *ei);
/* SOUK_PRECONDITION (invalid_state) when one of its variants was ever ordered. */
int catalog_service_delete(struct db *db, const char *id, struct souk_errinfo *ei);
/* Newest first, ks->limit rows at most, each with its variants. */
int catalog_service_list(struct db *db, const struct service_filter *f, const struct keyset *ks,
                         struct arena *a, struct service **out, int *n, struct souk_errinfo *ei);

/* ---- variants ------------------------------------------------------------- */
int catalog_variant_create(struct db *db, const char *service_id, const struct variant_in *in,
                           struct arena *a, struct variant *out, struct souk_errinfo *ei);
/* The variant and the vendor profile id of its service (vendor_id may be NULL). */
int catalog_variant_get(struct db *db, const char *id, struct arena *a, struct variant *out,
                        char vendor_id[37], struct souk_errinfo *ei);
int catalog_variant_update(struct db *db, const char *id, const struct variant_in *in,
                           struct arena *a, struct variant *out, struct souk_errinfo *ei);
/* SOUK_PRECONDITION when it was ever ordered. */
int catalog_variant_delete(struct db *db, const char *id, struct souk_errinfo *ei);

/* ---- stock, inside the caller's transaction -------------------------------
 * What an order needs to know about what it reserved. */
struct stock_take {
    char service_id[37];
    char vendor_id[37];
    const char *service_name;
    const char *variant_name;
    int64_t price;
    char currency[4];
    int64_t stock_left;
};
/* Takes `qty` units by one conditional update. SOUK_CONFLICT with code
 * out_of_stock when fewer are left, SOUK_NOT_FOUND when no such variant. */
int catalog_stock_take_tx(struct db_conn *tx, const char *variant_id, int64_t qty,
                          struct arena *a, struct stock_take *out, struct souk_errinfo *ei);
/* Gives `qty` units back (one statement). */
int catalog_stock_give_tx(struct db_conn *tx, const char *variant_id, int64_t qty,
                          int64_t *stock_left, struct souk_errinfo *ei);
/* The current stock of a variant (-1 when the variant is gone). */
int catalog_stock_get_tx(struct db_conn *tx, const char *variant_id, int64_t *stock,
                         struct souk_errinfo *ei);

/* ---- JSON ----------------------------------------------------------------- */
json_t *catalog_variant_to_json(const struct variant *v); /* new reference */
json_t *catalog_service_to_json(const struct service *s);

/* Set by the orders module at start-up: 1 when a variant (or, with
 * by_service, any variant of the service) has orders. Keeps the catalog from
 * reading the orders table itself. NULL: nothing is ever ordered. */
typedef int (*catalog_ordered_fn)(struct db_conn *tx, const char *id, int by_service,
                                  int *ordered, struct souk_errinfo *ei);
void catalog_set_ordered_check(catalog_ordered_fn fn);

void catalog_http_register(struct router *r);
int catalog_init(struct db *db, struct souk_errinfo *ei);

#endif
