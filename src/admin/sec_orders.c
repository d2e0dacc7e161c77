/* sec_orders.c - /admin/orders/: every order, and refunds (ADMIN).
 *
 * API.md § "Admin console" (orders: refund). The action calls
 * orders_refund, the function behind POST /api/orders/{id}/refund/, with
 * the admin as actor: the provider refund, the history row and the
 * status change are the API's. Keyset pages over orders_created_idx (0017).
 */
#include <string.h>

#include "admin/admin.h"
#include "orders/orders.h"

#define COLS "id, customer_email, vendor_name, service_name, variant_name, quantity, " \
             "total_amount, currency, status, cancel_reason, created_at, updated_at"

static void fix(json_t *row)
{
    admin_fmt_time(row, "created_at");
    admin_fmt_time(row, "updated_at");
    admin_fmt_money(row, "total_amount");
}

static int orders_list_page(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_object_set_new(ax->page, "status", json_string(admin_arg(ax, "status")));
    return admin_list_sql(ax,
                          "SELECT " COLS ", created_at AS _k FROM orders WHERE ($1 = '' OR "
                          "status = $1) AND ($2 = '' OR customer_email LIKE $2)",
                          "created_at", "id",
                          DB_PARAMS(DBT(admin_arg(ax, "status")),
                                    DBT(admin_like_prefix(ax, admin_arg(ax, "q")))),
                          fix, ei);
}

static int orders_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row, *hist;
    int err = admin_row_sql(admin_db(ax), "SELECT " COLS " FROM orders WHERE id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    const char *st = json_string_value(json_object_get(row, "status"));
    json_object_set_new(row, "can_refund", json_boolean(st && (!strcmp(st, "paid") ||
                                                              !strcmp(st, "processing") ||
                                                              !strcmp(st, "completed"))));
    json_object_set_new(ax->page, "order", row);
    if ((err = admin_rows_sql(admin_db(ax),
                              "SELECT from_status, to_status, actor, note, created_at FROM "
                              "order_history WHERE order_id = $1 ORDER BY created_at, id",
                              DB_PARAMS(DBT(ax->id)), &hist, ei)))
        return err;
    for (size_t i = 0; i < json_array_size(hist); i++)
        admin_fmt_time(json_array_get(hist, i), "created_at");
    json_object_set_new(ax->page, "history", hist);
    return SOUK_OK;
}

static int refund(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct order_actor who = {"admin", ax->s->user.id};
    struct order o;
    return orders_refund(admin_db(ax), ax->id, &who, admin_arena(ax), &o, ei);
}

static const struct admin_action actions[] = {
    {"refund", ADMIN_R_ADMIN, refund, "Order refunded.", 0},
    {NULL, 0, NULL, NULL, 0},
};

const struct admin_section admin_sec_orders = {
    .slug = "orders", .title = "Orders", .roles = ADMIN_R_ADMIN,
    .list = orders_list_page, .detail = orders_detail, .actions = actions,
};
