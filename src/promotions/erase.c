/* erase.c - the promotions module's part of the export and the erasure
 * (userdata.h): the promotions the user bought. Erasure cancels the pending
 * ones; the others stay, tied to the user id, as the payments behind them
 * (accounting retention).
 */
#include <jansson.h>

#include "core/clock.h"
#include "db/db.h"
#include "promotions/promotions.h"
#include "userdata/userdata.h"

static int export_promotions(struct db_conn *c, const struct userdata_who *w, json_t **out,
                             struct souk_errinfo *ei)
{
    return userdata_rows(c,
                         "SELECT id, product, project_id, specialist_id, status, price, currency, "
                         "duration_days, starts_at, ends_at, created_at, updated_at FROM "
                         "promotions WHERE owner_id = $1 ORDER BY created_at DESC, id DESC",
                         DB_PARAMS(DBT(w->user_id)), "sssssmsitttt", out, ei);
}

static int erase_promotions(struct db_conn *c, const struct userdata_who *w,
                            struct souk_errinfo *ei)
{
    return db_exec(c,
                   "UPDATE promotions SET status = 'cancelled', updated_at = $2 "
                   "WHERE owner_id = $1 AND status = 'pending'",
                   DB_PARAMS(DBT(w->user_id), DBI(clock_now_us())), NULL, ei);
}

static const struct userdata_part promotions_part = {
    .key = "promotions", .export_fn = export_promotions, .erase = erase_promotions, .order = 500};

void promotions_userdata_register(void)
{
    userdata_register(&promotions_part);
}
