/* projects.h - the home-services showcase (API.md § Home services):
 * specialists (vendor profiles with categories), portfolio projects with
 * media, favorites, profile and project views, daily statistics.
 *
 * Owns the tables of migration 0014: projects, project_tags, project_media,
 * vendor_categories, favorites, views_daily, stats_daily and the showcase
 * columns of vendor_profiles. What other domains may call is in
 * specialists.h, plus projects_set_hidden() below (moderation).
 * Functions taking a struct db_conn run inside the caller's transaction.
 */
#ifndef SOUK_PROJECTS_H
#define SOUK_PROJECTS_H

#include <stdint.h>
#include <jansson.h>
#include "core/err.h"
#include "media/media.h"

struct arena;
struct db;
struct db_conn;
struct router;

#define PROJECT_MEDIA_MAX 12
#define PROJECT_TAGS_MAX 10
#define PROJECT_TITLE_MAX 200
#define PROJECT_TEXT_MAX 10000

struct project_media {
    char id[37];
    const char *kind, *content_type, *file_hash, *thumb_hash; /* thumb_hash NULL until made */
    int width, height; /* 0 for documents */
    int64_t size;
    int position;
};

struct project {
    char id[37], vendor_id[37], owner_user_id[37];
    const char *title, *description, *category, *city, *tags; /* tags: JSON array text */
    int has_area, has_budget;
    double area_m2;
    int64_t budget;
    char currency[4];
    int64_t view_count, favorite_count, top_until, detailed_until, hidden_at; /* 0: not hidden */
    int64_t created_at, updated_at;
    const char *sp_name;
    int sp_verified;
    int64_t sp_pro_until;
    struct project_media *media;
    int nmedia;
    int is_favorite;
};

/* Text fields of a create or an update (NULL / has_* 0: unchanged). */
struct project_in {
    const char *title, *description, *category, *city, *currency;
    const json_t *tags;
    int has_area, area_null, has_budget, budget_null;
    double area_m2;
    int64_t budget;
};

/* A new file of a request, probed and stored (media_store) before the
 * transaction that refers to it. */
struct project_file {
    char sha256[MEDIA_HASH_LEN];
    struct media_info info;
    int created; /* the name is new: removed again when the transaction fails */
};

struct project_filter {
    const char *category, *city, *vendor_id, *q;
    const char *tags[PROJECT_TAGS_MAX];
    int ntags;
    const char *order_sql; /* validated ORDER BY list (projects_order_sql) */
    int include_hidden;    /* /my/ */
    int64_t offset;
    int limit;
};

/* ordering=... over is_top, created_at, view_count, favorite_count, budget;
 * NULL spec -> the default. SOUK_INVALID for anything else. */
int projects_order_sql(const char *spec, struct arena *a, const char **out, struct souk_errinfo *ei);
int projects_create(struct db *db, const char *vendor_id, const struct project_in *in,
                    const struct project_file *files, int nfiles, struct arena *a,
                    struct project *out, struct souk_errinfo *ei);
/* Text changes, files added after the others, media ids removed; the count
 * after the request must be 1..PROJECT_MEDIA_MAX. */
int projects_update(struct db *db, const char *id, const struct project_in *in,
                    const struct project_file *files, int nfiles, const char *const *delete_ids,
                    int ndelete, struct arena *a, struct project *out, struct souk_errinfo *ei);
int projects_delete(struct db *db, const char *id, struct souk_errinfo *ei);
/* One live project (hidden ones too: the caller decides). viewer may be NULL. */
int projects_get(struct db *db, const char *id, const char *viewer_user_id, struct arena *a,
                 struct project *out, struct souk_errinfo *ei);
int projects_list(struct db *db, const struct project_filter *f, const char *viewer_user_id,
                  struct arena *a, struct project **out, int *n, struct souk_errinfo *ei);
/* Counts a detail view (one per viewer key per UTC day, never the owner's). */
int projects_count_view(struct db *db, const struct project *p, const char *viewer_key,
                        const char *viewer_user_id, struct souk_errinfo *ei);
