/* sec_vendors.c - /admin/vendors/: vendor profiles, the verified badge.
 *
 * API.md § "Admin console" (vendors, ADMIN). The action calls
 * vendors_set_verified, the function behind POST
 * /api/admin/vendors/{id}/verify/. Keyset pages over vendor_profiles_created_idx.
 */
#include <string.h>

#include "admin/admin.h"
#include "vendors/vendors.h"

#define COLS "v.id, v.user_id, v.business_name, v.city, v.bio, v.created_at, u.email, " \
             "CASE WHEN v.is_verified THEN 1 ELSE 0 END AS is_verified"

static void fix(json_t *row)
{
    admin_fmt_bool(row, "is_verified");
    admin_fmt_time(row, "created_at");
}

static int vendors_list_page(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *verified = admin_arg(ax, "verified");
    json_object_set_new(ax->page, "verified_yes", json_boolean(!strcmp(verified, "1")));
    json_object_set_new(ax->page, "verified_no", json_boolean(!strcmp(verified, "0")));
    if (strcmp(verified, "1") && strcmp(verified, "0"))
        verified = "";
    return admin_list_sql(ax,
                          "SELECT " COLS ", v.created_at AS _k FROM vendor_profiles v "
                          "JOIN users u ON u.id = v.user_id WHERE ($1 = '' OR v.business_name "
                          "LIKE $1) AND ($2 = '' OR (CASE WHEN v.is_verified THEN '1' ELSE '0' "
                          "END) = $2)",
                          "v.created_at", "v.id",
                          DB_PARAMS(DBT(admin_like_prefix(ax, admin_arg(ax, "q"))), DBT(verified)),
                          fix, ei);
}

static int vendors_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax),
                            "SELECT " COLS " FROM vendor_profiles v JOIN users u ON u.id = "
                            "v.user_id WHERE v.id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_object_set_new(ax->page, "vendor", row);
    return SOUK_OK;
}

static int verify(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct vendor_profile p;
    struct audit_actor who = admin_actor(ax);

    return vendors_set_verified(admin_db(ax), &who, ax->id, 1, admin_arena(ax), &p, ei);
}

static int unverify(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct vendor_profile p;
    struct audit_actor who = admin_actor(ax);

    return vendors_set_verified(admin_db(ax), &who, ax->id, 0, admin_arena(ax), &p, ei);
}

static const struct admin_action actions[] = {
    {"verify", ADMIN_R_ADMIN, verify, "Vendor verified.", 0},
    {"unverify", ADMIN_R_ADMIN, unverify, "Verified badge removed.", 0},
    {NULL, 0, NULL, NULL, 0},
};

const struct admin_section admin_sec_vendors = {
    .slug = "vendors", .title = "Vendors", .roles = ADMIN_R_ADMIN,
    .list = vendors_list_page, .detail = vendors_detail, .actions = actions,
};
