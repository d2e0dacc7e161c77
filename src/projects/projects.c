/* projects.c - portfolio projects of the home-services showcase and their
 * media rows: create, update (files added and removed in one transaction,
 * the 1..12 bound checked for the whole request), soft delete, reads with
 * their media and the caller's is_favorite in one batched query each
 * (API.md § Home services). Lists are in list.c.
 *
 * Files are stored by the caller (media_store) before the transaction that
 * refers to them; a file a deleted row referred to is removed by the
 * media.gc job once no row refers to it. Nothing here is shared between
 * threads.
 */
#include "projects/projects.h"

#include <stdint.h>
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
#include "moderation/moderation.h"

/* ---- rows ------------------------------------------------------------------------ */

void projects_row(const struct db_res *r, int i, struct arena *a, struct project *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", db_get(r, i, 0));
    snprintf(p->vendor_id, sizeof p->vendor_id, "%s", db_get(r, i, 1));
    snprintf(p->owner_user_id, sizeof p->owner_user_id, "%s", db_get(r, i, 2));
    p->title = arena_strdup(a, db_get(r, i, 3));
    p->description = arena_strdup(a, db_get(r, i, 4));
    p->category = arena_strdup(a, db_get(r, i, 5));
    p->city = arena_strdup(a, db_get(r, i, 6));
    p->tags = arena_strdup(a, db_get(r, i, 7));
    p->has_area = !db_isnull(r, i, 8);
    p->area_m2 = p->has_area ? strtod(db_get(r, i, 8), NULL) : 0;
    p->has_budget = !db_isnull(r, i, 9);
    p->budget = db_int(r, i, 9);
    snprintf(p->currency, sizeof p->currency, "%s", db_get(r, i, 10));
    p->view_count = db_int(r, i, 11);
    p->favorite_count = db_int(r, i, 12);
    p->top_until = db_int(r, i, 13);
    p->detailed_until = db_int(r, i, 14);
    p->hidden_at = db_int(r, i, 15);
    p->created_at = db_int(r, i, 16);
    p->updated_at = db_int(r, i, 17);
    p->sp_name = arena_strdup(a, db_get(r, i, 18));
    p->sp_verified = db_bool(r, i, 19);
    p->sp_pro_until = db_int(r, i, 20);
}

/* Media of n projects and the viewer's favorites among them: two queries. */
int projects_attach(struct db_conn *c, struct project *ps, int n, const char *viewer,
                    struct arena *a, struct souk_errinfo *ei)
{
    struct db_param p[PROJECTS_BATCH_MAX + 1];
    char sql[8192];
    struct db_res *r = NULL;
    int err;
    if (n <= 0)
        return 0;
    if (n > PROJECTS_BATCH_MAX)
        return souk_fail(ei, SOUK_INTERNAL, "projects: batch too large");
    p[0] = DBT(viewer);
    for (int i = 0; i < n; i++)
        p[i + 1] = DBT(ps[i].id);
    showcase_in_list(sql, sizeof sql,
                     "SELECT project_id, id, kind, content_type, file_hash, thumb_hash, width, "
                     "height, size, position FROM project_media WHERE project_id IN (",
                     1, n, ") ORDER BY project_id, position");
    if ((err = db_query(c, sql, p + 1, n, &r, ei)))
        return err;
    for (int i = 0; i < n; i++)
        ps[i].media = arena_calloc(a, PROJECT_MEDIA_MAX + 1, sizeof *ps[i].media);
    for (int row = 0; row < db_nrows(r); row++)
        for (int i = 0; i < n; i++)
            if (strcmp(ps[i].id, db_get(r, row, 0)) == 0 && ps[i].nmedia < PROJECT_MEDIA_MAX) {
                struct project_media *m = &ps[i].media[ps[i].nmedia++];
                snprintf(m->id, sizeof m->id, "%s", db_get(r, row, 1));
                m->kind = arena_strdup(a, db_get(r, row, 2));
                m->content_type = arena_strdup(a, db_get(r, row, 3));
                m->file_hash = arena_strdup(a, db_get(r, row, 4));
                m->thumb_hash = db_get(r, row, 5) ? arena_strdup(a, db_get(r, row, 5)) : NULL;
                m->width = (int)db_int(r, row, 6);
                m->height = (int)db_int(r, row, 7);
                m->size = db_int(r, row, 8);
                m->position = (int)db_int(r, row, 9);
                break;
            }
    db_res_free(r);
    if (!viewer)
        return 0;
    return showcase_mark_favorites(c, viewer, p + 1, n, ps, sizeof *ps,
                                   offsetof(struct project, id),
                                   offsetof(struct project, is_favorite), ei);
}

