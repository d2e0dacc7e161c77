/* sec_dashboard.c - GET /admin/: the counters staff look at first.
 *
 * API.md § "Admin console" (dashboard). A new domain adds a row to
 * `counters` (one COUNT query each; $1 is the start of the UTC day in
 * microseconds when the query uses it). Reads only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "core/clock.h"

static const struct admin_counter counters[] = {
    {"Users", ADMIN_R_STAFF, "SELECT COUNT(*) AS n FROM users", "/admin/users/"},
    {"Orders paid today", ADMIN_R_ADMIN,
     "SELECT COUNT(*) AS n FROM order_history WHERE to_status = 'paid' AND created_at >= $1",
     "/admin/orders/?status=paid"},
    {"Open reports", ADMIN_R_STAFF, "SELECT COUNT(*) AS n FROM reports WHERE status = 'open'",
     "/admin/reports/"},
    {"Dead jobs", ADMIN_R_ADMIN, "SELECT COUNT(*) AS n FROM jobs WHERE state = 'dead'",
     "/admin/jobs/?state=dead"},
    {"Failing webhooks", ADMIN_R_ADMIN,
     "SELECT COUNT(*) AS n FROM payment_events WHERE status IN ('review', 'failed')",
     "/admin/payments/events/"},
    {NULL, 0, NULL, NULL},
};

int admin_dashboard_fill(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    int64_t now = clock_now_us(), day = now - now % (86400LL * 1000000);
    unsigned mask = admin_role(ax) == AUTH_ROLE_ADMIN ? ADMIN_R_ADMIN : ADMIN_R_MOD;
    json_t *out = json_array(), *row;
    int err;

    json_object_set_new(ax->page, "counters", out);
    for (const struct admin_counter *c = counters; c->label; c++) {
        if (!(c->roles & mask))
            continue;
        struct db_param p[] = {DBI(day)};
        if ((err = admin_row_sql(admin_db(ax), c->sql, p, strstr(c->sql, "$1") ? 1 : 0, &row,
                                 ei)))
            return err;
        json_array_append_new(out, json_pack("{s:s, s:O, s:s}", "label", c->label, "n",
                                             json_object_get(row, "n"), "href", c->href));
        json_decref(row);
    }
    return SOUK_OK;
}
