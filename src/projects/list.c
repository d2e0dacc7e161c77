/* list.c - the project and specialist lists and details (API.md § Home
 * services: filters, `ordering` comma lists with ties by id descending,
 * hidden projects out of every public list and count). A list is one query
 * for the page (limit + 1 rows, offset from the cursor), one for the media
 * of its projects and one for the caller's favorites among them.
 * Nothing here is shared between threads.
 */
#include "projects/projects.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"
#include "projects/internal.h"
#include "projects/specialists.h"

static const char *const project_names[] = {"is_top", "created_at", "view_count",
                                            "favorite_count", "budget", NULL};
static const char *const project_exprs[] = {
    "(CASE WHEN p.top_until > $1 THEN 1 ELSE 0 END)", "p.created_at", "p.view_count",
    "p.favorite_count", "COALESCE(p.budget, -1)", NULL};

int projects_order_sql(const char *spec, struct arena *a, const char **out, struct souk_errinfo *ei)
{
    int err = showcase_order_sql(spec, project_names, project_exprs, "-is_top,-created_at", a,
                                 out, ei);
    if (!err) { /* ties: "id DESC" is the projects' id */
        char *s = arena_strdup(a, *out);
        char *t = strstr(s, "id DESC");
        size_t o = (size_t)(t - s);
        char *r = arena_alloc(a, strlen(s) + 3);
        memcpy(r, s, o);
        snprintf(r + o, strlen(s) + 3 - o, "p.id DESC");
        *out = r;
    }
    return err;
}

#define PROJECT_Q_EXPR "p.title || ' ' || p.description || ' ' || replace(p.tags, '\"', ' ')"

struct plist_args {
    const struct project_filter *f;
    const char *viewer;
    struct arena *a;
    struct project **out;
    int *n;
};

static void add_cond(char *sql, size_t len, const char *fmt, int k)
{
    size_t o = strlen(sql);
    /* fmt is one of this file's condition literals, each with one %d */
    // cppcheck-suppress wrongPrintfScanfArgNum
    snprintf(sql + o, len - o, fmt, k);
}

static int is_default_order(const char *order_sql, struct arena *a)
{
    const char *dflt = NULL;
    struct souk_errinfo ei = {0};
    int yes = !projects_order_sql(NULL, a, &dflt, &ei) && strcmp(order_sql, dflt) == 0;
    souk_errinfo_cleanup(&ei);
    return yes;
}

/* The default order (-is_top,-created_at) without sorting the whole table:
 * the projects under TOP now and the others, each newest first up to
 * offset + limit rows ($np+1), then merged. The others are read by the
 * (created_at, id) index; the few under TOP by the top_until range of
 * projects_top_idx and sorted (the unary + keeps SQLite from walking the
 * whole created_at index to find them: 100k projects, none under TOP, took
 * 30 ms a page before). sql holds "SELECT cols FROM ... WHERE conditions"
 * on entry. */
static int top_first_sql(char *sql, size_t len, int np)
{
    static const char top_order[] = " ORDER BY +p.created_at DESC, p.id DESC LIMIT $%d) t%d";
    static const char order[] = " ORDER BY p.created_at DESC, p.id DESC LIMIT $%d) t%d";
    char base[4096];
    const char *from = strstr(sql, " " PROJECT_FROM);
    if (!from || strlen(sql) * 2 + 600 > len)
        return -1;
    snprintf(base, sizeof base, "%s", from);
    int n = snprintf(sql, len, "SELECT * FROM (SELECT " PROJECT_COLS ", 1 AS k_top%s "
                               "AND p.top_until > $1", base);
    n += snprintf(sql + n, len - (size_t)n, top_order, np + 1, 1);
    n += snprintf(sql + n, len - (size_t)n, " UNION ALL SELECT * FROM (SELECT " PROJECT_COLS
                                            ", 0 AS k_top%s AND p.top_until <= $1", base);
    n += snprintf(sql + n, len - (size_t)n, order, np + 1, 2);
    snprintf(sql + n, len - (size_t)n, " ORDER BY k_top DESC, created_at DESC, id DESC");
    return 0;
}