int projects_load(struct db_conn *c, const char *id, const char *viewer, struct arena *a,
                  struct project *out, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    if (!uuid_valid(id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such project.");
    int err = db_query(c, "SELECT " PROJECT_COLS " " PROJECT_FROM
                          " WHERE p.id = $1 AND p.deleted_at IS NULL",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) != 1) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "No such project.");
    }
    projects_row(r, 0, a, out);
    db_res_free(r);
    return projects_attach(c, out, 1, viewer, a, ei);
}

/* ---- writes ------------------------------------------------------------------------ */

static const char *tags_text(struct arena *a, const json_t *tags)
{
    char *t = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
    const char *out = arena_strdup(a, t ? t : "[]");
    free(t);
    return out;
}

static int tags_write(struct db_conn *c, const char *id, const json_t *tags,
                      struct souk_errinfo *ei)
{
    size_t i;
    json_t *v;
    int err = db_exec(c, "DELETE FROM project_tags WHERE project_id = $1", DB_PARAMS(DBT(id)),
                      NULL, ei);
    json_array_foreach(tags, i, v) {
        if (err)
            break;
        err = db_exec(c,
                      "INSERT INTO project_tags (project_id, tag) VALUES ($1, $2) "
                      "ON CONFLICT DO NOTHING",
                      DB_PARAMS(DBT(id), DBT(json_string_value(v))), NULL, ei);
    }
    return err;
}

static int media_insert(struct db_conn *c, const char *project_id, const struct project_file *f,
                        int position, struct souk_errinfo *ei)
{
    char id[UUID_STR_LEN];
    int image = strcmp(f->info.kind, "image") == 0;
    int64_t now = clock_now_us();
    uuid_v7(id);
    int err = db_exec(c,
                      "INSERT INTO project_media (id, project_id, position, kind, content_type, "
                      "file_hash, width, height, size, processed_at, created_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                      DB_PARAMS(DBT(id), DBT(project_id), DBI(position), DBT(f->info.kind),
                                DBT(f->info.content_type), DBT(f->sha256),
                                image ? DBI(f->info.width) : DBNULL,
                                image ? DBI(f->info.height) : DBNULL, DBI(f->info.size),
                                image ? DBNULL : DBI(now), DBI(now)),
                      NULL, ei);
    if (err || !image)
        return err;
    json_t *payload = json_pack("{s:s}", "media_id", id);
    err = job_enqueue(c, "media.process", payload, 0, NULL, NULL, ei);
    json_decref(payload);
    return err;
}

static void area_text(const struct project_in *in, char buf[64])
{
    snprintf(buf, 64, "%.15g", in->area_m2);
}

struct create_args {
    const char *vendor_id;
    const struct project_in *in;
    const struct project_file *files;
    int nfiles;
    struct arena *a;
    struct project *out;
};

static int create_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct create_args *ca = arg;
    const struct project_in *in = ca->in;
    char id[UUID_STR_LEN], area[64];
    int64_t now = clock_now_us();
    int err;
    uuid_v7(id);
    area_text(in, area);
    err = db_exec(c,
                  "INSERT INTO projects (id, vendor_id, title, description, category, city, "
                  "tags, area_m2, budget, currency, media_count, created_at, updated_at) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
                  DB_PARAMS(DBT(id), DBT(ca->vendor_id), DBT(in->title),
                            DBT(in->description ? in->description : ""),
                            DBT(in->category ? in->category : ""), DBT(in->city ? in->city : ""),
                            DBT(tags_text(ca->a, in->tags)),
                            in->has_area && !in->area_null ? DBT(area) : DBNULL,
                            in->has_budget && !in->budget_null ? DBI(in->budget) : DBNULL,
                            DBT(in->currency ? in->currency : "usd"), DBI(ca->nfiles), DBI(now)),
                  NULL, ei);
    if (!err && in->tags)
        err = tags_write(c, id, in->tags, ei);
    for (int i = 0; !err && i < ca->nfiles; i++)
        err = media_insert(c, id, &ca->files[i], i, ei);
    if (!err)
        err = db_exec(c, "UPDATE vendor_profiles SET project_count = project_count + 1 "
                         "WHERE id = $1",
                      DB_PARAMS(DBT(ca->vendor_id)), NULL, ei);
    return err ? err : projects_load(c, id, NULL, ca->a, ca->out, ei);
}

