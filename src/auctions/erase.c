/* erase.c - the auctions module's part of the export and the erasure
 * (userdata.h): the user's bids are exported; an erasure waits while the
 * user owns or has bid on an open auction, or has an awarded auction still
 * unpaid (as chef or as winner). Bids on ended auctions stay, tied only to
 * the user id.
 */
#include "auctions/internal.h"
#include "core/json.h"
#include "core/money.h"
#include "db/db.h"
#include "userdata/userdata.h"

#define BIDS_EXPORT_MAX 10000

static int export_bids(struct db_conn *c, const struct userdata_who *w, json_t **out,
                       struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT b.id, b.auction_id, a.recipe_id, b.amount, a.currency, b.created_at "
                       "FROM bids b JOIN auctions a ON a.id = b.auction_id WHERE b.bidder_id = $1 "
                       "ORDER BY b.created_at DESC, b.id DESC LIMIT $2",
                       DB_PARAMS(DBT(w->user_id), DBI(BIDS_EXPORT_MAX)), &r, ei);

    if (err)
        return err;
    *out = json_array();
    for (int i = 0; i < db_nrows(r); i++)
        json_array_append_new(*out, json_pack("{s:s, s:s, s:s, s:o, s:s, s:o}", "id",
                                              db_get(r, i, 0), "auction_id", db_get(r, i, 1),
                                              "recipe_id", db_get(r, i, 2), "amount",
                                              money_to_json(db_int(r, i, 3)), "currency",
                                              db_get(r, i, 4), "created_at",
                                              json_time(db_int(r, i, 5))));
    db_res_free(r);
    return SOUK_OK;
}

static int check_auctions(struct db_conn *c, const struct userdata_who *w,
                          struct souk_errinfo *ei)
{
    struct db_res *r;
    int n, err = db_query(
        c,
        "SELECT 1 FROM auctions a WHERE a.status = 'open' AND (a.owner_id = $1 OR EXISTS "
        "(SELECT 1 FROM bids b WHERE b.auction_id = a.id AND b.bidder_id = $1)) UNION ALL "
        "SELECT 1 FROM auction_awards w JOIN auctions a ON a.id = w.auction_id WHERE "
        "w.status = 'pending' AND (w.user_id = $1 OR a.owner_id = $1) LIMIT 1",
        DB_PARAMS(DBT(w->user_id)), &r, ei);

    if (err)
        return err;
    n = db_nrows(r);
    db_res_free(r);
    return n ? souk_fail_code(ei, SOUK_PRECONDITION, "invalid_state",
                              "An open auction or an unpaid award involves this account.")
             : SOUK_OK;
}

static const struct userdata_part part = {
    .key = "bids", .check = check_auctions, .export_fn = export_bids, .order = 400};

void auction_userdata_register(void)
{
    userdata_register(&part);
}
