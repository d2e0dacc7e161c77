/* sec_reviews.c - /admin/reviews/: verified reviews of specialists (a content
 * section: ADMIN and MODERATOR), newest first, filters rating and hidden /
 * visible; hide and unhide through moderation_hide (moderate.c), as POST
 * /api/moderation/hide/ does (a hidden review leaves the specialist's rating).
 *
 * API.md § "Admin console" and § "Home services".
 */
#include "admin/admin.h"

#define COLS "r.id, r.rating, r.text, r.reply_text, r.created_at, r.hidden_at, r.request_id, " \
             "r.author_id, u.email AS author_email, r.specialist_id, v.business_name, "        \
             "CASE WHEN r.hidden_at IS NULL THEN 0 ELSE 1 END AS is_hidden"
#define FROM "FROM reviews r JOIN vendor_profiles v ON v.id = r.specialist_id " \
             "JOIN users u ON u.id = r.author_id "

static void fix(json_t *row)
{
    admin_fmt_bool(row, "is_hidden");
    admin_fmt_time(row, "created_at");
    admin_fmt_time(row, "hidden_at");
}

static int reviews_list(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *hidden = admin_hidden_filter(ax), *rating = admin_arg(ax, "rating");

    json_object_set_new(ax->page, "rating", json_string(rating));
    return admin_list_sql(ax,
                          "SELECT " COLS ", r.created_at AS _k " FROM
                          "WHERE ($1 = '' OR ($1 = 'hidden' AND r.hidden_at IS NOT NULL) OR "
                          "($1 = 'visible' AND r.hidden_at IS NULL)) AND ($2 = '' OR "
                          "CAST(r.rating AS TEXT) = $2)",
                          "r.created_at", "r.id", DB_PARAMS(DBT(hidden), DBT(rating)), fix, ei);
}

static int reviews_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax), "SELECT " COLS " " FROM "WHERE r.id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_object_set_new(ax->page, "review", row);
    return SOUK_OK;
}

static int hide(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return admin_set_hidden(ax, "review", 1, ei);
}

static int unhide(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return admin_set_hidden(ax, "review", 0, ei);
}

static const struct admin_action actions[] = {
    {"hide", ADMIN_R_STAFF, hide, "Review hidden.", 0},
    {"unhide", ADMIN_R_STAFF, unhide, "Review shown again.", 0},
    {NULL, 0, NULL, NULL, 0},
};

const struct admin_section admin_sec_reviews = {
    .slug = "reviews", .title = "Reviews", .roles = ADMIN_R_STAFF,
    .list = reviews_list, .detail = reviews_detail, .actions = actions,
};
