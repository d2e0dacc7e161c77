/* internal.h - what promotions.c and promotions_pay.c share. */
#ifndef SOUK_PROMOTIONS_INTERNAL_H
#define SOUK_PROMOTIONS_INTERNAL_H

#include "promotions/promotions.h"

struct checkout_session;

int promo_product_load(struct db_conn *c, const char *product, struct promotion_product *out,
                       struct souk_errinfo *ei);
/* Any promotion by id (the caller checks the owner). */
int promo_load(struct db_conn *c, const char *id, struct arena *a, struct promotion *out,
               struct souk_errinfo *ei);
/* In the buying transaction: the pending payment of p's current attempt. */
int promo_checkout_create(struct db_conn *c, struct arena *a, struct promotion *p,
                          struct checkout_session *cs, struct souk_errinfo *ei);
/* After commit: opens it at the provider and records the URL on p. */
int promo_checkout_open(struct db *db, struct arena *a, struct promotion *p,
                        struct checkout_session *cs, struct souk_errinfo *ei);

#endif