int projects_create(struct db *db, const char *vendor_id, const struct project_in *in,
                    const struct project_file *files, int nfiles, struct arena *a,
                    struct project *out, struct souk_errinfo *ei)
{
    struct create_args ca = {vendor_id, in, files, nfiles, a, out};
    if (nfiles < 1 || nfiles > PROJECT_MEDIA_MAX) {
        souk_errinfo_field(ei, "media", "A project has 1 to 12 files.");
        return souk_fail(ei, SOUK_INVALID, "A project has 1 to 12 files.");
    }
    return db_tx_run(db, create_fn, &ca, ei);
}

void projects_files_discard(const struct project_file *files, int n)
{
    for (int i = 0; i < n; i++)
        if (files[i].created)
            media_remove(files[i].sha256, 0);
}

/* ---- update ------------------------------------------------------------------------ */

struct update_args {
    const char *id;
    const struct project_in *in;
    const struct project_file *files;
    int nfiles;
    const char *const *del;
    int ndel;
    struct arena *a;
    struct project *out;
};

/* The live project, locked for the update (PostgreSQL); its media count and next position. */
static int update_lock(struct db_conn *c, const char *id, int64_t *count, int64_t *next_pos,
                       char vendor_id[37], struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    int err = db_query(c,
                       db_conn_dialect(c) == DB_PGSQL
                           ? "SELECT media_count, vendor_id, (SELECT COALESCE(MAX(position), -1) "
                             "+ 1 FROM project_media WHERE project_id = $1) FROM projects "
                             "WHERE id = $1 AND deleted_at IS NULL FOR UPDATE"
                           : "SELECT media_count, vendor_id, (SELECT COALESCE(MAX(position), -1) "
                             "+ 1 FROM project_media WHERE project_id = $1) FROM projects "
                             "WHERE id = $1 AND deleted_at IS NULL",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) != 1) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "No such project.");
    }
    *count = db_int(r, 0, 0);
    snprintf(vendor_id, 37, "%s", db_get(r, 0, 1));
    *next_pos = db_int(r, 0, 2);
    db_res_free(r);
    return 0;
}

/* Deletes the named media rows of the project; every id must be one of
 * its media (else 400 on delete_media). The files' hashes go to *gc. */
static int update_delete_media(struct db_conn *c, const struct update_args *u, json_t *gc,
                               struct souk_errinfo *ei)
{
    for (int i = 0; i < u->ndel; i++) {
        struct db_res *r = NULL;
        int err = 0;
        if (uuid_valid(u->del[i]))
            err = db_query(c,
                           "DELETE FROM project_media WHERE id = $1 AND project_id = $2 "
                           "RETURNING file_hash, thumb_hash",
                           DB_PARAMS(DBT(u->del[i]), DBT(u->id)), &r, ei);
        if (err)
            return err;
        if (!r || db_nrows(r) != 1) {
            db_res_free(r);
            souk_errinfo_field(ei, "delete_media", "Not a media of this project.");
            return souk_fail(ei, SOUK_INVALID, "delete_media names a media that is not here.");
        }
        json_array_append_new(gc, json_string(db_get(r, 0, 0)));
        if (db_get(r, 0, 1))
            json_array_append_new(gc, json_string(db_get(r, 0, 1)));
        db_res_free(r);
    }
    return 0;
}

