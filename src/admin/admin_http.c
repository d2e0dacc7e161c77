/* admin_http.c - the admin console's HTTP side: routes, sessions, CSRF,
 * security headers, the layout, and dispatch to the sections (admin.h).
 *
 * API.md § "Admin console". Every /admin/ page is text/html rendered with
 * tmpl.h (escaped by construction) and carries a Content-Security-Policy
 * without inline script, frame-ancestors 'none' (X-Frame-Options DENY comes
 * from the server) and Cache-Control: no-store. Bearer tokens are ignored
 * here: only the `souk_admin` cookie opens the console. A GET never changes
 * state; every POST needs the session's csrf_token (the login form: the
 * token of the SameSite=Strict `souk_admin_login` cookie).
 *
 * Thread safety: per-request state only (sessions live in the database).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/tmpl.h"
#include "core/arena.h"
#include "core/config.h"
#include "http/http.h"
#include "users/users.h"

#define CSP "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; " \
            "frame-ancestors 'none'; base-uri 'none'"
#define FLAGS (ROUTE_NO_API | ROUTE_RAW_BODY)

/* ---- small HTTP pieces ------------------------------------------------------ */

static const char *cookie_get(struct http_req *req, const char *name)
{
    const char *h = http_header(req, "Cookie");
    size_t n = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';')
            h++;
        if (strncmp(h, name, n) == 0 && h[n] == '=') {
            const char *v = h + n + 1, *e = strchr(v, ';');
            size_t len = e ? (size_t)(e - v) : strlen(v);
            char *out = arena_alloc(req->arena, len + 1);
            memcpy(out, v, len);
            out[len] = 0;
            return out;
        }
        h = strchr(h, ';');
    }
    return NULL;
}

static void set_cookie(struct http_req *req, const char *name, const char *value, int max_age)
{
    int secure = souk_cfg && strncmp(souk_cfg->public_url, "https://", 8) == 0;
    char *c = arena_sprintf(req->arena, "%s=%s; Path=/admin/; Max-Age=%d; HttpOnly; "
                            "SameSite=Strict%s", name, value, max_age, secure ? "; Secure" : "");
    http_set_header(req, "Set-Cookie", c);
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static char *url_decode(struct arena *a, const char *s, size_t n)
{
    char *out = arena_alloc(a, n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+')
            *o++ = ' ';
        else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else
            *o++ = s[i];
    }
    *o = 0;
    return out;
}

/* application/x-www-form-urlencoded body -> {key: value} (last wins). */
static json_t *form_parse_body(struct http_req *req)
{
    json_t *o = json_object();
    const char *s = req->body ? req->body : "", *end = s + req->body_len;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s)), *stop = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(stop - s));
        if (eq) {
            char *k = url_decode(req->arena, s, (size_t)(eq - s));
            char *v = url_decode(req->arena, eq + 1, (size_t)(stop - eq - 1));
            json_t *str = json_string(v); /* NULL for a value that is not UTF-8 */
            json_object_set_new(o, k, str ? str : json_string(""));
        }
        s = stop + 1;
    }
    return http_keep(req, o);
}