static int plist_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct plist_args *la = arg;
    const struct project_filter *f = la->f;
    struct db_param p[32];
    char sql[4096] = "SELECT " PROJECT_COLS " " PROJECT_FROM " WHERE p.deleted_at IS NULL";
    struct db_res *r = NULL;
    int np = 0, err;
    p[np++] = DBI(clock_now_us());
    if (!f->include_hidden)
        add_cond(sql, sizeof sql, " AND p.hidden_at IS NULL", 0);
    if (f->category && (p[np++] = DBT(f->category), 1))
        add_cond(sql, sizeof sql, " AND p.category = $%d", np);
    if (f->city && (p[np++] = DBT(f->city), 1))
        add_cond(sql, sizeof sql, " AND lower(p.city) = lower($%d)", np);
    if (f->vendor_id && (p[np++] = DBT(f->vendor_id), 1))
        add_cond(sql, sizeof sql, " AND p.vendor_id = $%d", np);
    for (int i = 0; i < f->ntags && np < 20; i++) {
        p[np++] = DBT(f->tags[i]);
        add_cond(sql, sizeof sql,
                 " AND EXISTS (SELECT 1 FROM project_tags t WHERE t.project_id = p.id "
                 "AND t.tag = $%d)", np);
    }
    if (f->q)
        showcase_q_sql(f->q, PROJECT_Q_EXPR, la->a, sql, sizeof sql, p, &np);
    add_cond(sql, sizeof sql, " AND CAST($1 AS BIGINT) = CAST($1 AS BIGINT)", 0);
    if (is_default_order(f->order_sql, la->a)) {
        if ((err = top_first_sql(sql, sizeof sql, np)))
            return souk_fail(ei, SOUK_INTERNAL, "projects: list query too long");
        p[np++] = DBI(f->offset + f->limit);
    } else {
        size_t o = strlen(sql);
        snprintf(sql + o, sizeof sql - o, "%s", f->order_sql);
    }
    size_t o = strlen(sql);
    snprintf(sql + o, sizeof sql - o, " LIMIT $%d OFFSET $%d", np + 1, np + 2);
    p[np++] = DBI(f->limit);
    p[np++] = DBI(f->offset);
    if ((err = db_query(c, sql, p, np, &r, ei)))
        return err;
    *la->n = db_nrows(r);
    *la->out = arena_calloc(la->a, (size_t)*la->n + 1, sizeof **la->out);
    for (int i = 0; i < *la->n; i++)
        projects_row(r, i, la->a, &(*la->out)[i]);
    db_res_free(r);
    return projects_attach(c, *la->out, *la->n, la->viewer, la->a, ei);
}

int projects_list(struct db *db, const struct project_filter *f, const char *viewer_user_id,
                  struct arena *a, struct project **out, int *n, struct souk_errinfo *ei)
{
    struct plist_args la = {f, viewer_user_id, a, out, n};
    return db_run(db, plist_fn, &la, ei);
}

struct pget_args {
    const char *id, *viewer;
    struct arena *a;
    struct project *out;
};

static int pget_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct pget_args *g = arg;
    return projects_load(c, g->id, g->viewer, g->a, g->out, ei);
}

int projects_get(struct db *db, const char *id, const char *viewer_user_id, struct arena *a,
                 struct project *out, struct souk_errinfo *ei)
{
    struct pget_args g = {id, viewer_user_id, a, out};
    return db_run(db, pget_fn, &g, ei);
}

/* ---- specialists ------------------------------------------------------------------------------ */

#define SPEC_COLS                                                                           \
    "id, user_id, business_name, address, bio, specialties, city, categories, is_verified, " \
    "created_at, rating_sum, review_count, project_count, completed_requests, pro_until, "   \
    "favorite_count, view_count"
#define SPEC_Q_EXPR "business_name || ' ' || bio || ' ' || replace(specialties, '\"', ' ')"

static const char *const spec_names[] = {"is_pro", "rating_avg", "review_count",
                                         "project_count", "created_at", NULL};
static const char *const spec_exprs[] = {
    "(CASE WHEN pro_until > $1 THEN 1 ELSE 0 END)",
    "(CASE WHEN review_count > 0 THEN rating_sum * 1.0 / review_count ELSE -1.0 END)",
    "review_count", "project_count", "created_at", NULL};

int specialists_order_sql(const char *spec, struct arena *a, const char **out,
                          struct souk_errinfo *ei)
{
    return showcase_order_sql(spec, spec_names, spec_exprs, "-created_at", a, out, ei);
}

static void spec_row(const struct db_res *r, int i, struct arena *a, struct specialist *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", db_get(r, i, 0));
    snprintf(s->user_id, sizeof s->user_id, "%s", db_get(r, i, 1));
    s->business_name = arena_strdup(a, db_get(r, i, 2));
    s->address = arena_strdup(a, db_get(r, i, 3));
    s->bio = arena_strdup(a, db_get(r, i, 4));
    s->specialties = arena_strdup(a, db_get(r, i, 5));
    s->city = arena_strdup(a, db_get(r, i, 6));
    s->categories = arena_strdup(a, db_get(r, i, 7));
    s->is_verified = db_bool(r, i, 8);
    s->created_at = db_int(r, i, 9);
    s->rating_sum = db_int(r, i, 10);
    s->review_count = db_int(r, i, 11);
    s->project_count = db_int(r, i, 12);
    s->completed_requests = db_int(r, i, 13);
    s->pro_until = db_int(r, i, 14);
    s->favorite_count = db_int(r, i, 15);
    s->view_count = db_int(r, i, 16);
}

