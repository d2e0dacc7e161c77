/* erase.c - the showcase's part of the export and the erasure (userdata.h):
 * a specialist's projects with their media, and anybody's favorites and
 * views.
 *
 * Erasure: the user's own favorites go (the favored targets' counts with
 * them) and so do the views they left; a specialist's projects are deleted
 * with their tags, media rows, favorites and daily figures, the media files
 * by the media.gc job once no row refers to them. Requests and promotions
 * that named a project keep its id (no foreign key), as for a deleted one.
 */
#include <jansson.h>

#include "db/db.h"
#include "projects/internal.h"
#include "projects/projects.h"
#include "userdata/userdata.h"

static int export_projects(struct db_conn *c, const struct userdata_who *w, json_t **out,
                           struct souk_errinfo *ei)
{
    if (!w->vendor_id[0]) {
        *out = json_array();
        return SOUK_OK;
    }
    return userdata_rows(c,
                         "SELECT id, title, description, category, city, tags, area_m2, budget, "
                         "currency, media_count, view_count, favorite_count, hidden_at, "
                         "deleted_at, created_at, updated_at FROM projects WHERE vendor_id = $1 "
                         "ORDER BY created_at DESC, id DESC",
                         DB_PARAMS(DBT(w->vendor_id)), "sssssjfmsiiitttt", out, ei);
}

static int export_favorites(struct db_conn *c, const struct userdata_who *w, json_t **out,
                            struct souk_errinfo *ei)
{
    return userdata_rows(c,
                         "SELECT target_type, target_id, created_at FROM favorites "
                         "WHERE user_id = $1 ORDER BY created_at DESC, target_id DESC",
                         DB_PARAMS(DBT(w->user_id)), "sst", out, ei);
}

/* The user's favorites and views, and the counts their favorites made. */
static int erase_own_marks(struct db_conn *c, const char *user_id, struct souk_errinfo *ei)
{
    int err = db_exec(c,
                      "UPDATE projects SET favorite_count = favorite_count - 1 WHERE "
                      "favorite_count > 0 AND id IN (SELECT target_id FROM favorites WHERE "
                      "user_id = $1 AND target_type = 'project')",
                      DB_PARAMS(DBT(user_id)), NULL, ei);
    if (!err)
        err = db_exec(c,
                      "UPDATE vendor_profiles SET favorite_count = favorite_count - 1 WHERE "
                      "favorite_count > 0 AND id IN (SELECT target_id FROM favorites WHERE "
                      "user_id = $1 AND target_type = 'specialist')",
                      DB_PARAMS(DBT(user_id)), NULL, ei);
    if (!err)
        err = db_exec(c, "DELETE FROM favorites WHERE user_id = $1", DB_PARAMS(DBT(user_id)), NULL,
                      ei);
    if (!err)
        err = db_exec(c, "DELETE FROM views_daily WHERE viewer = $1", DB_PARAMS(DBT(user_id)), NULL,
                      ei);
    return err;
}

/* The media rows of the vendor's projects; their files to the media.gc job. */
static int erase_media(struct db_conn *c, const char *vendor_id, struct souk_errinfo *ei)
{
    struct db_res *r = NULL;
    json_t *gc;
    int err = db_query(c,
                       "DELETE FROM project_media WHERE project_id IN (SELECT id FROM projects "
                       "WHERE vendor_id = $1) RETURNING file_hash, thumb_hash",
                       DB_PARAMS(DBT(vendor_id)), &r, ei);
    if (err)
        return err;
    gc = json_array();
    for (int i = 0; i < db_nrows(r); i++)
        for (int col = 0; col < 2; col++)
            if (db_get(r, i, col))
                json_array_append_new(gc, json_string(db_get(r, i, col)));
    db_res_free(r);
    if (json_array_size(gc))
        err = showcase_gc_enqueue(c, gc, ei);
    json_decref(gc);
    return err;
}

static const char *const erase_projects_sql[] = {
    "DELETE FROM favorites WHERE target_id = $1 OR target_id IN "
    "(SELECT id FROM projects WHERE vendor_id = $1)",
    "DELETE FROM views_daily WHERE target_id = $1 OR target_id IN "
    "(SELECT id FROM projects WHERE vendor_id = $1)",
    "DELETE FROM stats_daily WHERE target_id = $1 OR target_id IN "
    "(SELECT id FROM projects WHERE vendor_id = $1)",
    "DELETE FROM projects WHERE vendor_id = $1",
    "UPDATE vendor_profiles SET project_count = 0, favorite_count = 0 WHERE id = $1",
    NULL};

static int erase_showcase(struct db_conn *c, const struct userdata_who *w, struct souk_errinfo *ei)
{
    int err = erase_own_marks(c, w->user_id, ei);

    if (err || !w->vendor_id[0])
        return err;
    err = erase_media(c, w->vendor_id, ei);
    for (int i = 0; !err && erase_projects_sql[i]; i++)
        err = db_exec(c, erase_projects_sql[i], DB_PARAMS(DBT(w->vendor_id)), NULL, ei);
    return err;
}

static const struct userdata_part projects_part = {
    .key = "projects", .export_fn = export_projects, .erase = erase_showcase, .order = 500};
static const struct userdata_part favorites_part = {
    .key = "favorites", .export_fn = export_favorites, .order = 500};

void projects_userdata_register(void)
{
    userdata_register(&projects_part);
    userdata_register(&favorites_part);
}
