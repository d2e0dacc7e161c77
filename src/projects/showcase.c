/* showcase.c - favorites, views, statistics and the list queries of the
 * home-services showcase (API.md § Home services, § Conventions of the
 * home-services routes: ordering lists, hidden content).
 *
 * Views: one row per (target, UTC day, viewer) in views_daily, inserted with
 * ON CONFLICT DO NOTHING; only an insert that added a row bumps the
 * aggregated counters (the target's view_count and the day's stats_daily
 * row). Favorites: the (user, target) primary key makes them exact under
 * concurrency; the count moves only with a row that was really added or
 * removed. Statistics read stats_daily by its primary key range.
 * Nothing here is shared between threads.
 */
#include "projects/projects.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "core/uuid.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "projects/internal.h"
#include "projects/specialists.h"

#define US_PER_DAY 86400000000LL
#define GC_DELAY_US 3000000LL /* past the window of an upload between store and commit */

int64_t showcase_day(int64_t at_us)
{
    return at_us / US_PER_DAY;
}

void showcase_in_list(char *sql, size_t len, const char *prefix, int first, int n,
                      const char *suffix)
{
    size_t o = (size_t)snprintf(sql, len, "%s", prefix);
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(sql + o, len - o, "%s$%d", i ? ", " : "", first + i);
    if (o < len)
        snprintf(sql + o, len - o, "%s", suffix);
}

int showcase_mark_favorites(struct db_conn *c, const char *user_id, const struct db_param *ids,
                            int n, void *rows, size_t stride, size_t id_off, size_t is_fav_off,
                            struct souk_errinfo *ei)
{
    struct db_param p[PROJECTS_BATCH_MAX + 1];
    char sql[4096];
    struct db_res *r = NULL;
    if (n <= 0 || !user_id)
        return 0;
    p[0] = DBT(user_id);
    memcpy(p + 1, ids, (size_t)n * sizeof *p);
    showcase_in_list(sql, sizeof sql,
                     "SELECT target_id FROM favorites WHERE user_id = $1 AND target_id IN (", 2,
                     n, ")");
    int err = db_query(c, sql, p, n + 1, &r, ei);
    if (err)
        return err;
    for (int row = 0; row < db_nrows(r); row++)
        for (int i = 0; i < n; i++) {
            char *base = (char *)rows + (size_t)i * stride;
            if (strcmp(base + id_off, db_get(r, row, 0)) == 0)
                *(int *)(base + is_fav_off) = 1;
        }
    db_res_free(r);
    return 0;
}

int showcase_gc_enqueue(struct db_conn *c, json_t *hashes, struct souk_errinfo *ei)
{
    json_t *payload = json_pack("{s:O}", "hashes", hashes);
    int err = job_enqueue(c, "media.gc", payload, clock_now_us() + GC_DELAY_US, NULL, NULL, ei);
    json_decref(payload);
    return err;
}

/* Each word (letters and digits, lower-cased) must begin a word of expr. */
int showcase_q_sql(const char *q, const char *expr, struct arena *a, char *sql, size_t len,
                   struct db_param *p, int *np)
{
    int words = 0;
    for (const char *s = q; *s && words < 8;) {
        while (*s && !isalnum((unsigned char)*s) && !((unsigned char)*s & 0x80))
            s++;
        const char *b = s;
        while (*s && (isalnum((unsigned char)*s) || ((unsigned char)*s & 0x80)))
            s++;
        if (s == b)
            continue;
        char *pat = arena_alloc(a, (size_t)(s - b) + 3);
        pat[0] = '%';
        pat[1] = ' ';
        for (size_t i = 0; i < (size_t)(s - b); i++)
            pat[2 + i] = (char)tolower((unsigned char)b[i]);
        memcpy(pat + 2 + (s - b), "%", 2);
        p[(*np)++] = DBT(pat);
        size_t o = strlen(sql);
        snprintf(sql + o, len - o, " AND (' ' || lower(%s)) LIKE $%d", expr, *np);
        words++;
    }
    return words;
}

int showcase_order_sql(const char *spec, const char *const *names, const char *const *exprs,
                       const char *dflt, struct arena *a, const char **out,
                       struct souk_errinfo *ei)
{
    char buf[1024] = " ORDER BY ";
    const char *s = spec && *spec ? spec : dflt;
    while (1) {
        const char *e = strchr(s, ',');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        int desc = n > 0 && s[0] == '-';
        int k = -1;
        for (int i = 0; names[i]; i++)
            if (n - (size_t)desc == strlen(names[i]) &&
                strncmp(s + desc, names[i], n - (size_t)desc) == 0)
                k = i;
        if (k < 0 || strlen(buf) > sizeof buf - 200) {
            souk_errinfo_field(ei, "ordering", "Unknown ordering field.");
            return souk_fail(ei, SOUK_INVALID, "ordering: %.60s is not a field of this list", s);
        }
        size_t o = strlen(buf);
        snprintf(buf + o, sizeof buf - o, "%s %s, ", exprs[k], desc ? "DESC" : "ASC");
        if (!e)
            break;
        s = e + 1;
    }
    size_t o = strlen(buf);
    snprintf(buf + o, sizeof buf - o, "%s", "id DESC");
    *out = arena_strdup(a, buf);
    return 0;
}