struct slist_args {
    const struct specialist_filter *f;
    const char *id, *viewer;
    struct arena *a;
    struct specialist **out;
    int *n;
};

static void slist_where(struct slist_args *la, char *sql, size_t len, struct db_param *p,
                        int *np)
{
    const struct specialist_filter *f = la->f;
    if (la->id && (p[(*np)++] = DBT(la->id), 1))
        add_cond(sql, len, " AND id = $%d", *np);
    if (!f)
        return;
    if (f->city && (p[(*np)++] = DBT(f->city), 1))
        add_cond(sql, len, " AND lower(city) = lower($%d)", *np);
    if (f->category && (p[(*np)++] = DBT(f->category), 1))
        add_cond(sql, len,
                 " AND EXISTS (SELECT 1 FROM vendor_categories k WHERE k.vendor_id = "
                 "vendor_profiles.id AND k.slug = $%d)", *np);
    if (f->is_pro == 1)
        add_cond(sql, len, " AND pro_until > $1", 0);
    if (f->is_pro == 0)
        add_cond(sql, len, " AND pro_until <= $1", 0);
    if (f->q)
        showcase_q_sql(f->q, SPEC_Q_EXPR, la->a, sql, len, p, np);
}

static int slist_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct slist_args *la = arg;
    struct db_param p[32];
    char sql[4096] = "SELECT " SPEC_COLS " FROM vendor_profiles WHERE is_specialist = $2 "
                     "AND erased_at IS NULL";
    struct db_res *r = NULL;
    int np = 0, err;
    p[np++] = DBI(clock_now_us());
    p[np++] = DBB(1);
    slist_where(la, sql, sizeof sql, p, &np);
    add_cond(sql, sizeof sql, " AND CAST($1 AS BIGINT) = CAST($1 AS BIGINT)", 0);
    if (la->f) {
        size_t o = strlen(sql);
        snprintf(sql + o, sizeof sql - o, "%s LIMIT $%d OFFSET $%d", la->f->order_sql, np + 1,
                 np + 2);
        p[np++] = DBI(la->f->limit);
        p[np++] = DBI(la->f->offset);
    }
    if ((err = db_query(c, sql, p, np, &r, ei)))
        return err;
    *la->n = db_nrows(r);
    *la->out = arena_calloc(la->a, (size_t)*la->n + 1, sizeof **la->out);
    struct db_param ids[PROJECTS_BATCH_MAX];
    for (int i = 0; i < *la->n; i++) {
        spec_row(r, i, la->a, &(*la->out)[i]);
        if (i < PROJECTS_BATCH_MAX)
            ids[i] = DBT((*la->out)[i].id);
    }
    db_res_free(r);
    return showcase_mark_favorites(c, la->viewer, ids,
                                   *la->n < PROJECTS_BATCH_MAX ? *la->n : PROJECTS_BATCH_MAX,
                                   *la->out, sizeof **la->out, offsetof(struct specialist, id),
                                   offsetof(struct specialist, is_favorite), ei);
}

int specialists_list(struct db *db, const struct specialist_filter *f, const char *viewer,
                     struct arena *a, struct specialist **out, int *n, struct souk_errinfo *ei)
{
    struct slist_args la = {f, NULL, viewer, a, out, n};
    return db_run(db, slist_fn, &la, ei);
}

int specialists_get(struct db *db, const char *id, const char *viewer, struct arena *a,
                    struct specialist *out, struct souk_errinfo *ei)
{
    struct specialist *rows = NULL;
    int n = 0;
    struct slist_args la = {NULL, id, viewer, a, &rows, &n};
    if (!uuid_valid(id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such specialist.");
    int err = db_run(db, slist_fn, &la, ei);
    if (!err && n != 1)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such specialist.");
    if (!err)
        *out = rows[0];
    return err;
}

struct of_args {
    const char *user;
    char *vendor;
};

static int of_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct of_args *o = arg;
    return specialist_of_user(c, o->user, o->vendor, ei);
}

int projects_specialist_of(struct db *db, const char *user_id, char vendor_id[37],
                           struct souk_errinfo *ei)
{
    struct of_args o = {user_id, vendor_id};
    return db_run(db, of_fn, &o, ei);
}