static int tokens_equal(const char *a, const char *b)
{
    size_t n = a ? strlen(a) : 0;
    return a && b && n > 0 && n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

/* A same-site relative path under /admin/, else "/admin/". */
static const char *safe_next(const char *next)
{
    if (!next || strncmp(next, "/admin/", 7) != 0 || strstr(next, "//") || strchr(next, '\\'))
        return "/admin/";
    for (const char *p = next; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "/admin/";
    return next;
}

static char *url_encode(struct arena *a, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = arena_alloc(a, strlen(s) * 3 + 1), *o = out;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-_.~/", c))
            *o++ = (char)c;
        else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = 0;
    return out;
}

/* ---- rendering -------------------------------------------------------------- */

static json_t *nav_json(const struct admin_ctx *ax, const char *current)
{
    json_t *nav = json_array();
    unsigned mask = admin_role(ax) == AUTH_ROLE_ADMIN ? ADMIN_R_ADMIN : ADMIN_R_MOD;
    for (int i = 0; admin_sections[i]; i++) {
        const struct admin_section *s = admin_sections[i];
        if (s->roles & mask)
            json_array_append_new(nav, json_pack("{s:s, s:s, s:b}", "slug", s->slug, "title",
                                                 s->title, "active",
                                                 current && !strcmp(current, s->slug)));
    }
    return nav;
}

/* Renders `tmpl` with ax->page inside layout.html and answers `status`. */
static int admin_render(struct admin_ctx *ax, int status, const char *tmpl, const char *title,
                        const char *current)
{
    struct http_req *req = ax->req;
    json_object_set_new(ax->page, "title", json_string(title));
    if (ax->s) {
        json_object_set_new(ax->page, "csrf", json_string(ax->s->csrf));
        json_object_set_new(ax->page, "me", json_pack("{s:s, s:s}", "email", ax->s->user.email,
                                                      "role", auth_role_name(ax->s->user.role)));
        json_object_set_new(ax->page, "nav", nav_json(ax, current));
    }
    struct tmpl_frag own[] = {{"preview", ax->preview ? ax->preview : ""}, {NULL, NULL}};
    char *content = tmpl_render(tmpl, ax->page, own);
    struct tmpl_frag frags[] = {{"content", content ? content : ""}, {NULL, NULL}};
    char *html = tmpl_render("layout.html", ax->page, frags);
    free(content);
    http_set_header(req, "Content-Security-Policy", CSP);
    http_set_header(req, "Cache-Control", "no-store");
    http_text(req, status, "text/html; charset=utf-8", html ? html : "", html ? strlen(html) : 0);
    free(html);
    return 0;
}

static int admin_error(struct admin_ctx *ax, int err, struct souk_errinfo *ei)
{
    int status = http_problem_status(err);
    json_object_set_new(ax->page, "status", json_integer(status));
    json_object_set_new(ax->page, "message",
                        json_string(ei->detail[0] && status < 500 ? ei->detail : "Something went wrong."));
    if (err == SOUK_RATE_LIMITED) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", ei->retry_after > 0 ? ei->retry_after : 1);
        http_set_header(ax->req, "Retry-After", ra);
    }
    souk_errinfo_cleanup(ei);
    return admin_render(ax, status, "error.html", "Error", NULL);
}

static int redirect(struct http_req *req, int status, const char *location)
{
    http_set_header(req, "Location", location);
    http_set_header(req, "Content-Security-Policy", CSP);
    http_set_header(req, "Cache-Control", "no-store");
    return http_text(req, status, "text/plain; charset=utf-8", "", 0);
}

/* ---- the gate: session, role, CSRF ----------------------------------------------- */

static char *request_target(struct http_req *req)
{
    char *t = arena_strdup(req->arena, req->path);
    for (int i = 0; i < req->nquery; i++)
        t = arena_sprintf(req->arena, "%s%c%s=%s", t, i ? '&' : '?',
                          url_encode(req->arena, req->query[i].key),
                          url_encode(req->arena, req->query[i].value));
    return t;
}

/* Fills ax with the session and checks role and CSRF; 0 when the handler
 * may go on, else 1 with the response set. */
static int admin_gate(struct admin_ctx *ax, struct admin_session *s, unsigned roles)
{
    struct http_req *req = ax->req;
    struct souk_errinfo ei = {0};
    int is_get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");

    ax->page = http_keep(req, json_object());
    if (admin_session_load(req->db, cookie_get(req, "souk_admin"), s, &ei)) {
        souk_errinfo_cleanup(&ei);
        if (is_get)
            return redirect(req, 302, arena_sprintf(req->arena, "/admin/login/?next=%s",
                                                    url_encode(req->arena, request_target(req)))),
                   1;
        return admin_error(ax, souk_fail(&ei, SOUK_FORBIDDEN, "Sign in first."), &ei), 1;
    }
    ax->s = s;
    unsigned mask = s->user.role == AUTH_ROLE_ADMIN ? ADMIN_R_ADMIN : ADMIN_R_MOD;
    if (!(roles & mask))
        return admin_error(ax, souk_fail(&ei, SOUK_FORBIDDEN, "Your role may not open this page."),
                           &ei), 1;
    if (!is_get) {
        ax->form = form_parse_body(req);
        if (!tokens_equal(admin_field(ax, "csrf_token"), s->csrf))
            return admin_error(ax, souk_fail(&ei, SOUK_FORBIDDEN, "CSRF token missing or wrong."),
                               &ei), 1;
    }
    return 0;
}

/* ---- sections --------------------------------------------------------------------- */

static const struct admin_section *section_of(const struct http_req *req)
{
    const char *t = req->route + strlen("/admin/");
    for (int i = 0; admin_sections[i]; i++) {
        size_t n = strlen(admin_sections[i]->slug);
        if (!strncmp(t, admin_sections[i]->slug, n) && t[n] == '/')
            return admin_sections[i];
    }
    return NULL;
}

static char *tmpl_name(struct http_req *req, const char *slug, const char *suffix)
{
    char *n = arena_sprintf(req->arena, "%s_%s.html", slug, suffix);
    for (char *p = n; *p; p++)
        if (*p == '/')
            *p = '_';
    return n;
}

static int section_list(struct http_req *req)
{
    struct admin_ctx ax = {.req = req};
    struct admin_session s;
    struct souk_errinfo ei = {0};
    const struct admin_section *sec = section_of(req);
    int err;

    if (admin_gate(&ax, &s, sec->roles))
        return 0;
    json_object_set_new(ax.page, "q", json_string(admin_arg(&ax, "q")));
    json_object_set_new(ax.page, "done", json_string(admin_arg(&ax, "done")));
    if ((err = sec->list(&ax, &ei)))
        return admin_error(&ax, err, &ei);
    return admin_render(&ax, 200, tmpl_name(req, sec->slug, "list"), sec->title, sec->slug);
}

static int detail_render(struct admin_ctx *ax, const struct admin_section *sec, int status)
{
    struct souk_errinfo ei = {0};
    int err = sec->detail(ax, &ei);
    if (err)
        return admin_error(ax, err, &ei);
    if (!json_object_get(ax->page, "done"))
        json_object_set_new(ax->page, "done", json_string(admin_arg(ax, "done")));
    /* the page's own path, for its forms' actions (a refused action renders
     * this page at the action's URL, where relative actions would break) */
    json_object_set_new(ax->page, "self",
                        json_string(arena_sprintf(ax->req->arena, "/admin/%s/%s/", sec->slug,
                                                  url_encode(ax->req->arena, ax->id))));
    return admin_render(ax, status, tmpl_name(ax->req, sec->slug, "detail"), sec->title,
                        sec->slug);
}

static int section_detail(struct http_req *req)
{
    struct admin_ctx ax = {.req = req, .id = http_param(req, 0)};
    struct admin_session s;
    const struct admin_section *sec = section_of(req);

    if (admin_gate(&ax, &s, sec->roles))
        return 0;
    return detail_render(&ax, sec, 200);
}

static const struct admin_action *action_of(const struct admin_section *sec, const char *route)
{
    const char *last = route + strlen(route) - 1, *p = last;
    while (p > route && p[-1] != '/')
        p--;
    for (const struct admin_action *a = sec->actions; a && a->name; a++)
        if (strlen(a->name) == (size_t)(last - p) && !strncmp(p, a->name, (size_t)(last - p)))
            return a;
    return NULL;
}

/* A refused action: its message for the page, its status from problem.c. */
static int action_failed(struct admin_ctx *ax, int err, struct souk_errinfo *ei)
{
    json_object_set_new(ax->page, "error", json_string(ei->detail[0] ? ei->detail : "Failed."));
    souk_errinfo_cleanup(ei);
    return http_problem_status(err);
}

static int section_action(struct http_req *req)
{
    struct admin_ctx ax = {.req = req, .id = http_param(req, 0)};
    struct admin_session s;
    struct souk_errinfo ei = {0};
    const struct admin_section *sec = section_of(req);
    const struct admin_action *act = action_of(sec, req->route);
    int err;

    if (admin_gate(&ax, &s, sec->roles & act->roles))
        return 0;
    if ((err = act->fn(&ax, &ei)))
        return detail_render(&ax, sec, action_failed(&ax, err, &ei));
    if (act->flags & ADMIN_ACT_RENDER) {
        json_object_set_new(ax.page, "done", json_string(act->done));
        return detail_render(&ax, sec, 200);
    }
    if (act->flags & ADMIN_ACT_TO_LIST)
        return redirect(req, 303, arena_sprintf(req->arena, "/admin/%s/?done=%s", sec->slug,
                                                url_encode(req->arena, act->done)));
    return redirect(req, 303, arena_sprintf(req->arena, "/admin/%s/%s/?done=%s", sec->slug,
                                            ax.id, url_encode(req->arena, act->done)));
}

/* POST /admin/<slug>/: the section's list_post (a create). */
static int section_list_post(struct http_req *req)
{
    struct admin_ctx ax = {.req = req};
    struct admin_session s;
    struct souk_errinfo ei = {0};
    const struct admin_section *sec = section_of(req);
    const struct admin_action *act = sec->list_post;
    int err;

    if (admin_gate(&ax, &s, sec->roles & act->roles))
        return 0;
    if ((err = act->fn(&ax, &ei))) {
        int status = action_failed(&ax, err, &ei);
        json_object_set(ax.page, "form", ax.form);
        json_object_set_new(ax.page, "q", json_string(""));
        if ((err = sec->list(&ax, &ei)))
            return admin_error(&ax, err, &ei);
        return admin_render(&ax, status, tmpl_name(req, sec->slug, "list"), sec->title,
                            sec->slug);
    }
    if (ax.id)
        return redirect(req, 303, arena_sprintf(req->arena, "/admin/%s/%s/?done=%s", sec->slug,
                                                ax.id, url_encode(req->arena, act->done)));
    return redirect(req, 303, arena_sprintf(req->arena, "/admin/%s/?done=%s", sec->slug,
                                            url_encode(req->arena, act->done)));
}

/* ---- login, logout, dashboard, stylesheet ------------------------------------------ */

static int login_form(struct admin_ctx *ax, int status, const char *message)
{
    char token[ADMIN_TOKEN_LEN];
    admin_token_new(token);
    set_cookie(ax->req, "souk_admin_login", token, 3600);
    json_object_set_new(ax->page, "login_csrf", json_string(token));
    json_object_set_new(ax->page, "next", json_string(safe_next(http_query(ax->req, "next"))));
    if (message)
        json_object_set_new(ax->page, "message", json_string(message));
    if (!ax->form)
        return admin_render(ax, status, "login.html", "Sign in", NULL);
    json_object_set(ax->page, "email", json_object_get(ax->form, "email"));
    json_object_set_new(ax->page, "next", json_string(safe_next(admin_field(ax, "next"))));
    return admin_render(ax, status, "login.html", "Sign in", NULL);
}

/* GET /admin/login/ */
static int login_get(struct http_req *req)
{
    struct admin_ctx ax = {.req = req, .page = http_keep(req, json_object())};
    struct admin_session s;
    struct souk_errinfo ei = {0};

    if (!admin_session_load(req->db, cookie_get(req, "souk_admin"), &s, &ei))
        return redirect(req, 303, safe_next(http_query(req, "next")));
    souk_errinfo_cleanup(&ei);
    return login_form(&ax, 200, NULL);
}

/* POST /admin/login/ email, password, csrf_token, next */
static int login_post(struct http_req *req)
{
    struct admin_ctx ax = {.req = req, .page = http_keep(req, json_object())};
    struct souk_errinfo ei = {0};
    char fresh[PASSWORD_HASH_MAX], token[ADMIN_TOKEN_LEN];
    struct admin_session s;
    struct user u;
    int err;

    ax.form = form_parse_body(req);
    if (!tokens_equal(admin_field(&ax, "csrf_token"), cookie_get(req, "souk_admin_login")))
        return admin_error(&ax, souk_fail(&ei, SOUK_FORBIDDEN, "CSRF token missing or wrong."),
                           &ei);
    err = users_authenticate(req->db, req->client_ip, admin_field(&ax, "email"),
                             admin_field(&ax, "password"), &u, fresh, &ei);
    if (err == SOUK_UNAUTHENTICATED) {
        souk_errinfo_cleanup(&ei);
        return login_form(&ax, 401, "Wrong email or password.");
    }
    if (err)
        return admin_error(&ax, err, &ei);
    if (u.role < AUTH_ROLE_MODERATOR)
        return admin_error(&ax, souk_fail(&ei, SOUK_FORBIDDEN, "The console is for staff only."),
                           &ei);
    if ((err = admin_session_open(req->db, &u, token, &s, &ei)))
        return admin_error(&ax, err, &ei);
    set_cookie(req, "souk_admin", token, (int)(ADMIN_SESSION_TTL_US / 1000000));
    return redirect(req, 303, safe_next(admin_field(&ax, "next")));
}

/* POST /admin/logout/ */
static int logout_post(struct http_req *req)
{
    struct admin_ctx ax = {.req = req};
    struct admin_session s;
    struct souk_errinfo ei = {0};
    int err;

    if (admin_gate(&ax, &s, ADMIN_R_STAFF))
        return 0;
    if ((err = admin_session_close(req->db, cookie_get(req, "souk_admin"), &ei)))
        return admin_error(&ax, err, &ei);
    set_cookie(req, "souk_admin", "", 0);
    return redirect(req, 303, "/admin/login/");
}

/* GET /admin/ */
static int admin_dashboard(struct http_req *req)
{
    struct admin_ctx ax = {.req = req};
    struct admin_session s;
    struct souk_errinfo ei = {0};
    int err;

    if (admin_gate(&ax, &s, ADMIN_R_STAFF))
        return 0;
    if ((err = admin_dashboard_fill(&ax, &ei)))
        return admin_error(&ax, err, &ei);
    return admin_render(&ax, 200, "dashboard.html", "Dashboard", "");
}

/* GET /admin/static/admin.css */
static int stylesheet(struct http_req *req)
{
    size_t len;
    const char *css = tmpl_asset("admin.css", &len);
    http_set_header(req, "Cache-Control", "public, max-age=3600");
    return http_text(req, 200, "text/css; charset=utf-8", css ? css : "", css ? len : 0);
}

void admin_http_register(struct router *r)
{
    char t[256];
    http_route(r, "GET", "/admin/", admin_dashboard, FLAGS, "Admin console: dashboard");
    http_route(r, "GET", "/admin/login/", login_get, FLAGS, "Admin console: sign-in form");
    http_route(r, "POST", "/admin/login/", login_post, FLAGS, "Admin console: sign in");
    http_route(r, "POST", "/admin/logout/", logout_post, FLAGS, "Admin console: sign out");
    http_route(r, "GET", "/admin/static/admin.css", stylesheet, FLAGS | ROUTE_PUBLIC,
               "Admin console: stylesheet");
    for (int i = 0; admin_sections[i]; i++) {
        const struct admin_section *s = admin_sections[i];
        snprintf(t, sizeof t, "/admin/%s/", s->slug);
        http_route(r, "GET", t, section_list, FLAGS, s->title);
        if (s->list_post)
            http_route(r, "POST", t, section_list_post, FLAGS | ROUTE_PROVIDER, s->list_post->done);
        const char *param = s->param ? s->param : "id";
        snprintf(t, sizeof t, "/admin/%s/{%s}/", s->slug, param);
        if (s->detail)
            http_route(r, "GET", t, section_detail, FLAGS, s->title);
        for (const struct admin_action *a = s->actions; a && a->name; a++) {
            snprintf(t, sizeof t, "/admin/%s/{%s}/%s/", s->slug, param, a->name);
            http_route(r, "POST", t, section_action, FLAGS | ROUTE_PROVIDER, a->done);
        }
    }
}
