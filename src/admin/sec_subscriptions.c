/* sec_subscriptions.c - /admin/subscriptions/: subscribers and chefs (ADMIN,
 * read-only). API.md § "Admin console". Keyset pages over
 * subscriptions_created_idx (0017).
 */
#include "admin/admin.h"

#define COLS "s.id, s.status, s.current_period_start, s.current_period_end, s.created_at, " \
             "s.provider_subscription_id, u.email, v.business_name, p.name AS plan_name, " \
             "CASE WHEN s.cancel_at_period_end THEN 1 ELSE 0 END AS cancel_at_period_end"
#define FROM " FROM subscriptions s JOIN users u ON u.id = s.user_id JOIN vendor_profiles v " \
             "ON v.id = s.chef_id JOIN plans p ON p.id = s.plan_id"

static void fix(json_t *row)
{
    admin_fmt_bool(row, "cancel_at_period_end");
    admin_fmt_time(row, "created_at");
    admin_fmt_time(row, "current_period_start");
    admin_fmt_time(row, "current_period_end");
}

static int subs_list_page(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_object_set_new(ax->page, "status", json_string(admin_arg(ax, "status")));
    return admin_list_sql(ax,
                          "SELECT " COLS ", s.created_at AS _k" FROM " WHERE ($1 = '' OR "
                          "s.status = $1) AND ($2 = '' OR u.email LIKE $2)",
                          "s.created_at", "s.id",
                          DB_PARAMS(DBT(admin_arg(ax, "status")),
                                    DBT(admin_like_prefix(ax, admin_arg(ax, "q")))),
                          fix, ei);
}

static int subs_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax), "SELECT " COLS FROM " WHERE s.id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_object_set_new(ax->page, "sub", row);
    return SOUK_OK;
}

const struct admin_section admin_sec_subscriptions = {
    .slug = "subscriptions", .title = "Subscriptions", .roles = ADMIN_R_ADMIN,
    .list = subs_list_page, .detail = subs_detail,
};
