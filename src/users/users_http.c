/* users_http.c - /api/users/... and /api/admin/users/... handlers.
 *
 * Each handler: authorize (auth/policy.h) → parse the body (jv_*) → call
 * the domain (users.h, auth.h) → respond. Authorization comes before
 * parsing wherever it does not depend on the body, so that an anonymous
 * caller learns nothing about a route's input (DRF checks permissions
 * first too). No SQL here.
 */
#include <string.h>

#include "auth/auth.h"
#include "audit/audit.h"
#include "auth/policy.h"
#include "core/json.h"
#include "db/db.h"
#include "http/http.h"
#include "db/keyset.h"
#include "users/users.h"

static const char *const self_roles[] = {"CUSTOMER", "VENDOR", NULL};
static const char *const all_roles[] = {"CUSTOMER", "VENDOR", "MODERATOR", "ADMIN", NULL};

static json_t *tokens_json(const struct auth_tokens *t)
{
    return json_pack("{s:s, s:s}", "access", t->access, "refresh", t->refresh);
}

/* POST /api/users/register/ */
static int register_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct user_new in = {0};
    struct user u;
    struct jv v;
    json_t *body;
    int err;

    if ((err = policy_anyone(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    in.email = jv_str(&v, "email", JV_REQUIRED, 1, 320, NULL);
    in.password = jv_str(&v, "password", JV_REQUIRED, 1, 4096, NULL);
    in.first_name = jv_str(&v, "first_name", JV_OPTIONAL, 0, USER_NAME_MAX, "");
    in.last_name = jv_str(&v, "last_name", JV_OPTIONAL, 0, USER_NAME_MAX, "");
    in.role = auth_role_parse(jv_enum(&v, "role", JV_OPTIONAL, self_roles, "CUSTOMER"));
    if ((err = jv_done(&v)))
        return http_problem(req, err, &ei);
    if (!policy_self_assignable_role(in.role)) { /* jv_enum already refuses; belt and braces */
        souk_errinfo_field(&ei, "role", "Not a valid choice.");
        return http_problem(req, SOUK_INVALID, &ei);
    }
    if ((err = users_register(req->db, &in, &u, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 201, users_to_json(&u, 0));
}

/* POST /api/users/login/ */
static int login_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct auth_tokens t;
    const char *email, *password;
    struct user u;
    struct jv v;
    json_t *body, *out;
    int err;

    if ((err = policy_anyone(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    email = jv_str(&v, "email", JV_REQUIRED, 1, 320, NULL);
    password = jv_str(&v, "password", JV_REQUIRED, 1, 4096, NULL);
    if ((err = jv_done(&v)))
        return http_problem(req, err, &ei);
    if ((err = users_login(req->db, req->client_ip, email, password, &u, &t, &ei)))
        return http_problem(req, err, &ei);
    out = tokens_json(&t);
    json_object_set_new(out, "user", users_to_json(&u, 0));
    return http_json(req, 200, out);
}

/* Reads the required {"refresh": "..."} of a body. */
static int refresh_parse(struct http_req *req, const char **out, struct souk_errinfo *ei)
{
    struct jv v;
    json_t *body;
    int err;

    if ((err = http_body_json(req, &body, ei)))
        return err;
    jv_begin(&v, body, ei);
    *out = jv_str(&v, "refresh", JV_REQUIRED, 1, 512, NULL);
    return jv_done(&v);
}

/* POST /api/users/token/refresh/ */
static int refresh_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    enum auth_refresh_outcome outcome;
    struct auth_tokens t;
    const char *refresh;
    int err;

    if ((err = policy_anyone(req, &ei)) || (err = refresh_parse(req, &refresh, &ei)) ||
        (err = auth_refresh(req->db, refresh, &t, &outcome, &ei)))
        return http_problem(req, err, &ei);
    if (outcome != AUTH_REFRESH_OK)
        return http_problem(req, souk_fail(&ei, SOUK_TOKEN_INVALID,
                                           "The refresh token is invalid, used or revoked."),
                            &ei);
    return http_json(req, 200, tokens_json(&t));
}

/* POST /api/users/logout/ */
static int logout_post(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    const char *refresh;
    int err;

    if ((err = policy_user(req, &ei)) || (err = refresh_parse(req, &refresh, &ei)) ||
        (err = auth_logout(req->db, req->user, refresh, &ei)))
        return http_problem(req, err, &ei);
    return http_no_content(req);
}

/* A valid token of a user that no longer exists is a token_invalid. */
static int gone_user(int err, struct souk_errinfo *ei)
{
    if (err == SOUK_NOT_FOUND)
        return souk_fail(ei, SOUK_TOKEN_INVALID, "The user of this token no longer exists.");
    return err;
}

/* GET /api/users/profile/ */
static int profile_get(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct user u;
    int err;

    if ((err = policy_user(req, &ei)))
        return http_problem(req, err, &ei);
    if ((err = users_get_one(req->db, req->user->id, &u, &ei)))
        return http_problem(req, gone_user(err, &ei), &ei);
    return http_json(req, 200, users_to_json(&u, 0));
}

/* PATCH /api/users/profile/: names only; role and email are ignored. */
static int profile_patch(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    const char *first, *last;
    struct user u;
    struct jv v;
    json_t *body;
    int err;

    if ((err = policy_user(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    first = jv_str(&v, "first_name", JV_OPTIONAL, 0, USER_NAME_MAX, NULL);
    last = jv_str(&v, "last_name", JV_OPTIONAL, 0, USER_NAME_MAX, NULL);
    if ((err = jv_done(&v)))
        return http_problem(req, err, &ei);
    if ((err = users_update_names(req->db, req->user->id, first, last, &u, &ei)))
        return http_problem(req, gone_user(err, &ei), &ei);
    return http_json(req, 200, users_to_json(&u, 0));
}

/* Reads ?role= and ?email= of the admin list. */
static int admin_filter_parse(struct http_req *req, struct user_filter *f,
                              struct souk_errinfo *ei)
{
    const char *role = http_query(req, "role"), *email = http_query(req, "email");
    char *norm;

    memset(f, 0, sizeof *f);
    if (role && *role && !(f->role = auth_role_parse(role))) {
        souk_errinfo_field(ei, "role", "Not a valid choice.");
        return souk_fail(ei, SOUK_INVALID, "Invalid filter.");
    }
    if (email && *email) {
        norm = arena_alloc(req->arena, USER_EMAIL_MAX + 1);
        f->email = users_email_normalize(email, norm) ? email : norm;
    }
    return SOUK_OK;
}

/* GET /api/admin/users/ */
static int admin_users_list(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct user_filter f;
    struct keyset ks;
    struct page pg;
    struct user *rows;
    int64_t *keys;
    const char **ids;
    json_t *results;
    int err, n;

    if ((err = policy_admin(req, &ei)) || (err = admin_filter_parse(req, &f, &ei)) ||
        (err = page_parse(req, &pg, &ei)) || (err = keyset_from_page(&pg, 0, &ks, &ei)))
        return http_problem(req, err, &ei);
    if ((err = users_list(req->db, &f, &ks, req->arena, &rows, &n, &ei)))
        return http_problem(req, err, &ei);
    results = json_array();
    keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_array_append_new(results, users_to_json(&rows[i], 1));
        keys[i] = rows[i].joined_at;
        ids[i] = rows[i].id;
    }
    return http_json(req, 200, keyset_envelope(req, &pg, &ks, results, keys, ids));
}

/* PATCH /api/admin/users/{id}/ {role, is_active} */
static int admin_user_patch(struct http_req *req)
{
    struct souk_errinfo ei = {0};
    struct user u;
    struct jv v;
    json_t *body;
    int err, role, active;

    if ((err = policy_admin(req, &ei)) || (err = http_body_json(req, &body, &ei)))
        return http_problem(req, err, &ei);
    jv_begin(&v, body, &ei);
    role = auth_role_parse(jv_enum(&v, "role", JV_OPTIONAL, all_roles, NULL));
    active = jv_has(&v, "is_active") ? jv_bool(&v, "is_active", JV_REQUIRED, 1) : -1;
    if ((err = jv_done(&v)))
        return http_problem(req, err, &ei);
    if ((err = users_admin_update(req->db, &(struct audit_actor){req->user->id, auth_role_name(req->user->role)},
                                  http_param(req, 0), role, active, &u, &ei)))
        return http_problem(req, err, &ei);
    return http_json(req, 200, users_to_json(&u, 1));
}

void users_http_register(struct router *r)
{
    http_route(r, "POST", "/api/users/register/", register_post, 0, "Register a user");
    http_route(r, "POST", "/api/users/login/", login_post, 0, "Log in: access and refresh tokens");
    http_route(r, "POST", "/api/users/token/refresh/", refresh_post, 0,
               "Rotate a refresh token");
    http_route(r, "POST", "/api/users/logout/", logout_post, 0,
               "Log out: revoke the refresh family and the access token");
    http_route(r, "GET", "/api/users/profile/", profile_get, 0, "The caller's profile");
    http_route(r, "PATCH", "/api/users/profile/", profile_patch, 0, "Change the caller's names");
    http_route(r, "GET", "/api/admin/users/", admin_users_list, 0, "List users (ADMIN)");
    http_route(r, "PATCH", "/api/admin/users/{id}/", admin_user_patch, 0,
               "Change a user's role or activity (ADMIN)");
}
