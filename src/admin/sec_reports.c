/* sec_reports.c - /admin/reports/: the moderators' queue of reports (ADMIN
 * and MODERATOR), open ones by default, oldest first on the page order of
 * the console (newest first), filters status and target_type.
 *
 * API.md § "Admin console" and § Listings, messaging and moderation. The
 * action `resolve` calls moderation_resolve, the function behind POST
 * /api/moderation/reports/{id}/resolve/ (dismiss, hide_content or ban_user,
 * with a note); it resolves every open report on the same target and writes
 * the audit entries report.resolve (and content.hide / user.ban) itself.
 */
#include <string.h>

#include "admin/admin.h"
#include "moderation/moderation.h"

#define COLS "id, reporter_id, target_type, target_id, reason, status, resolution_action, " \
             "resolution_note, resolved_by, resolved_at, created_at"

static const char *const statuses[] = {"open", "resolved", NULL};
static const char *const types[] = {"", "listing", "message", "user", "review",
                                    "project", "recipe", NULL};

static void fix(json_t *row)
{
    admin_fmt_time(row, "created_at");
    admin_fmt_time(row, "resolved_at");
}

static int reports_list(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *status = admin_arg(ax, "status"), *type = admin_arg(ax, "target_type");

    if (strcmp(status, "resolved"))
        status = "open";
    json_object_set_new(ax->page, "statuses", admin_options(statuses, status));
    json_object_set_new(ax->page, "types", admin_options(types, type));
    return admin_list_sql(ax,
                          "SELECT " COLS ", created_at AS _k FROM reports WHERE status = $1 AND "
                          "($2 = '' OR target_type = $2)",
                          "created_at", "id", DB_PARAMS(DBT(status), DBT(type)), fix, ei);
}

static int reports_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row, *others = NULL;
    int err = admin_row_sql(admin_db(ax), "SELECT " COLS " FROM reports WHERE id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_object_set_new(row, "is_open", json_boolean(!strcmp(
                                            json_string_value(json_object_get(row, "status")),
                                            "open")));
    err = admin_rows_sql(admin_db(ax),
                         "SELECT id, reason, reporter_id, created_at FROM reports WHERE "
                         "target_type = $1 AND target_id = $2 AND status = 'open' AND id <> $3 "
                         "ORDER BY created_at, id LIMIT 50",
                         DB_PARAMS(DBT(json_string_value(json_object_get(row, "target_type"))),
                                   DBT(json_string_value(json_object_get(row, "target_id"))),
                                   DBT(ax->id)),
                         &others, ei);
    json_object_set_new(ax->page, "report", row);
    if (!err)
        json_object_set_new(ax->page, "others", others);
    return err;
}

static int resolve(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct audit_actor who = admin_actor(ax);
    struct resolve_in in = {admin_field(ax, "action"), admin_field(ax, "note"), 0};
    json_t *out = NULL;
    int err = moderation_resolve(admin_db(ax), &who, ax->id, &in, &out, ei);

    json_decref(out);
    return err;
}

static const struct admin_action actions[] = {
    {"resolve", ADMIN_R_STAFF, resolve, "Report resolved.", 0},
    {NULL, 0, NULL, NULL, 0},
};

const struct admin_section admin_sec_reports = {
    .slug = "reports", .title = "Reports", .roles = ADMIN_R_STAFF,
    .list = reports_list, .detail = reports_detail, .actions = actions,
};