/* Removes files of newly stored uploads when their request failed. */
void projects_files_discard(const struct project_file *files, int n);

/* /media/<media id>[-thumb].<ext>: the content type and the hash of the file
 * (the thumbnail's when thumb) of a media of a live project; SOUK_NOT_FOUND
 * otherwise (and for a thumbnail not made yet). */
int projects_media_lookup(struct db *db, const char *media_id, int thumb, struct arena *a,
                          const char **content_type, const char **hash, struct souk_errinfo *ei);

/* Favorites (target_type "project" | "specialist"). */
int showcase_favorite_put(struct db *db, const char *user_id, const char *target_type,
                          const char *target_id, int64_t *count, struct souk_errinfo *ei);
int showcase_favorite_delete(struct db *db, const char *user_id, const char *target_type,
                             const char *target_id, struct souk_errinfo *ei);
struct favorite_row {
    char target_id[37];
    const char *target_type;
    int64_t created_at;
};
int showcase_favorites(struct db *db, const char *user_id, const char *type, int64_t offset,
                       int limit, struct arena *a, struct favorite_row **out, int *n,
                       struct souk_errinfo *ei);
/* Daily series of target over the `days` UTC days ending today. */
struct stat_day {
    int64_t day; /* days since 1970-01-01 */
    int64_t views, favorites, requests;
};
int showcase_stats(struct db *db, const char *target_id, int days, struct stat_day *out,
                   struct souk_errinfo *ei);

/* Specialists (vendor profiles with categories) with their figures. */
struct specialist {
    char id[37], user_id[37];
    const char *business_name, *address, *bio, *specialties, *city, *categories;
    int is_verified;
    int64_t created_at;
    int64_t rating_sum, review_count, project_count, completed_requests, pro_until,
        favorite_count, view_count;
    int is_favorite;
};
struct specialist_filter {
    const char *city, *category, *q;
    int is_pro; /* -1 any */
    const char *order_sql;
    int64_t offset;
    int limit;
};
int specialists_order_sql(const char *spec, struct arena *a, const char **out,
                          struct souk_errinfo *ei);
int specialists_list(struct db *db, const struct specialist_filter *f, const char *viewer,
                     struct arena *a, struct specialist **out, int *n, struct souk_errinfo *ei);
int specialists_get(struct db *db, const char *id, const char *viewer, struct arena *a,
                    struct specialist *out, struct souk_errinfo *ei);
int specialists_count_view(struct db *db, const struct specialist *s, const char *viewer_key,
                           const char *viewer_user_id, struct souk_errinfo *ei);

/* The specialist profile of a user (SOUK_FORBIDDEN when none). */
int projects_specialist_of(struct db *db, const char *user_id, char vendor_id[37],
                           struct souk_errinfo *ei);

/* Once at start: media (libvips, libmagic, SOUK_MEDIA_DIR), the multipart
 * limits (12 x SOUK_MEDIA_MAX_BYTES + 1 MiB per body), the job kinds. */
int projects_init(struct db *db, struct souk_errinfo *ei);
/* The multipart limits of a project upload (SOUK_MEDIA_MAX_BYTES per file;
 * PROJECT_MEDIA_MAX files and the text fields per body), which app.c gives
 * the HTTP layer together with media_tmp_dir() after projects_init. */
void projects_upload_limits(size_t *per_file, size_t *per_body);
/* Job kinds and the HTTP routes (projects_http.c). */
void projects_jobs_register(void);
/* The export and erasure parts "projects" and "favorites" (erase.c; userdata.h). */
void projects_userdata_register(void);
void projects_http_register(struct router *r);
/* GET /media/{name}: the showcase's files (media_http.c). */
void projects_media_http_register(struct router *r);

/* Hides (hidden != 0) or shows a live project: a hidden project leaves every
 * public list, search and count; its detail is 404 except to its owner and
 * staff. SOUK_NOT_FOUND for a missing or deleted project. */
int projects_set_hidden(struct db_conn *c, const char *id, int hidden, struct souk_errinfo *ei);

#endif