static int update_fields(struct db_conn *c, const struct update_args *u, int64_t count,
                         struct souk_errinfo *ei)
{
    const struct project_in *in = u->in;
    char area[64];
    area_text(in, area);
    int err = db_exec(
        c,
        "UPDATE projects SET title = COALESCE($2, title), description = COALESCE($3, "
        "description), category = COALESCE($4, category), city = COALESCE($5, city), "
        "tags = COALESCE($6, tags), currency = COALESCE($7, currency), "
        "area_m2 = CASE WHEN $8 = 1 THEN NULL WHEN $8 = 2 THEN $9 ELSE area_m2 END, "
        "budget = CASE WHEN $10 = 1 THEN NULL WHEN $10 = 2 THEN $11 ELSE budget END, "
        "media_count = $12, updated_at = $13 WHERE id = $1",
        DB_PARAMS(DBT(u->id), DBT(in->title), DBT(in->description), DBT(in->category),
                  DBT(in->city), DBT(in->tags ? tags_text(u->a, in->tags) : NULL),
                  DBT(in->currency), DBI(in->has_area ? (in->area_null ? 1 : 2) : 0),
                  DBT(in->has_area && !in->area_null ? area : NULL),
                  DBI(in->has_budget ? (in->budget_null ? 1 : 2) : 0),
                  in->has_budget && !in->budget_null ? DBI(in->budget) : DBNULL, DBI(count),
                  DBI(clock_now_us())),
        NULL, ei);
    if (!err && in->tags)
        err = tags_write(c, u->id, in->tags, ei);
    return err;
}

static int update_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct update_args *u = arg;
    int64_t count = 0, next = 0;
    char vendor[37];
    json_t *gc = json_array();
    int err = update_lock(c, u->id, &count, &next, vendor, ei);
    if (!err)
        err = update_delete_media(c, u, gc, ei);
    count = count - u->ndel + u->nfiles;
    if (!err && (count < 1 || count > PROJECT_MEDIA_MAX)) {
        souk_errinfo_field(ei, "media", "A project has 1 to 12 files.");
        err = souk_fail(ei, SOUK_INVALID, "A project has 1 to 12 files after the request.");
    }
    for (int i = 0; !err && i < u->nfiles; i++)
        err = media_insert(c, u->id, &u->files[i], (int)next + i, ei);
    if (!err)
        err = update_fields(c, u, count, ei);
    if (!err && json_array_size(gc))
        err = showcase_gc_enqueue(c, gc, ei);
    json_decref(gc);
    return err ? err : projects_load(c, u->id, NULL, u->a, u->out, ei);
}

