/* sec_audit.c - /admin/audit/: the audit trail (ADMIN), newest first,
 * filters action, target_type, target_id and actor (a user id). Read-only:
 * the table's triggers refuse UPDATE and DELETE (src/audit/).
 */
#include "admin/admin.h"

#define COLS "id, at, actor_id, actor_role, action, target_type, target_id, before_json, " \
             "after_json, note"

static void fix(json_t *row)
{
    admin_fmt_time(row, "at");
}

static int audit_page(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    static const char *const keys[] = {"action", "target_type", "target_id", "actor", NULL};

    for (int i = 0; keys[i]; i++)
        json_object_set_new(ax->page, keys[i], json_string(admin_arg(ax, keys[i])));
    return admin_list_sql(ax,
                          "SELECT " COLS ", at AS _k FROM audit_log WHERE ($1 = '' OR action = "
                          "$1) AND ($2 = '' OR target_type = $2) AND ($3 = '' OR target_id = "
                          "$3) AND ($4 = '' OR CAST(actor_id AS TEXT) = $4)",
                          "at", "id",
                          DB_PARAMS(DBT(admin_arg(ax, "action")), DBT(admin_arg(ax, "target_type")),
                                    DBT(admin_arg(ax, "target_id")), DBT(admin_arg(ax, "actor"))),
                          fix, ei);
}

static int audit_entry(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax), "SELECT " COLS " FROM audit_log WHERE id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_object_set_new(ax->page, "entry", row);
    return SOUK_OK;
}

const struct admin_section admin_sec_audit = {
    .slug = "audit", .title = "Audit", .roles = ADMIN_R_ADMIN,
    .list = audit_page, .detail = audit_entry, .actions = NULL,
};
