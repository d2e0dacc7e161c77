/* sec_payments.c - /admin/payments/events/: the payment provider's webhook
 * events as recorded (ADMIN, read-only), open ones (review, failed) first.
 *
 * API.md § "Admin console" and § "Administration" (GET
 * /api/admin/payments/events/). Provider event ids are not UUIDs, so the
 * detail segment is {event} and the list pages by (received_at, event_id)
 * with its own ?before=&before_id= links, over payment_events_received_idx
 * (0017) / payment_events_status_idx.
 */
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "core/arena.h"

#define COLS "event_id AS id, type, status, reason, payment_id, provider_object, attempts, " \
             "received_at, updated_at"
#define PAGE 20

static void fix(json_t *row)
{
    admin_fmt_time(row, "received_at");
    admin_fmt_time(row, "updated_at");
}

static const char *status_set(const char *st)
{
    static const char *const sets[][2] = {
        {"all", "|applied|ignored|review|stale|failed|"}, {"applied", "|applied|"},
        {"ignored", "|ignored|"}, {"review", "|review|"}, {"stale", "|stale|"},
        {"failed", "|failed|"}};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (!strcmp(st, sets[i][0]))
            return sets[i][1];
    return "|review|failed|"; /* "open", the default */
}

static int events_list_page(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *st = admin_arg(ax, "status"), *bid = admin_arg(ax, "before_id");
    int64_t before = strtoll(admin_arg(ax, "before"), NULL, 10);
    json_t *rows;
    int err;

    json_object_set_new(ax->page, "status", json_string(*st ? st : "open"));
    err = admin_rows_sql(admin_db(ax),
                         "SELECT " COLS ", received_at AS _k FROM payment_events WHERE "
                         "$1 LIKE '%|' || status || '|%' AND ($2 = 0 OR received_at < $2 OR "
                         "(received_at = $2 AND event_id < $3)) ORDER BY received_at DESC, "
                         "event_id DESC LIMIT 21",
                         DB_PARAMS(DBT(status_set(st)), DBI(before), DBT(bid)), &rows, ei);
    if (err)
        return err;
    if (json_array_size(rows) > PAGE) {
        json_array_remove(rows, PAGE);
        json_t *last = json_array_get(rows, PAGE - 1);
        json_object_set_new(ax->page, "next_before",
                            json_pack("{s:O, s:O, s:s}", "k", json_object_get(last, "_k"), "id",
                                      json_object_get(last, "id"), "status", *st ? st : "open"));
    }
    for (size_t i = 0; i < json_array_size(rows); i++)
        fix(json_array_get(rows, i));
    json_object_set_new(ax->page, "rows", rows);
    return SOUK_OK;
}

static int events_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax),
                            "SELECT " COLS ", payload FROM payment_events WHERE event_id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_object_set_new(ax->page, "event", row);
    return SOUK_OK;
}

const struct admin_section admin_sec_payment_events = {
    .slug = "payments/events", .param = "event", .title = "Payment events",
    .roles = ADMIN_R_ADMIN, .list = events_list_page, .detail = events_detail,
};
