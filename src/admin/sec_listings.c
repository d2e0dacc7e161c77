/* sec_listings.c - /admin/listings/: the listings market (a content section:
 * ADMIN and MODERATOR), newest first, search by title prefix, filters status
 * and hidden / visible; hide and unhide through moderation_hide (moderate.c),
 * as POST /api/moderation/hide/ does.
 *
 * API.md § "Admin console" and § "Listings, messaging and moderation".
 */
#include "admin/admin.h"

#define COLS "l.id, l.title, l.description, l.category, l.city, l.price, l.currency, l.status, " \
             "l.attributes, l.created_at, l.hidden_at, l.vendor_id, v.business_name, "          \
             "CASE WHEN l.hidden_at IS NULL THEN 0 ELSE 1 END AS is_hidden"
#define FROM "FROM listings l JOIN vendor_profiles v ON v.id = l.vendor_id "

static void fix(json_t *row)
{
    admin_fmt_bool(row, "is_hidden");
    admin_fmt_money(row, "price");
    admin_fmt_time(row, "created_at");
    admin_fmt_time(row, "hidden_at");
}

static int listings_list(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *q = admin_like_prefix(ax, admin_arg(ax, "q"));
    const char *hidden = admin_hidden_filter(ax), *status = admin_arg(ax, "status");

    json_object_set_new(ax->page, "q", json_string(admin_arg(ax, "q")));
    json_object_set_new(ax->page, "status", json_string(status));
    return admin_list_sql(ax,
                          "SELECT " COLS ", l.created_at AS _k " FROM
                          "WHERE ($1 = '' OR lower(l.title) LIKE lower($1)) AND ($2 = '' OR "
                          "($2 = 'hidden' AND l.hidden_at IS NOT NULL) OR ($2 = 'visible' AND "
                          "l.hidden_at IS NULL)) AND ($3 = '' OR l.status = $3)",
                          "l.created_at", "l.id", DB_PARAMS(DBT(q), DBT(hidden), DBT(status)),
                          fix, ei);
}

static int listings_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax), "SELECT " COLS " " FROM "WHERE l.id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_object_set_new(ax->page, "listing", row);
    return SOUK_OK;
}

static int hide(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return admin_set_hidden(ax, "listing", 1, ei);
}

static int unhide(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return admin_set_hidden(ax, "listing", 0, ei);
}

static const struct admin_action actions[] = {
    {"hide", ADMIN_R_STAFF, hide, "Listing hidden.", 0},
    {"unhide", ADMIN_R_STAFF, unhide, "Listing shown again.", 0},
    {NULL, 0, NULL, NULL, 0},
};

const struct admin_section admin_sec_listings = {
    .slug = "listings", .title = "Listings", .roles = ADMIN_R_STAFF,
    .list = listings_list, .detail = listings_detail, .actions = actions,
};