/* ---- views ------------------------------------------------------------------------------ */

struct view_args {
    const char *target, *vendor_id, *project_id, *viewer;
    int counted;
};

static int view_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct view_args *v = arg;
    int64_t now = clock_now_us(), changed = 0;
    int err = db_exec(c,
                      "INSERT INTO views_daily (target_id, day, viewer) VALUES ($1, $2, $3) "
                      "ON CONFLICT DO NOTHING",
                      DB_PARAMS(DBT(v->target), DBI(showcase_day(now)), DBT(v->viewer)),
                      &changed, ei);
    v->counted = 0;
    if (err || !changed)
        return err;
    err = db_exec(c,
                  v->project_id ? "UPDATE projects SET view_count = view_count + 1 WHERE id = $1"
                                : "UPDATE vendor_profiles SET view_count = view_count + 1 "
                                  "WHERE id = $1",
                  DB_PARAMS(DBT(v->target)), NULL, ei);
    if (!err)
        err = specialist_stat_add(c, v->vendor_id, v->project_id, SPECIALIST_STAT_VIEW, now, ei);
    v->counted = !err;
    return err;
}

static int count_view(struct db *db, struct view_args *v, struct souk_errinfo *ei)
{
    return db_tx_run(db, view_fn, v, ei) ? -1 : v->counted;
}

int projects_count_view(struct db *db, const struct project *p, const char *viewer_key,
                        const char *viewer_user_id, struct souk_errinfo *ei)
{
    struct view_args v = {p->id, p->vendor_id, p->id, viewer_key, 0};
    if (viewer_user_id && strcmp(viewer_user_id, p->owner_user_id) == 0)
        return 0;
    return count_view(db, &v, ei);
}

int specialists_count_view(struct db *db, const struct specialist *s, const char *viewer_key,
                           const char *viewer_user_id, struct souk_errinfo *ei)
{
    struct view_args v = {s->id, s->id, NULL, viewer_key, 0};
    if (viewer_user_id && strcmp(viewer_user_id, s->user_id) == 0)
        return 0;
    return count_view(db, &v, ei);
}

/* ---- favorites --------------------------------------------------------------------------- */

struct fav_args {
    const char *user, *type, *target;
    int64_t count;
};

/* The vendor profile behind a favorite's target; 404 when it cannot be favored. */
static int fav_target(struct db_conn *c, const struct fav_args *f, char vendor[37],
                      struct souk_errinfo *ei)
{
    if (strcmp(f->type, "specialist") == 0) {
        snprintf(vendor, 37, "%s", f->target);
        return specialist_check(c, f->target, ei);
    }
    struct db_res *r = NULL;
    int err = db_query(c,
                       "SELECT vendor_id FROM projects WHERE id = $1 AND deleted_at IS NULL "
                       "AND hidden_at IS NULL",
                       DB_PARAMS(DBT(f->target)), &r, ei);
    if (!err && db_nrows(r) != 1)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such project.");
    if (!err)
        snprintf(vendor, 37, "%s", db_get(r, 0, 0));
    db_res_free(r);
    return err;
}

static int fav_put_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct fav_args *f = arg;
    int project = strcmp(f->type, "project") == 0;
    int64_t now = clock_now_us(), changed = 0;
    char vendor[37];
    struct db_res *r = NULL;
    int err = fav_target(c, f, vendor, ei);
    if (!err)
        err = db_exec(c,
                      "INSERT INTO favorites (user_id, target_id, target_type, created_at) "
                      "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                      DB_PARAMS(DBT(f->user), DBT(f->target), DBT(f->type), DBI(now)), &changed,
                      ei);
    if (!err && changed)
        err = db_exec(c,
                      project ? "UPDATE projects SET favorite_count = favorite_count + 1 "
                                "WHERE id = $1"
                              : "UPDATE vendor_profiles SET favorite_count = favorite_count + 1 "
                                "WHERE id = $1",
                      DB_PARAMS(DBT(f->target)), NULL, ei);
    if (!err && changed)
        err = specialist_stat_add(c, vendor, project ? f->target : NULL,
                                  SPECIALIST_STAT_FAVORITE, now, ei);
    if (!err)
        err = db_query(c,
                       project ? "SELECT favorite_count FROM projects WHERE id = $1"
                               : "SELECT favorite_count FROM vendor_profiles WHERE id = $1",
                       DB_PARAMS(DBT(f->target)), &r, ei);
    if (!err)
        f->count = db_nrows(r) ? db_int(r, 0, 0) : 0;
    db_res_free(r);
    return err;
}

