/* moderation_http.c - reports, the moderator queue, hiding, bans, and the
 * write guard that makes a banned user's writes 403 `banned`.
 *
 *   POST /api/reports/                              user
 *   GET  /api/moderation/reports/                   staff, oldest first
 *   POST /api/moderation/reports/{id}/resolve/      staff
 *   POST /api/moderation/hide/                      staff
 *   POST /api/moderation/users/{id}/ban/, unban/    staff
 *
 * Thread safety: handlers keep all state in the request; the guard is set
 * once before serving.
 */
#include <string.h>

#include "audit/audit.h"
#include "auth/auth.h"
#include "auth/policy.h"
#include "core/json.h"
#include "db/keyset.h"
#include "http/http.h"
#include "moderation/moderation.h"

static const char *const target_types[] = {"listing", "message", "user", "review",
                                           "project", "recipe", NULL};
static const char *const actions[] = {"dismiss", "hide_content", "ban_user", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list))
            return 1;
    return 0;
}

static struct audit_actor actor_of(const struct http_req *req)
{
    return (struct audit_actor){req->user ? req->user->id : NULL,
                                req->user ? auth_role_name(req->user->role) : NULL};
}

/* POST /api/reports/ {target_type, target_id, reason} */
static int report_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct report_in in = {0};
    struct jv v;
    json_t *body, *out;
    int err;

    if ((err = policy_user(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    in.target_type = jv_enum(&v, "target_type", JV_REQUIRED, target_types, NULL);
    jv_uuid(&v, "target_id", JV_REQUIRED, in.target_id);
    in.reason = jv_str(&v, "reason", JV_REQUIRED, 1, MODERATION_REASON_MAX, NULL);
    if ((err = jv_done(&v)) ||
        (err = moderation_report(req->db, req->user->id, policy_is_staff(req), &in, &out, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, out);
}

/* GET /api/moderation/reports/?status=open|resolved&target_type= */
static int reports_get(struct http_req *req)
{
    static const char *const statuses[] = {"open", "resolved", NULL};
    struct souk_errinfo ei = {0};
    struct report_filter f = {"open", NULL};
    struct keyset ks;
    struct page pg;
    json_t *rows;
    int64_t *keys;
    const char **ids;
    int err = policy_staff(req, &ei);

    if (err)
        return http_problem(req, err, &ei);
    f.status = http_query(req, "status") ? http_query(req, "status") : "open";
    f.target_type = http_query(req, "target_type");
    if (!in_list(f.status, statuses) ||
        (f.target_type && !in_list(f.target_type, target_types))) {
        souk_errinfo_field(&ei, f.target_type && !in_list(f.target_type, target_types)
                                    ? "target_type" : "status", "Not a valid choice.");
        return http_problem(req, souk_fail(&ei, SOUK_INVALID, "invalid filters"), &ei);
    }
    if ((err = page_parse(req, &pg, &ei)) || (err = keyset_from_page(&pg, 1, &ks, &ei)) ||
        (err = moderation_reports_list(req->db, &f, &ks, req->arena, &rows, &keys, &ids, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, rows, keys, ids));
}

/* POST /api/moderation/reports/{id}/resolve/ {action, note, until} */
static int resolve_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct resolve_in in = {0};
    struct audit_actor who = actor_of(req);
    struct jv v;
    json_t *body, *out;
    int err;

    if ((err = policy_staff(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    in.action = jv_enum(&v, "action", JV_REQUIRED, actions, NULL);
    in.note = jv_str(&v, "note", JV_OPTIONAL | JV_NULLABLE, 0, MODERATION_REASON_MAX, "");
    jv_time(&v, "until", JV_OPTIONAL | JV_NULLABLE, &in.until);
    if ((err = jv_done(&v)) ||
        (err = moderation_resolve(req->db, &who, http_param(req, 0), &in, &out, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, out);
}

/* POST /api/moderation/hide/ {target_type, target_id, hidden, note} */
static int hide_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct audit_actor who = actor_of(req);
    const char *type, *note;
    char id[37] = "";
    struct jv v;
    json_t *body;
    int err, hidden;

    if ((err = policy_staff(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    type = jv_enum(&v, "target_type", JV_REQUIRED, target_types, NULL);
    jv_uuid(&v, "target_id", JV_REQUIRED, id);
    hidden = jv_bool(&v, "hidden", JV_REQUIRED, 1);
    note = jv_str(&v, "note", JV_OPTIONAL | JV_NULLABLE, 0, MODERATION_REASON_MAX, "");
    if ((err = jv_done(&v)))
        return http_problem(req, err, &ei);
    if (!strcmp(type, "user")) {
        souk_errinfo_field(&ei, "target_type", "A user cannot be hidden; ban them instead.");
        return http_problem(req, souk_fail(&ei, SOUK_INVALID, "cannot hide a user"), &ei);
    }
    if ((err = moderation_hide(req->db, &who, type, id, hidden, note, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, json_pack("{s:s, s:s, s:b}", "target_type", type, "target_id", id,
                                         "is_hidden", hidden));
}

/* POST /api/moderation/users/{id}/ban/ {until, reason} */
static int ban_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct audit_actor who = actor_of(req);
    struct ban b;
    int64_t until = 0;
    const char *reason;
    struct jv v;
    json_t *body;
    int err;

    if ((err = policy_staff(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    jv_time(&v, "until", JV_OPTIONAL | JV_NULLABLE, &until);
    reason = jv_str(&v, "reason", JV_OPTIONAL | JV_NULLABLE, 0, MODERATION_REASON_MAX, "");
    if ((err = jv_done(&v)) ||
        (err = moderation_ban(req->db, &who, http_param(req, 0), until, reason, &b, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, moderation_ban_json(&b));
}

/* POST /api/moderation/users/{id}/unban/ */
static int unban_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct audit_actor who = actor_of(req);
    struct ban b;
    int err;

    if ((err = policy_staff(req, &ei)) ||
        (err = moderation_unban(req->db, &who, http_param(req, 0), &b, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, moderation_ban_json(&b));
}

/* ---- the write guard --------------------------------------------------------- */

/* Writes a banned user may still make: login, refresh, logout, erasure. */
static int exempt(const struct http_req *req)
{
    const char *r = req->route ? req->route : "";

    if (!strncmp(r, "/api/v1/", 8))
        r += 7;
    return !strcmp(r, "/api/users/login/") || !strcmp(r, "/api/users/token/refresh/") ||
           !strcmp(r, "/api/users/logout/") ||
           (!strcmp(r, "/api/users/profile/") && !strcmp(req->method, "DELETE"));
}

static int write_guard(struct http_req *req, struct souk_errinfo *ei)
{
    struct ban b;
    int banned;

    if (!req->user || strncmp(req->path, "/api/", 5) != 0 || exempt(req))
        return SOUK_OK;
    if ((banned = moderation_ban_active(req->db, req->user->id, &b)) < 0)
        return souk_fail(ei, SOUK_UNAVAILABLE, "The database is not available.");
    if (!banned)
        return SOUK_OK;
    ei->extra = json_pack("{s:o}", "banned_until",
                          json_time_or_null(b.banned_until, b.banned_until == 0));
    return souk_fail_code(ei, SOUK_FORBIDDEN, "banned", "Your account is banned.");
}

void moderation_http_register(struct router *r)
{
    http_set_write_guard(write_guard);
    http_route(r, "POST", "/api/reports/", report_post, 0, "Report content or a user");
    http_route(r, "GET", "/api/moderation/reports/", reports_get, 0,
               "The report queue, oldest first (staff)");
    http_route(r, "POST", "/api/moderation/reports/{id}/resolve/", resolve_post, 0,
               "Resolve a report: dismiss, hide the content or ban its author (staff)");
    http_route(r, "POST", "/api/moderation/hide/", hide_post, 0,
               "Hide or show a piece of content (staff)");
    http_route(r, "POST", "/api/moderation/users/{id}/ban/", ban_post, 0, "Ban a user (staff)");
    http_route(r, "POST", "/api/moderation/users/{id}/unban/", unban_post, 0,
               "Lift a user's ban (staff)");
}