int projects_update(struct db *db, const char *id, const struct project_in *in,
                    const struct project_file *files, int nfiles, const char *const *delete_ids,
                    int ndelete, struct arena *a, struct project *out, struct souk_errinfo *ei)
{
    struct update_args u = {id, in, files, nfiles, delete_ids, ndelete, a, out};
    if (!uuid_valid(id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such project.");
    return db_tx_run(db, update_fn, &u, ei);
}

/* ---- delete, hide ---------------------------------------------------------------------- */

static int delete_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    const char *id = arg;
    struct db_res *r = NULL;
    json_t *gc;
    int64_t changed = 0;
    int err = db_query(c,
                       "UPDATE projects SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL "
                       "RETURNING vendor_id, hidden_at",
                       DB_PARAMS(DBT(id), DBI(clock_now_us())), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) != 1) {
        db_res_free(r);
        return souk_fail(ei, SOUK_NOT_FOUND, "No such project.");
    }
    if (db_isnull(r, 0, 1))
        err = db_exec(c, "UPDATE vendor_profiles SET project_count = project_count - 1 "
                         "WHERE id = $1 AND project_count > 0",
                      DB_PARAMS(DBT(db_get(r, 0, 0))), &changed, ei);
    db_res_free(r);
    r = NULL;
    if (!err)
        err = db_query(c,
                       "DELETE FROM project_media WHERE project_id = $1 "
                       "RETURNING file_hash, thumb_hash",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (err)
        return err;
    gc = json_array();
    for (int i = 0; i < db_nrows(r); i++)
        for (int col = 0; col < 2; col++)
            if (db_get(r, i, col))
                json_array_append_new(gc, json_string(db_get(r, i, col)));
    db_res_free(r);
    err = db_exec(c, "DELETE FROM favorites WHERE target_id = $1", DB_PARAMS(DBT(id)), NULL, ei);
    if (!err && json_array_size(gc))
        err = showcase_gc_enqueue(c, gc, ei);
    json_decref(gc);
    return err;
}

int projects_delete(struct db *db, const char *id, struct souk_errinfo *ei)
{
    if (!uuid_valid(id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such project.");
    return db_tx_run(db, delete_fn, (void *)(uintptr_t)id, ei);
}

int projects_set_hidden(struct db_conn *c, const char *id, int hidden, struct souk_errinfo *ei)
{
    char vendor[37];
    int64_t changed = 0;
    int err = project_owner(c, id, vendor, ei);
    if (err)
        return err;
    err = db_exec(c,
                  hidden ? "UPDATE projects SET hidden_at = $2 "
                           "WHERE id = $1 AND deleted_at IS NULL AND hidden_at IS NULL"
                         : "UPDATE projects SET hidden_at = NULL "
                           "WHERE id = $1 AND deleted_at IS NULL AND hidden_at IS NOT NULL "
                           "AND CAST($2 AS BIGINT) = CAST($2 AS BIGINT)",
                  DB_PARAMS(DBT(id), DBI(clock_now_us())), &changed, ei);
    if (err || !changed)
        return err;
    return db_exec(c,
                   hidden ? "UPDATE vendor_profiles SET project_count = project_count - 1 "
                            "WHERE id = $1 AND project_count > 0"
                          : "UPDATE vendor_profiles SET project_count = project_count + 1 "
                            "WHERE id = $1",
                   DB_PARAMS(DBT(vendor)), NULL, ei);
}

/* The moderation kind "project": its specialist's user; staff and the owner
 * see it hidden, others only while visible. */
static int project_target(struct db_conn *c, const char *id, const char *viewer_id, int staff,
                          char author[37], int *hidden, struct souk_errinfo *ei)
{
    struct db_res *r;
    int err = db_query(c,
                       "SELECT v.user_id, p.hidden_at FROM projects p JOIN vendor_profiles v ON "
                       "v.id = p.vendor_id WHERE p.id = $1 AND p.deleted_at IS NULL",
                       DB_PARAMS(DBT(id)), &r, ei);
    if (err)
        return err;
    if (db_nrows(r) == 1) {
        int own = viewer_id && !strcmp(viewer_id, db_get(r, 0, 0));
        *hidden = !db_isnull(r, 0, 1);
        if (staff || own || !*hidden) {
            snprintf(author, 37, "%s", db_get(r, 0, 0));
            db_res_free(r);
            return SOUK_OK;
        }
    }
    db_res_free(r);
    return souk_fail(ei, SOUK_NOT_FOUND, "No such project.");
}

const struct moderation_kind projects_moderation_kind = {"project", project_target,
                                                         projects_set_hidden};

/* ---- /media/ lookups -------------------------------------------------------------------- */

struct lookup_args {
    const char *id;
    int thumb;
    struct arena *a;
    const char **ct, **hash;
};

static int lookup_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct lookup_args *la = arg;
    struct db_res *r = NULL;
    int err = db_query(c,
                       "SELECT m.content_type, m.file_hash, m.thumb_hash FROM project_media m "
                       "JOIN projects p ON p.id = m.project_id "
                       "WHERE m.id = $1 AND p.deleted_at IS NULL",
                       DB_PARAMS(DBT(la->id)), &r, ei);
    if (err)
        return err;
    const char *h = db_nrows(r) == 1 ? db_get(r, 0, la->thumb ? 2 : 1) : NULL;
    if (!h)
        err = souk_fail(ei, SOUK_NOT_FOUND, "No such file.");
    else {
        *la->ct = arena_strdup(la->a, db_get(r, 0, 0));
        *la->hash = arena_strdup(la->a, h);
    }
    db_res_free(r);
    return err;
}

int projects_media_lookup(struct db *db, const char *media_id, int thumb, struct arena *a,
                          const char **content_type, const char **hash, struct souk_errinfo *ei)
{
    struct lookup_args la = {media_id, thumb, a, content_type, hash};
    if (!uuid_valid(media_id))
        return souk_fail(ei, SOUK_NOT_FOUND, "No such file.");
    return db_run(db, lookup_fn, &la, ei);
}
