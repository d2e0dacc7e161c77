/* erase.c - the listings module's part of the export and the erasure
 * (userdata.h): the user's listings, in any status. Erasure deletes them;
 * the threads about them stay for the other participant, without their
 * listing (threads.listing_id is ON DELETE SET NULL).
 */
#include <jansson.h>

#include "db/db.h"
#include "listings/listings.h"
#include "userdata/userdata.h"

static int export_listings(struct db_conn *c, const struct userdata_who *w, json_t **out,
                           struct souk_errinfo *ei)
{
    return userdata_rows(c,
                         "SELECT id, title, description, category, price, currency, attributes, "
                         "city, lat, lon, status, hidden_at, created_at, updated_at FROM listings "
                         "WHERE owner_id = $1 ORDER BY created_at DESC, id DESC",
                         DB_PARAMS(DBT(w->user_id)), "ssssmsjsffsttt", out, ei);
}

static int erase_listings(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei)
{
    return db_exec(c, "DELETE FROM listings WHERE owner_id = $1", DB_PARAMS(DBT(w->user_id)), NULL,
                   ei);
}

static const struct userdata_part listings_part = {
    .key = "listings", .export_fn = export_listings, .erase = erase_listings, .order = 500};

void listings_userdata_register(void)
{
    userdata_register(&listings_part);
}
