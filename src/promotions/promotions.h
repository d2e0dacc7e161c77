/* promotions.h - paid visibility for specialists (API.md § Home services:
 * /api/promotions/..., /api/admin/promotions/products/{product}/, and the
 * promotion part of § Payments and events of the home-services routes).
 *
 * Products: TOP and DETAILED cover a project, PRO a specialist profile.
 * A promotion is bought pending, paid through the payments purpose
 * "promotion" (a Checkout in payment mode), and is then active for
 * duration_days x SOUK_PROMOTION_DAY_SECONDS from the payment, or from the
 * end of the target's current coverage by that product (buying again
 * extends it). The end of the unbroken coverage is pushed to the showcase
 * (specialists.h: specialist_set_pro_until, project_set_coverage) in the
 * transaction that changes it; readers compare it with their clock.
 * Jobs expire each promotion at its end and remind its owner one promotion
 * day before a coverage ends, once, unless a paid promotion continues it.
 *
 * Thread safety: no shared state beyond the static purpose table.
 */
#ifndef SOUK_PROMOTIONS_H
#define SOUK_PROMOTIONS_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"

struct arena;
struct db;
struct db_conn;
struct keyset;
struct router;

#define PROMOTION_PRODUCTS 3
#define PROMOTION_DURATION_MAX_DAYS 3650

struct promotion_product {
    char product[12];  /* TOP | DETAILED | PRO */
    char target[12];   /* project | specialist */
    int64_t price;
    char currency[4];
    int duration_days;
    int is_active;
};

/* A PATCH: has_* says which fields were given. */
struct promotion_product_in {
    int has_price, has_duration, has_active;
    int64_t price;
    int duration_days;
    int is_active;
};

struct promotion {
    char id[37];
    char product[12];
    char target_id[37];
    char project_id[37]; /* "" for PRO */
    char specialist_id[37];
    char owner_id[37];
    char status[12];     /* pending | active | expired | cancelled (as of now) */
    int64_t price;
    char currency[4];
    int duration_days;
    int64_t starts_at, ends_at; /* 0 until paid */
    char payment_id[37];
    int attempt;
    const char *checkout_url;
    int64_t created_at;
};

int promotions_products(struct db *db, struct promotion_product out[PROMOTION_PRODUCTS],
                        int *n, struct souk_errinfo *ei);
/* An ADMIN's change, audited promotion.product_update (before/after).
 * SOUK_INVALID: a price below 0.01 or above MONEY_MAX, a duration outside
 * 1..PROMOTION_DURATION_MAX_DAYS; SOUK_NOT_FOUND: no such product. */
struct audit_actor;
int promotions_product_update(struct db *db, const struct audit_actor *actor,
                              const char *product, const struct promotion_product_in *in,
                              struct promotion_product *out, struct souk_errinfo *ei);

/* Buys `product` (for project_id, "" for PRO) as the specialist user_id:
 * the pending row and its checkout, opened at the provider. Errors:
 * FORBIDDEN (not a specialist, another's project), INVALID (project_id),
 * PRECONDITION (inactive product). */
int promotions_create(struct db *db, const char *user_id, const char *product,
                      const char *project_id, struct arena *a, struct promotion *out,
                      struct souk_errinfo *ei);
/* The caller's promotion (another's: SOUK_NOT_FOUND). */
int promotions_get(struct db *db, const char *id, const char *owner_id, struct arena *a,
                   struct promotion *out, struct souk_errinfo *ei);
int promotions_list(struct db *db, const char *owner_id, const char *status,
                    const struct keyset *ks, struct arena *a, struct promotion **out, int *n,
                    struct souk_errinfo *ei);
/* pending -> cancelled; SOUK_PRECONDITION otherwise. */
int promotions_cancel(struct db *db, const char *id, const char *owner_id, struct arena *a,
                      struct promotion *out, struct souk_errinfo *ei);

json_t *promotions_to_json(const struct promotion *p);
json_t *promotions_product_to_json(const struct promotion_product *p);

/* Registers the payment purpose and the job kinds. */
int promotions_init(struct db *db, struct souk_errinfo *ei);
void promotions_http_register(struct router *r);
/* The export and erasure part "promotions" (erase.c; userdata.h). */
void promotions_userdata_register(void);

#endif
