/* internal.h - what listings.c and search.c share (not for other domains). */
#ifndef SOUK_LISTINGS_INTERNAL_H
#define SOUK_LISTINGS_INTERNAL_H

#include "listings/listings.h"

struct db_res;

#define LISTING_COLS                                                                          \
    "id, vendor_id, owner_id, title, description, category, attributes, city, price, "       \
    "currency, lat, lon, status, hidden_at, created_at, updated_at"
#define LISTING_NCOLS 16

void listing_from_row(const struct db_res *r, int i, struct arena *a, struct listing *l);
const char *listing_double_text(struct arena *a, double v);

#endif
