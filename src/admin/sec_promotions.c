/* sec_promotions.c - /admin/promotions/: every specialist's promotions and
 * the three products' settings (ADMIN only).
 *
 * API.md § "Admin console" and § "Home services" (promotions). The list is a
 * keyset page over promotions_created_idx (0021); a promotion's status is
 * read by the server's clock as the API reads it (an active one past its end
 * is expired before the job has run). The product forms on the list page go
 * through promotions_product_update, the function behind PATCH
 * /api/admin/promotions/products/{product}/ (same rules, same audit entry
 * promotion.product_update); existing promotions keep their price.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "core/money.h"
#include "promotions/promotions.h"

#define STATUS "CASE WHEN p.status = 'active' AND p.ends_at <= $1 THEN 'expired' ELSE p.status END"
#define COLS                                                                                   \
    "p.id, p.product, " STATUS " AS status, p.price, p.currency, p.duration_days, "            \
    "p.starts_at, p.ends_at, p.created_at, p.attempt, p.checkout_url, p.payment_id, "          \
    "p.project_id, u.email AS owner_email, v.business_name, v.id AS specialist_id, "           \
    "pr.title AS project_title"
#define FROM                                                                                   \
    " FROM promotions p JOIN users u ON u.id = p.owner_id JOIN vendor_profiles v ON v.id = "   \
    "p.specialist_id LEFT JOIN projects pr ON pr.id = p.project_id"

static const char *const STATUSES[] = {"pending", "active", "expired", "cancelled", NULL};
static const char *const PRODUCTS[] = {"TOP", "DETAILED", "PRO", NULL};

static void fix(json_t *row)
{
    admin_fmt_money(row, "price");
    admin_fmt_time(row, "starts_at");
    admin_fmt_time(row, "ends_at");
    admin_fmt_time(row, "created_at");
}

/* The products with their forms; a refused form shows what was typed. */
static int products_fill(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct promotion_product pp[PROMOTION_PRODUCTS];
    const char *typed = ax->form ? admin_field(ax, "product") : "";
    json_t *rows = json_array();
    int n, err = promotions_products(admin_db(ax), pp, &n, ei);

    for (int i = 0; !err && i < n; i++) {
        json_t *row = promotions_product_to_json(&pp[i]);
        if (!strcmp(typed, pp[i].product)) {
            json_object_set_new(row, "price", json_string(admin_field(ax, "price")));
            json_object_set_new(row, "duration_days",
                                json_string(admin_field(ax, "duration_days")));
            json_object_set_new(row, "is_active",
                                json_boolean(!strcmp(admin_field(ax, "is_active"), "1")));
        }
        json_array_append_new(rows, row);
    }
    json_object_set_new(ax->page, "products", rows);
    return err;
}

static int promotions_list_page(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *status = admin_arg(ax, "status"), *product = admin_arg(ax, "product");
    int err = products_fill(ax, ei);

    if (err)
        return err;
    json_object_set_new(ax->page, "statuses", admin_options(STATUSES, status));
    json_object_set_new(ax->page, "product_opts", admin_options(PRODUCTS, product));
    return admin_list_sql(ax,
                          "SELECT " COLS ", p.created_at AS _k" FROM " WHERE ($2 = '' OR " STATUS
                          " = $2) AND ($3 = '' OR p.product = $3) AND ($4 = '' OR u.email "
                          "LIKE $4)",
                          "p.created_at", "p.id",
                          DB_PARAMS(DBI(clock_now_us()), DBT(status), DBT(product),
                                    DBT(admin_like_prefix(ax, admin_arg(ax, "q")))),
                          fix, ei);
}

static int promotions_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax), "SELECT " COLS FROM " WHERE p.id = $2",
                            DB_PARAMS(DBI(clock_now_us()), DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_object_set_new(ax->page, "promo", row);
    return SOUK_OK;
}

/* POST /admin/promotions/ {product, price, duration_days, is_active} */
static int product_save(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct audit_actor who = admin_actor(ax);
    struct promotion_product_in in = {.has_price = 1, .has_duration = 1, .has_active = 1};
    struct promotion_product out;
    const char *days = admin_field(ax, "duration_days");
    char *end = NULL;
    long n = strtol(days, &end, 10);

    if (money_parse(admin_field(ax, "price"), 0, &in.price)) {
        souk_errinfo_field(ei, "price", "A price such as 9.99.");
        return souk_fail(ei, SOUK_INVALID, "%s", "Price: use an amount such as 9.99.");
    }
    if (!*days || *end || n < 0 || n > INT_MAX)
        n = 0; /* not a number of days: promotions_product_update says why */
    in.duration_days = (int)n;
    in.is_active = !strcmp(admin_field(ax, "is_active"), "1");
    return promotions_product_update(admin_db(ax), &who, admin_field(ax, "product"), &in, &out,
                                     ei);
}

static const struct admin_action save_product = {"products", ADMIN_R_ADMIN, product_save,
                                                 "Product saved.", 0};

const struct admin_section admin_sec_promotions = {
    .slug = "promotions", .title = "Promotions", .roles = ADMIN_R_ADMIN,
    .list = promotions_list_page, .detail = promotions_detail, .list_post = &save_product,
};
