/* sec_users.c - /admin/users/: find people, change role, (de)activate.
 *
 * API.md § "Admin console" (users; MODERATOR views). Actions call
 * users_admin_update, the function behind PATCH /api/admin/users/{id}/
 * (a role change or a deactivation revokes tokens and ends console
 * sessions). Reads are keyset pages over users_joined_idx; q (an email
 * prefix, as typed) is a range of users_email_key. Staff (MODERATOR too) ban
 * and unban through moderation_ban / moderation_unban, the functions behind
 * POST /api/moderation/users/{id}/ban/ and /unban/ (audited user.ban,
 * user.unban).
 */
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/json.h"
#include "moderation/moderation.h"
#include "users/users.h"

#define COLS "id, email, first_name, last_name, role, " \
             "CASE WHEN is_active THEN 1 ELSE 0 END AS is_active, joined_at"

static void fix(json_t *row)
{
    admin_fmt_bool(row, "is_active");
    admin_fmt_time(row, "joined_at");
}

static int users_list_page(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *role = admin_arg(ax, "role");
    static const char *const roles[] = {"CUSTOMER", "VENDOR", "MODERATOR", "ADMIN", NULL};

    json_object_set_new(ax->page, "roles", admin_options(roles, role));
    if (*role && !auth_role_parse(role))
        role = "";
    const char *q = admin_arg(ax, "q");
    if (!*q)
        return admin_list_sql(ax,
                              "SELECT " COLS ", joined_at AS _k FROM users WHERE "
                              "($1 = '' OR role = $1)",
                              "joined_at", "id", DB_PARAMS(DBT(role)), fix, ei);
    /* an email prefix is a range of users_email_key, so a rare prefix is no scan */
    return admin_list_sql(ax,
                          "SELECT " COLS ", joined_at AS _k FROM users WHERE ($1 = '' OR "
                          "role = $1) AND email >= $2 AND email < $3",
                          "joined_at", "id",
                          DB_PARAMS(DBT(role), DBT(q),
                                    DBT(arena_sprintf(admin_arena(ax), "%s\xef\xbf\xbf", q))),
                          fix, ei);
}

static int users_detail(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    json_t *row;
    int err = admin_row_sql(admin_db(ax), "SELECT " COLS " FROM users WHERE id = $1",
                            DB_PARAMS(DBT(ax->id)), &row, ei);
    if (err)
        return err;
    fix(row);
    json_t *roles = json_array();
    const char *cur = json_string_value(json_object_get(row, "role"));
    for (int r = AUTH_ROLE_CUSTOMER; r <= AUTH_ROLE_ADMIN; r++)
        json_array_append_new(roles, json_pack("{s:s, s:b}", "value", auth_role_name(r),
                                               "selected", !strcmp(cur, auth_role_name(r))));
    json_object_set_new(row, "roles", roles);
    struct ban b;
    int banned = moderation_ban_active(admin_db(ax), ax->id, &b);
    if (banned < 0)
        return souk_fail(ei, SOUK_UNAVAILABLE, "The database did not answer.");
    json_object_set_new(row, "is_banned", json_boolean(banned == 1));
    if (banned == 1) {
        json_object_set_new(row, "ban_reason", json_string(b.reason));
        json_object_set_new(row, "banned_until",
                            b.banned_until ? json_time(b.banned_until) : json_string("permanent"));
    }
    json_object_set_new(ax->page, "user", row);
    json_object_set_new(ax->page, "can_edit", json_boolean(admin_role(ax) == AUTH_ROLE_ADMIN));
    return SOUK_OK;
}

static int set_role(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct user u;
    int role = auth_role_parse(admin_field(ax, "role"));
    if (!role) {
        souk_errinfo_field(ei, "role", "Not a valid choice.");
        return souk_fail(ei, SOUK_INVALID, "Choose a role.");
    }
    struct audit_actor who = admin_actor(ax);

    return users_admin_update(admin_db(ax), &who, ax->id, role, -1, &u, ei);
}

static int activate(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct user u;
    struct audit_actor who = admin_actor(ax);

    return users_admin_update(admin_db(ax), &who, ax->id, AUTH_ROLE_NONE, 1, &u, ei);
}

static int deactivate(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct user u;
    struct audit_actor who = admin_actor(ax);

    return users_admin_update(admin_db(ax), &who, ax->id, AUTH_ROLE_NONE, 0, &u, ei);
}

/* days: empty for a permanent ban, else 1..3650 days from now. */
static int ban(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    const char *days = admin_field(ax, "days"), *reason = admin_field(ax, "reason");
    char *end = NULL;
    long n = *days ? strtol(days, &end, 10) : 0;
    struct audit_actor who = admin_actor(ax);
    struct ban b;

    if (*days && (*end || n < 1 || n > 3650)) {
        souk_errinfo_field(ei, "days", "A whole number of days from 1 to 3650, or empty.");
        return souk_fail(ei, SOUK_INVALID, "Invalid ban length.");
    }
    if (!*reason || strlen(reason) > 2000) {
        souk_errinfo_field(ei, "reason", "Say why (1 to 2000 characters).");
        return souk_fail(ei, SOUK_INVALID, "A ban needs a reason.");
    }
    return moderation_ban(admin_db(ax), &who, ax->id,
                          n ? clock_now_us() + (int64_t)n * 86400 * 1000000 : 0, reason, &b, ei);
}

static int unban(struct admin_ctx *ax, struct souk_errinfo *ei)
{
    struct audit_actor who = admin_actor(ax);
    struct ban b;

    return moderation_unban(admin_db(ax), &who, ax->id, &b, ei);
}

static const struct admin_action actions[] = {
    {"ban", ADMIN_R_STAFF, ban, "User banned.", 0},
    {"unban", ADMIN_R_STAFF, unban, "Ban lifted.", 0},
    {"role", ADMIN_R_ADMIN, set_role, "Role changed.", 0},
    {"activate", ADMIN_R_ADMIN, activate, "Account activated.", 0},
    {"deactivate", ADMIN_R_ADMIN, deactivate, "Account deactivated.", 0},
    {NULL, 0, NULL, NULL, 0},
};

const struct admin_section admin_sec_users = {
    .slug = "users", .title = "Users", .roles = ADMIN_R_STAFF,
    .list = users_list_page, .detail = users_detail, .actions = actions,
};
