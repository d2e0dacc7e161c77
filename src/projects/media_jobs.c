/* media_jobs.c - background work on project media (API.md § Home services:
 * "thumbnail_url once a job has made it", "served images carry no EXIF/GPS
 * data", "a job removes its files").
 *
 *   media.process {media_id}  re-encodes the image without metadata and
 *                             makes its thumbnail, then points the row at
 *                             both (conditional on the row still naming the
 *                             original); the original goes to media.gc.
 *   media.gc {hashes}         removes each file no media row refers to.
 * Both are safe to run twice. Nothing here is shared between threads.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/config.h"
#include "db/db.h"
#include "jobs/jobs.h"
#include "media/media.h"
#include "moderation/moderation.h"
#include "projects/internal.h"
#include "projects/projects.h"

#define GC_MIN_AGE_S 2

struct proc_args {
    const char *id;
    char hash[MEDIA_HASH_LEN], type[32], stripped[MEDIA_HASH_LEN], thumb[MEDIA_HASH_LEN];
    int found;
};

static int proc_read_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct proc_args *pa = arg;
    struct db_res *r = NULL;
    int err = db_query(c,
                       "SELECT file_hash, content_type FROM project_media "
                       "WHERE id = $1 AND processed_at IS NULL",
                       DB_PARAMS(DBT(pa->id)), &r, ei);
    if (err)
        return err;
    pa->found = db_nrows(r) == 1;
    if (pa->found) {
        snprintf(pa->hash, sizeof pa->hash, "%s", db_get(r, 0, 0));
        snprintf(pa->type, sizeof pa->type, "%s", db_get(r, 0, 1));
    }
    db_res_free(r);
    return 0;
}

static int proc_write_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct proc_args *pa = arg;
    int64_t changed = 0;
    json_t *gc = json_array();
    int err = db_exec(c,
                      "UPDATE project_media SET file_hash = $2, thumb_hash = $3, "
                      "processed_at = $4 WHERE id = $1 AND file_hash = $5 "
                      "AND processed_at IS NULL",
                      DB_PARAMS(DBT(pa->id), DBT(pa->stripped), DBT(pa->thumb),
                                DBI(clock_now_us()), DBT(pa->hash)),
                      &changed, ei);
    if (changed && strcmp(pa->hash, pa->stripped) != 0)
        json_array_append_new(gc, json_string(pa->hash));
    if (!changed) { /* deleted meanwhile: what was made is nobody's */
        json_array_append_new(gc, json_string(pa->stripped));
        json_array_append_new(gc, json_string(pa->thumb));
    }
    if (!err && json_array_size(gc))
        err = showcase_gc_enqueue(c, gc, ei);
    json_decref(gc);
    return err;
}

static int job_process(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    struct proc_args pa = {0};
    pa.id = json_string_value(json_object_get(job->payload, "media_id"));
    if (!pa.id)
        return souk_fail(ei, SOUK_PRECONDITION, "media.process: no media_id");
    int err = db_run(db, proc_read_fn, &pa, ei);
    if (err || !pa.found)
        return err;
    if ((err = media_strip_and_thumb(pa.hash, pa.type, pa.stripped, pa.thumb, ei)))
        return err;
    return db_tx_run(db, proc_write_fn, &pa, ei);
}

struct gc_args {
    const char *hash;
    int used;
};

static int gc_used_fn(struct db_conn *c, void *arg, struct souk_errinfo *ei)
{
    struct gc_args *g = arg;
    struct db_res *r = NULL;
    int err = db_query(c,
                       "SELECT 1 FROM project_media WHERE file_hash = $1 "
                       "UNION ALL SELECT 1 FROM project_media WHERE thumb_hash = $1 LIMIT 1",
                       DB_PARAMS(DBT(g->hash)), &r, ei);
    g->used = !err && db_nrows(r) > 0;
    db_res_free(r);
    return err;
}

static int job_gc(struct db *db, const struct job *job, struct souk_errinfo *ei)
{
    size_t i;
    json_t *h;
    int young = 0;
    json_array_foreach(json_object_get(job->payload, "hashes"), i, h) {
        struct gc_args g = {json_string_value(h), 0};
        if (!g.hash || strlen(g.hash) != 64)
            continue;
        int err = db_run(db, gc_used_fn, &g, ei);
        if (err)
            return err;
        if (!g.used && media_remove(g.hash, GC_MIN_AGE_S) != 0)
            young = 1;
    }
    return young ? souk_fail(ei, SOUK_RETRY, "media.gc: a file was stored again just now") : 0;
}

void projects_upload_limits(size_t *per_file, size_t *per_body)
{
    *per_file = souk_cfg && souk_cfg->media_max_bytes ? souk_cfg->media_max_bytes
                                                      : (size_t)10 << 20;
    *per_body = PROJECT_MEDIA_MAX * *per_file + (1u << 20); /* the files and the text fields */
}

int projects_init(struct db *db, struct souk_errinfo *ei)
{
    const char *dir = souk_cfg && souk_cfg->media_dir[0] ? souk_cfg->media_dir : "./data/media";
    int err = media_init(dir, ei);
    (void)db;
    if (err)
        return err;
    projects_jobs_register();
    moderation_register_kind(&projects_moderation_kind);
    projects_userdata_register();
    return 0;
}

void projects_jobs_register(void)
{
    job_register("media.process", job_process, 5);
    job_register("media.gc", job_gc, 8);
}