int showcase_favorite_put(struct db *db, const char *user_id, const char *target_type,
                          const char *target_id, int64_t *count, struct souk_errinfo *ei)
{
    struct fav_args f = {user_id, target_type, target_id, 0};
    if (!uuid_valid(target_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "Not found.");
    int err = db_tx_run(db, fav_put_fn, &f, ei);
    *count = f.count;
    return err;
}

static int fav_del_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct fav_args *f = arg;
    int64_t changed = 0;
    int err = db_exec(c, "DELETE FROM favorites WHERE user_id = $1 AND target_id = $2",
                      DB_PARAMS(DBT(f->user), DBT(f->target)), &changed, ei);
    if (err || !changed)
        return err;
    return db_exec(c,
                   strcmp(f->type, "project") == 0
                       ? "UPDATE projects SET favorite_count = favorite_count - 1 "
                         "WHERE id = $1 AND favorite_count > 0"
                       : "UPDATE vendor_profiles SET favorite_count = favorite_count - 1 "
                         "WHERE id = $1 AND favorite_count > 0",
                   DB_PARAMS(DBT(f->target)), NULL, ei);
}

int showcase_favorite_delete(struct db *db, const char *user_id, const char *target_type,
                             const char *target_id, struct souk_errinfo *ei)
{
    struct fav_args f = {user_id, target_type, target_id, 0};
    if (!uuid_valid(target_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "Not found.");
    return db_tx_run(db, fav_del_fn, &f, ei);
}

struct favs_args {
    const char *user, *type;
    int64_t offset;
    int limit;
    struct arena *a;
    struct favorite_row **out;
    int *n;
};

static int favs_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct favs_args *f = arg;
    struct db_res *r = NULL;
    int err = db_query(c,
                       f->type ? "SELECT target_id, target_type, created_at FROM favorites "
                                 "WHERE user_id = $1 AND target_type = $2 "
                                 "ORDER BY created_at DESC, target_id DESC LIMIT $3 OFFSET $4"
                               : "SELECT target_id, target_type, created_at FROM favorites "
                                 "WHERE user_id = $1 AND CAST($2 AS TEXT) = CAST($2 AS TEXT) "
                                 "ORDER BY created_at DESC, target_id DESC LIMIT $3 OFFSET $4",
                       DB_PARAMS(DBT(f->user), DBT(f->type ? f->type : "any"), DBI(f->limit),
                                 DBI(f->offset)),
                       &r, ei);
    if (err)
        return err;
    *f->n = db_nrows(r);
    *f->out = arena_calloc(f->a, (size_t)*f->n + 1, sizeof **f->out);
    for (int i = 0; i < *f->n; i++) {
        snprintf((*f->out)[i].target_id, 37, "%s", db_get(r, i, 0));
        (*f->out)[i].target_type = arena_strdup(f->a, db_get(r, i, 1));
        (*f->out)[i].created_at = db_int(r, i, 2);
    }
    db_res_free(r);
    return 0;
}

int showcase_favorites(struct db *db, const char *user_id, const char *type, int64_t offset,
                       int limit, struct arena *a, struct favorite_row **out, int *n,
                       struct souk_errinfo *ei)
{
    struct favs_args f = {user_id, type, offset, limit, a, out, n};
    return db_run(db, favs_fn, &f, ei);
}

/* ---- statistics ----------------------------------------------------------------------------- */

struct stats_args {
    const char *target;
    int days;
    struct stat_day *out;
};

static int stats_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct stats_args *s = arg;
    int64_t today = showcase_day(clock_now_us()), first = today - s->days + 1;
    struct db_res *r = NULL;
    for (int i = 0; i < s->days; i++)
        s->out[i] = (struct stat_day){.day = first + i};
    int err = db_query(c,
                       "SELECT day, views, favorites, requests FROM stats_daily "
                       "WHERE target_id = $1 AND day >= $2 AND day <= $3",
                       DB_PARAMS(DBT(s->target), DBI(first), DBI(today)), &r, ei);
    if (err)
        return err;
    for (int i = 0; i < db_nrows(r); i++) {
        int64_t k = db_int(r, i, 0) - first;
        if (k < 0 || k >= s->days)
            continue;
        s->out[k].views = db_int(r, i, 1);
        s->out[k].favorites = db_int(r, i, 2);
        s->out[k].requests = db_int(r, i, 3);
    }
    db_res_free(r);
    return 0;
}

int showcase_stats(struct db *db, const char *target_id, int days, struct stat_day *out,
                   struct souk_errinfo *ei)
{
    struct stats_args s = {target_id, days, out};
    return db_run(db, stats_fn, &s, ei);
}
