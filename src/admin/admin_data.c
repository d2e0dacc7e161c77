/* admin_data.c - the read helpers of admin.h for section files: keyset pages,
 * rows as JSON, formatting.
 *
 * Serves API.md § "Admin console" (lists cursor-paged, searchable,
 * filterable). Paging reuses the API's cursors (http.h keyset_*), so a
 * console list is the same indexed keyset read as an API list. Per-request
 * state only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "auth/auth.h"
#include "core/arena.h"
#include "core/clock.h"
#include "db/keyset.h"
#include "http/http.h"

const char *admin_arg(const struct admin_ctx *ax, const char *key)
{
    const char *v = http_query(ax->req, key);
    return v ? v : "";
}

const char *admin_field(const struct admin_ctx *ax, const char *key)
{
    const char *v = ax->form ? json_string_value(json_object_get(ax->form, key)) : NULL;
    return v ? v : "";
}

int admin_role(const struct admin_ctx *ax)
{
    return ax->s ? ax->s->user.role : AUTH_ROLE_NONE;
}

struct db *admin_db(const struct admin_ctx *ax)
{
    return ax->req->db;
}

struct arena *admin_arena(const struct admin_ctx *ax)
{
    return ax->req->arena;
}

static json_t *row_object(const struct db_res *res, int i)
{
    json_t *o = json_object();
    for (int c = 0; c < db_ncols(res); c++)
        if (!db_isnull(res, i, c))
            json_object_set_new(o, db_colname(res, c), json_string(db_get(res, i, c)));
    return o;
}

struct rows_args {
    const char *sql;
    const struct db_param *p;
    int np;
    json_t *out;
};

static int rows_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct rows_args *a = arg;
    struct db_res *res;
    int err = db_query(c, a->sql, a->p, a->np, &res, ei);
    if (err)
        return err;
    for (int i = 0; i < db_nrows(res); i++)
        json_array_append_new(a->out, row_object(res, i));
    db_res_free(res);
    return SOUK_OK;
}

int admin_rows_sql(struct db *db, const char *sql, const struct db_param *p, int np,
                   json_t **out, struct souk_errinfo *ei)
{
    struct rows_args a = {sql, p, np, json_array()};
    int err = db_run(db, rows_fn, &a, ei);
    if (err) {
        json_decref(a.out);
        return err;
    }
    *out = a.out;
    return SOUK_OK;
}

int admin_row_sql(struct db *db, const char *sql, const struct db_param *p, int np,
                  json_t **out, struct souk_errinfo *ei)
{
    json_t *rows;
    int err = admin_rows_sql(db, sql, p, np, &rows, ei);
    if (err)
        return err;
    if (!json_array_size(rows)) {
        json_decref(rows);
        return souk_fail(ei, SOUK_NOT_FOUND, "Not found.");
    }
    *out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return SOUK_OK;
}

int admin_list_sql(struct admin_ctx *ax, const char *sql, const char *kcol, const char *idcol,
                   const struct db_param *p, int np, void (*fix)(json_t *row),
                   struct souk_errinfo *ei)
{
    struct http_req *req = ax->req;
    char where[160], order[160];
    struct db_param all[16];
    struct keyset ks;
    struct page pg;
    json_t *rows;
    int err, n;

    if ((err = page_parse(req, &pg, ei)) || (err = keyset_from_page(&pg, 0, &ks, ei)))
        return err;
    if (np > 14)
        return souk_fail(ei, SOUK_INTERNAL, "too many parameters");
    memcpy(all, p, sizeof *p * (size_t)np);
    all[np] = DBI(ks.k);
    all[np + 1] = DBT(ks.id);
    char *full = arena_sprintf(req->arena, "%s%s%s", sql,
                               keyset_where(&ks, kcol, idcol, np + 1, where, sizeof where),
                               keyset_order(&ks, kcol, idcol, order, sizeof order));
    if ((err = admin_rows_sql(req->db, full, all, ks.has_cursor ? np + 2 : np, &rows, ei)))
        return err;
    n = (int)json_array_size(rows);
    int64_t *keys = arena_calloc(req->arena, (size_t)n + 1, sizeof *keys);
    const char **ids = arena_calloc(req->arena, (size_t)n + 1, sizeof *ids);
    for (int i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, (size_t)i);
        const char *k = json_string_value(json_object_get(r, "_k"));
        keys[i] = k ? strtoll(k, NULL, 10) : 0;
        ids[i] = arena_strdup(req->arena, json_string_value(json_object_get(r, "id")));
        if (fix)
            fix(r);
    }
    json_t *env = keyset_envelope(req, &pg, &ks, rows, keys, ids);
    json_object_update(ax->page, env);
    json_object_set_new(ax->page, "rows", json_incref(json_object_get(env, "results")));
    json_decref(env);
    return SOUK_OK;
}

int admin_list_fetch(struct admin_ctx *ax, admin_fetch_fn fetch, struct souk_errinfo *ei)
{
    struct http_req *req = ax->req;
    struct keyset ks;
    struct page pg;
    int err;

    if ((err = page_parse(req, &pg, ei)) || (err = keyset_from_page(&pg, 0, &ks, ei)))
        return err;
    int64_t *keys = arena_calloc(req->arena, (size_t)ks.limit + 1, sizeof *keys);
    char(*idbuf)[37] = arena_calloc(req->arena, (size_t)ks.limit + 1, sizeof *idbuf);
    const char **ids = arena_calloc(req->arena, (size_t)ks.limit + 1, sizeof *ids);
    json_t *rows = json_array();
    if ((err = fetch(ax, &ks, rows, keys, idbuf, ei))) {
        json_decref(rows);
        return err;
    }
    for (size_t i = 0; i < json_array_size(rows) && i <= (size_t)ks.limit; i++)
        ids[i] = idbuf[i];
    json_t *env = keyset_envelope(req, &pg, &ks, rows, keys, ids);
    json_object_update(ax->page, env);
    json_object_set_new(ax->page, "rows", json_incref(json_object_get(env, "results")));
    json_decref(env);
    return SOUK_OK;
}

void admin_fmt_time(json_t *row, const char *key)
{
    const char *v = json_string_value(json_object_get(row, key));
    char out[CLOCK_RFC3339_LEN];
    if (!v)
        return;
    clock_format(strtoll(v, NULL, 10), out);
    json_object_set_new(row, key, json_string(out));
}

void admin_fmt_money(json_t *row, const char *key)
{
    const char *v = json_string_value(json_object_get(row, key));
    char out[32];
    if (!v)
        return;
    long long m = strtoll(v, NULL, 10);
    snprintf(out, sizeof out, "%s%lld.%02lld", m < 0 ? "-" : "", (m < 0 ? -m : m) / 100,
             (m < 0 ? -m : m) % 100);
    json_object_set_new(row, key, json_string(out));
}

json_t *admin_options(const char *const *values, const char *chosen)
{
    json_t *opts = json_array();

    for (int i = 0; values[i]; i++)
        json_array_append_new(opts, json_pack("{s:s, s:b}", "value", values[i], "selected",
                                              !strcmp(chosen, values[i])));
    return opts;
}

const char *admin_like_prefix(struct admin_ctx *ax, const char *q)
{
    size_t n = strlen(q), j = 0;
    char *out = arena_alloc(ax->req->arena, n + 2);
    for (size_t i = 0; i < n; i++)
        if (q[i] != '%' && q[i] != '_' && q[i] != '\\')
            out[j++] = q[i];
    if (j)
        out[j++] = '%';
    out[j] = 0;
    return out;
}

void admin_fmt_bool(json_t *row, const char *key)
{
    const char *v = json_string_value(json_object_get(row, key));
    if (v)
        json_object_set_new(row, key, json_boolean(!strcmp(v, "1") || !strcmp(v, "t") ||
                                                   !strcmp(v, "true")));
}

struct audit_actor admin_actor(const struct admin_ctx *ax)
{
    return (struct audit_actor){ax->s->user.id, auth_role_name(ax->s->user.role)};
}
