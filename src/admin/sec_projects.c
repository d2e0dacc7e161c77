/* sec_projects.c - /admin/projects/: specialists' portfolio projects (a
 * content section: ADMIN and MODERATOR), newest first, search by title
 * prefix, filter hidden / visible; hide and unhide through moderation_hide
 * (moderate.c), as POST /api/moderation/hide/ does. Deleted projects are
 * not listed.
 *
 * API.md § "Admin console" and § "Home services".
 */
#include "admin/admin.h"

#define COLS "p.id, p.title, p.description, p.category, p.city, p.media_count, p.view_count, " \
             "p.favorite_count, p.created_at, p.hidden_at, p.vendor_id, v.business_name, "   \
             "CASE WHEN p.hidden_at IS NULL THEN 0 ELSE 1 END AS is_hidden"
#define FROM "FROM projects p JOIN vendor_profiles v ON v.id = p.vendor_id "

static void fix(json_t *row)
{
    admin_fmt_bool(row, "is_hidden");
    admin_fmt_time(row, "created_at");
    admin_fmt_time(row, "hidden_at");
}

static int projects_list(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *q = admin_like_prefix(ax, admin_arg(ax, "q"));
    const char *hidden = admin_hidden_filter(ax);

    json_object_set_new(ax->page, "q", json_string(admin_arg(ax, "q")));
    return admin_list_sql(ax,
                          "SELECT " COLS ", p.created_at AS _k " FROM
                          "WHERE p.deleted_at IS NULL AND ($1 = '' OR lower(p.title) LIKE "
                          "lower($1)) AND ($2 = '' OR ($2 = 'hidden' AND p.hidden_at IS NOT "
                          "NULL) OR ($2 = 'visible' AND p.hidden_at IS NULL))",
                          "p.created_at", "p.id", DB_PARAMS(DBT(q), DBT(hidden)), fix, ei);
}

static int projects_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax),
                            "SELECT " COLS " " FROM "WHERE p.id = $1 AND p.deleted_at IS NULL",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_object_set_new(ax->page, "project", row);
    return SOUK_OK;
}

static int hide(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return admin_set_hidden(ax, "project", 1, ei);
}

static int unhide(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    return admin_set_hidden(ax, "project", 0, ei);
}

static const struct admin_action actions[] = {
    {"hide", ADMIN_R_STAFF, hide, "Project hidden.", 0},
    {"unhide", ADMIN_R_STAFF, unhide, "Project shown again.", 0},
    {NULL, 0, NULL, NULL, 0},
};

const struct admin_section admin_sec_projects = {
    .slug = "projects", .title = "Projects", .roles = ADMIN_R_STAFF,
    .list = projects_list, .detail = projects_detail, .actions = actions,
};
