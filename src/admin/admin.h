/* admin.h - the admin console's framework: what a section file sees.
 *
 * API.md § "Admin console". The console is HTML under /admin/, outside the
 * OpenAPI document, for staff sessions (session.h). admin_http.c owns the
 * routes, the session and CSRF checks, the security headers and the layout;
 * a section (sec_<name>.c, listed once in sections.c) only says which roles
 * enter it and fills a JSON page for its templates:
 *
 *   GET  /admin/<slug>/                 list(ax, ei)    -> <slug>_list.html
 *   GET  /admin/<slug>/{id}/            detail(ax, ei)  -> <slug>_detail.html
 *   POST /admin/<slug>/{id}/<action>/   action->fn(ax, ei), then 303 back to
 *                                       the detail page (errors: the detail
 *                                       page again with the error and its
 *                                       status from src/http/problem.c)
 *   POST /admin/<slug>/                 list_post->fn(ax, ei) with ax->id NULL
 *                                       (a create sets it): 303 to the new
 *                                       detail page, else to the list (errors:
 *                                       the list again, the form kept)
 * ('/' in a slug becomes '_' in template names: payments/events ->
 * payments_events_list.html.) Sections read with the helpers below and act
 * through the API's domain functions only.
 *
 * Thread safety: sections are immutable tables; a struct admin_ctx belongs
 * to one request.
 */
#ifndef SOUK_ADMIN_H
#define SOUK_ADMIN_H

#include <jansson.h>
#include "admin/session.h"
#include "core/err.h"
#include "db/db.h"

struct http_req;
struct router;

/* who enters (bit mask) */
#define ADMIN_R_ADMIN 0x1u
#define ADMIN_R_MOD 0x2u
#define ADMIN_R_STAFF (ADMIN_R_ADMIN | ADMIN_R_MOD)

struct admin_ctx {
    struct http_req *req;
    struct admin_session *s;
    const char *id;     /* {id} of a detail or an action page, else NULL */
    json_t *page;       /* the template context; sections add members */
    json_t *form;       /* POST fields (strings), an object */
    const char *preview; /* trusted HTML for {{&preview}} (admin_markdown_html), or NULL */
};

/* The signed-in staff member, as the audit trail names them. */
#include "audit/audit.h"
struct audit_actor admin_actor(const struct admin_ctx *ax);

struct admin_action {
    const char *name;   /* URL segment */
    unsigned roles;
    int (*fn)(struct admin_ctx *ax, struct souk_errinfo *ei);
    const char *done;   /* message shown after success */
    unsigned flags;     /* ADMIN_ACT_* */
};
/* On success, render the detail page (200) instead of redirecting: an
 * action that changes nothing (a preview of unsaved text). */
#define ADMIN_ACT_RENDER 0x1u
/* On success, 303 to the list (the detail page is gone: a delete). */
#define ADMIN_ACT_TO_LIST 0x2u

struct admin_section {
    const char *slug;   /* "users", "payments/events" */
    const char *param;  /* name of the detail segment: NULL is "id" (a UUID); another
                         * name takes any segment ("event": provider event ids) */
    const char *title;
    unsigned roles;
    int (*list)(struct admin_ctx *ax, struct souk_errinfo *ei);
    int (*detail)(struct admin_ctx *ax, struct souk_errinfo *ei); /* NULL: no detail pages */
    const struct admin_action *actions; /* terminated by {NULL} (or NULL) */
    const struct admin_action *list_post; /* POST to the list (a create), or NULL */
};

/* sections.c: every section, in menu order, NULL-terminated. */
extern const struct admin_section *const admin_sections[];

/* The dashboard's counters (sec_dashboard.c), terminated by {NULL}. */
struct admin_counter {
    const char *label;
    unsigned roles;
    const char *sql; /* one row, one integer column; $1 = start of today (us, UTC) */
    const char *href;
};

void admin_http_register(struct router *r);
/* The dashboard's page (sec_dashboard.c): counters allowed to the role. */
int admin_dashboard_fill(struct admin_ctx *ax, struct souk_errinfo *ei);

/* ---- helpers for sections (admin_data.c) ------------------------------------ */
const char *admin_arg(const struct admin_ctx *ax, const char *key);  /* query string, "" */
const char *admin_field(const struct admin_ctx *ax, const char *key); /* POST field, "" */
int admin_role(const struct admin_ctx *ax);                           /* enum auth_role */
struct db *admin_db(const struct admin_ctx *ax);
struct arena *admin_arena(const struct admin_ctx *ax);
/* A keyset page of rows into page.rows / page.next / page.previous: `sql`
 * is "SELECT <cols>, <k> AS _k FROM ... WHERE ..." using $1..$np; the
 * helper appends the keyset condition on (kcol, idcol) and the order
 * (newest first). Each row is an object of its columns (strings, NULL
 * omitted); `fix` (may be NULL) adjusts each row (formats money, times). */
int admin_list_sql(struct admin_ctx *ax, const char *sql, const char *kcol, const char *idcol,
                   const struct db_param *p, int np, void (*fix)(json_t *row),
                   struct souk_errinfo *ei);
/* The same page built from a domain's own list function: fetch appends up to
 * ks->limit row objects to rows in fetch order (newest first; reversed for
 * ks->backwards, as the keyset readers do) with each row's sort key and id. */
struct keyset;
typedef int (*admin_fetch_fn)(struct admin_ctx *ax, const struct keyset *ks, json_t *rows,
                              int64_t *keys, char (*ids)[37], struct souk_errinfo *ei);
int admin_list_fetch(struct admin_ctx *ax, admin_fetch_fn fetch, struct souk_errinfo *ei);
/* Rows of any query as objects (new reference). */
int admin_rows_sql(struct db *db, const char *sql, const struct db_param *p, int np,
                   json_t **out, struct souk_errinfo *ei);
/* The first row of a query, or SOUK_NOT_FOUND. */
int admin_row_sql(struct db *db, const char *sql, const struct db_param *p, int np,
                  json_t **out, struct souk_errinfo *ei);
/* Formatting for templates: a microsecond column as RFC 3339, minor units
 * as "29.99" (key replaced in place; absent keys are left alone). */
void admin_fmt_time(json_t *row, const char *key);
void admin_fmt_money(json_t *row, const char *key);
/* "1"/"t"/"true" -> true, anything else -> false (0/1 columns for {{#flag}}). */
void admin_fmt_bool(json_t *row, const char *key);
/* moderate.c: hides (hidden 1) or shows again the content ax->id of a
 * moderation kind ("recipe", "project", "listing", "review") as the API
 * does, with the form's optional `note` in the audit entry. */
int admin_set_hidden(struct admin_ctx *ax, const char *kind, int hidden, struct souk_errinfo *ei);
/* The same for content that is not the page's own {id} (a thread's message). */
int admin_set_hidden_id(struct admin_ctx *ax, const char *kind, const char *id, int hidden,
                        struct souk_errinfo *ei);
/* The content lists' filter `hidden` ("hidden", "visible", else ""), put on
 * the page with the flags its select needs. */
const char *admin_hidden_filter(struct admin_ctx *ax);
/* A <select>'s options: [{value, selected}] for the NULL-terminated values,
 * `chosen` selected (new reference). */
json_t *admin_options(const char *const *values, const char *chosen);
/* "abc" -> "abc%" with LIKE wildcards removed ("" when q is empty). */
const char *admin_like_prefix(struct admin_ctx *ax, const char *q);

#endif
